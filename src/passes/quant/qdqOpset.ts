/**
 * Raising a model's default-domain opset so that per-channel QuantizeLinear/DequantizeLinear (the
 * `axis` attribute, opset 13) can be used, as onnxruntime's quantizer does when it meets an old model
 * (quantize.py upgrades to opset 11 for QDQ and asks for 13 for per-channel; onnx's version_converter
 * does the op rewrites). Only ops whose semantics are known are accepted:
 * - ops unchanged in meaning between opset 9 and 13 are kept as they are;
 * - ops whose attributes became inputs are rewritten: Clip (11), Slice (10), Pad (11), Squeeze,
 *   Unsqueeze, Split and ReduceSum (13), Dropout's ratio (12, a no-op at inference);
 * - Softmax/LogSoftmax/Hardmax changed meaning in 13 (one axis instead of "flatten from axis"); they
 *   are kept when the axis is the last one, where both definitions agree;
 * anything else (Upsample, Scatter, TopK-1, Resize-10, ops of unknown history) refuses the upgrade.
 */
import { floatTensor, int64Tensor } from '../../onnx/build';
import { attr, attrFloat, attrInt, attrInts } from '../../onnx/graph';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../../onnx/types';
import { inferModelShapes } from '../../core/shapes';
import { defaultOpset } from './weights';

export const PER_CHANNEL_OPSET = 13;
const OLDEST_UPGRADABLE = 9;
const IR_FOR_OPSET_13 = 7;

/** Ops whose definitions from opset 9 to 13 only added types, optional attributes or negative axes. */
const UNCHANGED = new Set(
  (
    'Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization BitShift Cast Ceil Celu ' +
    'Compress Concat Constant ConstantOfShape Conv ConvInteger ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear ' +
    'Det Div DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather GatherElements GatherND Gemm ' +
    'GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual HardSigmoid Identity If InstanceNormalization IsInf ' +
    'IsNaN LRN LSTM LeakyRelu Less LessOrEqual Log Loop LpNormalization LpPool MatMul MatMulInteger Max MaxPool MaxRoiPool ' +
    'MaxUnpool Mean MeanVarianceNormalization Min Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or PRelu Pow QLinearConv ' +
    'QLinearMatMul QuantizeLinear RNN RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ' +
    'ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSumSquare Relu Reshape ' +
    'ReverseSequence RoiAlign Round Scan ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Softplus ' +
    'Softsign SpaceToDepth Sqrt Sub Sum Tan Tanh ThresholdedRelu Tile Transpose Unique Where Xor'
  ).split(' '),
);

/** Ops that exist in 13 only in a form introduced at `since`: older models cannot keep them as they are. */
const CHANGED_WITHOUT_REWRITE: Record<string, number> = { Resize: 11, TopK: 10 };

interface Upgrade {
  graph: GraphProto;
  /** New constant inputs, added to `graph` at the end. */
  added: TensorProto[];
  uniqueName: (base: string) => string;
  rankOf: (tensor: string) => number | undefined;
}

type Rewrite = (n: NodeProto, u: Upgrade, from: number) => string | undefined;

function removeAttr(n: NodeProto, name: string): void {
  n.attribute = n.attribute.filter((a) => a.name !== name);
}

function int64Input(u: Upgrade, n: NodeProto, label: string, values: number[]): string {
  const name = u.uniqueName(`${n.name || n.output[0]}_${label}`);
  u.added.push(int64Tensor(name, [values.length], values));
  return name;
}

function floatScalar(u: Upgrade, n: NodeProto, label: string, value: number): string {
  const name = u.uniqueName(`${n.name || n.output[0]}_${label}`);
  u.added.push(floatTensor(name, [], [value]));
  return name;
}

/** Moves an INTS attribute to input `slot` (padding skipped optional inputs with ""). */
function intsAttrToInput(n: NodeProto, u: Upgrade, name: string, slot: number): void {
  const values = attrInts(n, name);
  removeAttr(n, name);
  if (values === undefined) return;
  while (n.input.length < slot) n.input.push('');
  n.input[slot] = int64Input(u, n, name, values);
}

const rewriteClip: Rewrite = (n, u, from) => {
  if (from >= 11) return undefined;
  const min = attr(n, 'min') ? attrFloat(n, 'min', 0) : undefined;
  const max = attr(n, 'max') ? attrFloat(n, 'max', 0) : undefined;
  removeAttr(n, 'min');
  removeAttr(n, 'max');
  n.input = [n.input[0], min === undefined ? '' : floatScalar(u, n, 'min', min), ...(max === undefined ? [] : [floatScalar(u, n, 'max', max)])];
  if (n.input[1] === '' && n.input.length === 2) n.input.pop();
  return undefined;
};

const rewriteSlice: Rewrite = (n, u, from) => {
  if (from >= 10) return undefined;
  const starts = attrInts(n, 'starts') ?? [];
  const ends = attrInts(n, 'ends') ?? [];
  const axes = attrInts(n, 'axes');
  for (const name of ['starts', 'ends', 'axes']) removeAttr(n, name);
  n.input = [n.input[0], int64Input(u, n, 'starts', starts), int64Input(u, n, 'ends', ends), ...(axes ? [int64Input(u, n, 'axes', axes)] : [])];
  return undefined;
};

const rewritePad: Rewrite = (n, u, from) => {
  if (from >= 11) return undefined;
  const pads = attrInts(n, 'pads') ?? [];
  const value = attr(n, 'value') ? attrFloat(n, 'value', 0) : undefined;
  removeAttr(n, 'pads');
  removeAttr(n, 'value');
  n.input = [n.input[0], int64Input(u, n, 'pads', pads), ...(value !== undefined && value !== 0 ? [floatScalar(u, n, 'value', value)] : [])];
  return undefined;
};

const axesToInput: (slot: number, name?: string) => Rewrite = (slot, name = 'axes') => (n, u) => {
  intsAttrToInput(n, u, name, slot);
  return undefined;
};

const rewriteDropout: Rewrite = (n) => {
  removeAttr(n, 'ratio'); // inference: Dropout passes its input through whatever the ratio
  removeAttr(n, 'is_test');
  return undefined;
};

/** Softmax-1/11 flatten from `axis`; Softmax-13 normalizes one axis: the same only on the last axis. */
const rewriteSoftmax: Rewrite = (n, u) => {
  const axis = attrInt(n, 'axis', 1);
  if (axis === -1) return undefined;
  const rank = u.rankOf(n.input[0]);
  if (rank !== undefined && axis === rank - 1) return undefined;
  return `${n.op_type} on axis ${axis} of a tensor of rank ${rank ?? 'unknown'} means something else from opset 13 on`;
};

const REWRITES: Record<string, Rewrite> = {
  Clip: rewriteClip,
  Slice: rewriteSlice,
  Pad: rewritePad,
  Squeeze: axesToInput(1),
  Unsqueeze: axesToInput(1),
  ReduceSum: axesToInput(1),
  Split: axesToInput(1, 'split'),
  Dropout: rewriteDropout,
  Softmax: rewriteSoftmax,
  LogSoftmax: rewriteSoftmax,
  Hardmax: rewriteSoftmax,
};

function isDefaultDomain(n: NodeProto): boolean {
  return !n.domain || n.domain === 'ai.onnx';
}

/** Why node n cannot be carried from opset `from` to 13 unchanged or rewritten, if it cannot. */
function blocker(n: NodeProto, from: number): string | undefined {
  const op = n.op_type ?? '';
  if (UNCHANGED.has(op) || REWRITES[op]) return undefined;
  const since = CHANGED_WITHOUT_REWRITE[op];
  if (since !== undefined && from >= since) return undefined;
  return `${op} (${n.name || n.output[0]}) has no known conversion from opset ${from} to ${PER_CHANNEL_OPSET}`;
}

function allGraphs(model: ModelProto): GraphProto[] {
  const graphs: GraphProto[] = [];
  const visit = (g: GraphProto) => {
    graphs.push(g);
    for (const n of g.node) for (const a of n.attribute) [a.g, ...a.graphs].forEach((sub) => sub && visit(sub));
  };
  if (model.graph) visit(model.graph);
  return graphs;
}

function rankLookup(model: ModelProto): (graph: GraphProto) => (tensor: string) => number | undefined {
  let shapes: ReturnType<typeof inferModelShapes> | undefined;
  return (graph) => (tensor) => {
    shapes ??= inferModelShapes(model);
    return shapes.graphs.get(graph)?.shape(tensor)?.length;
  };
}

/** A reason the model cannot be upgraded, checked before anything is changed. */
function firstBlocker(graphs: GraphProto[], from: number): string | undefined {
  for (const g of graphs) for (const n of g.node) if (isDefaultDomain(n)) {
    const reason = blocker(n, from);
    if (reason) return reason;
  }
  return undefined;
}

function setDefaultOpset(model: ModelProto, version: number): void {
  const entry = model.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (entry) entry.version = version;
  else model.opset_import.push({ domain: '', version });
  if (Number(model.ir_version ?? 0) < IR_FOR_OPSET_13) model.ir_version = IR_FOR_OPSET_13;
}

/** Why the model cannot be upgraded to opset 13 (undefined when it can, or already is). Changes nothing. */
export function opsetUpgradeBlocker(model: ModelProto): string | undefined {
  const from = defaultOpset(model);
  if (from >= PER_CHANNEL_OPSET) return undefined;
  if (from < OLDEST_UPGRADABLE) return `the model imports opset ${from}; only opset ${OLDEST_UPGRADABLE} or later can be upgraded`;
  const graphs = allGraphs(model);
  const blocked = firstBlocker(graphs, from);
  if (blocked) return blocked;
  const ranks = rankLookup(model);
  const softmaxes = graphs.flatMap((g) => g.node.filter((n) => isDefaultDomain(n) && REWRITES[n.op_type ?? ''] === rewriteSoftmax).map((n) => ({ g, n })));
  return softmaxes.map(({ g, n }) => rewriteSoftmax(n, upgradeFor(g, () => '', ranks), from)).find(Boolean);
}

/** Upgrades the model in place to opset 13; call opsetUpgradeBlocker first (this assumes it said yes). */
export function upgradeToPerChannelOpset(model: ModelProto, uniqueName: (base: string) => string): void {
  const from = defaultOpset(model);
  if (from >= PER_CHANNEL_OPSET) return;
  const ranks = rankLookup(model);
  for (const g of allGraphs(model)) rewriteGraph(g, from, upgradeFor(g, uniqueName, ranks));
  setDefaultOpset(model, PER_CHANNEL_OPSET);
}

function upgradeFor(graph: GraphProto, uniqueName: (base: string) => string, ranks: ReturnType<typeof rankLookup>): Upgrade {
  return { graph, added: [], uniqueName, rankOf: ranks(graph) };
}

function rewriteGraph(g: GraphProto, from: number, u: Upgrade): void {
  for (const n of g.node) if (isDefaultDomain(n)) REWRITES[n.op_type ?? '']?.(n, u, from);
  g.initializer.push(...u.added);
}
