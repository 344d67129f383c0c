/**
 * The layers unstructured pruning works on (Conv, ConvTranspose, Gemm, MatMul with a constant float32
 * weight) and the geometry that lets one algorithm handle all of them: every weight element is
 * (output row, input feature, kernel position), wherever the layout puts it.
 */
import { inferModelShapes, type ModelShapes } from '../../core/shapes';
import { DataType, dtypeName } from '../../onnx/dtypes';
import { attrInt } from '../../onnx/graph';
import { dimsOf } from '../../onnx/tensor';
import type { NodeProto } from '../../onnx/types';
import type { CalibrationData, LayerSkip, PassContext } from '../pass';
import { float32Values, modelScopes, reportName, resolveWeight, type Scope, type WeightRef } from '../quant/weights';

/** Element index and activation feature of (row, feature, position) in a layer's stored weight. */
export interface WeightGeometry {
  /** Output units: conv output channels, linear output columns. */
  rows: number;
  /** Input features each row reads (input channels per group for convs, K for linear layers). */
  features: number;
  /** Kernel elements per (row, feature); 1 for linear layers. */
  positions: number;
  index(row: number, feature: number, position: number): number;
  /** The feature's index in the input activation (grouped convs offset it by the row's group). */
  inputFeature(row: number, feature: number): number;
  /** Features of the input activation. */
  inputFeatures: number;
}

export interface PrunableLayer {
  name: string;
  opType: string;
  node: NodeProto;
  scope: Scope;
  weight: WeightRef;
  geometry: WeightGeometry;
  /** The activation the weight multiplies (for Wanda's ‖X_j‖). */
  input: string;
  /** Where features sit in that activation: axis 1, the last axis (MatMul), or unknown (Gemm transA=1). */
  featureAxis: 'second' | 'last' | 'none';
}

const PRUNABLE_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Conv W [M, C/g, k...]: row m reads channels of group floor(m / (M/g)). */
function convGeometry(dims: number[], group: number): WeightGeometry {
  const [rows, features] = dims;
  const positions = product(dims.slice(2));
  const perGroup = rows / group;
  return {
    rows,
    features,
    positions,
    index: (r, f, p) => (r * features + f) * positions + p,
    inputFeature: (r, f) => Math.floor(r / perGroup) * features + f,
    inputFeatures: features * group,
  };
}

/** ConvTranspose W [C, M/g, k...]: output channel gi·(M/g)+o reads input channels gi·(C/g)..(gi+1)·(C/g)-1. */
function convTransposeGeometry(dims: number[], group: number): WeightGeometry {
  const [channels, outPerGroup] = dims;
  const positions = product(dims.slice(2));
  const features = channels / group;
  const row = (r: number) => ({ gi: Math.floor(r / outPerGroup), o: r % outPerGroup });
  return {
    rows: outPerGroup * group,
    features,
    positions,
    index: (r, f, p) => {
      const { gi, o } = row(r);
      return ((gi * features + f) * outPerGroup + o) * positions + p;
    },
    inputFeature: (r, f) => row(r).gi * features + f,
    inputFeatures: channels,
  };
}

/** Linear weight stored [K, N] (MatMul, Gemm transB=0) or [N, K] (Gemm transB=1). */
function linearGeometry(dims: number[], transposed: boolean): WeightGeometry {
  const [rows, features] = transposed ? dims : [dims[1], dims[0]];
  return {
    rows,
    features,
    positions: 1,
    index: transposed ? (r, f) => r * features + f : (r, f) => f * rows + r,
    inputFeature: (_r, f) => f,
    inputFeatures: features,
  };
}

function geometryOf(n: NodeProto, dims: number[]): WeightGeometry | string {
  const op = n.op_type;
  if (op === 'Conv' || op === 'ConvTranspose') {
    if (dims.length < 3) return `weight is ${dims.length}-D`;
    const group = attrInt(n, 'group', 1);
    // Conv: M output channels split in groups; ConvTranspose: C input channels split in groups. Both are dims[0].
    if (group < 1 || dims[0] % group !== 0) return `group ${group} does not divide the weight`;
    return op === 'Conv' ? convGeometry(dims, group) : convTransposeGeometry(dims, group);
  }
  if (dims.length !== 2) return `weight is ${dims.length}-D; only 2-D linear weights are pruned`;
  return linearGeometry(dims, op === 'Gemm' && attrInt(n, 'transB', 0) !== 0);
}

/** The layer for node i, a reason it cannot be pruned, or undefined for other ops. */
function layerAt(scope: Scope, i: number): PrunableLayer | LayerSkip | undefined {
  const n = scope.graph.node[i];
  const domain = n.domain ?? '';
  if (!PRUNABLE_OPS.has(n.op_type ?? '') || (domain !== '' && domain !== 'ai.onnx')) return undefined;
  const name = reportName(scope, i);
  const opType = n.op_type ?? '';
  const skip = (reason: string): LayerSkip => ({ name, opType, reason });
  const weight = resolveWeight(scope, n.input[1] ?? '');
  if (!weight) return skip('its weight is computed, not a constant');
  if (weight.tensor.data_type !== DataType.FLOAT) return skip(`its weight is ${dtypeName(weight.tensor.data_type)}; only float32 weights are pruned`);
  if (!float32Values(weight.tensor)) return skip('its weight data is not loaded');
  const geometry = geometryOf(n, dimsOf(weight.tensor));
  if (typeof geometry === 'string') return skip(geometry);
  const featureAxis = opType === 'MatMul' ? 'last' : opType === 'Gemm' && attrInt(n, 'transA', 0) !== 0 ? 'none' : 'second';
  return { name, opType, node: n, scope, weight, geometry, input: n.input[0], featureAxis };
}

export interface LayerSurvey {
  layers: PrunableLayer[];
  skipped: LayerSkip[];
  /** Every Conv/ConvTranspose/Gemm/MatMul name, prunable or not (to validate layers=). */
  names: Set<string>;
}

/** Every weight layer of every graph; excluded nodes are reported as skipped. */
export function surveyLayers(ctx: PassContext): LayerSurvey {
  const survey: LayerSurvey = { layers: [], skipped: [], names: new Set() };
  for (const scope of modelScopes(ctx.model)) {
    scope.graph.node.forEach((n, i) => {
      const found = layerAt(scope, i);
      if (!found) return;
      survey.names.add(found.name);
      if ('reason' in found) survey.skipped.push(found);
      else if (ctx.isExcluded(n, scope.index.names[i])) survey.skipped.push({ name: found.name, opType: found.opType, reason: 'excluded' });
      else survey.layers.push(found);
    });
  }
  return survey;
}

/** Wanda's ‖X_j‖₂ for each input feature of the layer, when calibration collected them on the right axis. */
export function featureNorms(layer: PrunableLayer, calibration: CalibrationData | undefined, shapes: () => ModelShapes): Float64Array | undefined {
  const stats = calibration?.stats.get(layer.input)?.featureNorms;
  if (!stats || stats.norms.length !== layer.geometry.inputFeatures || layer.featureAxis === 'none') return undefined;
  if (layer.featureAxis === 'second') return stats.axis === 1 ? stats.norms : undefined;
  if (stats.axis === -1) return stats.norms;
  const rank = shapes().graphs.get(layer.scope.graph)?.shape(layer.input)?.length;
  return rank !== undefined && stats.axis === rank - 1 ? stats.norms : undefined;
}

/** Shape inference run at most once, only when a MatMul's input rank is needed. */
export function lazyShapes(ctx: PassContext): () => ModelShapes {
  let shapes: ModelShapes | undefined;
  return () => (shapes ??= inferModelShapes(ctx.model));
}
