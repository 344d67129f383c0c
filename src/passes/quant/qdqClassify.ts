/**
 * Classification for static QDQ quantization: which nodes of the main graph can be quantized, with
 * which inputs as activations, weights, biases and constant operands, and why the others cannot
 * (see qdqOps.ts for the op table and the onnxruntime sources it follows). Also recognises
 * MatMul + Add(constant bias) pairs and rewrites those on 2-D inputs as Gemm.
 */
import { GraphIndex, attrInt } from '../../onnx/graph';
import { DataType } from '../../onnx/dtypes';
import { dimsOf, tensorElementCount } from '../../onnx/tensor';
import type { GraphProto, NodeProto } from '../../onnx/types';
import type { LayerSkip } from '../pass';
import type { AffineType } from './math';
import { convWeightAxis, opKind, type OpKind } from './qdqOps';
import { float32Values, resolveWeight, type Scope, type WeightRef } from './weights';

export interface Range {
  min: number;
  max: number;
}

export interface PlanEnv {
  scope: Scope;
  ranges: ReadonlyMap<string, Range>;
  isExcluded: (node: NodeProto, displayName: string) => boolean;
  perChannel: boolean;
  /** The model will be at opset 13 or later: per-axis DequantizeLinear is available. */
  perAxis: boolean;
  activation: AffineType;
  /** 'free': element-wise ops only where they add no rounding step (qdqPoints.ts); 'all': as ORT's quantizer. */
  elementwise: 'free' | 'all';
  /** Rank of a main-graph tensor when shape inference knows it. */
  rankOf: (tensor: string) => number | undefined;
}

export interface WeightInput {
  slot: number;
  ref: WeightRef;
  /** Per-channel axis; undefined = one scale for the whole tensor. */
  axis?: number;
}

export interface ConstInput {
  slot: number;
  ref: WeightRef;
}

export interface QuantNode {
  node: NodeProto;
  /** Display name for reports. */
  name: string;
  kind: OpKind;
  /** Input slots read as quantized activations. */
  activations: number[];
  /** Constant operands of Add/Mul/Concat, quantized per tensor like activations. */
  constants: ConstInput[];
  weight?: WeightInput;
  /** A constant bias input (Conv/ConvTranspose B, Gemm C). */
  bias?: ConstInput;
  /** MatMul followed by Add(constant): that Add, left float (rule 2). */
  tail?: { node: NodeProto; bias: ConstInput };
  /** A MatMul + Add(bias) on 2-D inputs rewritten as this Gemm: the Add's display name. */
  mergedAdd?: string;
}

type Classified = QuantNode | { skip: string } | undefined;

/** What classification needs to look things up. */
export class Lookup {
  readonly index: GraphIndex;

  /** `names`: display names of the graph's nodes as it was before any folding (reports, --exclude). */
  constructor(
    readonly env: PlanEnv,
    readonly graph: GraphProto,
    readonly names: Map<NodeProto, string>,
  ) {
    this.index = new GraphIndex(graph);
  }

  isExcluded(node: NodeProto): boolean {
    return this.env.isExcluded(node, this.names.get(node) ?? '');
  }

  hasRange(name: string | undefined): boolean {
    return !!name && this.env.ranges.has(name);
  }

  /** A float32 constant readable from this graph. */
  floatConstant(name: string | undefined): WeightRef | undefined {
    if (!name) return undefined;
    const ref = resolveWeight(this.env.scope, name);
    return ref && ref.tensor.data_type === DataType.FLOAT && float32Values(ref.tensor) ? ref : undefined;
  }

  readers(tensor: string): NodeProto[] {
    return (this.index.consumers.get(tensor) ?? []).map((i) => this.graph.node[i]);
  }

  isGraphOutput(tensor: string): boolean {
    return this.graph.output.some((o) => o.name === tensor);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Classification

function quantNode(look: Lookup, node: NodeProto, kind: OpKind, fields: Partial<QuantNode> = {}): QuantNode {
  return { node, name: look.names.get(node) ?? node.name ?? '', kind, activations: [0], constants: [], ...fields };
}

function checkActivationIO(look: Lookup, node: NodeProto): string | undefined {
  if (!look.hasRange(node.input[0])) return `no calibration range for input ${node.input[0]}`;
  if (!look.hasRange(node.output[0])) return `no calibration range for output ${node.output[0]}`;
  return undefined;
}

function classifyConv(look: Lookup, node: NodeProto, kind: OpKind): Classified {
  const io = checkActivationIO(look, node);
  if (io) return { skip: io };
  const weight = look.floatConstant(node.input[1]);
  if (!weight) return { skip: `weight ${node.input[1]} is not a constant float32 tensor` };
  const dims = dimsOf(weight.tensor);
  if (dims.length < 3) return { skip: `weight ${node.input[1]} has rank ${dims.length}` };
  const group = attrInt(node, 'group', 1);
  const outChannels = kind === 'convTranspose' ? dims[1] * group : dims[0];
  const bias = node.input[2] ? look.floatConstant(node.input[2]) : undefined;
  if (node.input[2] && (!bias || tensorElementCount(bias.tensor) !== outChannels)) return { skip: `bias ${node.input[2]} is not a constant of ${outChannels} values` };
  // ConvTranspose with groups: its axis-1 channels are not its output channels, so one scale is used.
  const perChannel = look.env.perChannel && (kind === 'conv' || group === 1);
  return quantNode(look, node, kind, { weight: { slot: 1, ref: weight, axis: perChannel ? convWeightAxis(kind) : undefined }, bias: bias && { slot: 2, ref: bias } });
}

function classifyGemm(look: Lookup, node: NodeProto): Classified {
  const io = checkActivationIO(look, node);
  if (io) return { skip: io };
  const weight = look.floatConstant(node.input[1]);
  if (!weight || weight.tensor.dims.length !== 2) return { skip: `B ${node.input[1]} is not a constant 2-D float32 tensor` };
  const transB = attrInt(node, 'transB', 0) !== 0;
  const columns = dimsOf(weight.tensor)[transB ? 0 : 1];
  const c = node.input[2] ? look.floatConstant(node.input[2]) : undefined;
  const cCount = c ? tensorElementCount(c.tensor) : 0;
  if (node.input[2] && (!c || (cCount !== columns && cCount !== 1) || dimsOf(c.tensor).some((d, i, all) => i < all.length - 1 && d !== 1))) {
    return { skip: `C ${node.input[2]} is not a constant bias of ${columns} values` };
  }
  const axis = look.env.perChannel ? (transB ? 0 : 1) : undefined;
  return quantNode(look, node, 'gemm', { weight: { slot: 1, ref: weight, axis }, bias: c && { slot: 2, ref: c } });
}

function classifyMatMul(look: Lookup, node: NodeProto): Classified {
  const io = checkActivationIO(look, node);
  if (io) return { skip: io };
  const weight = look.floatConstant(node.input[1]);
  if (weight) {
    const axis = look.env.perChannel && weight.tensor.dims.length === 2 ? 1 : undefined;
    return quantNode(look, node, 'matmul', { weight: { slot: 1, ref: weight, axis } });
  }
  if (look.hasRange(node.input[1])) return quantNode(look, node, 'matmul', { activations: [0, 1] });
  return { skip: `input ${node.input[1]} is neither calibrated nor a float32 constant` };
}

/**
 * Whether a constant operand survives per-tensor quantization: a scalar, or a tensor of one repeated
 * value. Per-channel vectors (BatchNorm exported as Mul + Add, learnable scales) would share one 8-bit
 * scale across values of different magnitudes: next to a 1.5, a 0.01 comes back 20 % off. ORT's
 * quantizer quantizes them anyway; here such an Add/Mul stays float.
 */
function isUniform(ref: WeightRef): boolean {
  const values = float32Values(ref.tensor) as Float32Array;
  return values.every((v) => v === values[0]);
}

/** Add/Mul/Concat: each input calibrated or a uniform float constant, at least one calibrated. */
function classifyOperands(look: Lookup, node: NodeProto, kind: OpKind): Classified {
  if (!look.hasRange(node.output[0])) return { skip: `no calibration range for output ${node.output[0]}` };
  const activations: number[] = [];
  const constants: ConstInput[] = [];
  for (const [slot, name] of node.input.entries()) {
    const ref = look.hasRange(name) ? undefined : look.floatConstant(name);
    if (look.hasRange(name)) activations.push(slot);
    else if (ref && !isUniform(ref)) return { skip: `constant ${name} holds ${tensorElementCount(ref.tensor)} different values; one 8-bit scale for all of them would distort the small ones, so the op stays float` };
    else if (ref) constants.push({ slot, ref });
    else return { skip: `input ${name || '(empty)'} is neither calibrated nor a float32 constant` };
  }
  if (activations.length === 0) return { skip: 'every input is a constant' };
  return quantNode(look, node, kind, { activations, constants });
}

function classifyUnary(look: Lookup, node: NodeProto): Classified {
  if (!look.hasRange(node.input[0])) return { skip: `no calibration range for input ${node.input[0]}` };
  if (node.op_type !== 'Softmax' && !look.hasRange(node.output[0])) return { skip: `no calibration range for output ${node.output[0]}` };
  return quantNode(look, node, 'unary');
}

/** Data-movement ops: only the data input (0) is quantized; silently not candidates otherwise. */
function classifyShared(look: Lookup, node: NodeProto): Classified {
  if (!look.hasRange(node.input[0])) return undefined;
  if (node.op_type === 'MaxPool' && node.output[1] && look.readers(node.output[1]).length > 0) return undefined;
  return quantNode(look, node, 'shared');
}

function classify(look: Lookup, node: NodeProto): Classified {
  const kind = opKind(node);
  if (!kind || kind === 'removable') return undefined;
  if (look.isExcluded(node)) return { skip: 'excluded' };
  if (kind === 'conv' || kind === 'convTranspose') return classifyConv(look, node, kind);
  if (kind === 'gemm') return classifyGemm(look, node);
  if (kind === 'matmul') return classifyMatMul(look, node);
  if (kind === 'binary' || kind === 'concat') return classifyOperands(look, node, kind);
  if (kind === 'unary') return classifyUnary(look, node);
  return classifyShared(look, node);
}

export function classifyAll(look: Lookup, skipped: LayerSkip[]): Map<NodeProto, QuantNode> {
  const candidates = new Map<NodeProto, QuantNode>();
  for (const node of look.graph.node) {
    const result = classify(look, node);
    if (!result) continue;
    if ('skip' in result) skipped.push({ name: look.names.get(node) ?? '', opType: node.op_type ?? '', reason: result.skip });
    else candidates.set(node, result);
  }
  return candidates;
}

// ---------------------------------------------------------------------------------------------
// 2. MatMul + Add(constant)

function tailOf(look: Lookup, candidates: Map<NodeProto, QuantNode>, add: NodeProto): { producer: QuantNode; bias: ConstInput } | undefined {
  if (add.op_type !== 'Add' || (add.domain ?? '') !== '' || add.input.length !== 2) return undefined;
  if (look.isExcluded(add) || !look.hasRange(add.output[0])) return undefined;
  for (const slot of [0, 1]) {
    const ref = look.floatConstant(add.input[slot]);
    const other = add.input[1 - slot];
    const at = look.index.producer.get(other);
    const producer = at === undefined ? undefined : candidates.get(look.graph.node[at]);
    if (!ref || producer?.kind !== 'matmul' || !producer.weight) continue;
    if (look.readers(other).length !== 1 || look.isGraphOutput(other)) continue;
    return { producer, bias: { slot, ref } };
  }
  return undefined;
}

/** Marks MatMul + Add(constant) pairs; the Adds stop being candidates (or skipped) of their own. */
export function attachTails(look: Lookup, candidates: Map<NodeProto, QuantNode>, skipped: LayerSkip[]): Set<NodeProto> {
  const tails = new Set<NodeProto>();
  for (const node of look.graph.node) {
    const tail = tailOf(look, candidates, node);
    if (!tail) continue;
    tail.producer.tail = { node, bias: tail.bias };
    candidates.delete(node);
    tails.add(node);
  }
  const tailNames = new Set([...tails].map((n) => look.names.get(n)));
  skipped.splice(0, skipped.length, ...skipped.filter((s) => !tailNames.has(s.name)));
  return tails;
}

/**
 * A MatMul + Add(bias) whose input is 2-D becomes Gemm(A, B, C): ORT would turn it into that Gemm
 * itself (MatMulAddFusion) and then fuse it into QGemm only with an int32 bias behind a DQ, which is
 * what the Gemm path emits. Left as MatMul + float Add with no Q after, ORT's Gemm stays float.
 */
export function mergeTwoDimensionalTails(look: Lookup, candidates: Map<NodeProto, QuantNode>, tails: Set<NodeProto>): void {
  const removed = new Set<NodeProto>();
  for (const q of [...candidates.values()].filter((c) => c.tail)) {
    const tail = q.tail as NonNullable<QuantNode['tail']>;
    const columns = dimsOf((q.weight as WeightInput).ref.tensor)[1];
    if (look.env.rankOf(q.node.input[0]) !== 2 || q.weight?.ref.tensor.dims.length !== 2 || tensorElementCount(tail.bias.ref.tensor) !== columns) continue;
    q.node.op_type = 'Gemm';
    q.node.input = [q.node.input[0], q.node.input[1], tail.bias.ref.name];
    q.node.output = [tail.node.output[0]];
    Object.assign(q, { kind: 'gemm', bias: { slot: 2, ref: tail.bias.ref }, tail: undefined, mergedAdd: look.names.get(tail.node) });
    removed.add(tail.node);
    tails.delete(tail.node);
  }
  look.graph.node = look.graph.node.filter((n) => !removed.has(n));
}

