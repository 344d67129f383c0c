/**
 * Decides, before anything is changed, which nodes compute in float16, how each read of a float32
 * tensor wants it delivered, and where each tensor lives afterwards (its "home" precision). Casts are
 * then needed exactly where a read's want differs from the tensor's home (rewrite.ts).
 */
import { DataType } from '../../onnx/dtypes';
import { attrInt } from '../../onnx/graph';
import type { NodeProto } from '../../onnx/types';
import type { ClampLimits } from './half';
import { DEFAULT_BLOCK, isDefaultDomain, isFixedFloatOutput, slotWant, type Want } from './ops';
import { describeClamp, SATURATING_OPS, significantClamp } from './range';
import { allTensors, isConstantNode, subgraphsOf, type GraphCtx, type ModelScopes, type Prec, type TensorInfo, type Use } from './scope';

export interface PlanOptions {
  keepIoTypes: boolean;
  /** Op types kept in float32 (default list plus the user's), with the reason for each. */
  block: ReadonlyMap<string, string>;
  isExcluded: (node: NodeProto, displayName: string) => boolean;
  limits: ClampLimits;
}

export interface NodeMode {
  prec: Prec;
  reason?: string;
}

export const SHAPE_ARITHMETIC = 'shape arithmetic: computed from constants and shapes only, float16 is exact only up to 2048';

export class Plan {
  readonly modes = new Map<NodeProto, NodeMode>();

  constructor(
    readonly scopes: ModelScopes,
    readonly options: PlanOptions,
  ) {}

  mode(node: NodeProto): NodeMode {
    return this.modes.get(node) ?? { prec: 'fp16' };
  }
}

export function blockList(extra: readonly string[], allow: readonly string[]): Map<string, string> {
  const block = new Map(DEFAULT_BLOCK);
  for (const op of allow) block.delete(op);
  for (const op of extra) block.set(op, 'blocked by the block option');
  return block;
}

function ownerLabel(ctx: GraphCtx): string {
  const owner = ctx.owner as NodeProto;
  return `${owner.op_type ?? 'node'} ${ctx.parent?.displayNames.get(owner) ?? ''}`.trim();
}

/** Why a node stays float32, or undefined when it may compute in float16. */
function blockReason(ctx: GraphCtx, node: NodeProto, options: PlanOptions): string | undefined {
  if (!ctx.fp16) return `inside ${ownerLabel(ctx)}, which is kept in float32`;
  if (options.isExcluded(node, ctx.displayNames.get(node) ?? '')) return 'excluded by the user';
  const listed = options.block.get(node.op_type ?? '');
  if (listed && (isDefaultDomain(node.domain) || node.domain === 'ai.onnx.ml')) return listed;
  if (!isDefaultDomain(node.domain)) return `custom-domain op (${node.domain}): its float16 support is unknown`;
  return undefined;
}

/** Keeps a node in float32, with everything inside its subgraphs (their outputs must match the node's). */
function demote(plan: Plan, node: NodeProto, reason: string): void {
  plan.modes.set(node, { prec: 'fp32', reason });
  for (const sub of plan.scopes.ctxs.filter((c) => c.owner === node && c.fp16)) {
    sub.fp16 = false;
    for (const inner of sub.order) if (!isConstantNode(inner)) demote(plan, inner, `inside ${ownerLabel(sub)}, which is kept in float32`);
  }
}

function assignModes(plan: Plan): void {
  for (const ctx of plan.scopes.ctxs) {
    // Parents come first, so a subgraph knows whether its owner node was kept in float32.
    if (ctx.owner && ctx.parent) ctx.fp16 = ctx.parent.fp16 && plan.mode(ctx.owner).prec === 'fp16';
    for (const node of ctx.order) {
      if (isConstantNode(node)) continue;
      const reason = blockReason(ctx, node, plan.options);
      plan.modes.set(node, reason ? { prec: 'fp32', reason } : { prec: 'fp16' });
    }
  }
}

/** Readers of `t` that would take it as float16. */
function float16Readers(plan: Plan, t: TensorInfo): Use[] {
  return t.uses.filter((u) => u.node && plan.mode(u.node).prec === 'fp16' && slotWant(u.node, u.slot, plan.scopes.opset) === 'fp16');
}

/** A weight whose clamp would change the result keeps its float16 readers in float32 (see range.ts). */
function keepUnclampable(plan: Plan, t: TensorInfo): void {
  const readers = float16Readers(plan, t);
  if (!readers.some((u) => !SATURATING_OPS.has(u.node?.op_type ?? ''))) return;
  const impact = t.weight?.convertible ? significantClamp(t.weight.tensor, plan.options.limits) : undefined;
  if (!impact) return;
  const reason = describeClamp(t.name, impact, plan.options.limits);
  for (const u of readers) if (u.node) demote(plan, u.node, reason);
}

function floatOutputs(ctx: GraphCtx, node: NodeProto): TensorInfo[] {
  return node.output.map((n) => (n ? ctx.defs.get(n) : undefined)).filter((t): t is TensorInfo => t?.elemType === DataType.FLOAT);
}

/** Whether a read accepts a float32 value as well as (or better than) a float16 one. */
function acceptsFloat32(plan: Plan, ctx: GraphCtx, use: Use): boolean {
  if (use.ctx !== ctx || !use.node) return false;
  if (plan.mode(use.node).prec === 'fp32') return true;
  const want = slotWant(use.node, use.slot, plan.scopes.opset);
  return want === 'exact32' || want === 'any';
}

/**
 * Shape arithmetic (e.g. Shape -> Cast -> Mul -> Resize scales) stays float32: it is tiny, and float16
 * would round sizes above 2048. A node qualifies when all its inputs are static and every reader of its
 * float outputs prefers float32; consumers are decided first (reverse topological order).
 */
function keepShapeArithmetic(plan: Plan, ctx: GraphCtx): void {
  for (let i = ctx.order.length - 1; i >= 0; i--) {
    const node = ctx.order[i];
    if (plan.mode(node).prec !== 'fp16' || isConstantNode(node) || subgraphsOf(node).length) continue;
    const outs = floatOutputs(ctx, node);
    if (outs.length === 0 || !outs.every((t) => t.isStatic)) continue;
    const uses = outs.flatMap((t) => t.uses);
    if (uses.length && uses.every((u) => acceptsFloat32(plan, ctx, u))) plan.modes.set(node, { prec: 'fp32', reason: SHAPE_ARITHMETIC });
  }
}

function useWant(plan: Plan, use: Use): Want {
  if (!use.node) {
    if (!use.ctx.isMain) return use.ctx.fp16 ? 'fp16' : 'fp32';
    return plan.options.keepIoTypes ? 'exact32' : 'fp16';
  }
  const mode = plan.mode(use.node);
  // Shape arithmetic needs the exact float32 values of the constants it reads.
  if (mode.prec === 'fp32') return mode.reason === SHAPE_ARITHMETIC ? 'exact32' : 'fp32';
  return slotWant(use.node, use.slot, plan.scopes.opset);
}

function nodeHome(plan: Plan, t: TensorInfo): Prec {
  const node = t.producer as NodeProto;
  if (plan.mode(node).prec === 'fp32') return 'fp32';
  if (isFixedFloatOutput(node, node.output.indexOf(t.name))) return 'fp32';
  // A Cast from an integer or bool source: produce float32 directly when some reader wants float32, so
  // that it is not cast int -> float16 -> float32 (lossy above 2048).
  if (node.op_type === 'Cast' && attrInt(node, 'to', 0) === DataType.FLOAT) {
    const source = t.ctx.resolve(node.input[0] ?? '');
    const fromFloat = source?.elemType === DataType.FLOAT;
    if (!fromFloat && t.uses.some((u) => u.want === 'fp32' || u.want === 'exact32')) return 'fp32';
  }
  return 'fp16';
}

function weightHome(t: TensorInfo): Prec {
  if (!t.weight?.convertible) return 'fp32';
  if (t.uses.some((u) => u.want === 'exact32')) return 'fp32';
  return t.uses.some((u) => u.want === 'fp16') ? 'fp16' : 'fp32';
}

function inputHome(plan: Plan, t: TensorInfo): Prec {
  if (t.ctx.isMain) return plan.options.keepIoTypes ? 'fp32' : 'fp16';
  return t.ctx.fp16 ? 'fp16' : 'fp32';
}

function home(plan: Plan, t: TensorInfo): Prec {
  if (t.kind === 'weight') return weightHome(t);
  if (t.kind === 'input') return inputHome(plan, t);
  return nodeHome(plan, t);
}

/** Node modes, then every float32 read's want, then every float32 tensor's home. */
export function makePlan(scopes: ModelScopes, options: PlanOptions): Plan {
  const plan = new Plan(scopes, options);
  assignModes(plan);
  const floats = allTensors(scopes).filter((t) => t.elemType === DataType.FLOAT);
  for (const t of floats) if (t.kind === 'weight') keepUnclampable(plan, t);
  for (const ctx of scopes.ctxs) keepShapeArithmetic(plan, ctx);
  for (const t of floats) for (const use of t.uses) use.want = useWant(plan, use);
  for (const t of floats) t.home = home(plan, t);
  return plan;
}

/** Whether the node reads or writes any float32 tensor (the only nodes the report talks about). */
export function touchesFloat(ctx: GraphCtx, node: NodeProto): boolean {
  const isFloat = (name: string) => !!name && ctx.resolve(name)?.elemType === DataType.FLOAT;
  return node.input.some(isFloat) || node.output.some(isFloat) || subgraphsOf(node).length > 0;
}
