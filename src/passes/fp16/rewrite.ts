/**
 * Applies a Plan to the model: one Cast per (tensor, precision) wherever a read's want differs from the
 * tensor's home, placed in the graph that defines the tensor (so If/Loop/Scan bodies share it and a Loop
 * does not re-cast an outer value every iteration); float16 weights; retargeted Casts; updated
 * value_info. Main-graph outputs keep their names: the tensor is renamed and the Cast takes the name.
 */
import { attribute, node as makeNode, rawTensor } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import { attr, attrInt } from '../../onnx/graph';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../../onnx/types';
import { forEachGraph } from '../../onnx/walk';
import { clampForHalf, float32ArrayToHalf, type ClampCount, type ClampLimits } from './half';
import type { Want } from './ops';
import type { Plan } from './plan';
import { allTensors, type GraphCtx, type Prec, type TensorInfo, type Use } from './scope';

export interface RewriteStats {
  castsInserted: number;
  castsRetargeted: number;
  weightsConverted: number;
  clamp: ClampCount;
}

interface CastPlan {
  source: TensorInfo;
  prec: Prec;
  output: string;
  /** Position in source.ctx.order of the first node that needs it (Infinity: only a graph output). */
  anchor: number;
}

const ELEM: Record<Prec, number> = { fp16: DataType.FLOAT16, fp32: DataType.FLOAT };

function needed(want: Want): Prec | undefined {
  if (want === 'any') return undefined;
  return want === 'fp16' ? 'fp16' : 'fp32';
}

function currentName(t: TensorInfo): string {
  return t.newName ?? t.name;
}

/** Fresh names that collide with nothing in the model (tensors and nodes share one namespace here). */
class Names {
  private readonly used = new Set<string>();

  constructor(model: ModelProto) {
    forEachGraph(model, ({ graph }) => {
      for (const v of [...graph.input, ...graph.output, ...graph.value_info]) if (v.name) this.used.add(v.name);
      for (const t of graph.initializer) if (t.name) this.used.add(t.name);
      for (const n of graph.node) for (const name of [n.name ?? '', ...n.input, ...n.output]) if (name) this.used.add(name);
    });
  }

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}

class Rewriter {
  private readonly casts = new Map<TensorInfo, Map<Prec, CastPlan>>();
  private readonly positions = new Map<GraphCtx, Map<NodeProto, number>>();
  readonly stats: RewriteStats = { castsInserted: 0, castsRetargeted: 0, weightsConverted: 0, clamp: { low: 0, high: 0, maxAbs: 0 } };

  constructor(
    readonly plan: Plan,
    readonly names: Names,
    readonly limits: ClampLimits,
  ) {}

  private position(ctx: GraphCtx, node: NodeProto): number {
    let map = this.positions.get(ctx);
    if (!map) this.positions.set(ctx, (map = new Map(ctx.order.map((n, i) => [n, i]))));
    return map.get(node) ?? Infinity;
  }

  /** Where in the defining graph a Cast for this use must come: before the node that (through its subgraphs) reads it. */
  private anchorOf(t: TensorInfo, use: Use): number {
    let ctx = use.ctx;
    let node = use.node;
    while (ctx !== t.ctx && ctx.parent) {
      node = ctx.owner;
      ctx = ctx.parent;
    }
    return node ? this.position(t.ctx, node) : Infinity;
  }

  private castFor(t: TensorInfo, prec: Prec, output?: string): CastPlan {
    let byPrec = this.casts.get(t);
    if (!byPrec) this.casts.set(t, (byPrec = new Map<Prec, CastPlan>()));
    let plan = byPrec.get(prec);
    if (!plan) byPrec.set(prec, (plan = { source: t, prec, output: output ?? this.names.fresh(`${t.name}_${prec}`), anchor: Infinity }));
    return plan;
  }

  /** A main-graph output delivered in another precision than its home: the Cast takes the output's name. */
  renameMainOutputs(main: GraphCtx): void {
    for (const v of main.graph.output) {
      const t = v.name ? main.resolve(v.name) : undefined;
      if (!t || t.elemType !== DataType.FLOAT || t.kind === 'input' || t.newName) continue;
      const use = t.uses.find((u) => !u.node && u.ctx === main);
      const prec = use && needed(use.want);
      if (!prec || prec === t.home) continue;
      t.newName = this.names.fresh(`${t.name}_${t.home}`);
      this.castFor(t, prec, t.name);
    }
  }

  /** Points every read at the tensor itself or at its Cast, and records where each Cast must go. */
  routeUses(t: TensorInfo): void {
    for (const use of t.uses) {
      const prec = needed(use.want);
      let name = currentName(t);
      let elem = ELEM[t.home];
      if (prec && prec !== t.home) {
        const cast = this.castFor(t, prec);
        cast.anchor = Math.min(cast.anchor, this.anchorOf(t, use));
        name = cast.output;
        elem = ELEM[prec];
      }
      if (use.node) use.node.input[use.slot] = name;
      else setValueInfo(use.ctx.graph.output[use.slot], name, elem);
    }
  }

  /** Renames the producer side of renamed tensors and retypes their value_info entries. */
  retypeDefinitions(ctx: GraphCtx): void {
    for (const v of [...ctx.graph.input, ...ctx.graph.value_info]) {
      const t = v.name ? ctx.resolve(v.name) : undefined;
      if (t?.elemType === DataType.FLOAT) setValueInfo(v, currentName(t), ELEM[t.home]);
    }
    for (const t of ctx.defs.values()) if (t.newName) renameDefinition(t, t.newName);
  }

  insertCasts(ctx: GraphCtx): void {
    const before = new Map<number, NodeProto[]>();
    for (const byPrec of this.casts.values()) {
      for (const cast of byPrec.values()) {
        if (cast.source.ctx !== ctx) continue;
        const list = before.get(cast.anchor) ?? [];
        list.push(makeNode('Cast', [currentName(cast.source)], [cast.output], { to: ELEM[cast.prec] }, this.names.fresh(`${cast.output}_Cast`)));
        before.set(cast.anchor, list);
        this.stats.castsInserted++;
      }
    }
    if (before.size === 0 && ctx.order.every((n, i) => ctx.graph.node[i] === n)) return;
    const nodes: NodeProto[] = [];
    ctx.order.forEach((n, i) => nodes.push(...(before.get(i) ?? []), n));
    nodes.push(...(before.get(Infinity) ?? []));
    ctx.graph.node = nodes;
  }

  convertWeight(t: TensorInfo): void {
    const source = t.weight;
    if (!source || t.home !== 'fp16' || t.elemType !== DataType.FLOAT) return;
    if (source.tensor) toHalfTensor(source.tensor, this.limits, this.stats.clamp);
    else if (source.node) replaceShorthandConstant(source.node, this.limits, this.stats.clamp);
    this.stats.weightsConverted++;
  }

  /** Cast(to=FLOAT) and ConstantOfShape nodes that now produce float16 (t is the node's output). */
  retargetProducer(t: TensorInfo): void {
    const node = t.producer;
    if (!node || t.kind !== 'node' || t.home !== 'fp16' || this.plan.mode(node).prec !== 'fp16') return;
    if (node.op_type === 'Cast' && attrInt(node, 'to', 0) === DataType.FLOAT) {
      const to = attr(node, 'to');
      if (to) to.i = DataType.FLOAT16;
      this.stats.castsRetargeted++;
    } else if (node.op_type === 'ConstantOfShape') {
      retargetConstantOfShape(node, this.limits, this.stats.clamp);
    }
  }
}

function setValueInfo(v: ValueInfoProto, name: string, elem: number): void {
  v.name = name;
  if (v.type?.tensor_type) v.type.tensor_type.elem_type = elem;
}

function renameDefinition(t: TensorInfo, name: string): void {
  if (t.producer) t.producer.output = t.producer.output.map((o) => (o === t.name ? name : o));
  else if (t.weight?.tensor && !t.weight.node) t.weight.tensor.name = name;
}

/** The float32 values of a tensor, as a fresh (aligned, writable) array. */
function float32Values(t: TensorProto): Float32Array {
  if (t.raw_data !== undefined) {
    // A copy: raw_data is often a Node Buffer viewing the file, whose slice() would not copy.
    const copy = new Uint8Array(t.raw_data);
    return new Float32Array(copy.buffer, 0, copy.length >> 2);
  }
  return Float32Array.from(t.float_data);
}

function toHalfTensor(t: TensorProto, limits: ClampLimits, count: ClampCount): void {
  const values = float32Values(t);
  clampForHalf(values, limits, count);
  const half = float32ArrayToHalf(values);
  t.data_type = DataType.FLOAT16;
  t.raw_data = new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
  t.float_data = [];
}

function halfTensor(dims: number[], values: number[], limits: ClampLimits, count: ClampCount): TensorProto {
  const t = rawTensor('', dims, DataType.FLOAT, Float32Array.from(values));
  t.name = undefined;
  toHalfTensor(t, limits, count);
  return t;
}

/** Constant(value_float[s]=...) becomes Constant(value=<float16 tensor>). */
function replaceShorthandConstant(node: NodeProto, limits: ClampLimits, count: ClampCount): void {
  const index = node.attribute.findIndex((a) => a.name === 'value_float' || a.name === 'value_floats');
  if (index < 0) return;
  const a = node.attribute[index];
  const tensor = a.name === 'value_float' ? halfTensor([], [a.f ?? 0], limits, count) : halfTensor([a.floats.length], a.floats, limits, count);
  node.attribute[index] = attribute('value', tensor);
}

/** ConstantOfShape's fill value is what sets its output type; without one it is float32 zero. */
function retargetConstantOfShape(node: NodeProto, limits: ClampLimits, count: ClampCount): void {
  const value = attr(node, 'value');
  if (value?.t) toHalfTensor(value.t, limits, count);
  else node.attribute.push(attribute('value', halfTensor([1], [0], limits, count)));
}

export function rewriteModel(model: ModelProto, plan: Plan, limits: ClampLimits): RewriteStats {
  const rewriter = new Rewriter(plan, new Names(model), limits);
  const { ctxs, main } = plan.scopes;
  const floats = allTensors(plan.scopes).filter((t) => t.elemType === DataType.FLOAT);
  rewriter.renameMainOutputs(main);
  for (const ctx of ctxs) rewriter.retypeDefinitions(ctx);
  for (const t of floats) rewriter.routeUses(t);
  for (const t of floats) rewriter.convertWeight(t);
  for (const t of floats) rewriter.retargetProducer(t);
  for (const ctx of ctxs) rewriter.insertCasts(ctx);
  return rewriter.stats;
}
