/**
 * Channel rules for the layers that own channels: Conv, ConvTranspose, Gemm and MatMul create output
 * channels (new spaces) and read their input's channels through a weight axis (consumer slices).
 * Depthwise convolutions do neither: each output channel is its input channel, so channels pass
 * through and only the group count follows.
 */
import { attrInt } from '../../onnx/graph';
import type { NodeProto } from '../../onnx/types';
import type { Analyzer } from './analyzer';
import { moveLayout, type Layout } from './layout';

function weightDims(a: Analyzer, name: string | undefined): number[] | undefined {
  return a.weight(name)?.tensor.dims.map(Number);
}

/** The channel-axis layout of a conv's data input, or undefined (blocking it) when channels are elsewhere. */
function convInput(a: Analyzer, i: number, n: NodeProto): Layout | undefined {
  const x = a.layout(n.input[0]);
  if (x && x.axis !== 1) {
    a.block(x, `${a.label(i)} reads these channels on axis ${x.axis}, not as input channels`);
    return undefined;
  }
  return x;
}

/** Output channels of node i, sliced along `axis` of its weight (and axis 0 of its bias). */
function produce(a: Analyzer, i: number, n: NodeProto, size: number, rank: number, weightAxis: number): void {
  const out = a.producer(i, 'out', size, rank, 1);
  a.slice(i, n.input[1], weightAxis, out, 'producer');
  if (n.input[2]) a.slice(i, n.input[2], 0, out, 'param');
  a.setLayout(n.output[0], out, i);
}

/** Depthwise: output channel m is computed from input channel floor(m / multiplier) alone. */
function depthwise(a: Analyzer, i: number, n: NodeProto, x: Layout, outChannels: number): void {
  const multiplier = outChannels / x.length;
  const out: Layout = { rank: x.rank, axis: 1, length: outChannels, segments: x.segments.map((s) => a.finer(i, 'dw', s, multiplier)) };
  a.slice(i, n.input[1], 0, out, 'depthwise', n.input[0]);
  if (n.input[2]) a.slice(i, n.input[2], 0, out, 'param');
  a.rewrites.push({ kind: 'group', node: i, input: n.input[0] });
  a.setLayout(n.output[0], out, i);
}

function groupedSkip(a: Analyzer, i: number, x: Layout | undefined, group: number): void {
  a.block(x, `${a.label(i)} is a grouped convolution (group=${group}); pruning whole groups is not supported`);
}

/** Conv: W [M, C/group, k...]. */
export function conv(a: Analyzer, i: number, n: NodeProto): void {
  const dims = weightDims(a, n.input[1]);
  if (!dims || dims.length < 3) return a.blockInputs(i, `${a.label(i)} has no constant weight`);
  const x = convInput(a, i, n);
  const group = attrInt(n, 'group', 1);
  if (group === 1) {
    if (x) a.slice(i, n.input[1], 1, x, 'consumer', n.input[0]);
    return produce(a, i, n, dims[0], dims.length, 0);
  }
  if (x && group === x.length && dims[1] === 1 && dims[0] % group === 0) return depthwise(a, i, n, x, dims[0]);
  groupedSkip(a, i, x, group);
}

/** ConvTranspose: W [C, M/group, k...], so input channels are axis 0 and output channels axis 1. */
export function convTranspose(a: Analyzer, i: number, n: NodeProto): void {
  const dims = weightDims(a, n.input[1]);
  if (!dims || dims.length < 3) return a.blockInputs(i, `${a.label(i)} has no constant weight`);
  const x = convInput(a, i, n);
  const group = attrInt(n, 'group', 1);
  if (group === 1) {
    if (x) a.slice(i, n.input[1], 0, x, 'consumer', n.input[0]);
    return produce(a, i, n, dims[1], dims.length, 1);
  }
  if (x && group === x.length && dims[1] === 1 && dims[0] === group) return depthwise(a, i, n, x, group);
  groupedSkip(a, i, x, group);
}

/** Gemm's C: sliced along its last axis when it holds one value per output column. */
function gemmBias(a: Analyzer, i: number, n: NodeProto, out: Layout): void {
  const name = n.input[2];
  if (!name) return;
  const dims = weightDims(a, name);
  if (!dims) {
    a.block(out, `${a.label(i)} adds a computed C`);
    return a.block(a.layout(name), `${a.label(i)} adds a computed C`);
  }
  const last = dims.length - 1;
  if (last >= 0 && dims[last] !== 1) a.slice(i, name, last, out, 'param');
}

/** Gemm: Y = A·B (+C), B [K, N] or [N, K] with transB. */
export function gemm(a: Analyzer, i: number, n: NodeProto): void {
  const dims = weightDims(a, n.input[1]);
  if (attrInt(n, 'transA', 0) !== 0 || !dims || dims.length !== 2) return a.blockInputs(i, `${a.label(i)} (transA or a computed B) is not pruned`);
  const transB = attrInt(n, 'transB', 0) !== 0;
  const [kAxis, nAxis] = transB ? [1, 0] : [0, 1];
  const x = a.layout(n.input[0]);
  if (x) a.slice(i, n.input[1], kAxis, x, 'consumer', n.input[0]);
  const out = a.producer(i, 'out', dims[nAxis], 2, 1);
  a.slice(i, n.input[1], nAxis, out, 'producer');
  gemmBias(a, i, n, out);
  a.setLayout(n.output[0], out, i);
}

/** MatMul with a constant 2-D B: a linear layer over A's last axis. */
function linearMatMul(a: Analyzer, i: number, n: NodeProto, dims: number[]): void {
  const x = a.layout(n.input[0]);
  // A 1-D input gives a 1-D output; otherwise the output has the input's rank.
  const rank = a.rank(n.output[0]) ?? Math.max(a.rank(n.input[0]) ?? 2, 2);
  if (x && x.axis !== x.rank - 1) {
    // The channels ride along a row axis; the output columns stay fixed so the tensor keeps one layout.
    return a.setLayout(n.output[0], moveLayout(x, rank, x.axis + rank - x.rank), i);
  }
  if (x) a.slice(i, n.input[1], 0, x, 'consumer', n.input[0]);
  const out = a.producer(i, 'out', dims[1], rank, rank - 1);
  a.slice(i, n.input[1], 1, out, 'producer');
  a.setLayout(n.output[0], out, i);
}

export function matMul(a: Analyzer, i: number, n: NodeProto): void {
  const dims = weightDims(a, n.input[1]);
  if (dims) return dims.length === 2 ? linearMatMul(a, i, n, dims) : a.blockInputs(i, `${a.label(i)} has a ${dims.length}-D weight`);
  if (a.weight(n.input[0])) return a.blockInputs(i, `${a.label(i)} has a constant first input`);
  batchedMatMul(a, i, n);
}

interface Operand {
  name: string;
  layout?: Layout;
  rank: number;
}

/** The operand's size along output axis `axis` (after batch broadcasting), when known. */
function dimAt(a: Analyzer, op: Operand, axis: number, outRank: number): number | null | undefined {
  const k = axis - (outRank - op.rank);
  if (k < 0) return 1;
  const s = a.shape(op.name);
  const d = s?.[k];
  return typeof d === 'number' ? d : null;
}

/**
 * Both operands computed (attention's Q·Kᵀ and P·V): a channel axis of A's rows or B's columns
 * passes to the output, a contracted axis must be the same channels on both sides, and a batch
 * axis (attention heads) ties both operands' channels together.
 */
function batchedMatMul(a: Analyzer, i: number, n: NodeProto): void {
  const [ra, rb] = [a.rank(n.input[0]), a.rank(n.input[1])];
  if (ra === undefined || rb === undefined || ra < 2 || rb < 2) return a.blockInputs(i, `${a.label(i)} has operands of unknown or 1-D rank`);
  const A: Operand = { name: n.input[0], layout: a.layout(n.input[0]), rank: ra };
  const B: Operand = { name: n.input[1], layout: a.layout(n.input[1]), rank: rb };
  const rank = Math.max(ra, rb);
  const outs: Layout[] = [];
  contracted(a, i, A, B);
  for (const [op, other, own] of [[A, B, rank - 2], [B, A, rank - 1]] as const) {
    const x = op.layout;
    if (!x || x.axis === op.rank - (op === A ? 1 : 2)) continue;
    const axis = x.axis + rank - op.rank;
    if (axis === own) outs.push(moveLayout(x, rank, axis));
    else if (axis < rank - 2) outs.push(batchAxis(a, i, op, other, axis, rank));
    else a.block(x, `${a.label(i)} mixes these channels with a matrix axis`);
  }
  const axes = new Set(outs.map((l) => l.axis));
  if (axes.size > 1) return outs.forEach((l) => a.block(l, `${a.label(i)} would carry two channel axes`));
  a.setLayout(n.output[0], outs[0], i);
}

/** A's last axis and B's second-to-last are summed over: their channels must be removed together. */
function contracted(a: Analyzer, i: number, A: Operand, B: Operand): void {
  const ka = A.layout && A.layout.axis === A.rank - 1 ? A.layout : undefined;
  const kb = B.layout && B.layout.axis === B.rank - 2 ? B.layout : undefined;
  if (ka && kb) return a.unify(ka, kb, a.label(i));
  a.block(ka ?? kb, `${a.label(i)} sums these channels against fixed ones`);
}

function batchAxis(a: Analyzer, i: number, op: Operand, other: Operand, axis: number, rank: number): Layout {
  const x = op.layout as Layout;
  const y = other.layout;
  if (y && y.axis + rank - other.rank === axis) a.unify(x, y, a.label(i));
  else if (dimAt(a, other, axis, rank) !== 1) a.block(x, `${a.label(i)} pairs these channels with fixed ones`);
  return moveLayout(x, rank, axis);
}
