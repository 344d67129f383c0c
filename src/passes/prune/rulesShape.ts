/**
 * Channel rules for ops that move axes around: Flatten and Reshape (merging the channel axis with
 * the axes after it maps channel c to features c·inner..c·inner+inner-1; splitting it into heads
 * makes blocks of channels the unit), Transpose, Squeeze/Unsqueeze, Gather, Slice, Expand, Tile,
 * reductions and softmax (fine unless they work along the channel axis), and Shape.
 */
import { factor, isNum, type Dim } from '../../core/shapes';
import { attrInt, attrInts } from '../../onnx/graph';
import type { NodeProto } from '../../onnx/types';
import type { Analyzer } from './analyzer';
import { moveLayout, type Layout, type Segment } from './layout';
import { normAxis } from './rulesElementwise';

function product(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

/** A product of dims that may hold symbols ("batch"): numeric part and sorted symbols, or null. */
function productKey(dims: readonly Dim[]): string | null {
  const f = factor([...dims]);
  return f ? `${f.n}|${f.syms.sort().join(',')}` : null;
}

/** Flatten: channels on an axis at or after `axis` land in output axis 1, each spread over the axes after it. */
export function flatten(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]) as Layout;
  const shape = a.shape(n.input[0]);
  const axis = normAxis(attrInt(n, 'axis', 1), x.rank);
  const between = shape?.slice(axis, x.axis);
  const after = shape?.slice(x.axis + 1);
  if (x.axis < axis || !between?.every((d) => d === 1)) return a.block(x, `${a.label(i)} merges these channels with the axes before them`);
  if (!after?.every(isNum)) return a.block(x, `${a.label(i)} flattens axes of unknown size`);
  const inner = product(after);
  const segments = x.segments.map((s) => a.finer(i, 'flat', s, inner));
  a.setLayout(n.output[0], { rank: 2, axis: 1, length: x.length * inner, segments }, i);
}

/** The output axis a Reshape moves the channel axis to: the first one after the same leading elements. */
function reshapedAxis(input: readonly Dim[], output: readonly Dim[], axis: number): number | undefined {
  const before = productKey(input.slice(0, axis));
  if (before === null) return undefined;
  for (let k = 0; k < output.length; k++) {
    if (productKey(output.slice(0, k)) === before && output[k] !== 1) return k;
  }
  return undefined;
}

/** How the channel axis of length L becomes output axis length `dk`: same, merged (×m), split (÷D). */
function reshapedSegments(a: Analyzer, i: number, x: Layout, input: readonly Dim[], dk: number): Segment[] | undefined {
  if (dk === x.length) return [...x.segments];
  if (dk > x.length && dk % x.length === 0) {
    const m = dk / x.length;
    const mergesWhole = [...Array(input.length - x.axis - 1).keys()].some((j) => {
      const next = input.slice(x.axis + 1, x.axis + 2 + j);
      return next.every(isNum) && product(next) === m;
    });
    return mergesWhole ? x.segments.map((s) => a.finer(i, 'merge', s, m)) : undefined;
  }
  if (dk < x.length && x.length % dk === 0) {
    const blocks = x.segments.map((s) => a.coarser(i, 'split', s, x.length / dk));
    return blocks.every(Boolean) ? (blocks as Segment[]) : undefined;
  }
  return undefined;
}

type TargetPlan = { rewrite: boolean; problem?: undefined } | { problem: string };

/** Whether the Reshape target must be rewritten at `entry` (an explicit size), or why it cannot be. */
function targetPlan(a: Analyzer, i: number, n: NodeProto, entry: number, x: Layout, sameAxis: boolean): TargetPlan {
  const target = a.value(n.input[1]);
  if (!target) return { problem: `${a.label(i)} has a target shape unknown before run time` };
  const v = target[entry];
  // -1 is inferred from the element count; 0 copies the input's dim, right when it is the same channel axis.
  if (v === -1 || (v === 0 && attrInt(n, 'allowzero', 0) === 0 && sameAxis && entry === x.axis)) return { rewrite: false };
  return a.weight(n.input[1]) ? { rewrite: true } : { problem: `${a.label(i)} computes its target shape, which cannot be rewritten` };
}

export function reshape(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]) as Layout;
  const [input, output] = [a.shape(n.input[0]), a.shape(n.output[0])];
  const k = input && output ? reshapedAxis(input, output, x.axis) : undefined;
  const dk = k === undefined ? null : (output?.[k] ?? null);
  if (k === undefined || !input || !output || dk === null || !isNum(dk)) return a.block(x, `${a.label(i)} reshapes these channels in a way that is not tracked`);
  const segments = reshapedSegments(a, i, x, input, dk);
  if (!segments) return a.block(x, `${a.label(i)} reshapes these channels in a way that is not tracked`);
  const plan = targetPlan(a, i, n, k, x, dk === x.length);
  if (plan.problem !== undefined) return a.block(x, plan.problem);
  if (plan.rewrite) a.rewrites.push({ kind: 'reshape', node: i, entry: k, output: n.output[0] });
  a.setLayout(n.output[0], { rank: output.length, axis: k, length: dk, segments }, i);
}

export function transpose(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]) as Layout;
  const perm = attrInts(n, 'perm') ?? [...Array(x.rank).keys()].reverse();
  const axis = perm.indexOf(x.axis);
  if (axis < 0) return a.block(x, `${a.label(i)} has an invalid perm`);
  a.setLayout(n.output[0], moveLayout(x, x.rank, axis), i);
}

/** Axes from input 1 (newer opsets) or the `axes` attribute (older ones). */
function axesOf(a: Analyzer, n: NodeProto, rank: number): number[] | undefined {
  const axes = n.input[1] ? a.value(n.input[1]) : attrInts(n, 'axes');
  return axes?.map((ax) => normAxis(ax, rank));
}

export function squeeze(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]) as Layout;
  const shape = a.shape(n.input[0]);
  const axes = n.input[1] || attrInts(n, 'axes') ? axesOf(a, n, x.rank) : shape?.flatMap((d, k) => (d === 1 ? [k] : []));
  if (!axes || axes.includes(x.axis)) return a.block(x, `${a.label(i)} removes axes that are not known`);
  a.setLayout(n.output[0], moveLayout(x, x.rank - axes.length, x.axis - axes.filter((ax) => ax < x.axis).length), i);
}

export function unsqueeze(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]) as Layout;
  const count = (n.input[1] ? a.value(n.input[1]) : attrInts(n, 'axes'))?.length;
  const axes = count === undefined ? undefined : axesOf(a, n, x.rank + count);
  if (!axes) return a.block(x, `${a.label(i)} inserts axes that are not known`);
  let axis = x.axis;
  for (const ax of [...axes].sort((p, q) => p - q)) if (ax <= axis) axis++;
  a.setLayout(n.output[0], moveLayout(x, x.rank + axes.length, axis), i);
}

export function gather(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]);
  if (a.layout(n.input[1])) a.block(a.layout(n.input[1]), `${a.label(i)} uses these channels as indices`);
  if (!x) return;
  const axis = normAxis(attrInt(n, 'axis', 0), x.rank);
  const q = a.rank(n.input[1]);
  if (axis === x.axis || q === undefined) return a.block(x, `${a.label(i)} gathers along the channel axis`);
  a.setLayout(n.output[0], moveLayout(x, x.rank + q - 1, x.axis < axis ? x.axis : x.axis + q - 1), i);
}

/** Slice: fine along other axes, or when it keeps the whole channel axis. */
export function slice(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]) as Layout;
  const old = a.opset < 10 && !n.input[1];
  const starts = old ? attrInts(n, 'starts') : a.value(n.input[1]);
  const ends = old ? attrInts(n, 'ends') : a.value(n.input[2]);
  const given = old ? attrInts(n, 'axes') : n.input[3] ? a.value(n.input[3]) : starts?.map((_, k) => k);
  const steps = old || !n.input[4] ? starts?.map(() => 1) : a.value(n.input[4]);
  if (!starts || !ends || !given || !steps) return a.block(x, `${a.label(i)} has bounds unknown before run time`);
  const k = given.map((ax) => normAxis(ax, x.rank)).indexOf(x.axis);
  const whole = k < 0 || (starts[k] === 0 && ends[k] >= x.length && steps[k] === 1);
  if (!whole) return a.block(x, `${a.label(i)} slices the channel axis`);
  a.setLayout(n.output[0], x, i);
}

/** Expand / Tile: fine when the channel axis is neither expanded nor repeated. */
export function expandOrTile(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]) as Layout;
  const v = a.value(n.input[1]);
  if (!v) return a.block(x, `${a.label(i)} has a shape unknown before run time`);
  const rank = Math.max(x.rank, v.length);
  const axis = x.axis + rank - x.rank;
  const k = axis - (rank - v.length);
  if (k >= 0 && v[k] !== 1) return a.block(x, `${a.label(i)} expands or repeats the channel axis`);
  a.setLayout(n.output[0], moveLayout(x, rank, axis), i);
}

/** ReduceMean etc.: channels pass when other axes are reduced. */
export function reduce(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]) as Layout;
  const axes = axesOf(a, n, x.rank);
  const noop = !axes?.length && attrInt(n, 'noop_with_empty_axes', 0) === 1;
  if (noop) return a.setLayout(n.output[0], x, i);
  if (!axes?.length || axes.includes(x.axis)) return a.block(x, `${a.label(i)} reduces over the channel axis`);
  const keep = attrInt(n, 'keepdims', 1) === 1;
  const axis = keep ? x.axis : x.axis - axes.filter((ax) => ax < x.axis).length;
  a.setLayout(n.output[0], moveLayout(x, keep ? x.rank : x.rank - axes.length, axis), i);
}

/** Ops along one `axis` attribute (ArgMax, TopK, Softmax...): fine unless that is the channel axis. */
export function alongAxis(fallback: number | 'softmax') {
  return (a: Analyzer, i: number, n: NodeProto): void => {
    const x = a.layout(n.input[0]) as Layout;
    const legacySoftmax = fallback === 'softmax' && a.opset < 13;
    const axis = normAxis(attrInt(n, 'axis', fallback === 'softmax' ? (legacySoftmax ? 1 : -1) : fallback), x.rank);
    // Before opset 13 softmax flattens every axis from `axis` on into one.
    const hits = legacySoftmax ? x.axis >= axis : x.axis === axis;
    if (hits) return a.block(x, `${a.label(i)} works along the channel axis`);
    const reduces = n.op_type === 'ArgMax' || n.op_type === 'ArgMin';
    const drop = reduces && attrInt(n, 'keepdims', 1) === 0;
    const layout = drop ? moveLayout(x, x.rank - 1, x.axis > axis ? x.axis - 1 : x.axis) : x;
    n.output.forEach((o) => a.setLayout(o, layout, i));
  };
}

/** Shape: harmless unless the channel count it reports is used (only Gathers of other dims are allowed). */
export function shapeOp(a: Analyzer, i: number, n: NodeProto): void {
  const x = a.layout(n.input[0]) as Layout;
  const start = normAxis(attrInt(n, 'start', 0), x.rank);
  const end = Math.min(normAxis(attrInt(n, 'end', x.rank), x.rank), x.rank);
  if (x.axis < start || x.axis >= end) return;
  const entry = x.axis - start;
  const readers = a.main.index.consumers.get(n.output[0]) ?? [];
  const harmless = readers.every((r) => {
    const reader = a.nodes[r];
    const idx = a.value(reader.input[1]);
    return reader.op_type === 'Gather' && reader.input[0] === n.output[0] && idx !== undefined && !idx.some((v) => normAxis(v, end - start) === entry);
  });
  const isOutput = a.main.graph.output.some((o) => o.name === n.output[0]);
  if (!harmless || isOutput) a.block(x, `${a.label(i)} reads the channel count, which is then used`);
}
