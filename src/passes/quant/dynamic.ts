/**
 * `int8-dynamic`: dynamic int8 quantization of linear layers, the way onnxruntime's own
 * `quantize_dynamic` does it (python/tools/quantization/operators/matmul.py): weights become int8 once,
 * activations are quantized to uint8 at run time.
 *
 * Each MatMul/Gemm with a constant 2-D weight becomes
 *
 *   DynamicQuantizeLinear(A) -> A_q, A_scale, A_zp
 *   MatMulInteger(A_q, B_q, A_zp, B_zp) -> Cast(to=float) -> Mul(·, Mul(A_scale, B_scale)) [-> Add(·, bias)]
 *
 * exactly the subgraph onnxruntime fuses: MatMulIntegerToFloatFusion
 * (core/optimizer/matmul_integer_to_float.cc) turns MatMulInteger+Cast+Mul+Mul(+Add) into
 * MatMulIntegerToFloat, then DynamicQuantizeMatMulFusion (core/optimizer/dynamic_quantize_matmul_fusion.cc)
 * absorbs the DynamicQuantizeLinear into DynamicQuantizeMatMul. What the fusions require, and so what
 * this pass emits:
 * - one DynamicQuantizeLinear per layer whose three outputs feed only that layer (3 output edges), even
 *   when several layers read the same activation;
 * - one scale Mul per layer with A_scale as input 0 and the constant B_scale as input 1 (the fused op
 *   takes its B_scale from input 1);
 * - B, B_scale and B_zp constant initializers; B_scale and B_zp scalar or [N] (per output column).
 * Only standard ONNX ops are emitted (opset 11 for DynamicQuantizeLinear), so no com.microsoft import.
 */
import { node } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import type { NodeProto } from '../../onnx/types';
import { OptionReader } from '../options';
import { emptyReport, type PassContext, type PassDefinition, type PassReport, type RawOptions } from '../pass';
import { quantizePerChannelInt8, quantizePerTensorInt8 } from './math';
import { biasNodes, defaultOpset, linearWeight, rewriteLinearLayers, WeightEditor, weightKey, type LinearLayer } from './weights';

const PASS = 'int8-dynamic';
const MIN_OPSET = 11;

export interface Int8DynamicOptions {
  /** One scale per output column (default) instead of one per weight. */
  perChannel: boolean;
}

/** Names of a weight's quantized tensors, shared by every layer that reads the same weight. */
interface QuantizedWeight {
  values: string;
  scale: string;
  zeroPoint: string;
}

interface RunState {
  readonly options: Int8DynamicOptions;
  readonly editor: WeightEditor;
  readonly cache: Map<string, QuantizedWeight>;
  bytesBefore: number;
  bytesAfter: number;
}

function parseOptions(raw: RawOptions): Int8DynamicOptions {
  const reader = new OptionReader(PASS, raw);
  const perChannel = reader.bool('per_channel', true);
  reader.done();
  return { perChannel };
}

/** Quantizes the layer's effective [K, N] weight and adds B_q, B_scale and B_zp beside the original. */
function addQuantizedWeight(state: RunState, layer: LinearLayer): QuantizedWeight {
  const { editor, options } = state;
  const { K, N, weight } = layer;
  const data = linearWeight(layer);
  const owner = weight.owner;
  const quantized = options.perChannel ? quantizePerChannelInt8(data, [K, N], 1) : quantizePerTensorInt8(data);
  const scales = 'scales' in quantized ? quantized.scales : Float32Array.of(quantized.scale);
  const paramDims = options.perChannel ? [N] : [];
  state.bytesBefore += K * N * 4;
  state.bytesAfter += K * N + scales.length * 5;
  return {
    values: editor.addInitializer(owner, `${weight.name}_quantized`, { dims: [K, N], dataType: DataType.INT8, data: quantized.values }),
    scale: editor.addInitializer(owner, `${weight.name}_scale`, { dims: paramDims, dataType: DataType.FLOAT, data: scales }),
    // Symmetric weights: the zero point is 0 (int8, same shape as the scale).
    zeroPoint: editor.addInitializer(owner, `${weight.name}_zero_point`, { dims: paramDims, dataType: DataType.INT8, data: new Int8Array(scales.length) }),
  };
}

function quantizedWeightFor(state: RunState, layer: LinearLayer): QuantizedWeight {
  const key = weightKey(layer);
  let q = state.cache.get(key);
  if (!q) {
    q = addQuantizedWeight(state, layer);
    state.cache.set(key, q);
  }
  return q;
}

/** The five nodes onnxruntime fuses into DynamicQuantizeMatMul; the last writes `product`. */
function dynamicMatMulNodes(editor: WeightEditor, layer: LinearLayer, w: QuantizedWeight, product: string, base: string): NodeProto[] {
  const name = (suffix: string) => editor.uniqueName(`${base}_${suffix}`);
  const [aQuantized, aScale, aZeroPoint] = [name('input_quantized'), name('input_scale'), name('input_zero_point')];
  const integerProduct = name('MatMulInteger_output');
  const floatProduct = name('Cast_output');
  const scale = name('scale');
  return [
    node('DynamicQuantizeLinear', [layer.input], [aQuantized, aScale, aZeroPoint], {}, name('DynamicQuantizeLinear')),
    node('MatMulInteger', [aQuantized, w.values, aZeroPoint, w.zeroPoint], [integerProduct], {}, name('MatMulInteger')),
    node('Cast', [integerProduct], [floatProduct], { to: DataType.FLOAT }, name('Cast')),
    node('Mul', [aScale, w.scale], [scale], {}, name('scale_Mul')),
    node('Mul', [floatProduct, scale], [product], {}, name('output_Mul')),
  ];
}

/** Replacement nodes for one layer, computing the same output tensor. */
function rewriteLayer(state: RunState, layer: LinearLayer): NodeProto[] {
  const { editor } = state;
  const base = layer.node.name || layer.output;
  const w = quantizedWeightFor(state, layer);
  editor.retire(layer.weight);
  const product = layer.bias ? editor.uniqueName(`${base}_product`) : layer.output;
  return [...dynamicMatMulNodes(editor, layer, w, product, base), ...biasNodes(editor, layer, product, base)];
}

function describe(layer: LinearLayer, perChannel: boolean): string {
  const scales = perChannel ? `per-channel (${layer.N} scales)` : 'per-tensor';
  return `int8 ${scales} weights [${layer.K}x${layer.N}], uint8 dynamic activations`;
}

function run(ctx: PassContext, options: Int8DynamicOptions): PassReport {
  const report = emptyReport(PASS, { per_channel: options.perChannel });
  const opset = defaultOpset(ctx.model);
  if (opset < MIN_OPSET) {
    report.warnings.push(`${PASS} needs ONNX opset ${MIN_OPSET} or later (DynamicQuantizeLinear); the model imports opset ${opset}, nothing was quantized`);
    return report;
  }
  const state: RunState = { options, editor: new WeightEditor(ctx.model), cache: new Map(), bytesBefore: 0, bytesAfter: 0 };
  rewriteLinearLayers(ctx, report, { rewrite: (layer) => rewriteLayer(state, layer), describe: (layer) => describe(layer, options.perChannel) });
  const removed = state.editor.removeRetired();
  report.stats = {
    layersQuantized: report.changed.length,
    weightsQuantized: state.cache.size,
    weightBytesBefore: state.bytesBefore,
    weightBytesAfter: state.bytesAfter,
    tensorsRemoved: removed.tensors,
    bytesRemoved: removed.bytes,
  };
  if (report.changed.length === 0) report.warnings.push('nothing to quantize: no MatMul or Gemm with a constant 2-D float32 weight was rewritten');
  return report;
}

export const int8DynamicPass: PassDefinition<Int8DynamicOptions> = {
  name: PASS,
  description: 'Dynamic int8: MatMul/Gemm weights to int8 (per output channel), activations quantized at run time; onnxruntime fuses it to DynamicQuantizeMatMul.',
  parseOptions,
  run,
};
