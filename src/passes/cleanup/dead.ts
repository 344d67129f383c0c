/**
 * Dead code removal: nodes none of whose outputs reach a graph output, and initializers nothing
 * reads. A node's reads include the outer-scope tensors its subgraphs use, so a tensor read only
 * inside an If branch or a Loop body stays alive.
 */
import { GraphIndex } from '../../onnx/graph';
import type { GraphProto, NodeProto } from '../../onnx/types';
import { definedNames, nodeReads, subgraphsOf } from './scope';

export interface DeadOutcome {
  nodes: NodeProto[];
  initializers: number;
}

/** Names read by live nodes or graph outputs, walking nodes from the outputs back. */
function liveNames(graph: GraphProto): { live: Set<string>; liveNodes: Set<NodeProto> } {
  const live = new Set(graph.output.map((v) => v.name ?? ''));
  const liveNodes = new Set<NodeProto>();
  const order = new GraphIndex(graph).topoOrder();
  for (let k = order.length - 1; k >= 0; k--) {
    const node = graph.node[order[k]];
    if (!node.output.some((o) => o && live.has(o))) continue;
    liveNodes.add(node);
    for (const name of nodeReads(node)) live.add(name);
  }
  return { live, liveNodes };
}

/** Removes dead nodes and unused initializers from the graph and, first, from its subgraphs. */
export function removeDead(graph: GraphProto): DeadOutcome {
  const outcome: DeadOutcome = { nodes: [], initializers: 0 };
  for (const node of graph.node) for (const sub of subgraphsOf(node)) merge(outcome, removeDead(sub));
  const { live, liveNodes } = liveNames(graph);
  outcome.nodes.push(...graph.node.filter((n) => !liveNodes.has(n)));
  graph.node = graph.node.filter((n) => liveNodes.has(n));
  // Initializers also listed as graph inputs are part of the model's interface: they stay.
  const inputs = new Set(graph.input.map((v) => v.name ?? ''));
  const keep = (name: string | undefined) => !!name && (live.has(name) || inputs.has(name));
  const before = graph.initializer.length + graph.sparse_initializer.length;
  graph.initializer = graph.initializer.filter((t) => keep(t.name));
  graph.sparse_initializer = graph.sparse_initializer.filter((s) => keep(s.values?.name));
  outcome.initializers += before - graph.initializer.length - graph.sparse_initializer.length;
  return outcome;
}

function merge(into: DeadOutcome, from: DeadOutcome): void {
  into.nodes.push(...from.nodes);
  into.initializers += from.initializers;
}

/** Drops value_info entries of tensors that no longer exist (renamed or removed by other steps). */
export function pruneValueInfo(graph: GraphProto): void {
  for (const node of graph.node) for (const sub of subgraphsOf(node)) pruneValueInfo(sub);
  const defined = definedNames(graph);
  graph.value_info = graph.value_info.filter((v) => !!v.name && defined.has(v.name));
}
