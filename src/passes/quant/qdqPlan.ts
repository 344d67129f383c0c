/**
 * Planning of static QDQ quantization for the main graph: which nodes are quantized, which activation
 * tensors get a QuantizeLinear -> DequantizeLinear pair, and which of them share scale and zero point.
 *
 * The rules (onnxruntime's qdq_quantizer.py and the fusions in qdq_selector_action_transformer.cc):
 * 1. every activation input of a quantized node is quantized; so is the output of an op with its own
 *    output parameters (QLinearConv etc. need the output Q), except MatMul/Gemm outputs nobody quantized
 *    reads (MatMulIntegerToFloat and QGemm produce float themselves);
 * 2. MatMul followed by Add(constant) keeps the Add float with no Q in between and a Q after it: ORT
 *    turns MatMul + Add into Gemm and fuses DQ, DQ -> Gemm -> Q into QGemm (on 2-D inputs the pair is
 *    written as Gemm directly, qdqClassify.ts);
 * 3. Relu/Clip right after a quantized op is removed and that op's output takes the activation's range
 *    (QDQRemovableActivation); a Clip must keep 0 inside its bounds, since quantization widens ranges to 0;
 * 4. element-wise ops are quantized only where that adds no rounding step (qdqPoints.ts), data-movement
 *    ops only when a quantized node reads their output, and their outputs share the input's parameters
 *    so that ORT's DropQDQ rules remove the pairs around them;
 * 5. all readers of a quantized tensor read the DequantizeLinear output (replace_input_of_all_nodes),
 *    quantized or not, so float consumers stay valid after ORT fuses the producer.
 */
import { GraphIndex, attr, attrFloat, attrInt } from '../../onnx/graph';
import { dimsOf } from '../../onnx/tensor';
import type { GraphProto, NodeProto } from '../../onnx/types';
import type { LayerChange, LayerSkip } from '../pass';
import type { AffineType } from './math';
import { attachTails, classifyAll, Lookup, mergeTwoDimensionalTails, type PlanEnv, type QuantNode, type Range } from './qdqClassify';
import { opKind, outputQuantizationOptional, ownsOutputParams, SOFTMAX_RANGE, type OpKind } from './qdqOps';
import { freeElementwise } from './qdqPoints';
import { float32Values } from './weights';

export type { ConstInput, PlanEnv, QuantNode, Range, WeightInput } from './qdqClassify';

/** Tensors sharing one scale and zero point: a source tensor and the outputs of data-movement ops after it. */
export interface ParamGroup {
  source: string;
  range: Range;
  type: AffineType;
  members: string[];
}

export interface Plan {
  /** Quantized nodes in graph order (data-movement ops included). */
  nodes: QuantNode[];
  /** Quantized tensor -> its parameter group. */
  tensors: Map<string, ParamGroup>;
  groups: ParamGroup[];
  /** Relu/Clip nodes folded into the quantization of their producer's output. */
  folded: LayerChange[];
  skipped: LayerSkip[];
  /** Float Conv/ConvTranspose/Gemm reading a quantized tensor: they get a per-axis DQ of their own (see guardFloatLayers). */
  guarded: Map<NodeProto, GuardedInput>;
  /** Quantized tensors whose float value survives ORT's fusions: float readers keep reading it. */
  floatKept: Set<string>;
}

/** The per-axis DequantizeLinear a float layer reads its quantized input through. */
export interface GuardedInput {
  tensor: string;
  axis: number;
  channels: number;
}

// ---------------------------------------------------------------------------------------------
// 3. Relu / Clip folding

function constantScalar(look: Lookup, node: NodeProto, slot: number, attrName: string, fallback: number): number | undefined {
  if (attr(node, attrName)) return attrFloat(node, attrName, fallback);
  const name = node.input[slot];
  if (!name) return fallback;
  const ref = look.floatConstant(name);
  const values = ref && float32Values(ref.tensor);
  return values && values.length === 1 ? values[0] : undefined;
}

/** Clip can be absorbed only when its bounds are constants with 0 between them. */
function clipKeepsZero(look: Lookup, node: NodeProto): boolean {
  if (node.op_type !== 'Clip') return true;
  const min = constantScalar(look, node, 1, 'min', -Infinity);
  const max = constantScalar(look, node, 2, 'max', Infinity);
  return min !== undefined && max !== undefined && min <= 0 && max >= 0;
}

function foldTarget(look: Lookup, quantizedProducers: Set<NodeProto>, act: NodeProto): NodeProto | undefined {
  if (opKind(act) !== 'removable' || look.isExcluded(act)) return undefined;
  const input = act.input[0];
  const at = look.index.producer.get(input);
  const producer = at === undefined ? undefined : look.graph.node[at];
  if (!producer || !quantizedProducers.has(producer) || producer.output[0] !== input) return undefined;
  if (look.readers(input).length !== 1 || look.isGraphOutput(input) || !look.hasRange(act.output[0])) return undefined;
  return clipKeepsZero(look, act) ? producer : undefined;
}

/** Removes foldable Relu/Clip nodes (the producer writes their output); returns the forced tensors. */
function foldActivations(look: Lookup, quantizedProducers: Set<NodeProto>, folded: LayerChange[]): Set<string> {
  const forced = new Set<string>();
  const removed = new Set<NodeProto>();
  for (const act of look.graph.node) {
    const producer = foldTarget(look, quantizedProducers, act);
    if (!producer) continue;
    producer.output[0] = act.output[0];
    removed.add(act);
    forced.add(act.output[0]);
    const range = look.env.ranges.get(act.output[0]) as Range;
    folded.push({ name: look.names.get(act) ?? '', opType: act.op_type ?? '', action: `folded into the quantization of ${look.names.get(producer)}'s output (range ${range.min.toPrecision(4)}..${range.max.toPrecision(4)})` });
  }
  look.graph.node = look.graph.node.filter((n) => !removed.has(n));
  return forced;
}

function paramOwners(candidates: Map<NodeProto, QuantNode>, tails: Set<NodeProto>): Set<NodeProto> {
  return new Set([...[...candidates.values()].filter((q) => ownsOutputParams(q.kind)).map((q) => q.node), ...tails]);
}

/** elementwise=free: element-wise candidates that would add a rounding step stay float. */
function dropCostlyElementwise(look: Lookup, candidates: Map<NodeProto, QuantNode>, tails: Set<NodeProto>, skipped: LayerSkip[]): void {
  const owners = paramOwners(candidates, tails);
  const free = freeElementwise({ graph: look.graph, index: look.index, candidates, foldable: (act) => foldTarget(look, owners, act) !== undefined });
  for (const q of [...candidates.values()]) {
    if (q.kind !== 'binary' && q.kind !== 'concat' && q.kind !== 'unary') continue;
    if (free.has(q.node)) continue;
    candidates.delete(q.node);
    skipped.push({ name: q.name, opType: q.node.op_type ?? '', reason: 'kept float: quantizing it would add a rounding step between float values (elementwise=all quantizes it anyway)' });
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Data-movement ops read by quantized nodes

function readsQuantized(reader: QuantNode | undefined, tensor: string): boolean {
  return !!reader && reader.activations.some((slot) => reader.node.input[slot] === tensor);
}

function hasQuantizedReader(look: Lookup, active: Map<NodeProto, QuantNode>, tensor: string): boolean {
  return look.readers(tensor).some((r) => readsQuantized(active.get(r), tensor));
}

/** Kinds kept only while a quantized node reads their output; the weighted layers are always kept. */
function needsQuantizedReader(kind: OpKind): boolean {
  return kind === 'shared' || kind === 'binary' || kind === 'concat' || kind === 'unary';
}

/**
 * Drops, to a fixed point, the candidates whose output no quantized node reads: data-movement ops
 * (their Q/DQ pair would only be dropped again), and element-wise ops, pools and Concat, which would
 * otherwise requantize a value only float ops read. A hardswish written as x·clip(x+3, 0, 6)/6 is the
 * typical case: Div is not quantized, so quantizing the Mul before it would round x·clip(...) over its
 * whole range (often 0..900) to 256 levels for nothing. Those ops run in float on dequantized inputs.
 */
function settleActive(look: Lookup, candidates: Map<NodeProto, QuantNode>, forced: Set<string>): Map<NodeProto, QuantNode> {
  const active = new Map(candidates);
  // An op whose Relu/Clip was folded must stay quantized: its output Q is what applies the activation.
  const keep = (q: QuantNode) => !needsQuantizedReader(q.kind) || q.node.output.some((o) => o && (forced.has(o) || hasQuantizedReader(look, active, o)));
  for (let changed = true; changed; ) {
    changed = false;
    for (const q of [...active.values()]) {
      if (keep(q)) continue;
      active.delete(q.node);
      changed = true;
    }
  }
  return active;
}

// ---------------------------------------------------------------------------------------------
// 5. Quantized tensors and their parameter groups

interface TensorChoice {
  quantized: Set<string>;
  /** Output of a data-movement op -> its input (parameters are shared). */
  sharedFrom: Map<string, string>;
}

function outputsToQuantize(look: Lookup, active: Map<NodeProto, QuantNode>, q: QuantNode, forced: Set<string>): string[] {
  if (q.kind === 'shared') return q.node.op_type === 'Split' ? q.node.output.filter(Boolean) : [q.node.output[0]];
  if (!ownsOutputParams(q.kind) || q.tail) return [];
  const out = q.node.output[0];
  const optional = outputQuantizationOptional(q.kind) && !forced.has(out) && !hasQuantizedReader(look, active, out);
  return optional ? [] : [out];
}

function chooseTensors(look: Lookup, active: Map<NodeProto, QuantNode>, tails: Set<NodeProto>, forced: Set<string>): TensorChoice {
  const quantized = new Set<string>();
  const sharedFrom = new Map<string, string>();
  const inputs = new Set(look.index.graphInputs.map((v) => v.name));
  for (const q of active.values()) {
    for (const slot of q.activations) quantized.add(q.node.input[slot]);
    for (const out of outputsToQuantize(look, active, q, forced)) {
      quantized.add(out);
      if (q.kind === 'shared') sharedFrom.set(out, q.node.input[0]);
    }
  }
  // A MatMul + Add(bias) output is always quantized: ORT turns the pair into Gemm (MatMulAddFusion) and
  // fuses that into QGemm only when a Q follows (its WeightBiasQuantization then makes the bias int32);
  // without the Q the Gemm runs in float on dequantized inputs.
  for (const add of tails) quantized.add(add.output[0]);
  // A graph input passed straight through to an output cannot be renamed; leave it alone.
  for (const name of quantized) if (inputs.has(name) && look.isGraphOutput(name)) quantized.delete(name);
  return { quantized, sharedFrom };
}

/**
 * Tensors whose float value still exists after ORT's fusions: graph inputs and outputs of float ops.
 * Their float readers keep reading that value (exact, and no DQ to run). The output of a quantized op
 * exists only quantized once ORT fuses the op with its Q, so everyone reads its DequantizeLinear.
 */
function floatSurvivors(look: Lookup, active: Map<NodeProto, QuantNode>, tails: Set<NodeProto>, quantized: Set<string>): Set<string> {
  const survivors = new Set<string>();
  for (const t of quantized) {
    const at = look.index.producer.get(t);
    const producer = at === undefined ? undefined : look.graph.node[at];
    if (!producer || (!active.has(producer) && !tails.has(producer))) survivors.add(t);
  }
  return survivors;
}

/** Readers of the tensor's DequantizeLinear (a graph output counts as one). */
function dequantizedReaders(look: Lookup, active: Map<NodeProto, QuantNode>, floatKept: Set<string>, tensor: string): number {
  if (!floatKept.has(tensor)) return look.readers(tensor).length + (look.isGraphOutput(tensor) ? 1 : 0);
  return look.readers(tensor).filter((r) => readsQuantized(active.get(r), tensor)).length;
}

/**
 * int8 activations on x86: ORT converts int8 Q/DQ pairs to uint8 itself (QDQS8ToU8Transformer,
 * qdq_s8_to_u8.cc) but only for a Q with a single output edge and scalar zero points, and it gives
 * every consumer its own DQ (EnsureUniqueDQForNodeUnit). A tensor read more than once, or read through
 * a per-axis guard DQ, is therefore stored as uint8 from the start: same scale, zero point + 128, the
 * identical grid; otherwise its readers would not fuse.
 */
function groupType(members: string[], readers: (tensor: string) => number, guardedTensors: Set<string>): AffineType {
  return members.some((m) => readers(m) > 1 || guardedTensors.has(m)) ? 'uint8' : 'int8';
}

/**
 * A float Conv/ConvTranspose/Gemm whose input comes straight from a per-tensor DequantizeLinear and
 * whose output leads to a QuantizeLinear is quantized by ORT itself at load time, per tensor
 * (WeightBiasQuantization, weight_bias_quantization.cc, requires IsScalar(DQ scale)). To keep excluded
 * (or skipped) layers float, they read their input through their own DequantizeLinear with per-axis
 * scales (all equal: the same values), which that transformer does not match.
 */
function guardFloatLayers(look: Lookup, active: Map<NodeProto, QuantNode>, quantized: Set<string>, floatKept: Set<string>): Map<NodeProto, GuardedInput> {
  const guarded = new Map<NodeProto, GuardedInput>();
  if (!look.env.perAxis) return guarded;
  for (const n of look.graph.node) {
    const kind = opKind(n);
    if (active.has(n) || (kind !== 'conv' && kind !== 'convTranspose' && kind !== 'gemm') || !quantized.has(n.input[0]) || floatKept.has(n.input[0])) continue;
    const weight = look.floatConstant(n.input[1]);
    if (!weight) continue; // WeightBiasQuantization only rewrites float initializer weights
    const dims = dimsOf(weight.tensor);
    const transA = kind === 'gemm' && attrInt(n, 'transA', 0) !== 0;
    const channels = kind === 'conv' ? dims[1] * attrInt(n, 'group', 1) : kind === 'convTranspose' ? dims[0] : dims[attrInt(n, 'transB', 0) ? 1 : 0];
    guarded.set(n, { tensor: n.input[0], axis: transA ? 0 : 1, channels });
  }
  return guarded;
}

function rangeOf(look: Lookup, tensor: string): Range {
  const at = look.index.producer.get(tensor);
  if (at !== undefined && look.graph.node[at].op_type === 'Softmax') return SOFTMAX_RANGE;
  const range = look.env.ranges.get(tensor);
  if (!range) throw new Error(`internal: no calibration range for quantized tensor ${tensor}`);
  return range;
}

interface GroupTyping {
  activation: AffineType;
  readers: (tensor: string) => number;
  guardedTensors: Set<string>;
}

function buildGroups(look: Lookup, choice: TensorChoice, typing: GroupTyping): { tensors: Map<string, ParamGroup>; groups: ParamGroup[] } {
  const sourceOf = (t: string): string => {
    for (let seen = 0; choice.sharedFrom.has(t) && seen < choice.sharedFrom.size; seen++) t = choice.sharedFrom.get(t) as string;
    return t;
  };
  const bySource = new Map<string, string[]>();
  for (const t of choice.quantized) {
    const source = sourceOf(t);
    bySource.set(source, [...(bySource.get(source) ?? []), t]);
  }
  const typeOf = (members: string[]) => (typing.activation === 'uint8' ? 'uint8' : groupType(members, typing.readers, typing.guardedTensors));
  const groups = [...bySource].map(([source, members]): ParamGroup => ({ source, members, range: rangeOf(look, source), type: typeOf(members) }));
  const tensors = new Map<string, ParamGroup>();
  for (const g of groups) for (const m of g.members) tensors.set(m, g);
  return { tensors, groups };
}

function inGraphOrder(graph: GraphProto, active: Map<NodeProto, QuantNode>): QuantNode[] {
  return graph.node.filter((n) => active.has(n)).map((n) => active.get(n) as QuantNode);
}

/** Plans the quantization of the scope's graph; folds removable activations in place. */
export function planQuantization(env: PlanEnv): Plan {
  const graph = env.scope.graph;
  const skipped: LayerSkip[] = [];
  const folded: LayerChange[] = [];
  const index = new GraphIndex(graph);
  const names = new Map(graph.node.map((n, i) => [n, index.names[i]]));
  let look = new Lookup(env, graph, names);
  const candidates = classifyAll(look, skipped);
  const tails = attachTails(look, candidates, skipped);
  mergeTwoDimensionalTails(look, candidates, tails);
  look = new Lookup(env, graph, names);
  if (env.elementwise === 'free') dropCostlyElementwise(look, candidates, tails, skipped);
  const forced = foldActivations(look, paramOwners(candidates, tails), folded);
  look = new Lookup(env, graph, names);
  const active = settleActive(look, candidates, forced);
  const choice = chooseTensors(look, active, tails, forced);
  const floatKept = floatSurvivors(look, active, tails, choice.quantized);
  const guarded = guardFloatLayers(look, active, choice.quantized, floatKept);
  const readers = (t: string) => dequantizedReaders(look, active, floatKept, t);
  const { tensors, groups } = buildGroups(look, choice, { activation: env.activation, readers, guardedTensors: new Set([...guarded.values()].map((g) => g.tensor)) });
  return { nodes: inGraphOrder(graph, active), tensors, groups, folded, skipped, guarded, floatKept };
}

