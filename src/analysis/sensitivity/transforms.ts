/**
 * What a variant does to one layer's weight (and input): unstructured magnitude pruning, symmetric
 * per-channel int8 fake quantization, and static int8 activation parameters from a calibrated range.
 * Pure functions over typed arrays.
 */
import { affineParams, dequantizeAffine, dequantizePerChannel, integerRange, quantizeAffine, quantizePerChannelInt8 } from '../../passes/quant/math';
import type { ActivationQuant } from './rewrite';

/**
 * Zeroes the round(level * n) smallest-magnitude weights of the whole tensor (SparseML's one-shot
 * per-layer magnitude pruning). Ties at the threshold are broken by position, so the count is exact.
 */
export function magnitudePrune(weight: Float32Array, level: number): Float32Array {
  const out = new Float32Array(weight);
  const k = Math.min(weight.length, Math.round(level * weight.length));
  if (k <= 0) return out;
  const threshold = kthSmallestMagnitude(weight, k - 1);
  let ties = k;
  for (let i = 0; i < out.length; i++) if (Math.abs(out[i]) < threshold) ties--;
  for (let i = 0; i < out.length; i++) {
    const a = Math.abs(out[i]);
    if (a < threshold) out[i] = 0;
    else if (a === threshold && ties > 0) {
      out[i] = 0;
      ties--;
    }
  }
  return out;
}

/** The k-th smallest |w| (0-based) by quickselect: O(n), where sorting 1M floats takes ~0.3 s. NaN counts as largest. */
export function kthSmallestMagnitude(weight: Float32Array, k: number): number {
  const a = new Float32Array(weight.length);
  for (let i = 0; i < a.length; i++) a[i] = Number.isNaN(weight[i]) ? Infinity : Math.abs(weight[i]);
  let [lo, hi] = [0, a.length - 1];
  while (hi > lo) {
    const pivot = medianOf3(a[lo], a[(lo + hi) >>> 1], a[hi]);
    let [i, j] = [lo, hi];
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

function medianOf3(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}

/** Symmetric per-channel int8 quantization along `axis`, dequantized back to float32. */
export function fakeQuantInt8(weight: Float32Array, dims: readonly number[], axis: number): Float32Array {
  const q = quantizePerChannelInt8(weight, dims, axis);
  return dequantizePerChannel(q.values, q.scales, dims, axis);
}

/** Asymmetric int8 activation parameters for a calibrated [min, max] (range widened to hold 0). */
export function activationQuant(range: { min: number; max: number }): ActivationQuant {
  const p = affineParams(range.min, range.max, 'int8');
  return { scale: p.scale, zeroPoint: p.zeroPoint };
}

/** The activation as the int8 model would see it: QuantizeLinear then DequantizeLinear. */
export function fakeQuantActivation(data: Float32Array, quant: ActivationQuant): Float32Array {
  const params = { ...integerRange('int8'), scale: quant.scale, zeroPoint: quant.zeroPoint };
  return dequantizeAffine(quantizeAffine(data, params), quant.scale, quant.zeroPoint);
}

/** Running [min, max] of the finite values of several arrays. */
export class RangeTracker {
  private min = Infinity;
  private max = -Infinity;

  add(data: ArrayLike<number>): void {
    let [min, max] = [this.min, this.max];
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < min && v !== -Infinity) min = v;
      if (v > max && v !== Infinity) max = v;
    }
    [this.min, this.max] = [min, max];
  }

  get range(): { min: number; max: number } | undefined {
    return this.min <= this.max ? { min: this.min, max: this.max } : undefined;
  }
}
