/**
 * `channelGroups(model)`: the DepGraph-style dependency analysis, run to a fixed point and summarized
 * as coupled channel groups. Each group is a set of channels that must be removed together from
 * every member (the conv that makes them, its BatchNormalization, every layer that reads them, every
 * other layer tied to them through a residual Add...), with the reasons it cannot be pruned if any.
 *
 * The result keeps references into the model: `pruneChannelGroups` (apply.ts) slices the very tensors
 * the analysis found, so analyse and prune the same ModelProto object.
 */
import { defaultOpset, inferModelShapes } from '../../core/shapes';
import type { GraphProto, ModelProto } from '../../onnx/types';
import { modelScopes, type Scope } from '../quant/weights';
import { Analyzer, type MemberRole, type WeightMember } from './analyzer';
import type { Layout } from './layout';
import { applyRule } from './rules';

/** Rounds of analysis: each may discover that a producer's channels must be split (Split, mixed Adds). */
const MAX_ROUNDS = 6;

export interface GroupMember {
  /** Display name of the node whose input is sliced. */
  node: string;
  opType: string;
  /** The constant tensor sliced. */
  weight: string;
  axis: number;
  role: MemberRole;
  /** Position along `axis` of the group's first channel in this tensor. */
  offset: number;
  /** Positions of `axis` that belong to the group. */
  channels: number;
  /** Positions removed per unit removed (head_dim for attention heads, H·W after a Flatten, else 1). */
  perUnit: number;
}

export interface ChannelGroup {
  id: number;
  /** The first layer producing the channels (or the first node touching them). */
  name: string;
  opType: string;
  /** What gets removed one at a time: channels, or blocks of channels (heads). */
  units: number;
  members: GroupMember[];
  /** Activations carrying the group's channels. */
  tensors: string[];
  /** Display names of every node touching the channels. */
  nodes: string[];
  /** Why the group cannot be pruned; empty when it can. */
  reasons: string[];
}

/** Internals the scoring and slicing steps need; not part of the public data. */
export interface GroupState {
  root: number;
  members: WeightMember[];
  nodeIndices: number[];
}

export interface ChannelAnalysis {
  readonly model: ModelProto;
  readonly groups: ChannelGroup[];
  /** @internal */
  readonly analyzer: Analyzer;
  /** @internal group id -> internals */
  readonly states: GroupState[];
}

export interface ChannelGroupOptions {
  /** Input name -> dims, replacing symbolic dims (needed when a Flatten/Reshape follows spatial axes). */
  inputShapes?: Record<string, number[]>;
}

/** Names read inside subgraphs (If/Loop bodies may read outer tensors by name). */
function subgraphReads(graph: GraphProto, out = new Set<string>()): Set<string> {
  for (const n of graph.node) {
    for (const a of n.attribute) {
      for (const g of [...(a.g ? [a.g] : []), ...a.graphs]) {
        for (const inner of g.node) inner.input.forEach((name) => name && out.add(name));
        g.output.forEach((o) => o.name && out.add(o.name));
        subgraphReads(g, out);
      }
    }
  }
  return out;
}

/** Distinct readers of a name: main-graph nodes, plus one for subgraphs and one for graph outputs. */
function readerCount(scope: Scope, name: string, inSubgraphs: Set<string>): number {
  const nodes = new Set(scope.index.consumers.get(name) ?? []).size;
  const output = scope.graph.output.some((o) => o.name === name) ? 1 : 0;
  return nodes + (inSubgraphs.has(name) ? 1 : 0) + output;
}

/** Channels leaving through graph outputs, read by subgraphs, or living in shared weights stay. */
function finish(a: Analyzer): void {
  const graph = a.main.graph;
  for (const out of graph.output) a.block(a.layout(out.name), `reaches the graph output ${out.name ?? ''}`);
  const inSubgraphs = subgraphReads(graph);
  for (const name of inSubgraphs) a.block(a.layout(name), `is read inside a subgraph`);
  for (const m of a.members) {
    const readers = readerCount(m.weight.owner, m.weight.name, inSubgraphs);
    if (readers > 1) a.spaces.block(m.segment.space, `weight ${m.weight.name} is shared by ${readers} readers`);
  }
}

function analyze(model: ModelProto, main: Scope, options: ChannelGroupOptions): Analyzer {
  const shapes = inferModelShapes(model, options.inputShapes ?? {}).main;
  const opset = defaultOpset(model);
  const cuts = new Map<string, Set<number>>();
  for (let round = 0; ; round++) {
    const a = new Analyzer(main, shapes, opset, cuts, round < MAX_ROUNDS - 1);
    for (const i of main.index.topoOrder()) applyRule(a, i);
    if (!a.pendingCut) {
      finish(a);
      return a;
    }
  }
}

function memberSummary(a: Analyzer, m: WeightMember): GroupMember {
  const n = a.nodes[m.node];
  const channels = a.spaces.sizes[m.segment.space];
  const perUnit = a.spaces.find(m.segment.space).factor;
  return { node: a.main.index.names[m.node], opType: n.op_type ?? '', weight: m.weight.name, axis: m.axis, role: m.role, offset: m.segment.offset, channels, perUnit };
}

function tensorsOf(a: Analyzer, root: number): string[] {
  const hits = ([, l]: [string, Layout]) => l.segments.some((s) => a.spaces.find(s.space).root === root);
  return [...a.layouts].filter(hits).map(([name]) => name);
}

function groupOf(a: Analyzer, id: number, root: number, spaces: number[]): { group: ChannelGroup; state: GroupState } {
  const members = a.members.filter((m) => a.spaces.find(m.segment.space).root === root);
  const nodeIndices = [...new Set(spaces.flatMap((s) => [...(a.touched.get(s) ?? [])]))].sort((p, q) => p - q);
  const namer = members.find((m) => m.role === 'producer')?.node ?? nodeIndices[0] ?? 0;
  const units = a.spaces.sizes[root];
  const reasons = [...a.spaces.reasons(root)];
  if (units < 2) reasons.push('has a single channel');
  if (!members.some((m) => m.role !== 'param')) reasons.push('no layer weights carry these channels');
  const group: ChannelGroup = {
    id,
    name: a.main.index.names[namer],
    opType: a.nodes[namer]?.op_type ?? '',
    units,
    members: members.map((m) => memberSummary(a, m)),
    tensors: tensorsOf(a, root),
    nodes: nodeIndices.map((i) => a.main.index.names[i]),
    reasons,
  };
  return { group, state: { root, members, nodeIndices } };
}

/** Coupled channel groups of the model's main graph, in the order their channels are first created. */
export function channelGroups(model: ModelProto, options: ChannelGroupOptions = {}): ChannelAnalysis {
  const main = modelScopes(model)[0];
  if (!main) throw new Error('internal error: channelGroups needs a model with a graph');
  const a = analyze(model, main, options);
  const byRoot = new Map<number, number[]>();
  for (let s = 0; s < a.spaces.count; s++) {
    const root = a.spaces.find(s).root;
    const list = byRoot.get(root);
    if (list) list.push(s);
    else byRoot.set(root, [s]);
  }
  // Spaces are numbered in creation order, so a group's first space tells where it starts in the graph.
  const roots = [...byRoot.keys()].sort((p, q) => (byRoot.get(p)?.[0] ?? 0) - (byRoot.get(q)?.[0] ?? 0));
  const built = roots.map((root, id) => groupOf(a, id, root, byRoot.get(root) ?? []));
  return { model, groups: built.map((b) => b.group), analyzer: a, states: built.map((b) => b.state) };
}
