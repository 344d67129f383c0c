/**
 * Pruning preview arithmetic in the webview: the threshold a histogram implies for a sparsity (from
 * its cumulative counts, interpolated within the bin), and the estimate for a selection of layers
 * from their inspect statistics until the server's exact preview arrives.
 */
import type { LayerInfo, PrunePreview, WeightHistogram } from './types';

/**
 * The magnitude below which a fraction `sparsity` of the histogram's weights lie: the bin where the
 * cumulative count reaches round(sparsity × count), interpolated linearly inside that bin.
 */
export function thresholdFromHistogram(h: Pick<WeightHistogram, 'counts' | 'absMax' | 'count'>, sparsity: number): number {
  const target = Math.round(Math.max(0, Math.min(1, sparsity)) * h.count);
  if (target <= 0 || h.count === 0 || h.counts.length === 0) return 0;
  const width = h.absMax / h.counts.length;
  let cumulative = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i];
    if (cumulative + c >= target) return i * width + (c > 0 ? ((target - cumulative) / c) * width : 0);
    cumulative += c;
  }
  return h.absMax;
}

export interface SelectionEstimate {
  layers: number;
  params: number;
  /** Zeros now and after, over the selected layers. */
  sparsityNow: number;
  sparsityAfter: number;
  kept: number;
  /** Bytes of the selected layers' weights (dense storage keeps them after pruning). */
  bytes: number;
  /** The whole model's sparsity after pruning the selection. */
  modelSparsityAfter: number;
  /** True when the figures are the server's exact ones. */
  exact: boolean;
}

const layerBytes = (l: LayerInfo): number => Object.values(l.paramBytes).reduce((s, b) => s + b, 0);

/**
 * Estimated from the layers' inspect statistics: a layer already sparser than the target stays as it
 * is (pruning never restores weights), any other ends at the target.
 */
export function estimateSelection(layers: readonly LayerInfo[], sparsity: number, model: { paramCount: number; sparsity: number }): SelectionEstimate {
  let params = 0;
  let zerosNow = 0;
  let zerosAfter = 0;
  let bytesTotal = 0;
  for (const l of layers) {
    params += l.params;
    zerosNow += l.sparsity * l.params;
    zerosAfter += Math.max(l.sparsity, sparsity) * l.params;
    bytesTotal += layerBytes(l);
  }
  const modelZeros = model.sparsity * model.paramCount - zerosNow + zerosAfter;
  return {
    layers: layers.length,
    params,
    sparsityNow: params > 0 ? zerosNow / params : 0,
    sparsityAfter: params > 0 ? zerosAfter / params : 0,
    kept: Math.round(params - zerosAfter),
    bytes: bytesTotal,
    modelSparsityAfter: model.paramCount > 0 ? modelZeros / model.paramCount : 0,
    exact: false,
  };
}

/** The server's exact figures, in the same form (the model-wide figure from the report's totals). */
export function exactSelection(preview: PrunePreview, model: { paramCount: number; sparsity: number }): SelectionEstimate {
  const zerosNow = preview.layers.reduce((s, l) => s + l.zeros, 0);
  const zerosAfter = preview.params - preview.kept;
  const modelZeros = model.sparsity * model.paramCount - zerosNow + zerosAfter;
  return {
    layers: preview.layers.length,
    params: preview.params,
    sparsityNow: preview.params > 0 ? zerosNow / preview.params : 0,
    sparsityAfter: preview.sparsityAfter,
    kept: preview.kept,
    bytes: preview.bytes,
    modelSparsityAfter: model.paramCount > 0 ? Math.min(1, modelZeros / model.paramCount) : 0,
    exact: true,
  };
}

/** The key a preview answers for, so an answer for an older selection or slider value is ignored. */
export function previewKey(layers: readonly string[], sparsity: number): string {
  return `${sparsity.toFixed(4)}|${[...layers].sort().join('\u0000')}`;
}
