/**
 * Folding kernels for ops that move elements without computing new values: Shape, Size, Gather,
 * Concat, Unsqueeze, Squeeze, Reshape, Flatten, Transpose, Slice, Expand. Older opsets pass axes,
 * starts and ends as attributes, newer ones as inputs; both forms are read.
 */
import { DataType } from '../../onnx/dtypes';
import { attrInt, attrInts } from '../../onnx/graph';
import type { NodeProto } from '../../onnx/types';
import { allocate, broadcastDims, broadcastOffsets, checkSize, FoldError, makeConst, normalizeAxis, pickElements, product, stridesOf, type ConstTensor } from './constTensor';

export interface KernelArgs {
  node: NodeProto;
  /** Input values by position; undefined where an optional input is absent. */
  inputs: (ConstTensor | undefined)[];
  /** Default-domain opset of the model. */
  opset: number;
}

export type Kernel = (args: KernelArgs) => ConstTensor;

export function input(args: KernelArgs, i: number): ConstTensor {
  const c = args.inputs[i];
  if (!c) throw new FoldError(`input ${i} is missing`);
  return c;
}

export function intsOf(c: ConstTensor): number[] {
  return Array.from(c.data);
}

/** Axes (or starts, ends...) from input `i` in newer opsets, from attribute `name` in older ones. */
function listParam(args: KernelArgs, i: number, name: string): number[] | undefined {
  const c = args.inputs[i];
  return c ? intsOf(c) : attrInts(args.node, name);
}

/** Same elements under new dims (Reshape, Squeeze, Unsqueeze, Flatten). */
function withDims(x: ConstTensor, dims: number[]): ConstTensor {
  if (product(dims) !== x.data.length) throw new FoldError(`cannot view ${x.dims.join('x')} as ${dims.join('x')}`);
  return makeConst(x.dtype, dims, x.data);
}

const shape: Kernel = (args) => {
  const dims = input(args, 0).dims;
  const r = dims.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const picked = dims.slice(clamp(attrInt(args.node, 'start', 0)), clamp(attrInt(args.node, 'end', r)));
  return makeConst(DataType.INT64, [picked.length], picked);
};

const size: Kernel = (args) => makeConst(DataType.INT64, [], [input(args, 0).data.length]);

/** Output blocks: for each outer position, one inner-sized block per index. */
const gather: Kernel = (args) => {
  const [x, idx] = [input(args, 0), input(args, 1)];
  const axis = normalizeAxis(attrInt(args.node, 'axis', 0), x.dims.length);
  const n = x.dims[axis];
  const rows = intsOf(idx).map((i) => (i < 0 ? i + n : i));
  if (rows.some((i) => !(i >= 0 && i < n))) throw new FoldError('Gather index out of range');
  const outer = product(x.dims.slice(0, axis));
  const inner = product(x.dims.slice(axis + 1));
  const out = allocate(x.dtype, [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)]);
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const row of rows) {
      const from = (o * n + row) * inner;
      out.data.set(x.data.subarray(from, from + inner), k);
      k += inner;
    }
  }
  return out;
};

/** Inputs must agree on every dim but the axis. */
function concatDims(parts: ConstTensor[], axis: number): number[] {
  const dims = parts[0].dims.slice();
  const same = (c: ConstTensor) => c.dims.length === dims.length && c.dims.every((d, a) => a === axis || d === dims[a]);
  if (!parts.every(same)) throw new FoldError('Concat inputs do not match');
  dims[axis] = parts.reduce((sum, c) => sum + c.dims[axis], 0);
  return dims;
}

const concat: Kernel = (args) => {
  const parts = args.node.input.map((_, i) => input(args, i));
  const axis = normalizeAxis(attrInt(args.node, 'axis', args.opset < 4 ? 1 : 0), parts[0]?.dims.length ?? 0);
  const out = allocate(parts[0].dtype, concatDims(parts, axis));
  const outer = product(parts[0].dims.slice(0, axis));
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const c of parts) {
      const block = product(c.dims.slice(axis));
      out.data.set(c.data.subarray(o * block, (o + 1) * block), k);
      k += block;
    }
  }
  return out;
};

const unsqueeze: Kernel = (args) => {
  const x = input(args, 0);
  const axes = listParam(args, 1, 'axes') ?? [];
  const rank = x.dims.length + axes.length;
  const at = new Set(axes.map((a) => normalizeAxis(a, rank)));
  if (at.size !== axes.length) throw new FoldError('repeated Unsqueeze axis');
  const rest = x.dims.slice();
  return withDims(x, Array.from({ length: rank }, (_, a) => (at.has(a) ? 1 : (rest.shift() as number))));
};

const squeeze: Kernel = (args) => {
  const x = input(args, 0);
  const axes = listParam(args, 1, 'axes');
  const drop = new Set(axes ? axes.map((a) => normalizeAxis(a, x.dims.length)) : x.dims.flatMap((d, a) => (d === 1 ? [a] : [])));
  if ([...drop].some((a) => x.dims[a] !== 1)) throw new FoldError('Squeeze of a dim that is not 1');
  return withDims(x, x.dims.filter((_, a) => !drop.has(a)));
};

/** Reshape's target: 0 copies the input dim (unless allowzero), -1 takes what is left. */
const reshape: Kernel = (args) => {
  const x = input(args, 0);
  const allowZero = attrInt(args.node, 'allowzero', 0) === 1;
  const dims = intsOf(input(args, 1)).map((d, a) => (d === 0 && !allowZero ? x.dims[a] : d));
  const known = product(dims.filter((d) => d !== -1));
  const free = dims.filter((d) => d === -1).length;
  if (free > 1 || (free === 1 && known === 0)) throw new FoldError('bad Reshape target');
  return withDims(x, dims.map((d) => (d === -1 ? x.data.length / known : d)));
};

const flatten: Kernel = (args) => {
  const x = input(args, 0);
  const r = x.dims.length;
  const raw = attrInt(args.node, 'axis', 1);
  const axis = raw < 0 ? raw + r : raw;
  if (axis < 0 || axis > r) throw new FoldError('Flatten axis out of range');
  return withDims(x, [product(x.dims.slice(0, axis)), product(x.dims.slice(axis))]);
};

const transpose: Kernel = (args) => {
  const x = input(args, 0);
  const r = x.dims.length;
  const perm = attrInts(args.node, 'perm') ?? Array.from({ length: r }, (_, a) => r - 1 - a);
  if (perm.length !== r || new Set(perm.map((p) => normalizeAxis(p, r))).size !== r) throw new FoldError('bad Transpose perm');
  const strides = stridesOf(x.dims);
  const outDims = perm.map((p) => x.dims[p]);
  const offsets = perm.map((p) => Array.from({ length: x.dims[p] }, (_, i) => i * strides[p]));
  return makeConst(x.dtype, outDims, pickElements(x.data, outDims, offsets));
};

interface AxisRange {
  start: number;
  count: number;
  step: number;
}

/** ONNX Slice clamping: negative bounds count from the end, out-of-range bounds stop at the edge. */
function sliceRange(dim: number, start: number, end: number, step: number): AxisRange {
  if (step === 0 || !Number.isFinite(step)) throw new FoldError('Slice step 0');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  return { start: s, count: Math.max(0, Math.ceil((e - s) / step)), step };
}

function sliceRanges(args: KernelArgs, x: ConstTensor): AxisRange[] {
  const starts = listParam(args, 1, 'starts') ?? [];
  const ends = listParam(args, 2, 'ends') ?? [];
  const axes = (listParam(args, 3, 'axes') ?? starts.map((_, i) => i)).map((a) => normalizeAxis(a, x.dims.length));
  const steps = args.inputs[4] ? intsOf(args.inputs[4]) : starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) throw new FoldError('Slice parameter lengths differ');
  const ranges = x.dims.map((d) => ({ start: 0, count: d, step: 1 }));
  axes.forEach((a, i) => (ranges[a] = sliceRange(x.dims[a], starts[i], ends[i], steps[i])));
  return ranges;
}

const slice: Kernel = (args) => {
  const x = input(args, 0);
  const ranges = sliceRanges(args, x);
  const strides = stridesOf(x.dims);
  const outDims = ranges.map((r) => r.count);
  const offsets = ranges.map((r, a) => Array.from({ length: r.count }, (_, i) => (r.start + i * r.step) * strides[a]));
  return makeConst(x.dtype, outDims, pickElements(x.data, outDims, offsets));
};

const expand: Kernel = (args) => {
  const x = input(args, 0);
  const outDims = broadcastDims([x.dims, intsOf(input(args, 1))]);
  checkSize(x.dtype, outDims);
  return makeConst(x.dtype, outDims, pickElements(x.data, outDims, broadcastOffsets(x, outDims)));
};

export const LAYOUT_KERNELS: Readonly<Record<string, Kernel>> = {
  Shape: shape,
  Size: size,
  Gather: gather,
  Concat: concat,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Slice: slice,
  Expand: expand,
};
