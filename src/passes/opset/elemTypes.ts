/**
 * Element types of a graph's tensors, for the adapters that must create a constant of the same type as
 * a data input (Clip min/max, Pad constant_value). Known from declarations (inputs, initializers,
 * value_info, Constant nodes) and propagated through nodes in topological order; unknown types stay
 * unknown rather than guessed.
 */
import { constantTensor, GraphIndex } from '../../onnx/graph';
import { DataType } from '../../onnx/dtypes';
import type { NodeProto } from '../../onnx/types';
import { outputType } from '../fp16/ops';

/** Output types of the Constant forms that do not hold a TensorProto. */
function constantType(node: NodeProto): number | undefined {
  const t = constantTensor(node);
  if (t) return t.data_type;
  const name = node.attribute[0]?.name ?? '';
  if (name === 'value_float' || name === 'value_floats') return DataType.FLOAT;
  if (name === 'value_int' || name === 'value_ints') return DataType.INT64;
  return name === 'value_string' || name === 'value_strings' ? DataType.STRING : undefined;
}

function declaredTypes(index: GraphIndex): Map<string, number> {
  const types = new Map<string, number>();
  for (const [name, v] of index.valueInfo) {
    const t = v.type?.tensor_type?.elem_type;
    if (t) types.set(name, t);
  }
  for (const [name, t] of index.initializers) if (t.data_type) types.set(name, t.data_type);
  return types;
}

/** Ops whose output types come from their subgraphs: left to value_info. */
const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan', 'SequenceMap']);

function nodeOutputType(node: NodeProto, slot: number, typeOf: (name: string) => number | undefined): number | undefined {
  if (node.domain && node.domain !== 'ai.onnx') return undefined;
  if (node.op_type === 'Constant') return constantType(node);
  if (CONTROL_FLOW.has(node.op_type ?? '')) return undefined;
  return outputType(node, slot, (k) => typeOf(node.input[k] ?? ''));
}

/** Tensor name -> element type for one graph; `outer` answers for names of enclosing graphs. */
export function inferElemTypes(index: GraphIndex, outer: (name: string) => number | undefined): Map<string, number> {
  const types = declaredTypes(index);
  const typeOf = (name: string) => (name ? (types.get(name) ?? outer(name)) : undefined);
  for (const i of index.topoOrder()) {
    const node = index.graph.node[i];
    node.output.forEach((out, slot) => {
      if (!out || types.has(out)) return;
      const t = nodeOutputType(node, slot, typeOf);
      if (t) types.set(out, t);
    });
  }
  return types;
}
