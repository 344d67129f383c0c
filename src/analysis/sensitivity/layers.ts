/**
 * The layers sensitivity analysis looks at: Conv, ConvTranspose, Gemm and MatMul nodes (default
 * domain) with one constant float32 weight, wherever the weight lives (initializer, Constant node, an
 * outer graph seen from an If/Loop/Scan body). The order is the model's (scopes parents first, nodes in
 * file order), so the host and every worker number the layers the same way from the same file.
 */
import { DataType, dtypeName } from '../../onnx/dtypes';
import { attrInt } from '../../onnx/graph';
import { dimsOf } from '../../onnx/tensor';
import type { ModelProto, NodeProto } from '../../onnx/types';
import { float32Values, modelScopes, reportName, resolveWeight, type Scope, type WeightRef } from '../../passes/quant/weights';

export const LAYER_OPS = ['Conv', 'ConvTranspose', 'Gemm', 'MatMul'] as const;

export interface SensitivityLayer {
  /** Position in the model's layer list. */
  readonly index: number;
  /** Report name: display name, prefixed with the subgraph path when nested. */
  readonly name: string;
  readonly opType: string;
  readonly scope: Scope;
  readonly node: NodeProto;
  /** Input slot of the node that holds the weight. */
  readonly weightSlot: number;
  readonly weight: WeightRef;
  readonly dims: number[];
  /** Output-channel axis of the weight: the axis per-channel int8 scales run along. */
  readonly channelAxis: number;
  /** Input slot of the activation the layer multiplies with the weight. */
  readonly activationSlot: number;
  readonly params: number;
}

export interface SkippedLayer {
  name: string;
  opType: string;
  reason: string;
}

function isDefaultDomain(n: NodeProto): boolean {
  return n.domain === undefined || n.domain === '' || n.domain === 'ai.onnx';
}

interface Placement {
  weightSlot: number;
  activationSlot: number;
  channelAxis: (rank: number) => number;
  minRank: number;
}

/** Where the weight sits for each op, or why the node is not a layer we can analyse. */
function placementOf(scope: Scope, n: NodeProto): Placement | string {
  const constant = (slot: number) => Boolean(n.input[slot]) && resolveWeight(scope, n.input[slot]) !== undefined;
  switch (n.op_type) {
    case 'Conv':
      return { weightSlot: 1, activationSlot: 0, channelAxis: () => 0, minRank: 3 };
    case 'ConvTranspose':
      // Weight [C_in, C_out/group, k...]: output channels run along axis 1.
      return { weightSlot: 1, activationSlot: 0, channelAxis: () => 1, minRank: 3 };
    case 'Gemm':
      if (constant(1)) return { weightSlot: 1, activationSlot: 0, channelAxis: () => (attrInt(n, 'transB', 0) ? 0 : 1), minRank: 2 };
      if (constant(0)) return { weightSlot: 0, activationSlot: 1, channelAxis: () => (attrInt(n, 'transA', 0) ? 1 : 0), minRank: 2 };
      return 'neither input is a constant weight';
    case 'MatMul':
      if (constant(0) && constant(1)) return 'both inputs are constants (onnxruntime folds it)';
      if (constant(1)) return { weightSlot: 1, activationSlot: 0, channelAxis: (rank) => Math.max(0, rank - 1), minRank: 1 };
      if (constant(0)) return { weightSlot: 0, activationSlot: 1, channelAxis: (rank) => Math.max(0, rank - 2), minRank: 1 };
      return 'neither input is a constant weight';
    default:
      return 'not a layer op';
  }
}

function checkWeight(weight: WeightRef | undefined, name: string, minRank: number): string | undefined {
  if (!weight) return `weight ${name} is not a constant (it is computed or fed as an input)`;
  const dims = dimsOf(weight.tensor);
  if (weight.tensor.data_type !== DataType.FLOAT) return `weight ${name} is ${dtypeName(weight.tensor.data_type)}; only float32 weights are analysed`;
  if (dims.length < minRank) return `weight ${name} is ${dims.length}-D`;
  if (dims.some((d) => d === 0)) return `weight ${name} is empty`;
  if (!float32Values(weight.tensor)) return `weight ${name} has no data loaded`;
  return undefined;
}

export interface LayerScan {
  layers: SensitivityLayer[];
  skipped: SkippedLayer[];
}

/** Every analysable layer of the model in a stable order, and the layer-like nodes left out (with why). */
export function findLayers(model: ModelProto): LayerScan {
  const layers: SensitivityLayer[] = [];
  const skipped: SkippedLayer[] = [];
  for (const scope of modelScopes(model)) {
    scope.graph.node.forEach((n, i) => {
      if (!isDefaultDomain(n) || !(LAYER_OPS as readonly string[]).includes(n.op_type ?? '')) return;
      const name = reportName(scope, i);
      const opType = n.op_type ?? '';
      const placement = placementOf(scope, n);
      if (typeof placement === 'string') return void skipped.push({ name, opType, reason: placement });
      const weightName = n.input[placement.weightSlot] ?? '';
      const weight = weightName ? resolveWeight(scope, weightName) : undefined;
      const problem = checkWeight(weight, weightName, placement.minRank);
      if (problem || !weight) return void skipped.push({ name, opType, reason: problem ?? 'no weight' });
      const dims = dimsOf(weight.tensor);
      const params = dims.reduce((a, b) => a * b, 1);
      const channelAxis = placement.channelAxis(dims.length);
      layers.push({ index: layers.length, name, opType, scope, node: n, weightSlot: placement.weightSlot, weight, dims, channelAxis, activationSlot: placement.activationSlot, params });
    });
  }
  return { layers, skipped };
}

/** The layer's weight values (float32; a view of the model's bytes when aligned). */
export function layerWeight(layer: SensitivityLayer): Float32Array {
  return float32Values(layer.weight.tensor) as Float32Array;
}

/** The activation tensor name when it can be captured as a main-graph output or read from the feeds. */
export function capturableActivation(layer: SensitivityLayer): string | undefined {
  if (layer.scope.parent) return undefined;
  const name = layer.node.input[layer.activationSlot];
  if (!name || resolveWeight(layer.scope, name)) return undefined;
  return name;
}
