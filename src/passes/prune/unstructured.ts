/**
 * What prune-magnitude and prune-nm share: scoring each weight (|W_ij|, or Wanda's |W_ij|·‖X_j‖₂ when
 * calibration measured the input features), zeroing chosen weights in place, and the report numbers
 * unstructured pruning can honestly claim (sparsity and compressed size, not speed).
 */
import { gzipSync } from 'node:zlib';
import { encodeModel } from '../../onnx/encode';
import { isFloating } from '../../onnx/dtypes';
import { dimsOf, zeroFraction } from '../../onnx/tensor';
import type { ModelProto, TensorProto } from '../../onnx/types';
import { forEachTensor } from '../../onnx/walk';
import type { LayerSkip, PassReport } from '../pass';
import { float32Values } from '../quant/weights';
import type { PrunableLayer } from './layers';
import { setTensorBytes } from './slice';

export const NO_SPEEDUP_WARNING =
  'onnxruntime on CPU does not run faster with unstructured zeros: the model keeps its dense shapes, so only the compressed file size shrinks (use prune-channels for speed)';

/** A writable copy of the layer's weight. */
export function weightCopy(layer: PrunableLayer): Float32Array {
  return Float32Array.from(float32Values(layer.weight.tensor) as Float32Array);
}

/** Score of every stored element: |w|, times ‖X_j‖ of its input feature when norms are given. */
export function elementScores(layer: PrunableLayer, values: Float32Array, norms?: Float64Array): Float64Array {
  const scores = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) scores[i] = Math.abs(values[i]);
  if (!norms) return scores;
  const g = layer.geometry;
  for (let r = 0; r < g.rows; r++) {
    for (let f = 0; f < g.features; f++) {
      const norm = norms[g.inputFeature(r, f)];
      for (let p = 0; p < g.positions; p++) scores[g.index(r, f, p)] *= norm;
    }
  }
  return scores;
}

/** Storage indices of one output row's weights, feature-major then kernel position. */
export function rowIndices(layer: PrunableLayer, r: number): Int32Array {
  const g = layer.geometry;
  const out = new Int32Array(g.features * g.positions);
  for (let f = 0; f < g.features; f++) for (let p = 0; p < g.positions; p++) out[f * g.positions + p] = g.index(r, f, p);
  return out;
}

export function zeroCount(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}

/** Writes the pruned values back into the weight tensor (same name, same place). */
export function commitWeight(tensor: TensorProto, values: Float32Array): void {
  setTensorBytes(tensor, dimsOf(tensor), new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

export function gzipBytes(model: ModelProto): number {
  return gzipSync(encodeModel(model)).length;
}

/** Exact zeros among every floating-point weight of the model. */
export function modelSparsity(model: ModelProto): number {
  let [zeros, count] = [0, 0];
  const seen = new Set<TensorProto>();
  forEachTensor(model, ({ tensor }) => {
    if (seen.has(tensor) || !isFloating(tensor.data_type)) return;
    seen.add(tensor);
    const z = zeroFraction(tensor);
    zeros += z?.zeros ?? 0;
    count += z?.count ?? 0;
  });
  return count ? zeros / count : 0;
}

export interface LayerOutcome {
  layer: PrunableLayer;
  zerosBefore: number;
  zerosAfter: number;
  count: number;
  method: string;
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Per-layer lines, model-wide sparsity, compressed sizes and the no-speed-up warning. */
export function finishReport(report: PassReport, model: ModelProto, outcomes: LayerOutcome[], skipped: LayerSkip[], gzipBefore: number): void {
  let [zeros, count, zeroed] = [0, 0, 0];
  for (const o of outcomes) {
    const sparsity = o.zerosAfter / o.count;
    report.changed.push({ name: o.layer.name, opType: o.layer.opType, action: `sparsity ${percent(o.zerosBefore / o.count)} -> ${percent(sparsity)} (${o.method})` });
    report.stats[`sparsity.${o.layer.name}`] = sparsity;
    zeros += o.zerosAfter;
    count += o.count;
    zeroed += o.zerosAfter - o.zerosBefore;
  }
  report.skipped.push(...skipped);
  Object.assign(report.stats, { layersPruned: outcomes.length, weightsZeroed: zeroed, prunedLayersSparsity: count ? zeros / count : 0, modelSparsity: modelSparsity(model), gzipBytesBefore: gzipBefore, gzipBytesAfter: gzipBytes(model) });
  if (outcomes.length) report.warnings.push(NO_SPEEDUP_WARNING);
  else report.warnings.push('no layer was pruned: see the skipped list for the reasons');
}
