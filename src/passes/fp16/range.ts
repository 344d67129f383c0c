/**
 * When clamping a weight is harmless. onnxconverter-common clamps every weight into
 * [min_positive, max_finite]; that is right for a -1e9 attention mask (it only has to stay very
 * negative) and for the odd 1e-20 entry of a conv kernel, but wrong for a BatchNormalization variance
 * of 5e7 (PaddleOCR's text detector has one): clamped to 1e4 it rescales the layer's output 70-fold.
 *
 * A clamp is "significant" when it moves some value by more than float16's own rounding error relative
 * to the tensor's largest magnitude (2^-11 * max|w|). Significant clamps are still fine for readers
 * that only add, compare or saturate; any other reader keeps computing in float32 instead.
 */
import { DataType } from '../../onnx/dtypes';
import { tensorValues } from '../../onnx/tensor';
import type { TensorProto } from '../../onnx/types';
import type { ClampLimits } from './half';

/** Ops for which a clamped constant still means the same thing (a mask, a bound, a padding value). */
export const SATURATING_OPS: ReadonlySet<string> = new Set(['Add', 'Sub', 'Where', 'Clip', 'Max', 'Min', 'Pad']);

const HALF_EPSILON = 2 ** -11;

export interface ClampImpact {
  /** The value that clamping changes the most, relative to max|w|. */
  worst: number;
}

/** The largest finite magnitude, and the largest change clamping would make. */
function scan(values: Float64Array, limits: ClampLimits): { maxAbs: number; worstValue: number; worstChange: number } {
  let maxAbs = 0;
  let worstValue = 0;
  let worstChange = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (!Number.isFinite(a) || a === 0) continue;
    if (a > maxAbs) maxAbs = a;
    const change = a < limits.minPositive ? limits.minPositive - a : a > limits.maxFinite ? a - limits.maxFinite : 0;
    if (change > worstChange) {
      worstChange = change;
      worstValue = values[i];
    }
  }
  return { maxAbs, worstValue, worstChange };
}

/** The worst value a clamp would change significantly, or undefined when clamping is harmless. */
export function significantClamp(t: TensorProto | undefined, limits: ClampLimits): ClampImpact | undefined {
  if (!t || t.data_type !== DataType.FLOAT) return undefined;
  const values = tensorValues(t);
  if (!values) return undefined;
  const { maxAbs, worstValue, worstChange } = scan(values, limits);
  return worstChange > HALF_EPSILON * maxAbs ? { worst: worstValue } : undefined;
}

export function describeClamp(name: string, impact: ClampImpact, limits: ClampLimits): string {
  const a = Math.abs(impact.worst);
  const bound = a > limits.maxFinite ? `above max_finite=${limits.maxFinite}` : `below min_positive=${limits.minPositive}`;
  return `weight ${name} holds ${impact.worst.toPrecision(3)}, ${bound}; clamping it would change the result`;
}
