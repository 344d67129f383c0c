/**
 * Refitting one layer: per group, the normal equations of [X 1]·[W; b] ≈ Y (bias solved jointly, which
 * is bias correction too), ridge λ = ridge · trace(XᵀX)/K toward the current weights, exact zeros of
 * the current weights kept as zeros (masked least squares), and the layer's own output error before and
 * after on held-out rows, which decides whether the new weights are kept.
 */
import { maskedRidgeSolve, normalEquations, partialTrace, ridgeSolve, type SolveMethod } from '../../linalg';
import type { LayerRows } from './rows';

export interface FitInput {
  N: number;
  groups: number;
  Kg: number;
  /** Current weights, N rows of Kg. */
  rows: Float64Array;
  /** Current effective bias (N), when the layer has a bias slot. */
  bias?: Float64Array;
}

export interface LayerFit {
  rows: Float64Array;
  bias?: Float64Array;
  /** Held-out ‖XW − Y‖² with the current and with the new weights, and ‖Y‖². */
  errBefore: number;
  errAfter: number;
  yy: number;
  /** Weights pinned at zero (the mask). */
  pinned: number;
  method: SolveMethod;
  jitter: number;
}

const METHOD_RANK: Record<SolveMethod, number> = { dense: 0, 'masked-exact': 1, sparsegpt: 2 };

/** Group g's current weights as (Kg [+1]) × Ng, the layout the solvers use (bias last). */
function groupPrior(input: FitInput, g: number): Float64Array {
  const { Kg } = input;
  const Ng = input.N / input.groups;
  const n = Kg + (input.bias ? 1 : 0);
  const p = new Float64Array(n * Ng);
  for (let j = 0; j < Ng; j++) {
    const row = (g * Ng + j) * Kg;
    for (let k = 0; k < Kg; k++) p[k * Ng + j] = input.rows[row + k];
    if (input.bias) p[Kg * Ng + j] = input.bias[g * Ng + j];
  }
  return p;
}

/** Σ‖[x 1]·W − y‖² over the rows (W is (Kg [+1]) × Ng, bias row last). */
export function residual(x: Float32Array, y: Float32Array, rows: number, Kg: number, Ng: number, w: Float64Array, bias: boolean): number {
  // Output j's weights contiguous, so each prediction is a dot product with the row (4 outputs per pass).
  const wt = new Float64Array(Ng * Kg);
  for (let k = 0; k < Kg; k++) for (let j = 0; j < Ng; j++) wt[j * Kg + k] = w[k * Ng + j];
  const xr = new Float64Array(Kg);
  let err = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < Kg; k++) xr[k] = x[r * Kg + k];
    const yr = r * Ng;
    let j = 0;
    for (; j + 4 <= Ng; j += 4) {
      const o0 = j * Kg;
      const o1 = o0 + Kg;
      const o2 = o1 + Kg;
      const o3 = o2 + Kg;
      let s0 = bias ? w[Kg * Ng + j] : 0;
      let s1 = bias ? w[Kg * Ng + j + 1] : 0;
      let s2 = bias ? w[Kg * Ng + j + 2] : 0;
      let s3 = bias ? w[Kg * Ng + j + 3] : 0;
      for (let k = 0; k < Kg; k++) {
        const v = xr[k];
        s0 += v * wt[o0 + k];
        s1 += v * wt[o1 + k];
        s2 += v * wt[o2 + k];
        s3 += v * wt[o3 + k];
      }
      const d0 = s0 - y[yr + j];
      const d1 = s1 - y[yr + j + 1];
      const d2 = s2 - y[yr + j + 2];
      const d3 = s3 - y[yr + j + 3];
      err += d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3;
    }
    for (; j < Ng; j++) {
      let sum = bias ? w[Kg * Ng + j] : 0;
      const o = j * Kg;
      for (let k = 0; k < Kg; k++) sum += xr[k] * wt[o + k];
      const d = sum - y[yr + j];
      err += d * d;
    }
  }
  return err;
}

function sumSquares(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

interface GroupResult {
  w: Float64Array;
  method: SolveMethod;
  jitter: number;
  pinned: number;
}

function solveGroup(input: FitInput, fit: LayerRows, g: number, prior: Float64Array, ridge: number): GroupResult {
  const { Kg } = input;
  const Ng = input.N / input.groups;
  const bias = input.bias !== undefined;
  const eq = normalEquations(fit.x[g], fit.y[g], fit.rows, Kg, Ng, { bias });
  // A floor keeps λ positive when every input is zero, so such weights keep their current values.
  const lambda = ridge * Math.max(partialTrace(eq, Kg) / Kg, 1e-12);
  const free = new Uint8Array(prior.length).fill(1);
  let pinned = 0;
  for (let i = 0; i < Kg * Ng; i++) {
    if (prior[i] === 0) {
      free[i] = 0;
      pinned++;
    }
  }
  const options = { lambda, prior };
  const solution = pinned ? maskedRidgeSolve(eq, free, options) : ridgeSolve(eq, options);
  return { w: solution.w, method: solution.method, jitter: solution.jitter, pinned };
}

/** Cooperative pauses, so a long fit neither blocks the event loop nor ignores cancellation. */
export type Pause = () => Promise<void>;

/** The held-out error of the current weights, ‖Y‖², and each group's current weights. */
function currentError(input: FitInput, held: LayerRows): { err: number; yy: number; priors: Float64Array[] } {
  const Ng = input.N / input.groups;
  const priors = Array.from({ length: input.groups }, (_, g) => groupPrior(input, g));
  let err = 0;
  let yy = 0;
  for (let g = 0; g < input.groups; g++) {
    err += residual(held.x[g], held.y[g], held.rows, input.Kg, Ng, priors[g], input.bias !== undefined);
    yy += sumSquares(held.y[g]);
  }
  return { err, yy, priors };
}

/** Relative error below which a layer already reproduces its target (float32 rounding of the runtime). */
export const EXACT_RELATIVE_ERROR = 1e-6;

/**
 * Fits every group of a layer on `fit` rows and measures both weight sets on `held` rows. Returns
 * 'exact' without solving when the current weights already reproduce the held-out targets up to
 * float32 rounding (nothing a refit could improve).
 */
export async function fitLayer(input: FitInput, fit: LayerRows, held: LayerRows, ridge: number, pause: Pause): Promise<LayerFit | 'exact'> {
  const { Kg, groups } = input;
  const Ng = input.N / groups;
  const hasBias = input.bias !== undefined;
  const before = currentError(input, held);
  if (held.rows > 0 && before.err <= EXACT_RELATIVE_ERROR ** 2 * before.yy) return 'exact';
  const rows = new Float64Array(input.rows.length);
  const bias = hasBias ? new Float64Array(input.N) : undefined;
  const out: LayerFit = { rows, bias, errBefore: before.err, errAfter: 0, yy: before.yy, pinned: 0, method: 'dense', jitter: 0 };
  for (let g = 0; g < groups; g++) {
    const solved = solveGroup(input, fit, g, before.priors[g], ridge);
    if (METHOD_RANK[solved.method] > METHOD_RANK[out.method]) out.method = solved.method;
    out.jitter = Math.max(out.jitter, solved.jitter);
    out.pinned += solved.pinned;
    out.errAfter += residual(held.x[g], held.y[g], held.rows, Kg, Ng, solved.w, hasBias);
    for (let j = 0; j < Ng; j++) {
      const row = (g * Ng + j) * Kg;
      for (let k = 0; k < Kg; k++) rows[row + k] = solved.w[k * Ng + j];
      if (bias) bias[g * Ng + j] = solved.w[Kg * Ng + j];
    }
    await pause();
  }
  return out;
}
