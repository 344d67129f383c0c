/**
 * Which channel rule handles which op. Anything not listed (custom domains, If/Loop, LRN,
 * DepthToSpace, GroupNormalization...) is opaque: channels it reads become unprunable.
 */
import type { NodeProto } from '../../onnx/types';
import type { Analyzer } from './analyzer';
import { conv, convTranspose, gemm, matMul } from './rulesLinear';
import { channelNorm, concat, elementwise, layerNorm, pad, passThrough, resize, spatial, split } from './rulesElementwise';
import { alongAxis, expandOrTile, flatten, gather, reduce, reshape, shapeOp, slice, squeeze, transpose, unsqueeze } from './rulesShape';

type Rule = (a: Analyzer, i: number, n: NodeProto) => void;

const UNARY = [
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'Clip', 'Elu', 'Selu', 'Celu', 'Gelu', 'Erf', 'Softplus',
  'Softsign', 'Mish', 'Exp', 'Log', 'Sqrt', 'Neg', 'Abs', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Tan',
  'Identity', 'Cast', 'CastLike', 'Dropout', 'Not', 'IsNaN', 'IsInf', 'ThresholdedRelu', 'Shrink',
];
const ELEMENTWISE = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'PRelu', 'Equal', 'Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual', 'And', 'Or', 'Xor', 'Mod'];
const SPATIAL = ['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool', 'MaxPool', 'AveragePool', 'LpPool'];
const REDUCE = ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

const RULES: Record<string, Rule> = {
  ...Object.fromEntries(UNARY.map((op) => [op, passThrough])),
  ...Object.fromEntries(ELEMENTWISE.map((op) => [op, elementwise])),
  ...Object.fromEntries(SPATIAL.map((op) => [op, spatial])),
  ...Object.fromEntries(REDUCE.map((op) => [op, reduce])),
  Conv: conv,
  ConvTranspose: convTranspose,
  Gemm: gemm,
  MatMul: matMul,
  BatchNormalization: channelNorm,
  InstanceNormalization: channelNorm,
  LayerNormalization: layerNorm,
  Resize: resize,
  Upsample: resize,
  Pad: pad,
  Concat: concat,
  Split: split,
  Flatten: flatten,
  Reshape: reshape,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Gather: gather,
  Slice: slice,
  Expand: expandOrTile,
  Tile: expandOrTile,
  ArgMax: alongAxis(0),
  ArgMin: alongAxis(0),
  TopK: alongAxis(-1),
  Softmax: alongAxis('softmax'),
  LogSoftmax: alongAxis('softmax'),
  Hardmax: alongAxis('softmax'),
  Shape: shapeOp,
};

/** Ops that create channels: they run even when no input carries any. */
const PRODUCERS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

function ruleFor(n: NodeProto): Rule | undefined {
  const domain = n.domain ?? '';
  if (domain !== '' && domain !== 'ai.onnx') return undefined;
  return Object.hasOwn(RULES, n.op_type ?? '') ? RULES[n.op_type ?? ''] : undefined;
}

/** Applies the node's rule; an op without one blocks the channels it reads. */
export function applyRule(a: Analyzer, i: number): void {
  const n = a.nodes[i];
  const carries = n.input.some((name) => a.layout(name));
  const rule = ruleFor(n);
  if (!carries && !(rule && PRODUCERS.has(n.op_type ?? ''))) return;
  if (rule) rule(a, i, n);
  else a.blockInputs(i, `consumed by ${a.label(i)}, an op channel pruning does not handle`);
}
