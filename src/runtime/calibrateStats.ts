/**
 * Calibration statistics, accumulated one model run at a time so that no activation is kept after
 * the run that produced it, and the three ways onnxruntime's quantizer turns them into ranges
 * (python/tools/quantization/calibrate.py):
 * - MinMax: the smallest and largest value seen (MinMaxCalibrater), optionally as a moving average of
 *   per-run extremes with `averaging_constant` (default 0.01);
 * - Percentile: on a histogram of |x| (HistogramCollector.collect_absolute_value, symmetric=True is the
 *   PercentileCalibrater default, 2048 bins, 99.999 %), the threshold is the left edge of the bin where
 *   the cumulative distribution reaches the percentile, clipped to [min, max] (compute_percentile);
 * - Entropy: the threshold that minimises the KL divergence between the clipped distribution and its
 *   128-level quantization (get_entropy_threshold; TensorRT's "8-bit inference with TensorRT", GTC 2017).
 *   ORT searches a signed 128-bin histogram; this searches the |x| histogram of 2048 bins, 128
 *   quantized bins, as TensorRT does, so one histogram serves both Percentile and Entropy.
 *
 * Histograms cover [0, absMax] with a fixed number of bins. ORT appends bins of the same width when a
 * later run exceeds the range; here the range doubles instead and neighbouring bins merge in pairs, so
 * a histogram never grows past its bin count (exact: merged counts stay counts).
 */

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

export interface Histogram {
  counts: Float64Array;
  absMax: number;
}

export interface Range {
  min: number;
  max: number;
}

// ---------------------------------------------------------------------------------------------
// Accumulation

/** Per-tensor running statistics. */
export class TensorAccumulator {
  min = Infinity;
  max = -Infinity;
  /** Moving average of per-run extremes (MinMax with moving_average). */
  averaged?: Range;
  histogram?: Histogram;
  channelSums?: Float64Array;
  channelCount = 0;
  runs = 0;

  constructor(
    private readonly options: { bins?: number; movingAverage?: number; channelAxis?: number },
  ) {
    if (options.bins) this.histogram = { counts: new Float64Array(options.bins), absMax: 0 };
  }

  /** Adds one run's values of the tensor (dims as ORT reports them). */
  add(data: Float32Array, dims: readonly number[]): void {
    const { min, max } = finiteExtremes(data);
    this.runs++;
    if (min <= max) {
      this.min = Math.min(this.min, min);
      this.max = Math.max(this.max, max);
      this.updateAverage(min, max);
      if (this.histogram) addToHistogram(this.histogram, data, Math.max(Math.abs(min), Math.abs(max)));
    }
    if (this.options.channelAxis !== undefined) this.addChannelSums(data, dims, this.options.channelAxis);
  }

  private updateAverage(min: number, max: number): void {
    const c = this.options.movingAverage;
    if (c === undefined) return;
    if (!this.averaged) this.averaged = { min, max };
    else this.averaged = { min: this.averaged.min + c * (min - this.averaged.min), max: this.averaged.max + c * (max - this.averaged.max) };
  }

  private addChannelSums(data: Float32Array, dims: readonly number[], axis: number): void {
    const resolved = axis < 0 ? dims.length + axis : axis;
    if (resolved < 0 || resolved >= dims.length) return;
    const { outer, channels, inner } = splitDims(dims, resolved);
    if (!this.channelSums) this.channelSums = new Float64Array(channels);
    if (this.channelSums.length !== channels) return; // a run with another channel count: keep the first
    addChannelSums(this.channelSums, data, outer, channels, inner);
    this.channelCount += outer * inner;
  }

  /** Mean of each channel over every run, when channel sums were collected. */
  channelMean(): Float64Array | undefined {
    if (!this.channelSums || this.channelCount === 0) return undefined;
    return this.channelSums.map((s) => s / this.channelCount);
  }
}

function splitDims(dims: readonly number[], axis: number): { outer: number; channels: number; inner: number } {
  const product = (list: readonly number[]) => list.reduce((a, b) => a * b, 1);
  return { outer: product(dims.slice(0, axis)), channels: dims[axis], inner: product(dims.slice(axis + 1)) };
}

function addChannelSums(sums: Float64Array, data: Float32Array, outer: number, channels: number, inner: number): void {
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let s = 0;
      for (let j = 0; j < inner; j++, i++) {
        const v = data[i];
        if (Number.isFinite(v)) s += v;
      }
      sums[c] += s;
    }
  }
}

/** Smallest and largest finite values; min > max when there are none. */
export function finiteExtremes(data: Float32Array): Range {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min && v !== -Infinity) min = v;
    if (v > max && v !== Infinity) max = v;
  }
  return { min, max };
}

/** Doubles the histogram's range until it covers `absMax`, merging bins in pairs. */
function widenHistogram(h: Histogram, absMax: number): void {
  if (h.absMax === 0) {
    h.absMax = absMax;
    return;
  }
  let factor = 1;
  while (h.absMax * factor < absMax) factor *= 2;
  if (factor === 1) return;
  const bins = h.counts.length;
  const merged = new Float64Array(bins);
  for (let i = 0; i < bins; i++) merged[Math.floor(i / factor)] += h.counts[i];
  h.counts = merged;
  h.absMax *= factor;
}

/** Counts |x| of the finite values into the histogram, widening it first when needed. */
export function addToHistogram(h: Histogram, data: Float32Array, batchAbsMax: number): void {
  if (batchAbsMax > h.absMax) widenHistogram(h, batchAbsMax);
  const bins = h.counts.length;
  if (h.absMax === 0) {
    // Every value seen so far is 0: they all belong to the first bin.
    for (let i = 0; i < data.length; i++) if (data[i] === 0) h.counts[0]++;
    return;
  }
  const perUnit = bins / h.absMax;
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i]);
    if (!Number.isFinite(a)) continue;
    const bin = Math.floor(a * perUnit);
    h.counts[bin < bins ? bin : bins - 1]++;
  }
}

// ---------------------------------------------------------------------------------------------
// Ranges

/** [−t, t] clipped to the values actually seen, as calibrate.py clips both thresholds. */
function symmetricClipped(threshold: number, seen: Range): Range {
  return { min: Math.max(-threshold, seen.min), max: Math.min(threshold, seen.max) };
}

/**
 * Percentile on the |x| histogram (compute_percentile with symmetric=True): the first bin whose
 * cumulative share reaches `percentile` %, threshold = that bin's left edge.
 */
export function percentileThreshold(h: Histogram, percentile: number): number {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total === 0 || h.absMax === 0) return 0;
  const target = percentile / 100;
  const width = h.absMax / h.counts.length;
  let cumulative = 0;
  for (let i = 0; i < h.counts.length; i++) {
    cumulative += h.counts[i] / total;
    if (cumulative >= target) return i * width;
  }
  return h.absMax;
}

/** ORT's smooth_distribution: zeros become eps, taken off the non-zero entries; undefined if all zero. */
function smoothDistribution(p: Float64Array, eps = 0.0001): Float64Array | undefined {
  let zeros = 0;
  for (const v of p) if (v === 0) zeros++;
  const nonZeros = p.length - zeros;
  if (nonZeros === 0) return undefined;
  const eps1 = (eps * zeros) / nonZeros;
  return p.map((v) => (v === 0 ? eps : v - eps1));
}

/** KL(p || q) of two unnormalized distributions (scipy.stats.entropy normalizes both). */
function klDivergence(p: Float64Array, q: Float64Array): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i];
    sq += q[i];
  }
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] / sp;
    if (pi > 0) kl += pi * Math.log(pi / (q[i] / sq));
  }
  return kl;
}

/**
 * KL divergence of clipping the histogram after `end` bins: p is the first `end` bins with the
 * outliers added to the last one; q is those bins (without outliers) merged into `quantBins` levels
 * and spread back over the non-empty bins of p.
 */
function clippingDivergence(counts: Float64Array, end: number, quantBins: number, outliers: number): number {
  const p = counts.slice(0, end);
  p[end - 1] += outliers;
  const q = new Float64Array(end);
  const perLevel = Math.floor(end / quantBins);
  for (let level = 0; level < quantBins; level++) {
    const start = level * perLevel;
    const stop = level === quantBins - 1 ? end : start + perLevel;
    let total = 0;
    let nonEmpty = 0;
    for (let j = start; j < stop; j++) {
      total += counts[j];
      if (p[j] !== 0) nonEmpty++;
    }
    if (nonEmpty > 0) for (let j = start; j < stop; j++) if (p[j] !== 0) q[j] = total / nonEmpty;
  }
  const ps = smoothDistribution(p);
  const qs = smoothDistribution(q);
  return ps && qs ? klDivergence(ps, qs) : Infinity;
}

/** Candidate thresholds evaluated at most: a stride keeps the search linear in the bin count. */
const MAX_ENTROPY_CANDIDATES = 512;

/** The |x| threshold with the least KL divergence between clipped and quantized distributions. */
export function entropyThreshold(h: Histogram, quantBins = 128): number {
  const bins = h.counts.length;
  if (h.absMax === 0) return 0;
  if (bins <= quantBins) return h.absMax;
  const suffix = new Float64Array(bins + 1);
  for (let i = bins - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + h.counts[i];
  const stride = Math.max(1, Math.ceil((bins - quantBins) / MAX_ENTROPY_CANDIDATES));
  let best = Infinity;
  let bestEnd = bins;
  for (let end = quantBins; end <= bins; end += stride) {
    const kl = clippingDivergence(h.counts, end, quantBins, suffix[end]);
    if (kl < best) {
      best = kl;
      bestEnd = end;
    }
  }
  return (bestEnd * h.absMax) / bins;
}

export interface RangeOptions {
  method: CalibrationMethod;
  percentile: number;
  quantizedBins: number;
}

/** The range the chosen method gives for one tensor's statistics. */
export function chooseRange(acc: TensorAccumulator, options: RangeOptions): Range {
  const seen = acc.min <= acc.max ? { min: acc.min, max: acc.max } : { min: 0, max: 0 };
  if (options.method === 'minmax') return acc.averaged ?? seen;
  if (!acc.histogram) return seen;
  const threshold = options.method === 'percentile' ? percentileThreshold(acc.histogram, options.percentile) : entropyThreshold(acc.histogram, options.quantizedBins);
  return symmetricClipped(threshold, seen);
}
