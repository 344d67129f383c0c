/**
 * Ridge-regularized least squares from normal equations (gram.ts), dense or with a fixed sparsity
 * mask, in Float64:
 *
 *   minimize ‖X·W − Y‖² + λ‖W − W₀‖²   ⇔   (H + λI)·W = G + λ·W₀
 *
 * W₀ (the prior) is the layer's current weights, so directions the data does not excite keep what they
 * had instead of collapsing to zero. With a mask (free[i·m + j] = 0 pins W[i][j] to 0), each output
 * column j is its own problem over its free inputs S_j: (H_SS + λI)·w_S = G_S,j + λ·W₀_S,j. That is
 * solved exactly when Σ|S_j|³/3 fits a flop budget, otherwise SparseGPT-style: the dense optimum, then
 * every pinned weight removed in input order with its error propagated to the inputs after it through
 * the Cholesky factor of (H + λI)⁻¹ (IST-DASLab/sparsegpt), which is approximate.
 */
import { choleskyDamped, choleskySolveInPlace, inverseUpperFactor } from './cholesky';
import type { NormalEquations } from './gram';

export interface RidgeOptions {
  /** Absolute λ added to the diagonal (≥ 0). */
  lambda: number;
  /** W₀, n×m: what the ridge term shrinks toward (zeros when absent). */
  prior?: Float64Array;
  /** Largest Σ|S_j|³/3 solved exactly with a mask (default 1.5e9 flops); above it, SparseGPT-style. */
  exactFlopBudget?: number;
}

export type SolveMethod = 'dense' | 'masked-exact' | 'sparsegpt';

export interface Solution {
  /** n×m row-major. */
  w: Float64Array;
  method: SolveMethod;
  /** Largest damping added on top of λ to make a factorization succeed (0 normally). */
  jitter: number;
}

function checkEquations(eq: NormalEquations, options: RidgeOptions): void {
  if (!(options.lambda >= 0) || !Number.isFinite(options.lambda)) throw new RangeError(`lambda must be a finite number >= 0 (got ${options.lambda})`);
  if (options.prior && options.prior.length !== eq.n * eq.m) throw new RangeError(`prior must be ${eq.n}×${eq.m}`);
}

/** H + λI (a copy). */
function regularized(eq: NormalEquations, lambda: number): Float64Array {
  const a = Float64Array.from(eq.H);
  if (lambda > 0) for (let i = 0; i < eq.n; i++) a[i * eq.n + i] += lambda;
  return a;
}

/** G + (λ + jitter)·W₀ (a copy): damping added to make a factorization succeed also pulls toward W₀. */
function rightHandSide(eq: NormalEquations, options: RidgeOptions, jitter = 0): Float64Array {
  const b = Float64Array.from(eq.G);
  const { prior } = options;
  const pull = options.lambda + jitter;
  if (prior && pull > 0) for (let i = 0; i < b.length; i++) b[i] += pull * prior[i];
  return b;
}

/** The unconstrained ridge solution: one Cholesky of H + λI for all outputs. */
export function ridgeSolve(eq: NormalEquations, options: RidgeOptions): Solution {
  checkEquations(eq, options);
  const { L, jitter } = choleskyDamped(regularized(eq, options.lambda), eq.n);
  const w = rightHandSide(eq, options, jitter);
  choleskySolveInPlace(L, eq.n, w, eq.m);
  return { w, method: 'dense', jitter };
}

function freeIndices(free: Uint8Array, n: number, m: number, j: number): number[] {
  const s: number[] = [];
  for (let i = 0; i < n; i++) if (free[i * m + j]) s.push(i);
  return s;
}

/** Σ_j |S_j|³/3: the flops of one Cholesky per output column. */
export function maskedExactFlops(free: Uint8Array, n: number, m: number): number {
  let flops = 0;
  for (let j = 0; j < m; j++) {
    let count = 0;
    for (let i = 0; i < n; i++) if (free[i * m + j]) count++;
    flops += (count * count * count) / 3;
  }
  return flops;
}

/** Factorizations shared by columns with the same free set (structured masks repeat them). */
class FactorCache {
  private readonly entries = new Map<string, { L: Float64Array; jitter: number }>();
  constructor(private readonly limit = 32) {}

  get(key: string, make: () => { L: Float64Array; jitter: number }): { L: Float64Array; jitter: number } {
    const hit = this.entries.get(key);
    if (hit) return hit;
    const value = make();
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, value);
    return value;
  }
}

function subMatrix(a: Float64Array, n: number, s: number[]): Float64Array {
  const k = s.length;
  const out = new Float64Array(k * k);
  for (let p = 0; p < k; p++) {
    const row = s[p] * n;
    for (let q = 0; q < k; q++) out[p * k + q] = a[row + s[q]];
  }
  return out;
}

/** One Cholesky per output column over its free inputs: the exact masked ridge solution. */
function maskedExact(eq: NormalEquations, free: Uint8Array, options: RidgeOptions): Solution {
  const { n, m } = eq;
  const a = regularized(eq, options.lambda);
  const prior = options.prior;
  const w = new Float64Array(n * m);
  const cache = new FactorCache();
  let jitter = 0;
  for (let j = 0; j < m; j++) {
    const s = freeIndices(free, n, m, j);
    if (s.length === 0) continue;
    const factor = cache.get(s.join(','), () => choleskyDamped(subMatrix(a, n, s), s.length));
    jitter = Math.max(jitter, factor.jitter);
    const pull = options.lambda + factor.jitter;
    const rhs = Float64Array.from(s, (i) => eq.G[i * m + j] + (prior ? pull * prior[i * m + j] : 0));
    choleskySolveInPlace(factor.L, s.length, rhs, 1);
    s.forEach((i, p) => (w[i * m + j] = rhs[p]));
  }
  return { w, method: 'masked-exact', jitter };
}

/** Y = Uᵀ·(U·B) for upper U (n×n) and B (n×m): A⁻¹·B when A⁻¹ = UᵀU. */
function applyInverse(U: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  const t = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const ti = i * m;
    for (let k = i; k < n; k++) {
      const u = U[i * n + k];
      if (u === 0) continue;
      const bk = k * m;
      for (let c = 0; c < m; c++) t[ti + c] += u * b[bk + c];
    }
  }
  const y = new Float64Array(n * m);
  for (let k = 0; k < n; k++) {
    const tk = k * m;
    for (let i = k; i < n; i++) {
      const u = U[k * n + i];
      if (u === 0) continue;
      const yi = i * m;
      for (let c = 0; c < m; c++) y[yi + c] += u * t[tk + c];
    }
  }
  return y;
}

/** SparseGPT with a given mask: dense optimum, then pinned weights removed in order with error propagation. */
export function sparseGptSolve(eq: NormalEquations, free: Uint8Array, options: RidgeOptions): Solution {
  checkEquations(eq, options);
  const { n, m } = eq;
  const { U, jitter } = inverseUpperFactor(regularized(eq, options.lambda), n);
  const w = applyInverse(U, n, rightHandSide(eq, options, jitter), m);
  const err = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const d = U[i * n + i];
    let any = false;
    for (let j = 0; j < m; j++) {
      const pinned = !free[i * m + j];
      err[j] = pinned ? w[i * m + j] / d : 0;
      any ||= pinned && err[j] !== 0;
    }
    if (any) {
      for (let k = i + 1; k < n; k++) {
        const u = U[i * n + k];
        if (u === 0) continue;
        const row = k * m;
        for (let j = 0; j < m; j++) w[row + j] -= err[j] * u;
      }
    }
    for (let j = 0; j < m; j++) if (!free[i * m + j]) w[i * m + j] = 0;
  }
  return { w, method: 'sparsegpt', jitter };
}

/**
 * The ridge solution with W[i][j] = 0 wherever free[i·m + j] is 0: exact when affordable, SparseGPT-style
 * otherwise, dense when nothing is pinned.
 */
export function maskedRidgeSolve(eq: NormalEquations, free: Uint8Array, options: RidgeOptions): Solution {
  checkEquations(eq, options);
  if (free.length !== eq.n * eq.m) throw new RangeError(`mask must be ${eq.n}×${eq.m}`);
  if (free.every((f) => f !== 0)) return ridgeSolve(eq, options);
  if (maskedExactFlops(free, eq.n, eq.m) <= (options.exactFlopBudget ?? 1.5e9)) return maskedExact(eq, free, options);
  return sparseGptSolve(eq, free, options);
}

/** ‖X·W − Y‖² from the normal equations: tr(WᵀHW) − 2·tr(WᵀG) + Σ‖y‖². */
export function residualFromEquations(eq: NormalEquations, w: Float64Array): number {
  const { n, m, H, G } = eq;
  let quad = 0;
  let cross = 0;
  const hw = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    hw.fill(0);
    for (let k = 0; k < n; k++) {
      const h = H[i * n + k];
      if (h === 0) continue;
      const row = k * m;
      for (let j = 0; j < m; j++) hw[j] += h * w[row + j];
    }
    for (let j = 0; j < m; j++) {
      quad += w[i * m + j] * hw[j];
      cross += w[i * m + j] * G[i * m + j];
    }
  }
  return Math.max(0, quad - 2 * cross + eq.yy);
}
