/**
 * The prunable weights of a layer, found by the layer's name in an inspect report (`LayerInfo.name`):
 * the node's floating-point constant inputs with at least two dimensions (kernels and matrices).
 * Biases, norm scales and shape constants are left out, as magnitude pruning leaves them alone.
 * Names follow `inspectModel` exactly: display names, prefixed "<parent>/<attribute>/" in subgraphs.
 */
import { DataType, dtypeBits, dtypeName, isFloating } from '../onnx/dtypes';
import { GraphIndex } from '../onnx/graph';
import { tensorElementCount, tensorValues } from '../onnx/tensor';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/types';
import { UserError } from './errors';

export interface WeightTensor {
  name: string;
  dtype: string;
  /** Element values; a view of the file buffer for aligned float32 data. */
  values: ArrayLike<number>;
  /** Bytes per element as stored. */
  elementBytes: number;
}

export interface LayerWeights {
  layer: string;
  opType: string;
  tensors: WeightTensor[];
}

interface LayerRef {
  index: GraphIndex;
  node: NodeProto;
}

const MAX_DEPTH = 100;

/** Every layer of the model by report name (Constant nodes are not layers, as in `inspectModel`). */
export function indexLayers(model: ModelProto): Map<string, LayerRef> {
  const layers = new Map<string, LayerRef>();
  if (model.graph) walk(model.graph, undefined, '', 0, layers);
  return layers;
}

function walk(graph: GraphProto, outer: GraphIndex | undefined, path: string, depth: number, layers: Map<string, LayerRef>): void {
  if (depth > MAX_DEPTH) throw new UserError(`subgraphs nested more than ${MAX_DEPTH} deep at ${path}`);
  const index = new GraphIndex(graph, outer);
  const prefix = path ? `${path}/` : '';
  graph.node.forEach((node, i) => {
    if (!(node.op_type === 'Constant' && (node.domain ?? '') === '')) layers.set(`${prefix}${index.names[i]}`, { index, node });
    const label = node.name || `${node.op_type ?? 'node'}_${i}`;
    for (const attr of node.attribute) {
      for (const sub of attributeGraphs(attr)) walk(sub.graph, index, `${prefix}${label}/${sub.label}`, depth + 1, layers);
    }
  });
}

function attributeGraphs(attr: AttributeProto): { graph: GraphProto; label: string }[] {
  const name = attr.name ?? 'graph';
  const out = attr.g ? [{ graph: attr.g, label: name }] : [];
  attr.graphs.forEach((g, i) => out.push({ graph: g, label: `${name}[${i}]` }));
  return out;
}

/** The layer's prunable weights; throws a UserError naming the layer when the model has no such layer. */
export function layerWeights(layers: Map<string, LayerRef>, name: string): LayerWeights {
  const ref = layers.get(name);
  if (!ref) throw new UserError(`the model has no layer named ${JSON.stringify(name)}`);
  const seen = new Set<TensorProto>();
  const tensors: WeightTensor[] = [];
  for (const input of ref.node.input) {
    const tensor = constantInput(ref.index, input);
    if (!tensor || seen.has(tensor) || !isPrunable(tensor)) continue;
    seen.add(tensor);
    const values = readValues(tensor);
    if (values) tensors.push({ name: input, dtype: dtypeName(tensor.data_type), values, elementBytes: dtypeBits(tensor.data_type) / 8 });
  }
  return { layer: name, opType: ref.node.op_type ?? '', tensors };
}

/** The constant behind an input name, as `inspectModel` resolves it (initializer or Constant output). */
function constantInput(index: GraphIndex, name: string): TensorProto | undefined {
  if (!name || (index.producer.has(name) && !index.constants.has(name))) return undefined;
  return index.weight(name);
}

function isPrunable(t: TensorProto): boolean {
  return isFloating(t.data_type) && t.dims.length >= 2 && tensorElementCount(t) > 0;
}

/** float32 raw data is read in place when aligned; other floating dtypes are converted. */
function readValues(t: TensorProto): ArrayLike<number> | undefined {
  const raw = t.raw_data;
  const n = tensorElementCount(t);
  if (t.data_type === DataType.FLOAT && raw && raw.length === n * 4 && raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, n);
  return tensorValues(t);
}
