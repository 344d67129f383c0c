/**
 * Visits every graph, node and tensor of a model: the main graph, subgraphs held in node attributes
 * (If/Loop/Scan and custom ops), and model-local functions. Tensors are found wherever exporters put
 * weights: initializers, sparse initializers and Constant nodes / tensor attributes.
 */
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto } from './types';

export interface GraphVisit {
  graph: GraphProto;
  /** "" for the main graph, otherwise e.g. "If_0/then_branch". */
  path: string;
  depth: number;
}

function nodeLabel(node: NodeProto, index: number): string {
  return node.name || `${node.op_type ?? 'node'}_${index}`;
}

function attributeGraphs(attr: AttributeProto): { graph: GraphProto; label: string }[] {
  const out: { graph: GraphProto; label: string }[] = [];
  const name = attr.name ?? 'graph';
  if (attr.g) out.push({ graph: attr.g, label: name });
  attr.graphs.forEach((g, i) => out.push({ graph: g, label: `${name}[${i}]` }));
  return out;
}

/** Every graph of the model, parents before children. */
export function forEachGraph(model: ModelProto, fn: (visit: GraphVisit) => void): void {
  if (model.graph) walkGraph(model.graph, '', 0, fn);
}

function walkGraph(graph: GraphProto, path: string, depth: number, fn: (visit: GraphVisit) => void): void {
  fn({ graph, path, depth });
  graph.node.forEach((node, i) => {
    for (const attr of node.attribute) {
      for (const sub of attributeGraphs(attr)) {
        const subPath = `${path ? path + '/' : ''}${nodeLabel(node, i)}/${sub.label}`;
        walkGraph(sub.graph, subPath, depth + 1, fn);
      }
    }
  });
}

export interface TensorVisit {
  tensor: TensorProto;
  /** What holds it: 'initializer', 'sparse', 'constant' (a node attribute), or 'function'. */
  holder: 'initializer' | 'sparse' | 'constant' | 'function';
  graphPath: string;
  node?: NodeProto;
}

function attributeTensors(attr: AttributeProto): TensorProto[] {
  const out: TensorProto[] = [];
  if (attr.t) out.push(attr.t);
  out.push(...attr.tensors);
  for (const s of [attr.sparse_tensor, ...attr.sparse_tensors]) {
    if (s?.values) out.push(s.values);
    if (s?.indices) out.push(s.indices);
  }
  return out;
}

function visitNodeTensors(node: NodeProto, holder: TensorVisit['holder'], graphPath: string, fn: (v: TensorVisit) => void): void {
  for (const attr of node.attribute) for (const tensor of attributeTensors(attr)) fn({ tensor, holder, graphPath, node });
}

/** Every tensor stored in the model, wherever it lives. */
export function forEachTensor(model: ModelProto, fn: (visit: TensorVisit) => void): void {
  forEachGraph(model, ({ graph, path }) => {
    for (const tensor of graph.initializer) fn({ tensor, holder: 'initializer', graphPath: path });
    for (const s of graph.sparse_initializer) {
      if (s.values) fn({ tensor: s.values, holder: 'sparse', graphPath: path });
      if (s.indices) fn({ tensor: s.indices, holder: 'sparse', graphPath: path });
    }
    for (const node of graph.node) visitNodeTensors(node, 'constant', path, fn);
  });
  for (const f of model.functions) for (const node of f.node) visitNodeTensors(node, 'function', `function:${f.name ?? ''}`, fn);
}
