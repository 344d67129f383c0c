/** Dense Float64 linear algebra for least-squares layer fitting (no autograd, no native code). */
export { choleskyDamped, choleskyInPlace, choleskySolveInPlace, inverseFromCholesky, inverseUpperFactor, lowerInverse, NotPositiveDefiniteError, spdSolve, type DampedCholesky, type DampingOptions } from './cholesky';
export { accumulateNormalEquations, emptyNormalEquations, normalEquations, partialTrace, symmetrize, type GramOptions, type NormalEquations } from './gram';
export { maskedExactFlops, maskedRidgeSolve, residualFromEquations, ridgeSolve, sparseGptSolve, type RidgeOptions, type Solution, type SolveMethod } from './lstsq';
