/**
 * A typed view of every graph of the model for the fp16 pass: each tensor's defining graph, original
 * element type and kind (graph input, weight, node output), and every place it is read (node inputs,
 * graph outputs, in the same graph or in nested If/Loop/Scan bodies through outer-scope references).
 *
 * Types come from declared value_info when present and from per-op rules otherwise (ops.ts): exporters
 * such as paddle2onnx write no value_info at all.
 */
import { DataType } from '../../onnx/dtypes';
import { constantTensor, GraphIndex, nodeDisplayNames } from '../../onnx/graph';
import { isExternal } from '../../onnx/tensor';
import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../../onnx/types';
import { outputType, SHAPE_ONLY_OPS, type Want } from './ops';

export type Prec = 'fp16' | 'fp32';

/** One read of a tensor: input `slot` of `node`, or output `slot` of graph `ctx` when node is absent. */
export interface Use {
  ctx: GraphCtx;
  node?: NodeProto;
  slot: number;
  want: Want;
}

export interface WeightSource {
  /** The stored tensor (an initializer, or a Constant's value); absent for value_float(s) Constants. */
  tensor?: TensorProto;
  /** The Constant node holding it, when it is not an initializer. */
  node?: NodeProto;
  /** False for sparse initializers and unloaded external data: their bytes stay as they are. */
  convertible: boolean;
}

export interface TensorInfo {
  name: string;
  ctx: GraphCtx;
  elemType?: number;
  kind: 'input' | 'weight' | 'node';
  producer?: NodeProto;
  weight?: WeightSource;
  /** Computed from constants and shapes only, never from input values. */
  isStatic: boolean;
  uses: Use[];
  /** Where the tensor lives after conversion (planned). */
  home: Prec;
  /** Set when the tensor must be renamed (a main-graph output whose API name goes to a Cast). */
  newName?: string;
}

export class GraphCtx {
  readonly defs = new Map<string, TensorInfo>();
  readonly displayNames: ReadonlyMap<NodeProto, string>;
  /** Nodes in topological order. */
  readonly order: NodeProto[];
  /** Whether this graph's nodes may compute in float16 (false inside a node kept in float32). */
  fp16 = true;

  constructor(
    readonly graph: GraphProto,
    readonly parent?: GraphCtx,
    readonly owner?: NodeProto,
  ) {
    const names = nodeDisplayNames(graph);
    this.displayNames = new Map(graph.node.map((n, i) => [n, names[i]]));
    const order = new GraphIndex(graph).topoOrder();
    this.order = order.map((i) => graph.node[i]);
  }

  get isMain(): boolean {
    return this.parent === undefined;
  }

  resolve(name: string): TensorInfo | undefined {
    return this.defs.get(name) ?? this.parent?.resolve(name);
  }

  define(info: Omit<TensorInfo, 'ctx' | 'uses' | 'home'>): TensorInfo {
    const full: TensorInfo = { ...info, ctx: this, uses: [], home: 'fp32' };
    this.defs.set(info.name, full);
    return full;
  }
}

export interface ModelScopes {
  /** Every graph, parents before children. */
  ctxs: GraphCtx[];
  main: GraphCtx;
  /** Default-domain opset. */
  opset: number;
}

function declaredTypes(graph: GraphProto): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of [...graph.input, ...graph.output, ...graph.value_info]) {
    const t = v.type?.tensor_type?.elem_type;
    if (v.name && t) out.set(v.name, t);
  }
  return out;
}

function elemTypeOf(v: ValueInfoProto): number | undefined {
  return v.type?.tensor_type?.elem_type || undefined;
}

/** The element type a Constant node produces (value tensor or one of the value_* shorthands). */
function constantType(node: NodeProto): number | undefined {
  const t = constantTensor(node);
  if (t) return t.data_type;
  const names = node.attribute.map((a) => a.name);
  if (names.includes('value_float') || names.includes('value_floats')) return DataType.FLOAT;
  if (names.includes('value_int') || names.includes('value_ints')) return DataType.INT64;
  if (names.includes('value_string') || names.includes('value_strings')) return DataType.STRING;
  return undefined;
}

export function isConstantNode(node: NodeProto): boolean {
  return node.op_type === 'Constant' && (node.domain ?? '') === '';
}

export function subgraphsOf(node: NodeProto): { name: string; graph: GraphProto }[] {
  const out: { name: string; graph: GraphProto }[] = [];
  for (const a of node.attribute) {
    if (a.g) out.push({ name: a.name ?? '', graph: a.g });
    for (const g of a.graphs) out.push({ name: a.name ?? '', graph: g });
  }
  return out;
}

class ScopeBuilder {
  readonly ctxs: GraphCtx[] = [];

  constructor(readonly opset: number) {}

  build(graph: GraphProto, parent?: GraphCtx, owner?: NodeProto, inputFallback: (number | undefined)[] = []): GraphCtx {
    const ctx = new GraphCtx(graph, parent, owner);
    this.ctxs.push(ctx);
    const declared = declaredTypes(graph);
    this.defineWeights(ctx);
    graph.input.forEach((v, i) => {
      if (v.name && !ctx.defs.has(v.name)) ctx.define({ name: v.name, kind: 'input', elemType: elemTypeOf(v) ?? inputFallback[i], isStatic: false });
    });
    for (const node of ctx.order) this.defineNode(ctx, node, declared);
    return ctx;
  }

  private defineWeights(ctx: GraphCtx): void {
    for (const t of ctx.graph.initializer) {
      if (!t.name) continue;
      ctx.define({ name: t.name, kind: 'weight', elemType: t.data_type, weight: { tensor: t, convertible: !isExternal(t) }, isStatic: true });
    }
    for (const s of ctx.graph.sparse_initializer) {
      const name = s.values?.name;
      if (name) ctx.define({ name, kind: 'weight', elemType: s.values?.data_type, weight: { tensor: s.values, convertible: false }, isStatic: true });
    }
  }

  private defineNode(ctx: GraphCtx, node: NodeProto, declared: Map<string, number>): void {
    if (isConstantNode(node)) {
      const name = node.output[0];
      const tensor = constantTensor(node);
      const weight = { tensor, node, convertible: !tensor || !isExternal(tensor) };
      if (name) ctx.define({ name, kind: 'weight', elemType: constantType(node), producer: node, weight, isStatic: true });
      return;
    }
    const inputType = (i: number) => ctx.resolve(node.input[i] ?? '')?.elemType;
    const fromSubgraphs = this.buildSubgraphs(ctx, node, inputType);
    const isStatic = this.computesStatically(ctx, node, fromSubgraphs !== undefined);
    node.output.forEach((out, slot) => {
      if (!out) return;
      const elemType = declared.get(out) ?? fromSubgraphs?.[slot] ?? outputType(node, slot, inputType);
      ctx.define({ name: out, kind: 'node', elemType, producer: node, isStatic });
    });
  }

  /** Shape/Size read shapes only; other nodes are static when every input is (no subgraphs, no randomness). */
  private computesStatically(ctx: GraphCtx, node: NodeProto, hasSubgraphs: boolean): boolean {
    const op = node.op_type ?? '';
    if (SHAPE_ONLY_OPS.has(op)) return true;
    if (hasSubgraphs || op.startsWith('Random') || op === 'Bernoulli' || op === 'Multinomial') return false;
    return node.input.every((name) => !name || ctx.resolve(name)?.isStatic === true);
  }

  /** Builds the node's subgraphs and returns the node's output types as they define them. */
  private buildSubgraphs(ctx: GraphCtx, node: NodeProto, inputType: (i: number) => number | undefined): (number | undefined)[] | undefined {
    const subs = subgraphsOf(node);
    if (subs.length === 0) return undefined;
    const op = node.op_type ?? '';
    const fallback = bodyInputFallback(op, node, inputType, this.opset);
    const built = subs.map((s) => this.build(s.graph, ctx, node, fallback));
    const body = built[0];
    const outs = body.graph.output.map((v) => (v.name ? body.resolve(v.name)?.elemType ?? elemTypeOf(v) : undefined));
    // Loop's first body output is the continue condition; the node's outputs start after it.
    return op === 'Loop' ? outs.slice(1) : outs;
  }
}

/** Types of Loop/Scan body inputs when the body does not declare them. */
function bodyInputFallback(op: string, node: NodeProto, inputType: (i: number) => number | undefined, opset: number): (number | undefined)[] {
  if (op === 'Loop') return [DataType.INT64, DataType.BOOL, ...node.input.slice(2).map((_, i) => inputType(i + 2))];
  if (op === 'Scan' && opset >= 9) return node.input.map((_, i) => inputType(i));
  return [];
}

function defaultOpset(model: ModelProto): number {
  const entry = model.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
  return Number(entry?.version ?? 1);
}

/** Records every read of every tensor, in all graphs (wants are filled in by the planner). */
function collectUses(ctxs: GraphCtx[]): void {
  for (const ctx of ctxs) {
    for (const node of ctx.order) {
      node.input.forEach((name, slot) => {
        if (name) ctx.resolve(name)?.uses.push({ ctx, node, slot, want: 'any' });
      });
    }
    ctx.graph.output.forEach((v, slot) => {
      if (v.name) ctx.resolve(v.name)?.uses.push({ ctx, slot, want: 'any' });
    });
  }
}

export function buildScopes(model: ModelProto): ModelScopes {
  if (!model.graph) throw new Error('model has no graph');
  const builder = new ScopeBuilder(defaultOpset(model));
  const main = builder.build(model.graph);
  collectUses(builder.ctxs);
  return { ctxs: builder.ctxs, main, opset: builder.opset };
}

/** Every tensor the model defines, in all graphs. */
export function allTensors(scopes: ModelScopes): TensorInfo[] {
  return scopes.ctxs.flatMap((ctx) => [...ctx.defs.values()]);
}
