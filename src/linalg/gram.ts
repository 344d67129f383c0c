/**
 * Normal equations of a least-squares problem X·W ≈ Y accumulated in Float64 over blocks of rows:
 * H = XᵀX (n×n) and G = XᵀY (n×m), with n = K (+1 when a column of ones is appended for a bias).
 * Rows arrive as float32 (activations); each block is transposed to column-major Float64 so every
 * dot product runs over contiguous memory, and only one block is held at a time.
 */

export interface NormalEquations {
  /** Unknowns per output: K, plus 1 for the bias column (last). */
  n: number;
  /** Outputs (columns of Y). */
  m: number;
  /** XᵀX, n×n row-major, symmetric (both triangles filled). */
  H: Float64Array;
  /** XᵀY, n×m row-major. */
  G: Float64Array;
  /** Σ‖y‖², so that ‖XW − Y‖² can be evaluated from H and G alone. */
  yy: number;
  rows: number;
}

export interface GramOptions {
  /** Append a column of ones (for a bias solved jointly with the weights). */
  bias?: boolean;
  /** Rows per block (default 256). */
  blockRows?: number;
}

/** A fresh accumulator for n unknowns (bias included) and m outputs. */
export function emptyNormalEquations(n: number, m: number): NormalEquations {
  return { n, m, H: new Float64Array(n * n), G: new Float64Array(n * m), yy: 0, rows: 0 };
}

/** H[i][j..j+3] and H[i+1][j..j+3] += dot products over one block: 8 sums from 6 loads per row. */
function kernel2x4(H: Float64Array, n: number, xb: Float64Array, len: number, i: number, j: number): void {
  const a0 = i * len;
  const a1 = a0 + len;
  const b0 = j * len;
  const b1 = b0 + len;
  const b2 = b1 + len;
  const b3 = b2 + len;
  let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0; // prettier-ignore
  for (let r = 0; r < len; r++) {
    const u = xb[a0 + r];
    const v = xb[a1 + r];
    const p0 = xb[b0 + r];
    const p1 = xb[b1 + r];
    const p2 = xb[b2 + r];
    const p3 = xb[b3 + r];
    s00 += u * p0;
    s01 += u * p1;
    s02 += u * p2;
    s03 += u * p3;
    s10 += v * p0;
    s11 += v * p1;
    s12 += v * p2;
    s13 += v * p3;
  }
  const h0 = i * n + j;
  const h1 = h0 + n;
  H[h0] += s00;
  H[h0 + 1] += s01;
  H[h0 + 2] += s02;
  H[h0 + 3] += s03;
  H[h1] += s10;
  H[h1 + 1] += s11;
  H[h1 + 2] += s12;
  H[h1 + 3] += s13;
}

function dot(xb: Float64Array, a: number, b: number, len: number): number {
  let s = 0;
  for (let r = 0; r < len; r++) s += xb[a + r] * xb[b + r];
  return s;
}

/** Lower triangle of H += Xbᵀ·Xb for one column-major block (n columns of `len` rows). */
function accumulateGram(H: Float64Array, n: number, xb: Float64Array, len: number): void {
  let i = 0;
  for (; i + 1 < n; i += 2) {
    // Rows i and i+1 together over columns j < i (both rows need them), then the 2×2 corner.
    let j = 0;
    for (; j + 4 <= i; j += 4) kernel2x4(H, n, xb, len, i, j);
    for (; j <= i; j++) {
      H[i * n + j] += dot(xb, i * len, j * len, len);
      H[(i + 1) * n + j] += dot(xb, (i + 1) * len, j * len, len);
    }
    H[(i + 1) * n + i + 1] += dot(xb, (i + 1) * len, (i + 1) * len, len);
  }
  if (i < n) for (let j = 0; j <= i; j++) H[i * n + j] += dot(xb, i * len, j * len, len);
}

/** G += Xbᵀ·Yb; output column outer so its block of Y stays in cache, four inputs per pass. */
function accumulateCross(G: Float64Array, n: number, m: number, xb: Float64Array, yb: Float64Array, len: number): void {
  for (let c = 0; c < m; c++) {
    const oc = c * len;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o0 = i * len;
      const o1 = o0 + len;
      const o2 = o1 + len;
      const o3 = o2 + len;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let r = 0; r < len; r++) {
        const v = yb[oc + r];
        s0 += v * xb[o0 + r];
        s1 += v * xb[o1 + r];
        s2 += v * xb[o2 + r];
        s3 += v * xb[o3 + r];
      }
      G[i * m + c] += s0;
      G[(i + 1) * m + c] += s1;
      G[(i + 2) * m + c] += s2;
      G[(i + 3) * m + c] += s3;
    }
    for (; i < n; i++) G[i * m + c] += dot2(xb, i * len, yb, oc, len);
  }
}

function dot2(a: Float64Array, ao: number, b: Float64Array, bo: number, len: number): number {
  let s = 0;
  for (let r = 0; r < len; r++) s += a[ao + r] * b[bo + r];
  return s;
}

/** Rows r0..r0+len of a rows×cols row-major matrix into column-major `out` (cols×len), in 8-row tiles. */
function transposeRows(src: ArrayLike<number>, r0: number, len: number, cols: number, out: Float64Array): void {
  for (let t = 0; t < len; t += 8) {
    const tn = Math.min(8, len - t);
    for (let c = 0; c < cols; c++) {
      const o = c * len + t;
      for (let r = 0; r < tn; r++) out[o + r] = src[(r0 + t + r) * cols + c];
    }
  }
}

/**
 * Adds `rows` rows of X (rows×K row-major) and Y (rows×m row-major) to `eq`. With `bias`, eq.n must be
 * K + 1 and the ones column is the last unknown.
 */
export function accumulateNormalEquations(eq: NormalEquations, x: ArrayLike<number>, y: ArrayLike<number>, rows: number, K: number, options: GramOptions = {}): void {
  const bias = options.bias === true;
  const { n, m } = eq;
  if (n !== K + (bias ? 1 : 0)) throw new RangeError(`normal equations have ${n} unknowns, rows have ${K}${bias ? ' + bias' : ''}`);
  if (x.length < rows * K || y.length < rows * m) throw new RangeError(`expected ${rows} rows of ${K} inputs and ${m} outputs`);
  const block = Math.max(1, Math.min(options.blockRows ?? 256, rows || 1));
  const xb = new Float64Array(n * block);
  const yb = new Float64Array(m * block);
  for (let r0 = 0; r0 < rows; r0 += block) {
    const len = Math.min(block, rows - r0);
    transposeRows(x, r0, len, K, xb);
    if (bias) xb.fill(1, K * len, K * len + len);
    transposeRows(y, r0, len, m, yb);
    for (let i = 0; i < len * m; i++) eq.yy += yb[i] * yb[i];
    accumulateGram(eq.H, n, xb, len);
    accumulateCross(eq.G, n, m, xb, yb, len);
  }
  eq.rows += rows;
}

/** Copies H's lower triangle to its upper one (call once after the last accumulation). */
export function symmetrize(eq: NormalEquations): void {
  const { H, n } = eq;
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) H[j * n + i] = H[i * n + j];
}

/** H and G of X·W ≈ Y in one call. */
export function normalEquations(x: ArrayLike<number>, y: ArrayLike<number>, rows: number, K: number, m: number, options: GramOptions = {}): NormalEquations {
  const eq = emptyNormalEquations(K + (options.bias ? 1 : 0), m);
  accumulateNormalEquations(eq, x, y, rows, K, options);
  symmetrize(eq);
  return eq;
}

/** Trace of H over its first `count` diagonal entries (the weights, not the bias). */
export function partialTrace(eq: NormalEquations, count: number): number {
  let t = 0;
  for (let i = 0; i < count; i++) t += eq.H[i * eq.n + i];
  return t;
}
