/**
 * `int8-static`: static int8 quantization in QDQ format, as onnxruntime's `quantize_static` produces it
 * by default (python/tools/quantization/quantize.py: QuantFormat.QDQ, QInt8 activations and weights,
 * per-channel symmetric weights, MinMax calibration), shaped so that onnxruntime's CPU provider fuses
 * it (QLinearConv, QLinearMatMul, QGemm, QLinearAdd, ...; see qdqOps.ts for the op table and
 * qdqPlan.ts for where the Q/DQ pairs go).
 *
 * Activations are asymmetric, int8 by default (ORT's default; `activation=uint8` for U8S8). On x86 ORT
 * rewrites int8 activation pairs to uint8 before fusing (QDQS8ToU8Transformer); a tensor read by
 * several nodes is written as uint8 directly because that rewrite skips it (qdqPlan.ts groupType).
 *
 * The pipeline calibrates before this pass: `int8StaticCalibrationRequest` says what to ask
 * calibrateModel for (method, percentile, channel means for bias correction); ranges are matched by
 * tensor name, so calibration runs on the model as this pass will see it, or on the original model
 * when only name-preserving passes (cleanup) run in between. Subgraph bodies stay float.
 */
import { UserError } from '../../core/errors';
import { inferModelShapes } from '../../core/shapes';
import { attrInt } from '../../onnx/graph';
import type { ModelProto, NodeProto } from '../../onnx/types';
import { OptionReader } from '../options';
import { emptyReport, type CalibrationData, type LayerChange, type PassContext, type PassDefinition, type PassReport, type RawOptions } from '../pass';
import { affineParams, type AffineType } from './math';
import { opsetUpgradeBlocker, PER_CHANNEL_OPSET, upgradeToPerChannelOpset } from './qdqOpset';
import { opKind } from './qdqOps';
import { planQuantization, type ParamGroup, type Plan, type QuantNode } from './qdqPlan';
import { writeQdqGraph } from './qdqRewrite';
import { quantizeConstants, type ActivationParams, type ChannelMeans, type WeightArtifacts } from './qdqWeights';
import { defaultOpset, modelScopes, resolveWeight, WeightEditor, type Scope } from './weights';

const PASS = 'int8-static';
const QDQ_OPSET = 10;
const METHODS = ['minmax', 'percentile', 'entropy'] as const;

export type StaticCalibrationMethod = (typeof METHODS)[number];

export interface Int8StaticOptions {
  method: StaticCalibrationMethod;
  /** Percentile method: share of |x| kept, in percent. */
  percentile: number;
  activation: AffineType;
  perChannel: boolean;
  /** undefined: on when calibration collected channel means. */
  biasCorrection?: boolean;
  /** 'free': element-wise ops quantized only where that adds no rounding step; 'all': wherever possible. */
  elementwise: 'free' | 'all';
}

function parseOptions(raw: RawOptions): Int8StaticOptions {
  const reader = new OptionReader(PASS, raw);
  const method = reader.choice('method', METHODS, 'minmax');
  const percentile = reader.number('percentile', 99.999, { min: 50, max: 100 });
  const activation = reader.choice('activation', ['int8', 'uint8'] as const, 'int8');
  const perChannel = reader.bool('per_channel', true);
  const biasCorrection = raw.bias_correction === undefined ? undefined : reader.bool('bias_correction', true);
  const elementwise = reader.choice('elementwise', ['free', 'all'] as const, 'free');
  reader.done();
  return { method, percentile, activation, perChannel, biasCorrection, elementwise };
}

// ---------------------------------------------------------------------------------------------
// What the pipeline asks calibration for

export interface StaticCalibrationRequest {
  method: StaticCalibrationMethod;
  percentile: number;
  /** Input tensor -> axis of the per-channel means bias correction needs (1 for Conv/Gemm, -1 for MatMul). */
  channelMeans: Record<string, number>;
}

/** The axis of the layer input whose means bias correction needs, for layers with a constant weight. */
function meanAxis(main: Scope, n: NodeProto): number | undefined {
  const weight = resolveWeight(main, n.input[1] ?? '');
  if (!weight) return undefined;
  if (n.op_type === 'Conv') return 1;
  if (n.op_type === 'Gemm') return attrInt(n, 'transA', 0) === 0 ? 1 : undefined;
  if (n.op_type === 'MatMul') return weight.tensor.dims.length === 2 ? -1 : undefined;
  return undefined;
}

/** Calibration settings for this pass's options: method, percentile and the channel means to collect. */
export function int8StaticCalibrationRequest(model: ModelProto, options: Int8StaticOptions = parseOptions({})): StaticCalibrationRequest {
  const channelMeans: Record<string, number> = {};
  const main = modelScopes(model)[0];
  if (options.biasCorrection !== false && main) {
    for (const n of main.graph.node) {
      const axis = opKind(n) ? meanAxis(main, n) : undefined;
      if (axis !== undefined && n.input[0]) channelMeans[n.input[0]] = axis;
    }
  }
  return { method: options.method, percentile: options.percentile, channelMeans };
}

// ---------------------------------------------------------------------------------------------
// Opset

type OpsetDecision = { perChannel: boolean; upgrade: boolean; warning?: string } | { abort: string };

function decideOpset(model: ModelProto, options: Int8StaticOptions): OpsetDecision {
  const current = defaultOpset(model);
  if (current >= PER_CHANNEL_OPSET) return { perChannel: options.perChannel, upgrade: false };
  const blocker = opsetUpgradeBlocker(model);
  if (!blocker) return { perChannel: options.perChannel, upgrade: options.perChannel || current < QDQ_OPSET };
  if (current >= QDQ_OPSET) {
    const warning = options.perChannel ? `weights use one scale per tensor: per-channel scales need opset ${PER_CHANNEL_OPSET}, and the model cannot be upgraded (${blocker})` : undefined;
    return { perChannel: false, upgrade: false, warning };
  }
  return { abort: `QuantizeLinear needs opset ${QDQ_OPSET}; the model imports opset ${current} and cannot be upgraded: ${blocker}` };
}

// ---------------------------------------------------------------------------------------------
// Report

const FUSED_AS: Readonly<Record<string, string>> = {
  Conv: 'QLinearConv',
  Gemm: 'QGemm',
  Add: 'QLinearAdd',
  Mul: 'QLinearMul',
  Concat: 'QLinearConcat',
  AveragePool: 'QLinearAveragePool',
  GlobalAveragePool: 'QLinearGlobalAveragePool',
  LeakyRelu: 'QLinearLeakyRelu',
  Sigmoid: 'QLinearSigmoid',
  Softmax: 'QLinearSoftmax',
};

function fusedAs(q: QuantNode, plan: Plan): string {
  if (q.kind === 'convTranspose') return 'runs in float between DQ and Q (ORT has no fused int8 ConvTranspose)';
  if (q.kind === 'matmul') return q.tail ? 'QGemm or MatMulIntegerToFloat with its bias Add' : plan.tensors.has(q.node.output[0]) ? 'QLinearMatMul' : 'MatMulIntegerToFloat';
  return FUSED_AS[q.node.op_type ?? ''] ?? q.node.op_type ?? '';
}

function describe(q: QuantNode, plan: Plan, artifacts: WeightArtifacts): string {
  if (q.kind === 'shared') return 'runs on 8-bit values: shares its input\'s scale and zero point, so ORT drops the Q/DQ around it';
  const parts: string[] = [];
  if (q.weight) {
    const dims = q.weight.ref.tensor.dims.map(Number);
    parts.push(q.weight.axis === undefined ? 'int8 weights (one scale)' : `int8 weights (${dims[q.weight.axis]} per-channel scales)`);
  }
  if (artifacts.replacements.get(q.node)?.has(2) && q.kind !== 'matmul') parts.push('int32 bias');
  if (q.constants.length) parts.push(`${q.constants.length} constant operand${q.constants.length > 1 ? 's' : ''} quantized`);
  parts.push(...(artifacts.notes.get(q.node) ?? []));
  if (q.mergedAdd) parts.unshift(`MatMul + ${q.mergedAdd} rewritten as Gemm`);
  return `QDQ -> ${fusedAs(q, plan)}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

function tailChanges(plan: Plan, names: Map<NodeProto, string>): LayerChange[] {
  return plan.nodes.filter((q) => q.tail).map((q) => ({ name: names.get(q.tail?.node as NodeProto) ?? '', opType: 'Add', action: `bias of ${q.name}: stays float between the MatMul and the Q, which ORT fuses with it (QGemm, MatMulIntegerToFloat)` }));
}

function countOps(scope: Scope, op: string): number {
  return scope.graph.node.filter((n) => n.op_type === op).length;
}

function planWarnings(plan: Plan, main: Scope): string[] {
  const warnings: string[] = [];
  const bn = countOps(main, 'BatchNormalization');
  if (bn) warnings.push(`${bn} BatchNormalization node(s) stay float between DequantizeLinear and QuantizeLinear and keep their Conv from fusing: fold them first (cleanup pass, fold_bn)`);
  const convT = plan.nodes.filter((q) => q.kind === 'convTranspose').length;
  if (convT) warnings.push(`${convT} ConvTranspose node(s) quantized, but ORT's CPU provider has no fused int8 ConvTranspose: they run in float on dequantized weights (smaller file, no speed-up); --exclude ConvTranspose keeps them float`);
  return warnings;
}

function subgraphSkips(scopes: Scope[]): PassReport['skipped'] {
  return scopes
    .filter((s) => s.parent && s.graph.node.some((n) => opKind(n) && opKind(n) !== 'shared' && opKind(n) !== 'removable'))
    .map((s) => ({ name: s.path, opType: 'subgraph', reason: 'subgraph bodies stay float: calibration covers the main graph only' }));
}

// ---------------------------------------------------------------------------------------------
// Run

/** Ranks of main-graph tensors from static shape inference (nothing when inference fails). */
function rankLookup(model: ModelProto): (tensor: string) => number | undefined {
  try {
    const shapes = inferModelShapes(model).main;
    return (tensor) => shapes.shape(tensor)?.length;
  } catch {
    return () => undefined;
  }
}

function channelMeansOf(calibration: CalibrationData): (tensor: string) => ChannelMeans | undefined {
  return (tensor) => {
    const stats = calibration.stats.get(tensor);
    return stats?.channelMean ? { mean: stats.channelMean, axis: stats.channelAxis ?? 1 } : undefined;
  };
}

function biasCorrectionEnabled(options: Int8StaticOptions, calibration: CalibrationData, report: PassReport): boolean {
  const hasMeans = [...calibration.stats.values()].some((s) => s.channelMean);
  if (options.biasCorrection && !hasMeans) report.warnings.push('bias_correction needs per-channel input means from calibration, and none were collected: biases left uncorrected');
  return (options.biasCorrection ?? true) && hasMeans;
}

function activationParams(plan: Plan): Map<ParamGroup, ActivationParams> {
  return new Map(plan.groups.map((g) => [g, { ...affineParams(g.range.min, g.range.max, g.type), type: g.type }]));
}

function requireCalibration(ctx: PassContext, options: Int8StaticOptions, report: PassReport): CalibrationData {
  const calibration = ctx.calibration;
  if (!calibration) throw new UserError(`${PASS} needs calibration data: run it through the optimize pipeline, which calibrates on --data or on generated inputs`);
  report.warnings.push(...(calibration.warnings ?? []));
  if (calibration.method !== options.method) report.warnings.push(`method=${options.method} was asked for, but calibration used ${calibration.method}: its ranges are used`);
  return calibration;
}

function recordResults(report: PassReport, plan: Plan, artifacts: WeightArtifacts, names: Map<NodeProto, string>): void {
  report.changed.push(...plan.nodes.map((q) => ({ name: q.name, opType: q.node.op_type ?? '', action: describe(q, plan, artifacts) })));
  report.changed.push(...plan.folded, ...tailChanges(plan, names));
  report.skipped.push(...plan.skipped);
}

function quantizeMain(ctx: PassContext, options: Int8StaticOptions, report: PassReport, opset: { perChannel: boolean; upgrade: boolean }): void {
  const calibration = requireCalibration(ctx, options, report);
  const editor = new WeightEditor(ctx.model);
  const scopes = modelScopes(ctx.model);
  const main = scopes[0];
  const names = new Map(main.graph.node.map((n, i) => [n, main.index.names[i]]));
  const perAxis = opset.upgrade || defaultOpset(ctx.model) >= PER_CHANNEL_OPSET;
  const rankOf = rankLookup(ctx.model);
  const plan = planQuantization({ scope: main, ranges: calibration.ranges, isExcluded: ctx.isExcluded, perChannel: opset.perChannel, perAxis, activation: options.activation, elementwise: options.elementwise, rankOf });
  report.skipped.push(...subgraphSkips(scopes));
  if (plan.nodes.length === 0) {
    report.skipped.push(...plan.skipped);
    report.warnings.push('nothing to quantize: no Conv, MatMul, Gemm or other supported op with calibrated inputs in the main graph');
    return;
  }
  const opsetBefore = defaultOpset(ctx.model);
  if (opset.upgrade) upgradeToPerChannelOpset(ctx.model, (base) => editor.uniqueName(base));
  const params = activationParams(plan);
  const artifacts = quantizeConstants({ editor, plan, params, channelMeans: channelMeansOf(calibration), biasCorrection: biasCorrectionEnabled(options, calibration, report) });
  const qdqPairs = writeQdqGraph({ editor, scope: main, plan, params, artifacts });
  const removed = editor.removeRetired();
  recordResults(report, plan, artifacts, names);
  report.warnings.push(...planWarnings(plan, main));
  report.stats = {
    nodesQuantized: plan.nodes.filter((q) => q.kind !== 'shared').length,
    dataMovementOps: plan.nodes.filter((q) => q.kind === 'shared').length,
    activationsFolded: plan.folded.length,
    floatLayersGuarded: plan.guarded.size,
    qdqPairs,
    uint8Groups: options.activation === 'int8' ? plan.groups.filter((g) => g.type === 'uint8').length : plan.groups.length,
    ...artifacts.stats,
    tensorsRemoved: removed.tensors,
    bytesRemoved: removed.bytes,
    ...(opset.upgrade ? { opsetUpgradedFrom: opsetBefore } : {}),
  };
}

function run(ctx: PassContext, options: Int8StaticOptions): PassReport {
  const report = emptyReport(PASS, { method: options.method, percentile: options.percentile, activation: options.activation, per_channel: options.perChannel, bias_correction: options.biasCorrection ?? 'auto', elementwise: options.elementwise });
  const opset = decideOpset(ctx.model, options);
  if ('abort' in opset) {
    report.warnings.push(`nothing quantized: ${opset.abort}`);
    return report;
  }
  if (opset.warning) report.warnings.push(opset.warning);
  quantizeMain(ctx, options, report, opset);
  return report;
}

export const int8StaticPass: PassDefinition<Int8StaticOptions> = {
  name: PASS,
  description: 'Static int8 (QDQ): calibrated activations, per-channel int8 weights, int32 biases; onnxruntime fuses it into QLinearConv, QLinearMatMul, QGemm, QLinearAdd...',
  needsCalibration: true,
  parseOptions,
  run,
};
