/**
 * Constant inputs of the quantized nodes, as onnxruntime's QDQ quantizer stores them
 * (qdq_quantizer.py, base_quantizer.py):
 * - weights: int8 symmetric (range ±127, zero point 0), one scale per output channel along the
 *   weight's channel axis (Conv 0, ConvTranspose 1, Gemm/MatMul the output column), + DequantizeLinear;
 * - biases: int32 with scale = s_input · s_weight (per channel) and zero point 0
 *   (quantize_bias_static_impl), + DequantizeLinear; Gemm's beta and alpha are folded in first because
 *   ORT's GemmSelector only fuses beta = 1. When a bias would overflow int32 the weight scale of that
 *   channel is raised, as newer quantizers do (adjust_weight_scale_for_int32_bias);
 * - constant operands of Add/Mul/Concat (uniform ones only, see qdqClassify.ts): per tensor, as uint8
 *   (CONSTANT_TYPE below).
 * Bias correction (biasCorrection.ts) runs between weight and bias quantization.
 */
import { node } from '../../onnx/build';
import { DataType } from '../../onnx/dtypes';
import { attrFloat, attrInt } from '../../onnx/graph';
import { dimsOf } from '../../onnx/tensor';
import type { NodeProto } from '../../onnx/types';
import { correctBias, type CorrectionLayout } from './biasCorrection';
import { affineParams, finiteRange, INT8_SYMMETRIC_MAX, quantizeAffineTyped, quantizePerChannelInt8, roundHalfEven, type AffineParams, type AffineType } from './math';
import type { ConstInput, ParamGroup, Plan, QuantNode, WeightInput } from './qdqPlan';
import { float32Values, type WeightEditor, type WeightRef } from './weights';

export interface ActivationParams extends AffineParams {
  type: AffineType;
}

export interface ChannelMeans {
  mean: Float64Array;
  /** The axis the means run along (1, or -1 for the last axis). */
  axis: number;
}

export interface WeightEnv {
  editor: WeightEditor;
  plan: Plan;
  params: Map<ParamGroup, ActivationParams>;
  /** E[x] of a tensor per channel, when calibration collected it. */
  channelMeans: (tensor: string) => ChannelMeans | undefined;
  biasCorrection: boolean;
}

export interface WeightArtifacts {
  /** DequantizeLinear nodes of the new constants; they read initializers only. */
  prelude: NodeProto[];
  /** node -> input slot -> name it must read instead (a slot past the end appends an input). */
  replacements: Map<NodeProto, Map<number, string>>;
  /** Per node, details for its report line. */
  notes: Map<NodeProto, string[]>;
  stats: { weightsQuantized: number; weightBytesBefore: number; weightBytesAfter: number; biasesQuantized: number; biasCorrected: number; constantsQuantized: number; scalesRaisedForBias: number };
}

const INT32_MAX = 2 ** 31 - 1;

interface QuantizedWeight {
  ref: WeightRef;
  dims: number[];
  axis?: number;
  /** The float weight as the layer uses it (Gemm alpha applied). */
  float: Float32Array;
  scales: Float32Array;
  values: Int8Array;
  dequantizeOutput?: string;
}

interface Layer {
  q: QuantNode;
  weight: QuantizedWeight;
  /** Effective float bias per output channel (Gemm: beta·C), if any. */
  bias?: Float32Array;
  /** Where the bias goes: an int32 input of the node, the float Add after a MatMul, or nowhere. */
  biasKind: 'int32' | 'tail' | 'none';
  layout?: CorrectionLayout;
  inputScale: number;
  corrected: boolean;
}

// ---------------------------------------------------------------------------------------------
// Weights

function quantizeWithScales(data: Float32Array, dims: number[], axis: number | undefined, scales: Float32Array): Int8Array {
  const inner = axis === undefined ? data.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = axis === undefined ? 1 : dims[axis];
  const out = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const scale = scales[Math.floor(i / inner) % channels];
    const x = Math.fround(data[i] / scale);
    out[i] = roundHalfEven(Math.max(-INT8_SYMMETRIC_MAX, Math.min(INT8_SYMMETRIC_MAX, x)));
  }
  return out;
}

function dequantizeWeight(w: QuantizedWeight): Float32Array {
  const inner = w.axis === undefined ? w.values.length : w.dims.slice(w.axis + 1).reduce((a, b) => a * b, 1);
  const channels = w.axis === undefined ? 1 : w.dims[w.axis];
  return Float32Array.from(w.values, (v, i) => v * w.scales[Math.floor(i / inner) % channels]);
}

function gemmAlpha(q: QuantNode): number {
  return q.kind === 'gemm' ? attrFloat(q.node, 'alpha', 1) : 1;
}

function quantizeWeight(input: WeightInput, alpha: number): QuantizedWeight {
  const stored = float32Values(input.ref.tensor) as Float32Array;
  const float = alpha === 1 ? stored : stored.map((v) => v * alpha);
  const dims = dimsOf(input.ref.tensor);
  // One channel over the whole tensor is exactly per-tensor symmetric quantization.
  const { values, scales } = quantizePerChannelInt8(float, input.axis === undefined ? [1, float.length] : dims, input.axis === undefined ? 0 : input.axis);
  return { ref: input.ref, dims, axis: input.axis, float, scales, values };
}

function weightFor(cache: Map<string, QuantizedWeight>, q: QuantNode): QuantizedWeight {
  const input = q.weight as WeightInput;
  const alpha = gemmAlpha(q);
  const key = `${input.ref.owner.id}:${input.ref.name}:${input.axis ?? 'tensor'}:${alpha}`;
  let w = cache.get(key);
  if (!w) {
    w = quantizeWeight(input, alpha);
    cache.set(key, w);
  }
  return w;
}

// ---------------------------------------------------------------------------------------------
// Biases

function constantValues(ref: WeightRef): Float32Array {
  return float32Values(ref.tensor) as Float32Array;
}

/** Output channels of the layer (the bias length). */
function outputChannels(q: QuantNode, w: QuantizedWeight): number {
  if (q.kind === 'conv') return w.dims[0];
  if (q.kind === 'convTranspose') return w.dims[1] * attrInt(q.node, 'group', 1);
  if (q.kind === 'gemm') return w.dims[attrInt(q.node, 'transB', 0) ? 0 : 1];
  return w.dims[w.dims.length - 1];
}

/** The bias as a float per output channel (Gemm: beta·C broadcast), or undefined. */
function effectiveBias(q: QuantNode, channels: number): Float32Array | undefined {
  const ref = q.bias?.ref ?? q.tail?.bias.ref;
  if (!ref) return undefined;
  const values = constantValues(ref);
  const beta = q.kind === 'gemm' ? attrFloat(q.node, 'beta', 1) : 1;
  if (values.length === channels) return beta === 1 ? values : values.map((v) => v * beta);
  if (values.length === 1) return new Float32Array(channels).fill(values[0] * beta);
  return undefined;
}

function layoutOf(q: QuantNode, w: QuantizedWeight): CorrectionLayout | undefined {
  if (q.kind === 'conv') return { kind: 'conv', dims: w.dims, group: attrInt(q.node, 'group', 1) };
  if (q.kind === 'gemm' && attrInt(q.node, 'transA', 0) === 0) return { kind: 'linear', dims: w.dims, transposed: attrInt(q.node, 'transB', 0) !== 0 };
  if (q.kind === 'matmul' && w.dims.length === 2) return { kind: 'linear', dims: w.dims, transposed: false };
  return undefined;
}

function biasKindOf(q: QuantNode, bias: Float32Array | undefined): Layer['biasKind'] {
  if (q.tail) return bias ? 'tail' : 'none';
  if (q.kind === 'conv' || q.kind === 'convTranspose' || q.kind === 'gemm') return q.bias ? 'int32' : 'none';
  return 'none';
}

function inputScale(env: WeightEnv, q: QuantNode): number {
  const group = env.plan.tensors.get(q.node.input[0]);
  const params = group && env.params.get(group);
  if (!params) throw new Error(`internal: input ${q.node.input[0]} of ${q.name} has no quantization parameters`);
  return params.scale;
}

/** Channel means on the axis the layer reduces over: 1 for Conv and Gemm, the last one for MatMul. */
function meansFor(env: WeightEnv, layer: Layer): Float64Array | undefined {
  const found = env.channelMeans(layer.q.node.input[0]);
  if (!found) return undefined;
  // Gemm's A is 2-D, so its last axis (-1) is axis 1; a MatMul reduces over its input's last axis.
  const wanted = layer.q.kind === 'conv' ? found.axis === 1 : layer.q.kind === 'gemm' ? found.axis === 1 || found.axis === -1 : found.axis === -1 || found.axis > 1;
  return wanted ? found.mean : undefined;
}

function applyBiasCorrection(env: WeightEnv, layer: Layer, notes: string[]): void {
  const mean = layer.layout && meansFor(env, layer);
  if (!layer.layout || !mean) return;
  // A MatMul without its bias Add has nowhere to put a correction; Conv and Gemm get a bias input.
  if (layer.q.kind === 'matmul' && layer.biasKind !== 'tail') return;
  const dequantized = dequantizeWeight(layer.weight);
  const result = correctBias(layer.weight.float, dequantized, layer.bias, mean, layer.layout);
  if (typeof result === 'string') {
    notes.push(`no bias correction: ${result}`);
    return;
  }
  layer.bias = result;
  layer.corrected = true;
  if (layer.biasKind === 'none') layer.biasKind = 'int32';
  notes.push('bias corrected');
}

/** Raises weight scales whose bias would not fit int32 (|b| / (s_x·s_w) > 2^31 − 1). */
function fitBiasInInt32(layer: Layer): boolean {
  if (layer.biasKind !== 'int32' || !layer.bias) return false;
  const w = layer.weight;
  let raised = false;
  layer.bias.forEach((b, c) => {
    const k = w.axis === undefined ? 0 : c;
    const needed = Math.abs(b) / (layer.inputScale * INT32_MAX);
    if (w.scales[k] < needed) {
      w.scales[k] = Math.fround(needed * 1.01);
      raised = true;
    }
  });
  if (raised) w.values = quantizeWithScales(w.float, w.dims, w.axis, w.scales);
  return raised;
}

// ---------------------------------------------------------------------------------------------
// Emitting initializers and DequantizeLinear nodes

class Emitter {
  readonly artifacts: WeightArtifacts = {
    prelude: [],
    replacements: new Map(),
    notes: new Map(),
    stats: { weightsQuantized: 0, weightBytesBefore: 0, weightBytesAfter: 0, biasesQuantized: 0, biasCorrected: 0, constantsQuantized: 0, scalesRaisedForBias: 0 },
  };
  private readonly constantCache = new Map<string, string>();

  constructor(private readonly env: WeightEnv) {}

  replace(n: NodeProto, slot: number, name: string): void {
    const map = this.artifacts.replacements.get(n) ?? new Map<number, string>();
    map.set(slot, name);
    this.artifacts.replacements.set(n, map);
  }

  note(n: NodeProto): string[] {
    const list = this.artifacts.notes.get(n) ?? [];
    this.artifacts.notes.set(n, list);
    return list;
  }

  /** Adds q, scale, zero point initializers and their DequantizeLinear; returns its output. */
  private dequantized(owner: WeightRef['owner'], base: string, values: { dims: number[]; dataType: number; data: ArrayBufferView }, scale: Float32Array, zeroPoint: ArrayBufferView & { length: number }, zeroType: number, axis?: number): string {
    const { editor } = this.env;
    const paramDims = scale.length === 1 && axis === undefined ? [] : [scale.length];
    const q = editor.addInitializer(owner, `${base}_quantized`, values);
    const s = editor.addInitializer(owner, `${base}_scale`, { dims: paramDims, dataType: DataType.FLOAT, data: scale });
    const z = editor.addInitializer(owner, `${base}_zero_point`, { dims: paramDims, dataType: zeroType, data: zeroPoint });
    const output = editor.uniqueName(`${base}_DequantizeLinear_Output`);
    this.artifacts.prelude.push(node('DequantizeLinear', [q, s, z], [output], axis === undefined ? {} : { axis }, editor.uniqueName(`${base}_DequantizeLinear`)));
    return output;
  }

  weight(w: QuantizedWeight): string {
    if (w.dequantizeOutput) return w.dequantizeOutput;
    const { stats } = this.artifacts;
    stats.weightsQuantized++;
    stats.weightBytesBefore += w.float.length * 4;
    stats.weightBytesAfter += w.values.length + w.scales.length * 5;
    const values = { dims: w.dims, dataType: DataType.INT8, data: w.values };
    w.dequantizeOutput = this.dequantized(w.ref.owner, w.ref.name, values, w.scales, new Int8Array(w.scales.length), DataType.INT8, w.axis);
    this.env.editor.retire(w.ref);
    return w.dequantizeOutput;
  }

  int32Bias(layer: Layer): string {
    const { weight: w, bias, q } = layer;
    const b = bias as Float32Array;
    const scales = w.axis === undefined ? Float32Array.of(Math.fround(layer.inputScale * w.scales[0])) : Float32Array.from(b, (_, c) => layer.inputScale * w.scales[c]);
    const values = Int32Array.from(b, (v, c) => roundHalfEven(Math.max(-INT32_MAX, Math.min(INT32_MAX, v / scales[w.axis === undefined ? 0 : c]))));
    this.artifacts.stats.biasesQuantized++;
    if (q.bias) this.env.editor.retire(q.bias.ref);
    const base = q.bias?.ref.name ?? `${q.name}_bias`;
    const owner = q.bias?.ref.owner ?? w.ref.owner;
    return this.dequantized(owner, base, { dims: [b.length], dataType: DataType.INT32, data: values }, scales, new Int32Array(scales.length), DataType.INT32, w.axis === undefined ? undefined : 0);
  }

  /** The corrected float bias of a MatMul's Add, stored as a new constant of the same shape. */
  tailBias(layer: Layer): string {
    const ref = layer.q.tail?.bias.ref as WeightRef;
    this.env.editor.retire(ref);
    return this.env.editor.addInitializer(ref.owner, `${ref.name}_corrected`, { dims: dimsOf(ref.tensor), dataType: DataType.FLOAT, data: layer.bias as Float32Array });
  }

  /** A constant operand of Add/Mul/Concat, quantized per tensor in `type`. */
  constant(c: ConstInput, type: AffineType): string {
    const key = `${c.ref.owner.id}:${c.ref.name}:${type}`;
    const cached = this.constantCache.get(key);
    if (cached) return cached;
    const values = constantValues(c.ref);
    const range = finiteRange(values);
    const p = affineParams(range.min, range.max, type);
    const dataType = type === 'uint8' ? DataType.UINT8 : DataType.INT8;
    const stored = { dims: dimsOf(c.ref.tensor), dataType, data: quantizeAffineTyped(values, p, type) };
    const zero = type === 'uint8' ? Uint8Array.of(p.zeroPoint) : Int8Array.of(p.zeroPoint);
    const output = this.dequantized(c.ref.owner, c.ref.name, stored, Float32Array.of(p.scale), zero, dataType);
    this.env.editor.retire(c.ref);
    this.artifacts.stats.constantsQuantized++;
    this.constantCache.set(key, output);
    return output;
  }
}

function buildLayer(env: WeightEnv, cache: Map<string, QuantizedWeight>, q: QuantNode): Layer {
  const weight = weightFor(cache, q);
  const bias = effectiveBias(q, outputChannels(q, weight));
  return { q, weight, bias, biasKind: biasKindOf(q, bias), layout: layoutOf(q, weight), inputScale: inputScale(env, q), corrected: false };
}

/** Gemm after its alpha was folded into B and beta into the int32 bias. */
function normalizeGemm(layer: Layer): void {
  if (layer.q.kind !== 'gemm') return;
  const drop = new Set(['alpha', ...(layer.biasKind === 'int32' ? ['beta'] : [])]);
  layer.q.node.attribute = layer.q.node.attribute.filter((a) => !drop.has(a.name ?? ''));
}

function emitLayer(emitter: Emitter, layer: Layer): void {
  const { q } = layer;
  emitter.replace(q.node, (q.weight as WeightInput).slot, emitter.weight(layer.weight));
  if (layer.biasKind === 'int32') emitter.replace(q.node, 2, emitter.int32Bias(layer));
  if (layer.biasKind === 'tail' && layer.corrected && q.tail) emitter.replace(q.tail.node, q.tail.bias.slot, emitter.tailBias(layer));
  normalizeGemm(layer);
}

/**
 * Constant operands are stored as uint8 whatever the activation type: with int8 activations ORT's
 * x86 rewrite turns the Q/DQ pairs around them into uint8 but leaves a lone int8 DQ alone, and
 * QLinearAdd/QLinearMul need all their inputs of one type (BinaryNodeGroupSelector).
 */
const CONSTANT_TYPE: AffineType = 'uint8';

/** Quantizes every constant input of the planned nodes; returns the nodes and edits to apply. */
export function quantizeConstants(env: WeightEnv): WeightArtifacts {
  const emitter = new Emitter(env);
  const cache = new Map<string, QuantizedWeight>();
  const layers = env.plan.nodes.filter((q) => q.weight).map((q) => buildLayer(env, cache, q));
  if (env.biasCorrection) for (const layer of layers) applyBiasCorrection(env, layer, emitter.note(layer.q.node));
  for (const layer of layers) if (fitBiasInInt32(layer)) emitter.artifacts.stats.scalesRaisedForBias++;
  for (const layer of layers) emitLayer(emitter, layer);
  emitter.artifacts.stats.biasCorrected = layers.filter((l) => l.corrected).length;
  for (const q of env.plan.nodes) for (const c of q.constants) emitter.replace(q.node, c.slot, emitter.constant(c, CONSTANT_TYPE));
  return emitter.artifacts;
}

