/**
 * When each default-domain operator changed, up to opset 21: "Op:v1,v2,..." lists the opsets that
 * introduced a new version of the op (from onnx/onnx docs/Changelog.md). Crossing one of those
 * versions is a boundary; every boundary in 8..21 was checked against the changelog and onnx's
 * version converter (onnx/version_converter/convert.h and adapters/*.h). A boundary is compatible
 * (only new types, new attributes whose defaults keep the old behaviour, negative axes...) unless
 * rules.ts has an adapter for it or REFUSED below names why it cannot be done faithfully.
 */

const TABLE = [
  'Abs:1,6,13 Acos:7 Acosh:9 Add:1,6,7,13,14 AffineGrid:20 And:1,7 ArgMax:1,11,12,13 ArgMin:1,11,12,13 Asin:7',
  'Asinh:9 Atan:7 Atanh:9 AveragePool:1,7,10,11,19 BatchNormalization:1,6,7,9,14,15 Bernoulli:15 BitShift:11',
  'BitwiseAnd:18 BitwiseNot:18 BitwiseOr:18 BitwiseXor:18 BlackmanWindow:17 Cast:1,6,9,13,19,21',
  'CastLike:15,19,21 Ceil:1,6,13 Celu:12 CenterCropPad:18 Clip:1,6,11,12,13 Col2Im:18 Compress:9,11',
  'Concat:1,4,11,13 ConcatFromSequence:11 Constant:1,9,11,12,13,19,21 ConstantOfShape:9,20,21 Conv:1,11',
  'ConvInteger:10 ConvTranspose:1,11 Cos:7 Cosh:9 CumSum:11,14 DeformConv:19 DepthToSpace:1,11,13',
  'DequantizeLinear:10,13,19,21 Det:11 DFT:17,20 Div:1,6,7,13,14 Dropout:1,6,7,10,12,13',
  'DynamicQuantizeLinear:11 Einsum:12 Elu:1,6 Equal:1,7,11,13,19 Erf:9,13 Exp:1,6,13 Expand:8,13 EyeLike:9',
  'Flatten:1,9,11,13,21 Floor:1,6,13 Gather:1,11,13 GatherElements:11,13 GatherND:11,12,13 Gelu:20',
  'Gemm:1,6,7,9,11,13 GlobalAveragePool:1 GlobalLpPool:1,2 GlobalMaxPool:1 Greater:1,7,9,13',
  'GreaterOrEqual:12,16 GridSample:16,20 GroupNormalization:18,21 GRU:1,3,7,14 HammingWindow:17 HannWindow:17',
  'Hardmax:1,11,13 HardSigmoid:1,6 HardSwish:14 Identity:1,13,14,16,19,21 If:1,11,13,16,19,21 ImageDecoder:20',
  'InstanceNormalization:1,6 IsInf:10,20 IsNaN:9,13,20 LayerNormalization:17 LeakyRelu:1,6,16 Less:1,7,9,13',
  'LessOrEqual:12,16 Log:1,6,13 LogSoftmax:1,11,13 Loop:1,11,13,16,19,21 LpNormalization:1 LpPool:1,2,11,18',
  'LRN:1,13 LSTM:1,7,14 MatMul:1,9,13 MatMulInteger:10 Max:1,6,8,12,13 MaxPool:1,8,10,11,12 MaxRoiPool:1',
  'MaxUnpool:9,11 Mean:1,6,8,13 MeanVarianceNormalization:9,13 MelWeightMatrix:17 Min:1,6,8,12,13 Mish:18',
  'Mod:10,13 Mul:1,6,7,13,14 Multinomial:7 Neg:1,6,13 NegativeLogLikelihoodLoss:12,13 NonMaxSuppression:10,11',
  'NonZero:9,13 Not:1 OneHot:9,11 Optional:15 OptionalGetElement:15,18 OptionalHasElement:15,18 Or:1,7',
  'Pad:1,2,11,13,18,19,21 Pow:1,7,12,13,15 PRelu:1,6,7,9,16 QLinearConv:10 QLinearMatMul:10,21',
  'QuantizeLinear:10,13,19,21 RandomNormal:1 RandomNormalLike:1 RandomUniform:1 RandomUniformLike:1 Range:11',
  'Reciprocal:1,6,13 ReduceL1:1,11,13,18 ReduceL2:1,11,13,18 ReduceLogSum:1,11,13,18 ReduceLogSumExp:1,11,13,18',
  'ReduceMax:1,11,12,13,18,20 ReduceMean:1,11,13,18 ReduceMin:1,11,12,13,18,20 ReduceProd:1,11,13,18',
  'ReduceSum:1,11,13 ReduceSumSquare:1,11,13,18 RegexFullMatch:20 Relu:1,6,13,14 Reshape:1,5,13,14,19,21',
  'Resize:10,11,13,18,19 ReverseSequence:10 RNN:1,7,14 RoiAlign:10,16 Round:11 Scan:8,9,11,16,19,21',
  'Scatter:9,11 ScatterElements:11,13,16,18 ScatterND:11,13,16,18 Selu:1,6 SequenceAt:11 SequenceConstruct:11',
  'SequenceEmpty:11 SequenceErase:11 SequenceInsert:11 SequenceLength:11 SequenceMap:17 Shape:1,13,15,19,21',
  'Shrink:9 Sigmoid:1,6,13 Sign:9,13 Sin:7 Sinh:9 Size:1,13,19,21 Slice:1,10,11,13 Softmax:1,11,13',
  'SoftmaxCrossEntropyLoss:12,13 Softplus:1 Softsign:1 SpaceToDepth:1,13 Split:1,2,11,13,18 SplitToSequence:11',
  'Sqrt:1,6,13 Squeeze:1,11,13,21 STFT:17 StringConcat:20 StringNormalizer:10 StringSplit:20 Sub:1,6,7,13,14',
  'Sum:1,6,8,13 Tan:7 Tanh:1,6,13 TfIdfVectorizer:9 ThresholdedRelu:10 Tile:1,6,13 TopK:1,10,11',
  'Transpose:1,13,21 Trilu:14 Unique:11 Unsqueeze:1,11,13,21 Upsample:1,7,9,10 Where:9,16 Xor:1,7',
];

/** Op type -> opsets that introduced a version of it, ascending. */
export const OP_VERSIONS: ReadonlyMap<string, readonly number[]> = new Map(
  TABLE.join(' ')
    .split(' ')
    .map((entry): [string, number[]] => {
      const [op, versions] = entry.split(':');
      return [op, versions.split(',').map(Number)];
    }),
);

/** The newest opset this pass knows every boundary of. */
export const NEWEST_OPSET = 21;
/** onnxruntime has no kernels below opset 7, so older models cannot be checked after an upgrade. */
export const OLDEST_OPSET = 7;

/** Ops whose last version is a deprecation: the version converter replaces them when crossing it. */
export const DEPRECATED_SINCE: ReadonlyMap<string, number> = new Map([
  ['Upsample', 10],
  ['Scatter', 11],
]);

/** Boundaries that change meaning in a way this pass does not rewrite: "Op-version" -> why. */
export const REFUSED: ReadonlyMap<string, string> = new Map([
  ['Scan-9', 'Scan-9 dropped the batch axis and sequence_lens input of Scan-8'],
  ['DFT-20', 'DFT-20 moved axis from an attribute to an input with a different default'],
  ['GroupNormalization-21', 'GroupNormalization-21 takes per-channel scale and bias instead of per-group ones'],
]);

export type Boundary = 'compatible' | 'adapter' | 'refused';

/** Opsets in (from, to] where `op` got a new version. */
export function boundaries(op: string, from: number, to: number): number[] {
  return (OP_VERSIONS.get(op) ?? []).filter((v) => v > from && v <= to);
}

/** The version of `op` a model importing `opset` uses, or undefined when the op did not exist yet. */
export function versionAt(op: string, opset: number): number | undefined {
  const versions = OP_VERSIONS.get(op) ?? [];
  let found: number | undefined;
  for (const v of versions) if (v <= opset) found = v;
  return found;
}

/** The lowest IR version a model importing each opset should declare (onnx/helper.py VERSION_TABLE). */
export function minIrVersion(opset: number): number {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  if (opset >= 12) return 7;
  if (opset >= 11) return 6;
  if (opset >= 10) return 5;
  return opset >= 9 ? 4 : 3;
}
