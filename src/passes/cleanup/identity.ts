/**
 * Identity and inference-mode Dropout removal. Readers of the node's output are rewired to its input;
 * when the output is a graph output, whose name callers rely on, the producer of the input is renamed
 * instead so the output keeps its name.
 */
import { attrInt, nodeDisplayNames } from '../../onnx/graph';
import type { GraphProto, NodeProto } from '../../onnx/types';
import type { LayerChange, LayerSkip } from '../pass';
import type { ConstScope } from './constScope';
import { graphOutputNames, readerCounts, renameReads } from './scope';

export interface IdentityEnv {
  opset: number;
  isExcluded: (node: NodeProto, displayName: string) => boolean;
}

export interface IdentityOutcome {
  removed: LayerChange[];
  skipped: LayerSkip[];
}

/** Dropout is a no-op at inference unless its mask is used or it is told to train. */
function isInferenceDropout(node: NodeProto, scope: ConstScope, env: IdentityEnv, readers: Map<string, number>): boolean {
  const mask = node.output[1];
  if (mask && (readers.get(mask) ?? 0) > 0) return false;
  // Opsets 1-6 default to training unless is_test=1.
  if (env.opset < 7) return attrInt(node, 'is_test', 0) === 1;
  const training = node.input[2];
  if (!training) return true;
  const value = scope.value(training);
  return value !== undefined && value.data.length === 1 && value.data[0] === 0;
}

function isPassThrough(node: NodeProto, scope: ConstScope, env: IdentityEnv, readers: Map<string, number>): boolean {
  if ((node.domain ?? '') !== '' || !node.input[0] || !node.output[0]) return false;
  if (node.op_type === 'Identity') return node.output.length === 1;
  return node.op_type === 'Dropout' && isInferenceDropout(node, scope, env, readers);
}

/** Why the node must stay when its output y is a graph output; undefined when x's producer can write y. */
function whyKept(graph: GraphProto, x: string): string | undefined {
  if (!graph.node.some((n) => n.output.includes(x))) return 'its input is a graph input or a constant, so the graph output needs the copy';
  return graphOutputNames(graph).has(x) ? 'its input is itself a graph output' : undefined;
}

/** Removes one pass-through node; returns why not when it has to stay. */
function bypass(graph: GraphProto, node: NodeProto): string | undefined {
  const [x, y] = [node.input[0], node.output[0]];
  const outputWanted = graphOutputNames(graph).has(y);
  const reason = outputWanted ? whyKept(graph, x) : undefined;
  if (reason) return reason;
  graph.node = graph.node.filter((n) => n !== node);
  if (!outputWanted) {
    renameReads(graph, y, x);
    return undefined;
  }
  // The graph output keeps its name: x's producer now writes y, and x's other readers read y.
  for (const n of graph.node) n.output = n.output.map((o) => (o === x ? y : o));
  renameReads(graph, x, y);
  return undefined;
}

/** Removes the Identity and inference-mode Dropout nodes of one graph (not its subgraphs). */
export function eliminateIdentities(scope: ConstScope, env: IdentityEnv): IdentityOutcome {
  const graph = scope.graph;
  const outcome: IdentityOutcome = { removed: [], skipped: [] };
  const readers = readerCounts(graph);
  const names = nodeDisplayNames(graph);
  const candidates = graph.node.map((node, i) => ({ node, name: names[i] })).filter(({ node, name }) => !env.isExcluded(node, name) && isPassThrough(node, scope, env, readers));
  for (const { node, name } of candidates) {
    const reason = bypass(graph, node);
    if (reason) outcome.skipped.push({ name, opType: node.op_type ?? '', reason });
    else outcome.removed.push({ name, opType: node.op_type ?? '', action: 'removed (pass-through)' });
  }
  return outcome;
}
