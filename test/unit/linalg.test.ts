import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../src/core/random';
import {
  choleskyDamped,
  choleskyInPlace,
  choleskySolveInPlace,
  inverseFromCholesky,
  maskedRidgeSolve,
  normalEquations,
  NotPositiveDefiniteError,
  residualFromEquations,
  ridgeSolve,
  sparseGptSolve,
  spdSolve,
} from '../../src/linalg';

function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let p = 0; p < k; p++) for (let j = 0; j < m; j++) out[i * m + j] += a[i * k + p] * b[p * m + j];
  return out;
}

function transpose(a: Float64Array, n: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[j * n + i] = a[i * m + j];
  return out;
}

/** A random SPD matrix MᵀM + εI. */
function randomSpd(n: number, rng: Rng, eps = 0.1): Float64Array {
  const m = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = matmul(transpose(m, n, n), m, n, n, n);
  for (let i = 0; i < n; i++) a[i * n + i] += eps;
  return a;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

void describe('cholesky', () => {
  void test('factors a known matrix exactly', () => {
    // A = L·Lᵀ with L = [[2,0,0],[6,1,0],[-8,5,3]].
    const a = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
    assert.equal(choleskyInPlace(a, 3), -1);
    assert.deepEqual([...a], [2, 0, 0, 6, 1, 0, -8, 5, 3]);
  });

  void test('solves a known system with several right-hand sides', () => {
    const a = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
    // Columns: x1 = [1, 2, 3], x2 = [-1, 0, 0.5].
    const x = Float64Array.from([1, -1, 2, 0, 3, 0.5]);
    const b = matmul(a, x, 3, 3, 2);
    const { x: solved, jitter } = spdSolve(a, 3, b, 2);
    assert.equal(jitter, 0);
    assert.ok(maxAbsDiff(solved, x) < 1e-12, `got ${[...solved].join(', ')}`);
  });

  void test('random SPD: L·Lᵀ reproduces A and the solve satisfies A·X = B', () => {
    const rng = new Rng(7);
    const n = 60;
    const a = randomSpd(n, rng);
    const { L } = choleskyDamped(a, n);
    const back = matmul(L, transpose(L, n, n), n, n, n);
    assert.ok(maxAbsDiff(back, a) < 1e-9 * Math.max(...a.map(Math.abs)));
    const b = Float64Array.from({ length: n * 5 }, () => rng.normal());
    const x = Float64Array.from(b);
    choleskySolveInPlace(L, n, x, 5);
    assert.ok(maxAbsDiff(matmul(a, x, n, n, 5), b) < 1e-8);
    const inv = inverseFromCholesky(L, n);
    const eye = matmul(a, inv, n, n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.ok(Math.abs(eye[i * n + j] - (i === j ? 1 : 0)) < 1e-8);
  });

  void test('a singular matrix factors only with damping, and the damping is reported', () => {
    // Rank 1: v·vᵀ.
    const v = [1, 2, 3, 4];
    const a = Float64Array.from({ length: 16 }, (_, i) => v[Math.floor(i / 4)] * v[i % 4]);
    assert.notEqual(choleskyInPlace(Float64Array.from(a), 4), -1);
    const { L, jitter, attempts } = choleskyDamped(a, 4);
    assert.ok(jitter > 0 && attempts > 1, `jitter ${jitter}, attempts ${attempts}`);
    const back = matmul(L, transpose(L, 4, 4), 4, 4, 4);
    for (let i = 0; i < 4; i++) a[i * 4 + i] += jitter;
    assert.ok(maxAbsDiff(back, a) < 1e-9);
  });

  void test('ill-conditioned (Hilbert 12): damping keeps the solve usable', () => {
    const n = 12;
    const h = Float64Array.from({ length: n * n }, (_, i) => 1 / (Math.floor(i / n) + (i % n) + 1));
    const x = Float64Array.from({ length: n }, () => 1);
    const b = matmul(h, x, n, n, 1);
    const { x: solved } = spdSolve(h, n, b, 1);
    // Cond(H12) ~ 1e16: x itself is not recoverable, but the residual must be small.
    assert.ok(maxAbsDiff(matmul(h, solved, n, n, 1), b) < 1e-6);
  });

  void test('an indefinite matrix is refused', () => {
    const a = Float64Array.from([1, 0, 0, -5]);
    assert.throws(() => choleskyDamped(a, 2), NotPositiveDefiniteError);
  });

  void test('NaN never passes as positive', () => {
    assert.equal(choleskyInPlace(Float64Array.from([NaN]), 1), 0);
  });
});

function regression(rows: number, k: number, m: number, seed: number) {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: rows * k }, () => rng.normal());
  const w = Float64Array.from({ length: k * m }, () => rng.normal());
  const b = Float64Array.from({ length: m }, () => rng.normal());
  const y = new Float32Array(rows * m);
  for (let r = 0; r < rows; r++) for (let j = 0; j < m; j++) {
    let s = b[j];
    for (let p = 0; p < k; p++) s += x[r * k + p] * w[p * m + j];
    y[r * m + j] = s;
  }
  return { x, y, w, b, rng };
}

void describe('least squares', () => {
  void test('normal equations with a bias column recover weights and bias exactly', () => {
    const { x, y, w, b } = regression(400, 9, 4, 3);
    const eq = normalEquations(x, y, 400, 9, 4, { bias: true, blockRows: 37 });
    assert.equal(eq.n, 10);
    const { w: solved } = ridgeSolve(eq, { lambda: 0 });
    assert.ok(maxAbsDiff(solved.subarray(0, 36), w) < 1e-4);
    assert.ok(maxAbsDiff(solved.subarray(36), b) < 1e-4);
    // float32 targets: the residual is rounding only.
    assert.ok(residualFromEquations(eq, solved) < 1e-6 * eq.yy);
  });

  void test('blocked accumulation equals one block', () => {
    const { x, y } = regression(100, 7, 3, 5);
    const a = normalEquations(x, y, 100, 7, 3, { bias: true, blockRows: 1 });
    const c = normalEquations(x, y, 100, 7, 3, { bias: true, blockRows: 1000 });
    assert.ok(maxAbsDiff(a.H, c.H) < 1e-9);
    assert.ok(maxAbsDiff(a.G, c.G) < 1e-9);
  });

  void test('ridge shrinks toward the prior, not toward zero', () => {
    // Two identical inputs: X·W only sees w0 + w1; ridge toward the prior keeps the prior's split.
    const rows = 50;
    const x = new Float32Array(rows * 2);
    const y = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      x[2 * r] = x[2 * r + 1] = r / 10;
      y[r] = 3 * (r / 10);
    }
    const eq = normalEquations(x, y, rows, 2, 1);
    const prior = Float64Array.from([2, 0]);
    const { w } = ridgeSolve(eq, { lambda: 1e-6, prior });
    assert.ok(Math.abs(w[0] + w[1] - 3) < 1e-6);
    assert.ok(Math.abs(w[0] - w[1] - 2) < 1e-3, `split ${w[0]}, ${w[1]}`);
  });

  void test('underdetermined without ridge: the damping retry pulls toward the prior, not toward zero', () => {
    // One row, three unknowns: the fit must reproduce the row and otherwise keep the prior.
    const x = Float32Array.of(1, 2, 0);
    const y = Float32Array.of(10);
    const eq = normalEquations(x, y, 1, 3, 1);
    const prior = Float64Array.from([1, 1, 5]);
    const { w, jitter } = ridgeSolve(eq, { lambda: 0, prior });
    assert.ok(jitter > 0);
    assert.ok(Math.abs(w[0] + 2 * w[1] - 10) < 1e-6, `row residual ${w[0] + 2 * w[1] - 10}`);
    assert.ok(Math.abs(w[2] - 5) < 1e-9, 'an unexcited input keeps its prior');
    // Minimum change from the prior: along (1, 2), to the precision a 1e-10 damping leaves.
    assert.ok(Math.abs(w[1] - 1 - 2 * (w[0] - 1)) < 1e-4, `w = ${[...w].join(', ')}`);
  });

  void test('masked solve keeps pinned weights at exactly zero and beats zeroing them', () => {
    const { x, y, w } = regression(300, 12, 5, 11);
    const n = 13;
    const eq = normalEquations(x, y, 300, 12, 5, { bias: true });
    const rng = new Rng(2);
    const free = new Uint8Array(n * 5).fill(1);
    for (let i = 0; i < 12 * 5; i++) if (rng.next() < 0.5) free[i] = 0;
    const pruned = new Float64Array(n * 5);
    for (let i = 0; i < 12 * 5; i++) pruned[i] = free[i] ? w[i] : 0;
    const exact = maskedRidgeSolve(eq, free, { lambda: 0 });
    const approx = maskedRidgeSolve(eq, free, { lambda: 0, exactFlopBudget: 0 });
    assert.equal(exact.method, 'masked-exact');
    assert.equal(approx.method, 'sparsegpt');
    for (const s of [exact, approx]) for (let i = 0; i < free.length; i++) if (!free[i]) assert.ok(Object.is(s.w[i], 0) || s.w[i] === 0);
    const base = residualFromEquations(eq, pruned);
    const eExact = residualFromEquations(eq, exact.w);
    const eApprox = residualFromEquations(eq, approx.w);
    assert.ok(eExact <= eApprox * (1 + 1e-9), `exact ${eExact} vs sparsegpt ${eApprox}`);
    assert.ok(eApprox < base, `sparsegpt ${eApprox} vs zeroed ${base}`);
  });

  void test('sparsegpt with an empty mask is the dense solution', () => {
    const { x, y } = regression(200, 6, 3, 4);
    const eq = normalEquations(x, y, 200, 6, 3, { bias: true });
    const free = new Uint8Array(21).fill(1);
    assert.ok(maxAbsDiff(sparseGptSolve(eq, free, { lambda: 0.1 }).w, ridgeSolve(eq, { lambda: 0.1 }).w) < 1e-10);
  });

  void test('K=512 factor and solve stay fast', () => {
    const rng = new Rng(1);
    const n = 512;
    const a = randomSpd(n, rng, n);
    const t = performance.now();
    const b = Float64Array.from({ length: n * 64 }, () => rng.normal());
    spdSolve(a, n, b, 64);
    const ms = performance.now() - t;
    assert.ok(ms < 5000, `${ms.toFixed(0)} ms`);
  });
});
