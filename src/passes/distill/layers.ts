/**
 * The layers `distill` refits, seen one way whatever their op: N output units in `groups` groups,
 * each unit a row of Kg weights over its group's inputs (a linear layer's K inputs, or a conv's
 * C/group · kh · kw im2col columns), plus an optional bias. Reading gives those rows in Float64
 * (Gemm's transB and alpha applied); writing stores new rows and bias back where the model keeps them,
 * replacing tensor contents in place, with an undo for each write.
 */
import { DataType, dtypeName } from '../../onnx/dtypes';
import { attrFloat, attrInt, attrInts, attrString, type GraphIndex } from '../../onnx/graph';
import { dimsOf, elementCount } from '../../onnx/tensor';
import type { GraphProto, NodeProto, TensorProto } from '../../onnx/types';
import { float32Values, resolveWeight, type Scope, type WeightEditor, type WeightRef } from '../quant/weights';

export interface ConvGeometry {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right], or an auto_pad mode resolved against the input size. */
  pads: [number, number, number, number] | 'SAME_UPPER' | 'SAME_LOWER';
}

/** Where the bias lives: a constant (effective bias = scale · values), or none yet but one can be added. */
export type BiasSlot = { kind: 'tensor'; ref: WeightRef; scale: number } | { kind: 'new'; scale: number };

export interface DistillLayer {
  /** Display name of the layer's node. */
  name: string;
  opType: 'Gemm' | 'MatMul' | 'Conv';
  node: NodeProto;
  /** The activation the weights multiply. */
  input: string;
  /** The tensor the layer writes, bias included (a MatMul's bias Add output). */
  output: string;
  /** The node writing `output` (the layer itself, or the Add that applies a MatMul's bias). */
  outputNode: NodeProto;
  weight: WeightRef;
  bias?: BiasSlot;
  /** Output units. */
  N: number;
  groups: number;
  /** Weights per output unit. */
  Kg: number;
  conv?: ConvGeometry;
  /** Linear layers: the stored weight is [N, K] (Gemm transB=1) rather than [K, N]. */
  transposed: boolean;
  alpha: number;
}

export type LayerMatch = { layer: DistillLayer; skip?: undefined } | { layer?: undefined; skip: string };

const LINEAR_OPS = new Set(['Gemm', 'MatMul', 'Conv']);

/** Whether distill looks at the node at all (reported as skipped when it cannot refit it). */
export function isCandidateOp(n: NodeProto): boolean {
  return (n.domain === undefined || n.domain === '' || n.domain === 'ai.onnx') && LINEAR_OPS.has(n.op_type ?? '');
}

function floatWeight(scope: Scope, name: string | undefined, what: string): { ref: WeightRef; dims: number[] } | { skip: string } {
  if (!name) return { skip: `no ${what}` };
  const ref = resolveWeight(scope, name);
  if (!ref) return { skip: `${what} ${name} is not a constant` };
  if (ref.tensor.data_type !== DataType.FLOAT) return { skip: `${what} ${name} is ${dtypeName(ref.tensor.data_type)}; only float32 is refitted` };
  if (!float32Values(ref.tensor)) return { skip: `${what} ${name} has no data loaded` };
  return { ref, dims: dimsOf(ref.tensor) };
}

/** A weight read by more than one node cannot be refitted for one of them. */
function sharedReason(index: GraphIndex, name: string, what: string): string | undefined {
  const readers = index.consumers.get(name)?.length ?? 0;
  return readers > 1 ? `${what} ${name} is shared by ${readers} nodes` : undefined;
}

function perUnitBias(scope: Scope, name: string, N: number, scale: number, what: string): BiasSlot | { skip: string } {
  const b = floatWeight(scope, name, what);
  if ('skip' in b) return b;
  const dims = b.dims;
  if (elementCount(dims) !== N || dims.slice(0, -1).some((d) => d !== 1)) return { skip: `${what} ${name} of shape [${dims.join(', ')}] is not one value per output` };
  const shared = sharedReason(scope.index, name, what);
  return shared ? { skip: shared } : { kind: 'tensor', ref: b.ref, scale };
}

function describeGemm(scope: Scope, n: NodeProto, name: string): LayerMatch {
  if (attrInt(n, 'transA', 0) !== 0) return { skip: 'Gemm with transA=1 is not refitted' };
  const w = floatWeight(scope, n.input[1], 'weight');
  if ('skip' in w) return w;
  if (w.dims.length !== 2) return { skip: `weight ${w.ref.name} is not 2-D` };
  const transposed = attrInt(n, 'transB', 0) !== 0;
  const [K, N] = transposed ? [w.dims[1], w.dims[0]] : w.dims;
  const beta = attrFloat(n, 'beta', 1);
  let bias: BiasSlot | undefined;
  if (n.input[2]) {
    if (beta === 0) bias = undefined;
    else {
      const slot = perUnitBias(scope, n.input[2], N, beta, 'bias');
      if ('skip' in slot) return slot;
      bias = slot;
    }
  } else if (beta !== 0) bias = { kind: 'new', scale: beta };
  const base = { name, opType: 'Gemm' as const, node: n, input: n.input[0], output: n.output[0], outputNode: n, weight: w.ref };
  return { layer: { ...base, bias, N, groups: 1, Kg: K, transposed, alpha: attrFloat(n, 'alpha', 1) } };
}

/** A MatMul's bias: its only consumer is an Add with a per-output constant. */
function matMulBias(scope: Scope, n: NodeProto, N: number): { node: NodeProto; slot: BiasSlot } | undefined {
  const readers = scope.index.consumers.get(n.output[0]) ?? [];
  if (readers.length !== 1) return undefined;
  const add = scope.graph.node[readers[0]];
  if (add.op_type !== 'Add' || (add.domain ?? '') !== '' || add.input.length !== 2) return undefined;
  const other = add.input[0] === n.output[0] ? add.input[1] : add.input[0];
  const slot = perUnitBias(scope, other, N, 1, 'bias');
  return 'skip' in slot ? undefined : { node: add, slot };
}

function describeMatMul(scope: Scope, n: NodeProto, name: string): LayerMatch {
  const w = floatWeight(scope, n.input[1], 'weight');
  if ('skip' in w) return w;
  if (w.dims.length !== 2) return { skip: `weight ${w.ref.name} is ${w.dims.length}-D; only 2-D MatMul weights are refitted` };
  const [K, N] = w.dims;
  const bias = matMulBias(scope, n, N);
  const output = bias ? bias.node.output[0] : n.output[0];
  const base = { name, opType: 'MatMul' as const, node: n, input: n.input[0], output, outputNode: bias?.node ?? n, weight: w.ref };
  return { layer: { ...base, bias: bias?.slot, N, groups: 1, Kg: K, transposed: false, alpha: 1 } };
}

function pair(values: number[] | undefined, fallback: number): [number, number] | undefined {
  if (!values) return [fallback, fallback];
  return values.length === 2 ? [values[0], values[1]] : undefined;
}

function convGeometry(n: NodeProto, kernel: [number, number]): ConvGeometry | string {
  const declared = attrInts(n, 'kernel_shape');
  if (declared && (declared.length !== 2 || declared[0] !== kernel[0] || declared[1] !== kernel[1])) return `kernel_shape [${declared.join(', ')}] does not match the weight`;
  const strides = pair(attrInts(n, 'strides'), 1);
  const dilations = pair(attrInts(n, 'dilations'), 1);
  if (!strides || !dilations) return 'strides or dilations are not 2-D';
  const autoPad = attrString(n, 'auto_pad') ?? 'NOTSET';
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return { kernel, strides, dilations, pads: autoPad };
  const p = autoPad === 'VALID' ? [0, 0, 0, 0] : (attrInts(n, 'pads') ?? [0, 0, 0, 0]);
  if (p.length !== 4) return 'pads are not 2-D';
  return { kernel, strides, dilations, pads: [p[0], p[1], p[2], p[3]] };
}

function describeConv(scope: Scope, n: NodeProto, name: string): LayerMatch {
  const w = floatWeight(scope, n.input[1], 'weight');
  if ('skip' in w) return w;
  if (w.dims.length !== 4) return { skip: `weight ${w.ref.name} is ${w.dims.length}-D; only 2-D convolutions are refitted` };
  const [M, Cg, kh, kw] = w.dims;
  const groups = attrInt(n, 'group', 1);
  if (!(groups >= 1) || M % groups !== 0) return { skip: `group ${groups} does not divide ${M} output channels` };
  const conv = convGeometry(n, [kh, kw]);
  if (typeof conv === 'string') return { skip: conv };
  let bias: BiasSlot | undefined = { kind: 'new', scale: 1 };
  if (n.input[2]) {
    const slot = perUnitBias(scope, n.input[2], M, 1, 'bias');
    if ('skip' in slot) return slot;
    bias = slot;
  }
  const base = { name, opType: 'Conv' as const, node: n, input: n.input[0], output: n.output[0], outputNode: n, weight: w.ref };
  return { layer: { ...base, bias, N: M, groups, Kg: Cg * kh * kw, conv, transposed: true, alpha: 1 } };
}

/** The node as a refittable layer, or why not. */
export function describeLayer(scope: Scope, n: NodeProto, name: string): LayerMatch {
  const match = n.op_type === 'Conv' ? describeConv(scope, n, name) : n.op_type === 'Gemm' ? describeGemm(scope, n, name) : describeMatMul(scope, n, name);
  if (match.skip !== undefined) return match;
  const shared = sharedReason(scope.index, match.layer.weight.name, 'weight');
  if (shared) return { skip: shared };
  if (!match.layer.input) return { skip: 'no input' };
  return match;
}

/** Inputs per group (C/group for convs, K for linear layers). */
export function inputChannelsPerGroup(layer: DistillLayer): number {
  return layer.conv ? layer.Kg / (layer.conv.kernel[0] * layer.conv.kernel[1]) : layer.Kg;
}

/** The weights as N rows of Kg (output unit after output unit), alpha applied, in Float64. */
export function weightRows(layer: DistillLayer): Float64Array {
  const stored = float32Values(layer.weight.tensor) as Float32Array;
  const { N, Kg, alpha } = layer;
  const rows = new Float64Array(N * Kg);
  if (layer.transposed) for (let i = 0; i < N * Kg; i++) rows[i] = stored[i] * alpha;
  else for (let k = 0; k < Kg; k++) for (let j = 0; j < N; j++) rows[j * Kg + k] = stored[k * N + j] * alpha;
  return rows;
}

/** The effective bias (zeros when the layer has a slot but no tensor yet); undefined without a slot. */
export function biasValues(layer: DistillLayer): Float64Array | undefined {
  const slot = layer.bias;
  if (!slot) return undefined;
  if (slot.kind === 'new') return new Float64Array(layer.N);
  const stored = float32Values(slot.ref.tensor) as Float32Array;
  return Float64Array.from(stored, (v) => v * slot.scale);
}

/** Replaces a tensor's values in place (same dims); returns how to put the old ones back. */
function replaceValues(t: TensorProto, values: Float32Array): () => void {
  const before = { raw: t.raw_data, floats: t.float_data };
  t.raw_data = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  t.float_data = [];
  return () => {
    t.raw_data = before.raw;
    t.float_data = before.floats;
  };
}

function storedWeights(layer: DistillLayer, rows: Float64Array): Float32Array {
  const { N, Kg, alpha } = layer;
  const out = new Float32Array(N * Kg);
  if (layer.transposed) for (let i = 0; i < N * Kg; i++) out[i] = rows[i] / alpha;
  else for (let k = 0; k < Kg; k++) for (let j = 0; j < N; j++) out[k * N + j] = rows[j * Kg + k] / alpha;
  return out;
}

function addBias(layer: DistillLayer, graph: GraphProto, editor: WeightEditor, scope: Scope, values: Float32Array): () => void {
  const name = editor.addInitializer(scope, `${layer.name}_distill_bias`, { dims: [layer.N], dataType: DataType.FLOAT, data: values });
  const node = layer.node;
  const inputs = [...node.input];
  while (node.input.length < 2) node.input.push('');
  node.input[2] = name;
  return () => {
    node.input = inputs;
    graph.initializer = graph.initializer.filter((t) => t.name !== name);
    graph.input = graph.input.filter((v) => v.name !== name);
  };
}

/**
 * Stores new rows (N×Kg, as weightRows gives them) and bias (effective values); returns an undo. A
 * bias slot of kind 'new' gets a new initializer in `scope`.
 */
export function writeLayer(layer: DistillLayer, rows: Float64Array, bias: Float64Array | undefined, editor: WeightEditor, scope: Scope): () => void {
  const undo = [replaceValues(layer.weight.tensor, storedWeights(layer, rows))];
  const slot = layer.bias;
  if (slot && bias) {
    const stored = Float32Array.from(bias, (v) => v / slot.scale);
    undo.push(slot.kind === 'tensor' ? replaceValues(slot.ref.tensor, stored) : addBias(layer, scope.graph, editor, scope, stored));
  }
  return () => undo.reverse().forEach((u) => u());
}
