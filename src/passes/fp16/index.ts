/**
 * The `fp16` pass: float32 weights become float16 and activations are computed in float16, except in
 * ops kept in float32 (a default block list, the `block` option, --exclude), with Casts only at the
 * boundaries. Model inputs and outputs stay float32 by default (keep_io_types).
 *
 * Weight values are clamped before rounding, as onnxconverter-common does (min_positive=1e-7,
 * max_finite=1e4):
 * - magnitudes below 1e-7 would round to 0 or to a one-bit subnormal (float16's smallest is 2^-24 ≈
 *   5.96e-8). Epsilons (x / max(n, 1e-12), variance + 1e-12) must not become exactly zero, so they are
 *   raised to ±1e-7, which keeps their sign and keeps them non-zero.
 * - magnitudes above 1e4 are lowered to ±1e4, a factor 6.5 below float16's largest finite 65504. A
 *   -1e9 attention-mask constant would otherwise become -inf, and -inf - -inf is NaN in Softmax; a
 *   large weight times an O(1) activation also keeps headroom before overflowing.
 * A clamp that would really change a weight (PaddleOCR's detector has a BatchNormalization variance of
 * 9.8e7) is applied only where the weight is added or compared; other readers stay float32 (range.ts).
 *
 * On onnxruntime CPU this gives a smaller file, not a faster model: its CPU kernels are float32 for
 * nearly all compute ops, so it casts float16 values back to float32 around them at load time.
 */
import { UserError } from '../../core/errors';
import { DataType } from '../../onnx/dtypes';
import { attrInt } from '../../onnx/graph';
import { isExternal, tensorByteLength } from '../../onnx/tensor';
import type { ModelProto, NodeProto, ValueInfoProto } from '../../onnx/types';
import { forEachGraph, forEachTensor } from '../../onnx/walk';
import { OptionReader } from '../options';
import { emptyReport, type PassContext, type PassDefinition, type PassReport, type RawOptions } from '../pass';
import { HALF_MAX } from './half';
import { blockList, makePlan, touchesFloat, type Plan } from './plan';
import { rewriteModel, type RewriteStats } from './rewrite';
import { buildScopes, type GraphCtx } from './scope';

export interface Fp16Options {
  /** Non-zero weight magnitudes below this are raised to it. */
  minPositive: number;
  /** Finite weight magnitudes above this are lowered to it. */
  maxFinite: number;
  /** Keep float32 model inputs/outputs (Casts at the boundary) instead of changing the model's API. */
  keepIoTypes: boolean;
  /** Extra op types kept in float32. */
  block: string[];
  /** Op types removed from the default block list. */
  allow: string[];
}

const PASS = 'fp16';

export function parseFp16Options(raw: RawOptions): Fp16Options {
  const r = new OptionReader(PASS, raw);
  const options: Fp16Options = {
    minPositive: r.number('min_positive', 1e-7, { min: 0, max: 1e-3 }),
    maxFinite: r.number('max_finite', 1e4, { min: 1, max: HALF_MAX }),
    keepIoTypes: r.bool('keep_io_types', true),
    block: r.list('block').filter(Boolean),
    allow: r.list('allow').filter(Boolean),
  };
  r.done();
  const both = options.block.filter((op) => options.allow.includes(op));
  if (both.length) throw new UserError(`${PASS}: ${both.join(', ')} cannot be both in block and in allow`);
  return options;
}

function elemTypes(v: ValueInfoProto): number[] {
  const t = v.type;
  return [t?.tensor_type?.elem_type, t?.sequence_type?.elem_type?.tensor_type?.elem_type].filter((e): e is number => e !== undefined);
}

/** Why the model looks already converted (float16 tensors, values or Casts), or undefined. */
function float16Evidence(model: ModelProto): string | undefined {
  let evidence: string | undefined;
  forEachTensor(model, ({ tensor }) => {
    if (!evidence && tensor.data_type === DataType.FLOAT16) evidence = `tensor ${tensor.name || '(in a Constant)'} is float16`;
  });
  forEachGraph(model, ({ graph }) => {
    for (const v of [...graph.input, ...graph.output, ...graph.value_info]) {
      if (!evidence && elemTypes(v).includes(DataType.FLOAT16)) evidence = `value ${v.name ?? ''} is float16`;
    }
    const cast = graph.node.find((n) => n.op_type === 'Cast' && attrInt(n, 'to', 0) === DataType.FLOAT16);
    if (!evidence && cast) evidence = `node ${cast.name || cast.output[0]} casts to float16`;
  });
  return evidence;
}

function storedBytes(model: ModelProto): number {
  let bytes = 0;
  forEachTensor(model, ({ tensor }) => (bytes += tensorByteLength(tensor)));
  return bytes;
}

function qualifiedName(ctx: GraphCtx, node: NodeProto): string {
  const own = ctx.displayNames.get(node) ?? node.op_type ?? 'node';
  return ctx.parent && ctx.owner ? `${qualifiedName(ctx.parent, ctx.owner)}/${own}` : own;
}

/** Per-node report entries: float16 nodes as changes, float32 ones as skips with their reason. */
function reportNodes(plan: Plan, report: PassReport): void {
  for (const ctx of plan.scopes.ctxs) {
    for (const node of ctx.order) {
      if (node.op_type === 'Constant' || !touchesFloat(ctx, node)) continue;
      const mode = plan.mode(node);
      const entry = { name: qualifiedName(ctx, node), opType: node.op_type ?? '' };
      if (mode.prec === 'fp16') report.changed.push({ ...entry, action: fp16Action(ctx, node) });
      else report.skipped.push({ ...entry, reason: `kept float32: ${mode.reason ?? ''}` });
    }
  }
}

function fp16Action(ctx: GraphCtx, node: NodeProto): string {
  const retargeted = node.op_type === 'Cast' && attrInt(node, 'to', 0) === DataType.FLOAT && ctx.defs.get(node.output[0] ?? '')?.home === 'fp16';
  return retargeted ? 'Cast retargeted to float16' : 'computes in float16';
}

function reportWarnings(model: ModelProto, stats: RewriteStats, options: Fp16Options, report: PassReport): void {
  const { low, high, maxAbs } = stats.clamp;
  if (high) report.warnings.push(`${high} weight values above ${options.maxFinite} in magnitude (largest ${maxAbs.toPrecision(4)}) were clamped to ±${options.maxFinite}`);
  if (low) report.warnings.push(`${low} non-zero weight values below ${options.minPositive} in magnitude were raised to ±${options.minPositive}`);
  let sequences = 0;
  forEachGraph(model, ({ graph }) => {
    for (const v of [...graph.input, ...graph.output, ...graph.value_info]) if (v.type?.sequence_type) sequences++;
  });
  if (sequences) report.warnings.push(`${sequences} sequence-typed values were left as they are; check that the converted model loads`);
  let external = 0;
  forEachTensor(model, ({ tensor }) => (external += tensor.data_type === DataType.FLOAT && isExternal(tensor) ? 1 : 0));
  if (external) report.warnings.push(`${external} float32 weights in external data that was not loaded stay float32`);
  report.warnings.push('onnxruntime CPU has float16 kernels for few compute ops and casts the others back to float32 at load: expect a smaller file, not a faster model on CPU');
}

function fillStats(report: PassReport, stats: RewriteStats, before: number, after: number): void {
  report.stats = {
    weightBytesBefore: before,
    weightBytesAfter: after,
    castsInserted: stats.castsInserted,
    castsRetargeted: stats.castsRetargeted,
    weightsConverted: stats.weightsConverted,
    nodesFloat16: report.changed.length,
    nodesFloat32: report.skipped.length,
    valuesClampedLow: stats.clamp.low,
    valuesClampedHigh: stats.clamp.high,
  };
}

function runFp16(ctx: PassContext, options: Fp16Options): PassReport {
  const report = emptyReport(PASS, { ...options });
  const evidence = float16Evidence(ctx.model);
  if (evidence) {
    report.warnings.push(`the model already contains float16 (${evidence}); left unchanged, since converting twice can break its Casts`);
    return report;
  }
  const before = storedBytes(ctx.model);
  const scopes = buildScopes(ctx.model);
  const limits = { minPositive: options.minPositive, maxFinite: options.maxFinite };
  const plan = makePlan(scopes, { keepIoTypes: options.keepIoTypes, block: blockList(options.block, options.allow), isExcluded: ctx.isExcluded, limits });
  reportNodes(plan, report);
  const stats = rewriteModel(ctx.model, plan, limits);
  fillStats(report, stats, before, storedBytes(ctx.model));
  if (stats.weightsConverted === 0 && report.changed.length === 0) report.warnings.push('no float32 weights or activations to convert');
  reportWarnings(ctx.model, stats, options, report);
  return report;
}

export const fp16Pass: PassDefinition<Fp16Options> = {
  name: PASS,
  description: 'float32 weights and activations to float16 (Casts around ops kept in float32; model IO stays float32 by default)',
  parseOptions: parseFp16Options,
  run: runFp16,
};
