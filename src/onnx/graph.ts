/**
 * An index over one GraphProto: producers, consumers, weights (initializers and Constant outputs),
 * value infos and a topological order. Subgraphs get their own index with the parent as outer scope.
 */
import type { AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto } from './types';
import { OnnxFormatError } from './wire';

/**
 * Display names for nodes: the node's own name, or "<OpType>_<index>" when it has none; duplicates get
 * a "#n" suffix. The profiler names unnamed nodes the same way before handing the model to ORT, so
 * its per-node times map back to these names.
 */
export function nodeDisplayNames(graph: GraphProto): string[] {
  const seen = new Map<string, number>();
  return graph.node.map((node, i) => {
    const base = node.name || `${node.op_type ?? 'node'}_${i}`;
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    return count === 0 ? base : `${base}#${count}`;
  });
}

/** The tensor a Constant node holds in its `value` attribute (value_float(s)/value_int(s) are tiny). */
export function constantTensor(node: NodeProto): TensorProto | undefined {
  if (node.op_type !== 'Constant' || (node.domain ?? '') !== '') return undefined;
  return node.attribute.find((a) => a.name === 'value')?.t;
}

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a?.i !== undefined ? Number(a.i) : fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a && a.ints.length ? a.ints.map(Number) : undefined;
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  return attr(node, name)?.f ?? fallback;
}

export function attrString(node: NodeProto, name: string): string | undefined {
  const s = attr(node, name)?.s;
  return s ? Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('utf8') : undefined;
}

export class GraphIndex {
  readonly names: string[];
  /** tensor name -> index of the node producing it */
  readonly producer = new Map<string, number>();
  /** tensor name -> indices of the nodes consuming it */
  readonly consumers = new Map<string, number[]>();
  readonly initializers = new Map<string, TensorProto>();
  /** tensor name -> tensor held by the Constant node producing it */
  readonly constants = new Map<string, TensorProto>();
  readonly valueInfo = new Map<string, ValueInfoProto>();
  readonly graphInputs: ValueInfoProto[];
  private order?: number[];

  constructor(
    readonly graph: GraphProto,
    readonly outer?: GraphIndex,
  ) {
    this.names = nodeDisplayNames(graph);
    for (const t of graph.initializer) if (t.name) this.initializers.set(t.name, t);
    for (const v of [...graph.input, ...graph.output, ...graph.value_info]) if (v.name && !this.valueInfo.has(v.name)) this.valueInfo.set(v.name, v);
    // Inputs that are also initializers are overridable weights, not real inputs (IR < 4 lists both).
    this.graphInputs = graph.input.filter((v) => !this.initializers.has(v.name ?? ''));
    graph.node.forEach((node, i) => this.indexNode(node, i));
  }

  private indexNode(node: NodeProto, i: number): void {
    for (const out of node.output) if (out) this.producer.set(out, i);
    for (const input of node.input) {
      if (!input) continue;
      const list = this.consumers.get(input);
      if (list) list.push(i);
      else this.consumers.set(input, [i]);
    }
    const t = constantTensor(node);
    if (t && node.output[0]) this.constants.set(node.output[0], t);
  }

  /** A constant tensor by name: an initializer or a Constant node's value, here or in outer scopes. */
  weight(name: string): TensorProto | undefined {
    return this.initializers.get(name) ?? this.constants.get(name) ?? this.outer?.weight(name);
  }

  private nodeOnCycle(pending: number[]): number {
    return findCycleNode(this.graph.node, this.producer, pending);
  }

  /** Node indices in topological order; a cycle is an error naming a node on it. */
  topoOrder(): number[] {
    if (this.order) return this.order;
    const nodes = this.graph.node;
    const pending = nodes.map((node) => new Set(node.input.filter((n) => n && this.producer.has(n))).size);
    const ready: number[] = [];
    pending.forEach((count, i) => count === 0 && ready.push(i));
    const order: number[] = [];
    while (ready.length) {
      const i = ready.pop() as number;
      order.push(i);
      for (const out of new Set(nodes[i].output)) {
        for (const c of new Set(this.consumers.get(out) ?? [])) if (--pending[c] === 0) ready.push(c);
      }
    }
    if (order.length !== nodes.length) {
      const onCycle = this.nodeOnCycle(pending);
      throw new OnnxFormatError(`the graph has a cycle through node ${this.names[onCycle]} (${nodes[onCycle].op_type ?? '?'})`);
    }
    // Kahn's algorithm with a stack reverses sibling order; restore file order where it was already valid.
    this.order = isTopological(nodes, this.producer) ? nodes.map((_, i) => i) : order;
    return this.order;
  }
}

/** Among nodes Kahn's algorithm could not order, walks producers backwards until one repeats. */
function findCycleNode(nodes: NodeProto[], producer: Map<string, number>, pending: number[]): number {
  let current = pending.findIndex((count) => count > 0);
  const visited = new Set<number>();
  while (!visited.has(current)) {
    visited.add(current);
    const stuckInput = nodes[current].input.find((n) => n && pending[producer.get(n) ?? -1] > 0);
    if (stuckInput === undefined) return current;
    current = producer.get(stuckInput) as number;
  }
  return current;
}

function isTopological(nodes: NodeProto[], producer: Map<string, number>): boolean {
  return nodes.every((node, i) => node.input.every((n) => !n || (producer.get(n) ?? -1) < i));
}
