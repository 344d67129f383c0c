/**
 * Which ops the int8-static pass quantizes and how, following onnxruntime's QDQ quantizer
 * (python/tools/quantization/registry.py QDQRegistry and QLinearOpsRegistry, operators/*.py) and
 * what onnxruntime's CPU provider fuses (core/optimizer/qdq_transformer/selectors_actions/
 * qdq_selector_action_transformer.cc):
 *
 * - conv / convTranspose / gemm / matmul: DQ(x), DQ(int8 weight), [DQ(int32 bias)] -> op -> Q.
 *   ConvRules -> QLinearConv; MatMulRules -> QLinearMatMul (MatMulIntegerToFloat without the Q);
 *   GemmRules -> QGemm (bias int32, beta 1, the Q optional). ORT's CPU provider has no fused
 *   ConvTranspose: it runs in float between its DQ and Q (smaller file, no speed-up).
 * - binary (Add, Mul): BinaryOpQDQRules -> QLinearAdd / QLinearMul; both inputs must come from DQ.
 * - concat: VariadicOpQDQRules -> QLinearConcat.
 * - unary (AveragePool, GlobalAveragePool, LeakyRelu, Sigmoid, Softmax): UnaryOpQDQRules -> QLinear*.
 * - shared (Reshape, Transpose, Squeeze, Unsqueeze, Flatten, MaxPool, Resize, Gather, Slice, Split):
 *   DropQDQNodesRules / SplitQDQRules remove DQ -> op -> Q when Q and DQ carry the same scale and zero
 *   point (IsQDQPairSupported), so the output shares its input's parameters, as the quantizer's
 *   QDQDirect8BitOp / QDQGather / QDQResize / QDQMaxPool / QDQSplit do (quantize_output_same_as_input).
 * - removable (Relu, Clip): QDQRemovableActivation drops them when the op before them is quantized:
 *   a Q whose range is the activation's output range saturates exactly like the activation.
 */
import type { NodeProto } from '../../onnx/types';

export type OpKind = 'conv' | 'convTranspose' | 'gemm' | 'matmul' | 'binary' | 'concat' | 'unary' | 'shared' | 'removable';

const KINDS: Readonly<Record<string, OpKind>> = {
  Conv: 'conv',
  ConvTranspose: 'convTranspose',
  Gemm: 'gemm',
  MatMul: 'matmul',
  Add: 'binary',
  Mul: 'binary',
  Concat: 'concat',
  AveragePool: 'unary',
  GlobalAveragePool: 'unary',
  LeakyRelu: 'unary',
  Sigmoid: 'unary',
  Softmax: 'unary',
  Reshape: 'shared',
  Transpose: 'shared',
  Squeeze: 'shared',
  Unsqueeze: 'shared',
  Flatten: 'shared',
  MaxPool: 'shared',
  Resize: 'shared',
  Gather: 'shared',
  Slice: 'shared',
  Split: 'shared',
  Relu: 'removable',
  Clip: 'removable',
};

export function opKind(n: NodeProto): OpKind | undefined {
  if (n.domain && n.domain !== 'ai.onnx') return undefined;
  return KINDS[n.op_type ?? ''];
}

/** Kinds whose output gets its own scale and zero point from calibration. */
export function ownsOutputParams(kind: OpKind): boolean {
  return kind !== 'shared' && kind !== 'removable';
}

/** Kinds with a constant weight (int8, per channel) and possibly a bias (int32). */
export function hasWeight(kind: OpKind): boolean {
  return kind === 'conv' || kind === 'convTranspose' || kind === 'gemm' || kind === 'matmul';
}

/**
 * Ops whose quantized output is useful only to quantized readers: QGemm and MatMulIntegerToFloat
 * produce float directly, so without a quantized reader their output Q is left out (fewer rounding
 * steps, no requantization before float consumers).
 */
export function outputQuantizationOptional(kind: OpKind): boolean {
  return kind === 'gemm' || kind === 'matmul';
}

/** Softmax's output lies in [0, 1] whatever calibration saw (operators/softmax.py fixes that range too). */
export const SOFTMAX_RANGE = { min: 0, max: 1 } as const;

/** The weight's per-channel axis: Conv [M, C/g, k...] axis 0; ConvTranspose [C, M/g, k...] axis 1. */
export function convWeightAxis(kind: OpKind): number {
  return kind === 'convTranspose' ? 1 : 0;
}
