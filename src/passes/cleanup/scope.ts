/**
 * Name bookkeeping across nested graphs. Subgraphs (If branches, Loop/Scan bodies) may read any
 * tensor of their enclosing graphs by name without listing it as an input, so every "who reads this
 * tensor" question and every rename must look inside them too.
 */
import { floatTensor, int64Tensor, node as makeNode } from '../../onnx/build';
import { constantTensor } from '../../onnx/graph';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../../onnx/types';

/** Graphs held in a node's attributes (If branches, Loop/Scan bodies, custom ops). */
export function subgraphsOf(node: NodeProto): GraphProto[] {
  const out: GraphProto[] = [];
  for (const a of node.attribute) {
    if (a.g) out.push(a.g);
    out.push(...a.graphs);
  }
  return out;
}

/** Names a graph binds itself: its inputs, initializers and node outputs. */
export function definedNames(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const v of graph.input) if (v.name) names.add(v.name);
  for (const t of graph.initializer) if (t.name) names.add(t.name);
  for (const s of graph.sparse_initializer) if (s.values?.name) names.add(s.values.name);
  for (const node of graph.node) for (const out of node.output) if (out) names.add(out);
  return names;
}

/** Names a graph (or a graph nested in it) reads from enclosing scopes. */
export function outerReferences(graph: GraphProto): Set<string> {
  const defined = definedNames(graph);
  const refs = new Set<string>();
  for (const node of graph.node) {
    for (const name of nodeReads(node)) if (!defined.has(name)) refs.add(name);
  }
  for (const v of graph.output) if (v.name && !defined.has(v.name)) refs.add(v.name);
  return refs;
}

/** Every tensor a node reads: its inputs plus what its subgraphs take from the enclosing scope. */
export function nodeReads(node: NodeProto): Set<string> {
  const reads = new Set(node.input.filter(Boolean));
  for (const sub of subgraphsOf(node)) for (const name of outerReferences(sub)) reads.add(name);
  return reads;
}

/** Readers of each tensor of a graph: one per reading node (subgraph reads included) and per graph output. */
export function readerCounts(graph: GraphProto): Map<string, number> {
  const counts = new Map<string, number>();
  const bump = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const node of graph.node) for (const name of nodeReads(node)) bump(name);
  for (const v of graph.output) if (v.name) bump(v.name);
  return counts;
}

export function graphOutputNames(graph: GraphProto): Set<string> {
  return new Set(graph.output.map((v) => v.name ?? '').filter(Boolean));
}

/**
 * Makes every reader of `from` read `to` instead: node inputs here and in subgraphs that do not bind
 * `from` themselves. Subgraph outputs are renamed too (they are matched by position); this graph's
 * own outputs are left to the caller, since the main graph's are matched by name.
 */
export function renameReads(graph: GraphProto, from: string, to: string): void {
  for (const node of graph.node) {
    node.input = node.input.map((n) => (n === from ? to : n));
    for (const sub of subgraphsOf(node)) {
      if (definedNames(sub).has(from)) continue;
      renameReads(sub, from, to);
      for (const v of sub.output) if (v.name === from) v.name = to;
    }
  }
}

/** Every name used anywhere in the model, so that new tensors never collide with an existing one. */
export class NameAllocator {
  private readonly used = new Set<string>();

  constructor(model: ModelProto) {
    if (model.graph) this.collect(model.graph);
  }

  private collect(graph: GraphProto): void {
    for (const name of definedNames(graph)) this.used.add(name);
    for (const v of [...graph.output, ...graph.value_info]) if (v.name) this.used.add(v.name);
    for (const node of graph.node) for (const sub of subgraphsOf(node)) this.collect(sub);
  }

  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }
}

/** The Constant node's value as a tensor, including the scalar and list attribute forms. */
export function constantNodeTensor(node: NodeProto): TensorProto | undefined {
  const t = constantTensor(node);
  if (t) return t.data_location === 1 && t.raw_data === undefined ? undefined : t;
  const a = node.attribute.length === 1 ? node.attribute[0] : undefined;
  if (a?.name === 'value_int') return int64Tensor('', [], [a.i ?? 0]);
  if (a?.name === 'value_ints') return int64Tensor('', [a.ints.length], a.ints);
  if (a?.name === 'value_float') return floatTensor('', [], [a.f ?? 0]);
  if (a?.name === 'value_floats') return floatTensor('', [a.floats.length], a.floats);
  return undefined; // sparse_value, value_string(s): left as Constant nodes
}

/**
 * Adds named constant tensors to a graph: as initializers, or for IR < 4 (where every initializer
 * must also be a graph input) as Constant nodes placed first so they precede their readers.
 */
export function addConstants(graph: GraphProto, tensors: TensorProto[], irVersion: number): void {
  if (irVersion >= 4) {
    graph.initializer.push(...tensors);
    return;
  }
  const nodes = tensors.map((t) => makeNode('Constant', [], [t.name ?? ''], { value: { ...t, name: undefined } }, `${t.name ?? ''}_constant`));
  graph.node.unshift(...nodes);
}
