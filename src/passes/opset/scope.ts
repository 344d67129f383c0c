/**
 * What the upgrade knows about each graph while it rewrites: the working node list (committed only
 * once every node upgraded), constants added so far, element types and ranks of the original tensors
 * (rewrites keep every original tensor name, so these stay valid), and who reads each tensor.
 */
import type { GraphShapes } from '../../core/shapes';
import { GraphIndex, nodeDisplayNames } from '../../onnx/graph';
import type { GraphProto, NodeProto, TensorProto } from '../../onnx/types';
import { readerCounts, subgraphsOf } from '../cleanup/scope';
import { inferElemTypes } from './elemTypes';

/** Where a working node came from, for the report. */
export interface Origin {
  name: string;
  opType: string;
}

export class GraphScope {
  readonly index: GraphIndex;
  /** The graph's nodes as rewritten so far (clones: originals are untouched until commit). */
  nodes: NodeProto[];
  readonly added: TensorProto[] = [];
  private readonly addedByName = new Map<string, TensorProto>();
  /** value_info entries to drop (outputs a rewrite removed). */
  readonly droppedInfo = new Set<string>();
  private readonly types: Map<string, number>;
  private readers?: Map<string, number>;

  constructor(
    readonly graph: GraphProto,
    readonly origins: WeakMap<NodeProto, Origin>,
    readonly shapes: GraphShapes | undefined,
    readonly parent?: GraphScope,
  ) {
    this.index = new GraphIndex(graph, parent?.index);
    this.types = inferElemTypes(this.index, (name) => parent?.elemType(name));
    const labels = nodeDisplayNames(graph);
    this.nodes = graph.node.map((node, i) => {
      const copy = cloneNode(node);
      origins.set(copy, { name: labels[i], opType: node.op_type ?? '' });
      return copy;
    });
  }

  /** A constant tensor by name: one this upgrade added, an initializer or Constant node, here or outside. */
  constant(name: string): TensorProto | undefined {
    if (!name) return undefined;
    return this.addedByName.get(name) ?? this.index.initializers.get(name) ?? this.index.constants.get(name) ?? this.parent?.constant(name);
  }

  addInitializer(tensor: TensorProto): void {
    this.added.push(tensor);
    this.addedByName.set(tensor.name ?? '', tensor);
  }

  elemType(name: string): number | undefined {
    return this.types.get(name) ?? this.parent?.elemType(name);
  }

  /** Rank of an original tensor, when shape inference knew it. */
  rank(name: string): number | undefined {
    const shape = this.shapes?.shape(name);
    return shape ? shape.length : undefined;
  }

  /** Whether anything reads the tensor: a node (subgraphs included) or a graph output. */
  isRead(name: string): boolean {
    this.readers ??= readerCounts(this.graph);
    return (this.readers.get(name) ?? 0) > 0;
  }

  /** Writes the rewritten nodes and new constants into the graph. */
  commit(): void {
    this.graph.node = this.nodes;
    this.graph.initializer.push(...this.added);
    if (this.droppedInfo.size) this.graph.value_info = this.graph.value_info.filter((v) => !this.droppedInfo.has(v.name ?? ''));
  }
}

/** A node copy whose lists can be edited without touching the original (attributes are replaced, never mutated). */
function cloneNode(node: NodeProto): NodeProto {
  return { ...node, input: [...node.input], output: [...node.output], attribute: [...node.attribute] };
}

/** One scope per graph, parents before children. */
export function buildScopes(main: GraphProto, shapes: Map<GraphProto, GraphShapes> | undefined): { scopes: GraphScope[]; origins: WeakMap<NodeProto, Origin> } {
  const origins = new WeakMap<NodeProto, Origin>();
  const scopes: GraphScope[] = [];
  const seen = new Set<GraphProto>();
  const visit = (graph: GraphProto, parent?: GraphScope) => {
    if (seen.has(graph)) return; // a graph object shared by two attributes is upgraded once
    seen.add(graph);
    const scope = new GraphScope(graph, origins, shapes?.get(graph), parent);
    scopes.push(scope);
    for (const node of graph.node) for (const sub of subgraphsOf(node)) visit(sub, scope);
  };
  visit(main);
  return { scopes, origins };
}
