/** Summary statistics of latency samples. */
import type { LatencyStats } from '../core/reports';

/**
 * The p-quantile (p in [0, 1]) of ascending `sorted` values by linear interpolation between the
 * closest ranks: position (n - 1) * p, as NumPy's default (method 'linear') and Excel's PERCENTILE.INC.
 */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * p;
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

/** Mean, percentiles, extremes and the sample standard deviation (n - 1 denominator; 0 for one sample). */
export function latencyStats(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) throw new Error('latencyStats needs at least one sample');
  const sorted = [...samples].sort((a, b) => a - b);
  // Rounding can put the mean of near-equal samples an ulp outside them; keep min <= mean <= max.
  const mean = Math.min(Math.max(sorted.reduce((s, v) => s + v, 0) / sorted.length, sorted[0]), sorted[sorted.length - 1]);
  const squares = sorted.reduce((s, v) => s + (v - mean) ** 2, 0);
  return {
    mean,
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    stdev: sorted.length > 1 ? Math.sqrt(squares / (sorted.length - 1)) : 0,
  };
}
