/**
 * The layer-local proxy: a one-node model holding just the layer, fed the layer's captured input
 * activation and a weight, so a variant costs one small run instead of a full model run. Its metrics
 * are those of the layer's own output (SQNR of y = layer(x, W') against layer(x, W)), which ranks
 * layers by how much a change disturbs them locally, not by what reaches the model's outputs.
 */
import { graph, model as makeModel, node as makeNode, valueInfo } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import type { ModelProto, TensorProto } from '../../onnx/types';
import { resolveWeight } from '../../passes/quant/weights';
import type { SensitivityLayer } from './layers';

export const PROXY_INPUT = 'x';
export const PROXY_WEIGHT = 'w';
export const PROXY_OUTPUT = 'y';

/** The single-node model, or why the layer has none (its other inputs are computed, or it is nested). */
export function singleLayerModel(source: ModelProto, layer: SensitivityLayer): ModelProto | string {
  if (layer.scope.parent) return 'the layer is inside a subgraph, whose activations cannot be captured';
  const initializers: TensorProto[] = [];
  const inputs = layer.node.input.map((name, slot) => {
    if (slot === layer.activationSlot) return PROXY_INPUT;
    if (slot === layer.weightSlot) return PROXY_WEIGHT;
    if (!name) return '';
    const constant = resolveWeight(layer.scope, name);
    if (!constant) return undefined;
    initializers.push({ ...constant.tensor, name: `c${slot}` });
    return `c${slot}`;
  });
  if (inputs.some((n) => n === undefined)) return 'another input of the layer is computed, not constant';
  const n = makeNode(layer.opType, inputs as string[], [PROXY_OUTPUT], {}, 'layer');
  n.attribute = layer.node.attribute;
  const g = graph({
    name: 'proxy',
    node: [n],
    initializer: initializers,
    input: [valueInfo(PROXY_INPUT, DataType.FLOAT, undefined), valueInfo(PROXY_WEIGHT, DataType.FLOAT, layer.dims)],
    output: [valueInfo(PROXY_OUTPUT, DataType.FLOAT, undefined)],
  });
  const ir = Number(source.ir_version ?? 8);
  // Before IR 4 every initializer must also be listed as a graph input.
  if (ir < 4) g.input.push(...initializers.map((t) => valueInfo(t.name ?? '', t.data_type ?? DataType.FLOAT, t.dims.map(Number))));
  const out = makeModel(g);
  out.ir_version = source.ir_version ?? out.ir_version;
  out.opset_import = source.opset_import;
  return out;
}
