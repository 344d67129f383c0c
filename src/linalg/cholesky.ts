/**
 * Cholesky factorization of symmetric positive definite matrices and the solves built on it, in
 * Float64. Matrices are dense, row-major, n×n; right-hand sides are n×m row-major (one column per
 * problem). Inner loops run over contiguous memory (the row-oriented Crout order), which is what
 * makes plain JavaScript reach ~1 GFlop/s here (K=768 in ~0.1 s, K=2048 in ~2 s).
 */

/** Thrown when a matrix is not positive definite even after the largest damping tried. */
export class NotPositiveDefiniteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotPositiveDefiniteError';
  }
}

function checkSquare(a: Float64Array, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || a.length !== n * n) throw new RangeError(`${what}: expected ${n}×${n} values, got ${a.length}`);
}

/**
 * Lower Cholesky factor L (A = L·Lᵀ) written over `a` (upper triangle zeroed). Only the lower triangle
 * of `a` is read. Returns the index of the first non-positive pivot, or -1 on success; on failure `a`
 * is left partly overwritten.
 */
export function choleskyInPlace(a: Float64Array, n: number): number {
  checkSquare(a, n, 'cholesky');
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = a[rj + j];
    for (let k = 0; k < j; k++) s -= a[rj + k] * a[rj + k];
    if (!(s > 0) || !Number.isFinite(s)) return j;
    const d = Math.sqrt(s);
    a[rj + j] = d;
    const inv = 1 / d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let t = a[ri + j];
      for (let k = 0; k < j; k++) t -= a[ri + k] * a[rj + k];
      a[ri + j] = t * inv;
    }
    for (let k = j + 1; k < n; k++) a[rj + k] = 0;
  }
  return -1;
}

export interface DampedCholesky {
  /** Lower factor of A + jitter·I. */
  L: Float64Array;
  /** Absolute value added to the diagonal (0 when A factored as given). */
  jitter: number;
  attempts: number;
}

export interface DampingOptions {
  /** First jitter relative to the mean diagonal (default 1e-10); multiplied by 10 on each retry. */
  initial?: number;
  /** Largest relative jitter tried before giving up (default 1e-1). */
  max?: number;
}

function meanDiagonal(a: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(a[i * n + i]);
  return n > 0 ? s / n : 0;
}

/**
 * Cholesky with damping: tries A as given, then A + jitter·I with jitter growing tenfold from
 * `initial`·mean(diag A) until it factors (singular or slightly indefinite Gram matrices from
 * collinear activations). `a` is not modified. Throws NotPositiveDefiniteError past `max`.
 */
export function choleskyDamped(a: Float64Array, n: number, options: DampingOptions = {}): DampedCholesky {
  checkSquare(a, n, 'cholesky');
  const scale = meanDiagonal(a, n) || 1;
  const maxRel = options.max ?? 1e-1;
  let rel = 0;
  for (let attempt = 1; ; attempt++) {
    const L = Float64Array.from(a);
    const jitter = rel * scale;
    if (jitter > 0) for (let i = 0; i < n; i++) L[i * n + i] += jitter;
    const failed = choleskyInPlace(L, n);
    if (failed < 0) return { L, jitter, attempts: attempt };
    rel = rel === 0 ? (options.initial ?? 1e-10) : rel * 10;
    if (rel > maxRel * (1 + 1e-9)) throw new NotPositiveDefiniteError(`matrix is not positive definite (pivot ${failed} of ${n}) even with damping ${maxRel} × mean diagonal`);
  }
}

/** Solves L·Lᵀ·X = B in place of `b` (n×m row-major), L from choleskyInPlace. */
export function choleskySolveInPlace(L: Float64Array, n: number, b: Float64Array, m: number): void {
  checkSquare(L, n, 'choleskySolve');
  if (b.length !== n * m) throw new RangeError(`choleskySolve: right-hand side must be ${n}×${m}, got ${b.length} values`);
  // Forward: L·Z = B, one row of Z at a time (rows of B are contiguous).
  for (let i = 0; i < n; i++) {
    const ri = i * m;
    for (let k = 0; k < i; k++) {
      const l = L[i * n + k];
      if (l === 0) continue;
      const rk = k * m;
      for (let c = 0; c < m; c++) b[ri + c] -= l * b[rk + c];
    }
    const inv = 1 / L[i * n + i];
    for (let c = 0; c < m; c++) b[ri + c] *= inv;
  }
  // Backward: Lᵀ·X = Z.
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * m;
    for (let k = i + 1; k < n; k++) {
      const l = L[k * n + i];
      if (l === 0) continue;
      const rk = k * m;
      for (let c = 0; c < m; c++) b[ri + c] -= l * b[rk + c];
    }
    const inv = 1 / L[i * n + i];
    for (let c = 0; c < m; c++) b[ri + c] *= inv;
  }
}

/** X = A⁻¹·B for SPD A (with damping when needed); A and B are not modified. */
export function spdSolve(a: Float64Array, n: number, b: Float64Array, m: number, options: DampingOptions = {}): { x: Float64Array; jitter: number } {
  const { L, jitter } = choleskyDamped(a, n, options);
  const x = Float64Array.from(b);
  choleskySolveInPlace(L, n, x, m);
  return { x, jitter };
}

/** A⁻¹ from A's lower Cholesky factor: A⁻¹[i][j] = Σ_{k ≥ max(i,j)} L⁻¹[k][i]·L⁻¹[k][j] (n³/3 in all). */
export function inverseFromCholesky(L: Float64Array, n: number): Float64Array {
  const li = lowerInverse(L, n);
  // Rows of (L⁻¹)ᵀ are columns of L⁻¹: the sums become dot products over contiguous memory.
  const t = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let i = 0; i <= k; i++) t[i * n + k] = li[k * n + i];
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = 0;
      for (let k = i; k < n; k++) s += t[ri + k] * t[rj + k];
      inv[ri + j] = s;
      inv[rj + i] = s;
    }
  }
  return inv;
}

/** L⁻¹ of a lower-triangular L (row-major): one forward substitution per column, dot products over rows of L. */
export function lowerInverse(L: Float64Array, n: number): Float64Array {
  checkSquare(L, n, 'lowerInverse');
  const inv = new Float64Array(n * n);
  const x = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    // Column j solves L·x = e_j; x[i] = 0 above the diagonal.
    for (let i = j; i < n; i++) {
      const ri = i * n;
      let s = i === j ? 1 : 0;
      for (let k = j; k < i; k++) s -= L[ri + k] * x[k];
      x[i] = s / L[ri + i];
      inv[ri + j] = x[i];
    }
  }
  return inv;
}

/**
 * Upper-triangular U with A⁻¹ = Uᵀ·U (the factor SparseGPT propagates errors with), from one Cholesky
 * of A with its rows and columns reversed: J·A·J = R·Rᵀ gives A = V·Vᵀ with V = J·R·J upper, so
 * A⁻¹ = V⁻ᵀ·V⁻¹ and U = V⁻¹ = J·R⁻¹·J. About n³/2 operations instead of factor, invert, refactor.
 */
export function inverseUpperFactor(a: Float64Array, n: number, options: DampingOptions = {}): { U: Float64Array; jitter: number } {
  checkSquare(a, n, 'inverseUpperFactor');
  const reversed = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) reversed[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)];
  const { L, jitter } = choleskyDamped(reversed, n, options);
  const rInv = lowerInverse(L, n);
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) U[i * n + j] = rInv[(n - 1 - i) * n + (n - 1 - j)];
  return { U, jitter };
}
