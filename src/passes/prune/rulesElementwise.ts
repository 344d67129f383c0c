/**
 * Channel rules for ops that keep every channel where it is: activations, element-wise arithmetic
 * (where the inputs' channels must be the same channels, which is how residual additions couple
 * layers), normalizations, pooling, and the ops that place channels side by side (Concat, Split).
 */
import { attr, attrInt, attrInts } from '../../onnx/graph';
import type { NodeProto } from '../../onnx/types';
import type { Analyzer } from './analyzer';
import { moveLayout, segmentEnd, shiftSegments, type Layout, type Segment } from './layout';

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Whether a node output is read by anyone (a node or the graph's outputs). */
function isUsed(a: Analyzer, name: string | undefined): boolean {
  if (!name) return false;
  return (a.main.index.consumers.get(name)?.length ?? 0) > 0 || a.main.graph.output.some((o) => o.name === name);
}

/** Every output carries input 0's channels unchanged (Relu, Clip, Cast, Dropout...). */
export function passThrough(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]);
  n.input.slice(1).forEach((name) => a.block(a.layout(name), `${a.label(i)} reads these channels as a parameter`));
  for (const out of n.output) a.setLayout(out, x, i);
}

/** Pooling and other ops over the spatial axes: channels must be on axis 1. */
export function spatial(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]);
  if (x && x.axis !== 1) return a.block(x, `${a.label(i)} works along the axis holding these channels`);
  if (isUsed(a, n.output[1])) return a.block(x, `${a.label(i)} outputs indices that depend on the channel count`);
  a.setLayout(n.output[0], x, i);
}

/** Resize/Upsample: channels pass when the channel axis is not scaled and no explicit sizes are given. */
export function resize(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]);
  if (!x) return;
  const old = n.op_type === 'Upsample' || a.opset < 11;
  const axes = attrInts(n, 'axes')?.map((ax) => normAxis(ax, x.rank)) ?? [...Array(x.rank).keys()];
  const k = axes.indexOf(x.axis);
  if (k < 0) return a.setLayout(n.output[0], x, i);
  const sizes = old ? undefined : a.value(n.input[3]);
  const scales = a.value(n.input[old ? 1 : 2]) ?? attr(n, 'scales')?.floats;
  const keeps = !sizes?.length && scales?.[k] === 1;
  if (!keeps) return a.block(x, `${a.label(i)} resizes the channel axis or sets explicit sizes`);
  a.setLayout(n.output[0], x, i);
}

/** Pad: channels pass when nothing is padded along their axis. */
export function pad(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]);
  if (!x) return;
  const pads = n.input[1] ? a.value(n.input[1]) : (attrInts(n, 'pads') ?? attrInts(n, 'paddings'));
  const axes = n.input[3] ? a.value(n.input[3])?.map((ax) => normAxis(ax, x.rank)) : [...Array(x.rank).keys()];
  if (!pads || !axes) return a.block(x, `${a.label(i)} has pads unknown before run time`);
  const k = axes.indexOf(x.axis);
  if (k >= 0 && (pads[k] !== 0 || pads[k + axes.length] !== 0)) return a.block(x, `${a.label(i)} pads the channel axis`);
  a.setLayout(n.output[0], x, i);
}

/** BatchNormalization / InstanceNormalization: one parameter per channel, sliced with the channels. */
export function channelNorm(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]);
  if (!x) return;
  if (x.axis !== 1) return a.block(x, `${a.label(i)} normalizes along axis 1, not this channel axis`);
  if (n.output.slice(1).some((o) => isUsed(a, o))) return a.block(x, `${a.label(i)} computes training statistics`);
  n.input.slice(1).forEach((name, k) => a.slice(i, name, 0, x, k === 0 ? 'norm' : 'param'));
  a.setLayout(n.output[0], x, i);
}

/** LayerNormalization: fine while it normalizes axes after the channel axis only. */
export function layerNorm(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]);
  if (!x) return;
  if (x.axis >= normAxis(attrInt(n, 'axis', -1), x.rank)) return a.block(x, `${a.label(i)} normalizes over these channels`);
  a.setLayout(n.output[0], x, i);
}

interface Operand {
  name: string;
  layout?: Layout;
  rank?: number;
}

/** A constant or computed operand without channels, broadcast against the channel axis. */
function broadcastOperand(a: Analyzer, i: number, op: Operand, ref: Layout, axis: number, rank: number): void {
  const k = axis - (rank - (op.rank as number));
  if (k < 0) return;
  const dims = a.weight(op.name)?.tensor.dims.map(Number) ?? a.shape(op.name);
  const dim = dims?.[k];
  if (dim === 1) return;
  if (a.weight(op.name) && dim === ref.length) {
    a.slice(i, op.name, k, ref, 'param');
    return;
  }
  a.block(ref, `${a.label(i)} combines these channels with ${op.name}, whose channels are fixed`);
}

/**
 * Add, Mul, Where...: after numpy broadcasting every input's channel axis must line up. Inputs
 * carrying channels are tied together; constants with one value per channel are sliced with them.
 */
export function elementwise(a: Analyzer, i: number, n: NodeProto): void {
  const ops: Operand[] = n.input.filter(Boolean).map((name) => ({ name, layout: a.layout(name), rank: a.rank(name) }));
  const carriers = ops.filter((op) => op.layout);
  if (ops.some((op) => op.rank === undefined)) return a.blockInputs(i, `${a.label(i)} has inputs of unknown rank`);
  const rank = Math.max(...ops.map((op) => op.rank as number));
  const axes = new Set(carriers.map((op) => (op.layout as Layout).axis + rank - (op.rank as number)));
  if (axes.size !== 1) return a.blockInputs(i, `${a.label(i)} combines channels on different axes`);
  const axis = [...axes][0];
  const ref = carriers[0].layout as Layout;
  for (const op of carriers.slice(1)) a.unify(ref, op.layout as Layout, a.label(i));
  for (const op of ops.filter((o) => !o.layout)) broadcastOperand(a, i, op, ref, axis, rank);
  a.setLayout(n.output[0], moveLayout(ref, rank, axis), i);
}

/** Concat along the channel axis stacks segments; along another axis every input must have the same channels. */
export function concat(a: Analyzer, i: number, n: NodeProto): void {
  const names = n.input.filter(Boolean);
  const carriers = names.map((name) => a.layout(name)).filter((l): l is Layout => !!l);
  const rank = carriers[0].rank;
  const axis = normAxis(attrInt(n, 'axis', 0), rank);
  if (carriers.every((l) => l.axis === axis)) return stack(a, i, n, names, rank, axis);
  if (carriers.length !== names.length || carriers.some((l) => l.axis !== carriers[0].axis)) return a.blockInputs(i, `${a.label(i)} joins these channels with fixed ones`);
  carriers.slice(1).forEach((l) => a.unify(carriers[0], l, a.label(i)));
  a.setLayout(n.output[0], carriers[0], i);
}

function stack(a: Analyzer, i: number, n: NodeProto, names: string[], rank: number, axis: number): void {
  const segments: Segment[] = [];
  let offset = 0;
  for (const name of names) {
    const layout = a.layout(name);
    const length = layout?.length ?? a.dims(name)?.[axis];
    if (length === undefined) return a.blockInputs(i, `${a.label(i)} has an input of unknown size`);
    if (layout) segments.push(...shiftSegments(layout.segments, offset));
    offset += length;
  }
  a.setLayout(n.output[0], { rank, axis, length: offset, segments }, i);
}

/** Split along the channel axis hands each output the segments inside its range (cutting spaces that straddle). */
export function split(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]);
  if (!x) return;
  const axis = normAxis(attrInt(n, 'axis', 0), x.rank);
  if (axis !== x.axis) return n.output.forEach((o) => a.setLayout(o, x, i));
  const sizes = n.output.map((o) => a.dims(o)?.[axis]);
  if (sizes.some((s) => s === undefined)) return a.block(x, `${a.label(i)} has outputs of unknown size`);
  if (!cutAtBounds(a, x, sizes as number[])) return a.block(x, `${a.label(i)} splits a channel group that cannot be split`);
  let start = 0;
  n.output.forEach((o, k) => {
    const end = start + (sizes[k] as number);
    const inside = x.segments.filter((s) => s.offset >= start && segmentEnd(a.spaces, s) <= end);
    a.setLayout(o, { rank: x.rank, axis, length: end - start, segments: shiftSegments(inside, -start) }, i);
    start = end;
  });
  a.rewrites.push({ kind: 'split', node: i, axis, sizes: sizes as number[] });
  a.touch(i, x);
}

/** Requests cuts wherever a split boundary falls inside a segment; false when one is impossible. */
function cutAtBounds(a: Analyzer, x: Layout, sizes: number[]): boolean {
  let ok = true;
  let bound = 0;
  for (const size of sizes.slice(0, -1)) {
    bound += size;
    for (const s of x.segments) if (bound > s.offset && bound < segmentEnd(a.spaces, s)) ok = a.requestCut(s, bound - s.offset) && ok;
  }
  return ok;
}
