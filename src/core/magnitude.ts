/**
 * Weight-magnitude statistics of layers for the Layer Report: a histogram of |w| and the exact
 * magnitude-pruning threshold that reaches a sparsity. Pruning rule (what the preview predicts): a
 * layer pruned to sparsity s zeroes every weight with |w| <= t, where t is the k-th smallest magnitude
 * and k = round(s × n); ties at t are pruned too, so `kept` is counted, not assumed.
 */
import type { LayerWeights } from './layerWeights';

export interface WeightHistogram {
  layer: string;
  opType: string;
  /** Names of the weight tensors counted (floating-point, at least 2-D). Empty when the layer has none. */
  tensors: string[];
  /** Finite elements counted. */
  count: number;
  /** counts[i]: weights with |w| in [i·absMax/bins, (i+1)·absMax/bins); the last bin includes absMax. */
  counts: number[];
  min: number;
  max: number;
  absMax: number;
  /** Exact zeros (either sign) among the counted weights. */
  zeros: number;
  /** NaN or infinite elements, left out of every other figure. */
  nonFinite: number;
}

export interface PruneLayerPreview {
  layer: string;
  /** Weights with |w| <= threshold are zeroed; 0 when nothing beyond existing zeros is pruned. */
  threshold: number;
  /** Prunable weights (finite elements of the layer's floating-point tensors of rank >= 2). */
  params: number;
  /** Exact zeros before pruning. */
  zeros: number;
  /** Non-zero weights left after pruning. */
  kept: number;
  /** Fraction of zeros after pruning. */
  sparsity: number;
  /** Bytes of those tensors as stored (unstructured pruning keeps the dense shape, so also after). */
  bytes: number;
  /** Bytes if stored as ONNX sparse tensors after pruning: kept values plus int64 linear indices. */
  sparseBytes: number;
}

export interface PrunePreview {
  /** The requested sparsity per layer. */
  sparsity: number;
  layers: PruneLayerPreview[];
  params: number;
  kept: number;
  /** Fraction of zeros over all the layers after pruning. */
  sparsityAfter: number;
  bytes: number;
  sparseBytes: number;
}

const INDEX_BYTES = 8;
const COARSE_BINS = 4096;

type Values = ArrayLike<number>;

function forEachFinite(arrays: Values[], fn: (v: number) => void): number {
  let nonFinite = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (Number.isFinite(v)) fn(v);
      else nonFinite++;
    }
  }
  return nonFinite;
}

function magnitudeRange(arrays: Values[]): { min: number; max: number; absMax: number; count: number; zeros: number; nonFinite: number } {
  let min = Infinity;
  let max = -Infinity;
  let count = 0;
  let zeros = 0;
  const nonFinite = forEachFinite(arrays, (v) => {
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === 0) zeros++;
    count++;
  });
  if (count === 0) return { min: 0, max: 0, absMax: 0, count, zeros, nonFinite };
  return { min, max, absMax: Math.max(Math.abs(min), Math.abs(max)), count, zeros, nonFinite };
}

/** Bin of |v| among `bins` equal bins over [0, absMax]. */
function binOf(v: number, absMax: number, bins: number): number {
  return absMax > 0 ? Math.min(bins - 1, Math.floor((Math.abs(v) / absMax) * bins)) : 0;
}

function binCounts(arrays: Values[], absMax: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  forEachFinite(arrays, (v) => counts[binOf(v, absMax, bins)]++);
  return counts;
}

export function weightHistogram(weights: LayerWeights, bins: number): WeightHistogram {
  const arrays = weights.tensors.map((t) => t.values);
  const range = magnitudeRange(arrays);
  return {
    layer: weights.layer,
    opType: weights.opType,
    tensors: weights.tensors.map((t) => t.name),
    count: range.count,
    counts: binCounts(arrays, range.absMax, bins),
    min: range.min,
    max: range.max,
    absMax: range.absMax,
    zeros: range.zeros,
    nonFinite: range.nonFinite,
  };
}

/**
 * The k-th smallest magnitude (1-based) among the finite values, exactly: a coarse histogram finds the
 * bin holding it, then only that bin's values are sorted.
 */
export function kthSmallestMagnitude(arrays: Values[], k: number, absMax: number): number {
  const counts = binCounts(arrays, absMax, COARSE_BINS);
  let bin = 0;
  let before = 0;
  while (bin < COARSE_BINS - 1 && before + counts[bin] < k) before += counts[bin++];
  const inBin = new Float64Array(counts[bin]);
  let n = 0;
  forEachFinite(arrays, (v) => {
    if (binOf(v, absMax, COARSE_BINS) === bin) inBin[n++] = Math.abs(v);
  });
  inBin.sort();
  return inBin[Math.min(n - 1, Math.max(0, k - before - 1))];
}

function countAbove(arrays: Values[], threshold: number): number {
  let kept = 0;
  forEachFinite(arrays, (v) => {
    if (Math.abs(v) > threshold) kept++;
  });
  return kept;
}

export function pruneLayerPreview(weights: LayerWeights, sparsity: number): PruneLayerPreview {
  const arrays = weights.tensors.map((t) => t.values);
  const range = magnitudeRange(arrays);
  const k = Math.round(sparsity * range.count);
  const threshold = k > 0 ? kthSmallestMagnitude(arrays, k, range.absMax) : 0;
  const kept = countAbove(arrays, threshold);
  const bytes = weights.tensors.reduce((s, t) => s + t.values.length * t.elementBytes, 0);
  const valueBytes = range.count > 0 ? bytes / (range.count + range.nonFinite) : 0;
  return {
    layer: weights.layer,
    threshold,
    params: range.count,
    zeros: range.zeros,
    kept,
    sparsity: range.count > 0 ? 1 - kept / range.count : 0,
    bytes,
    sparseBytes: Math.round(kept * (valueBytes + INDEX_BYTES)),
  };
}

export function prunePreview(layers: LayerWeights[], sparsity: number): PrunePreview {
  const previews = layers.map((w) => pruneLayerPreview(w, sparsity));
  const sum = (f: (p: PruneLayerPreview) => number) => previews.reduce((s, p) => s + f(p), 0);
  const params = sum((p) => p.params);
  const kept = sum((p) => p.kept);
  return { sparsity, layers: previews, params, kept, sparsityAfter: params > 0 ? 1 - kept / params : 0, bytes: sum((p) => p.bytes), sparseBytes: sum((p) => p.sparseBytes) };
}
