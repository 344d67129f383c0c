/**
 * Choosing which weights become zero: the k lowest scores of a set (exactly k, ties broken by
 * position), and the global magnitude threshold that splits a sparsity budget across layers.
 */

/** Marks exactly `k` of `scores` (the lowest; among equal scores, the first ones) in `mask`. */
export function markLowest(scores: ArrayLike<number>, k: number, mark: (i: number) => void): void {
  if (k <= 0) return;
  if (k >= scores.length) {
    for (let i = 0; i < scores.length; i++) mark(i);
    return;
  }
  const sorted = Float64Array.from(scores).sort();
  const threshold = sorted[k - 1];
  let below = 0;
  for (let i = 0; i < sorted.length && sorted[i] < threshold; i++) below++;
  let ties = k - below;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] < threshold) mark(i);
    else if (scores[i] === threshold && ties > 0) {
      mark(i);
      ties--;
    }
  }
}

/**
 * How many weights each layer loses when `k` weights are removed model-wide by one magnitude
 * threshold: the layers' k smallest |w| together. Ties at the threshold go to earlier layers.
 */
export function globalCounts(magnitudes: readonly Float32Array[], k: number): number[] {
  const total = magnitudes.reduce((n, m) => n + m.length, 0);
  if (k <= 0 || total === 0) return magnitudes.map(() => 0);
  if (k >= total) return magnitudes.map((m) => m.length);
  const all = new Float32Array(total);
  let at = 0;
  for (const m of magnitudes) {
    all.set(m, at);
    at += m.length;
  }
  const threshold = all.sort()[k - 1];
  const below = magnitudes.map((m) => m.reduce((n, v) => n + (v < threshold ? 1 : 0), 0));
  let ties = k - below.reduce((a, b) => a + b, 0);
  return magnitudes.map((m, l) => {
    const equal = m.reduce((n, v) => n + (v === threshold ? 1 : 0), 0);
    const taken = Math.min(equal, ties);
    ties -= taken;
    return below[l] + taken;
  });
}
