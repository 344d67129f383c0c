/**
 * Constant tensors as the folder computes them: an ONNX dtype, dims, and the values as float64.
 * float64 holds every float32, int32 and bool exactly and int64 up to 2^53; larger int64 values only
 * appear as "to the end" sentinels (INT64_MAX in Slice ends), which are clamped back on writing.
 * Results are rounded to their dtype after every op, so a folded chain matches running it in ORT.
 */
import { rawTensor } from '../../onnx/build';
import { DataType, rawByteLength } from '../../onnx/dtypes';
import { tensorValues } from '../../onnx/tensor';
import type { TensorProto } from '../../onnx/types';

export interface ConstTensor {
  dtype: number;
  dims: number[];
  data: Float64Array;
}

/** A result the folder does not produce (too large, invalid, or behaviour it does not model). */
export class FoldError extends Error {}

/** Folded results above this size stay computed at run time instead of bloating the file. */
export const MAX_FOLD_BYTES = 16 * 1024 * 1024;

type Narrow = (v: number) => number;

/** Rounds or wraps a float64 to what the dtype stores, as a C cast in ORT would. */
const NARROW: Readonly<Record<number, Narrow>> = {
  [DataType.FLOAT]: Math.fround,
  [DataType.DOUBLE]: (v) => v,
  [DataType.INT8]: (v) => (v << 24) >> 24,
  [DataType.UINT8]: (v) => v & 0xff,
  [DataType.INT16]: (v) => (v << 16) >> 16,
  [DataType.UINT16]: (v) => v & 0xffff,
  [DataType.INT32]: (v) => v | 0,
  [DataType.UINT32]: (v) => v >>> 0,
  [DataType.INT64]: (v) => v,
  [DataType.UINT64]: (v) => v,
  [DataType.BOOL]: (v) => (v !== 0 ? 1 : 0),
};

export function isFoldableDtype(dtype: number): boolean {
  return NARROW[dtype] !== undefined;
}

export function isIntegerDtype(dtype: number): boolean {
  return isFoldableDtype(dtype) && (dtype as DataType) !== DataType.FLOAT && (dtype as DataType) !== DataType.DOUBLE;
}

export function product(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function byteSize(dtype: number, dims: readonly number[]): number {
  return rawByteLength(dtype, product(dims));
}

/** Refuses a result before anything of its size is allocated. */
export function checkSize(dtype: number, dims: number[]): void {
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new FoldError(`bad dims ${dims.join('x')}`);
  if (!isFoldableDtype(dtype)) throw new FoldError(`dtype ${dtype} is not folded`);
  if (byteSize(dtype, dims) > MAX_FOLD_BYTES) throw new FoldError('result larger than the folding limit');
}

/** Fresh zeroed storage for a result. */
export function allocate(dtype: number, dims: number[]): ConstTensor {
  checkSize(dtype, dims);
  return { dtype, dims, data: new Float64Array(product(dims)) };
}

/** A result built from computed values, narrowed to its dtype. */
export function makeConst(dtype: number, dims: number[], values: ArrayLike<number>): ConstTensor {
  const out = allocate(dtype, dims);
  if (values.length !== out.data.length) throw new FoldError('internal: element count does not match dims');
  const narrow = NARROW[dtype];
  for (let i = 0; i < values.length; i++) out.data[i] = narrow(values[i]);
  return out;
}

/** The stored tensor as a ConstTensor; undefined for dtypes the folder does not compute with. */
export function readConst(t: TensorProto): ConstTensor | undefined {
  const dtype = t.data_type ?? 0;
  if (!isFoldableDtype(dtype) || byteSize(dtype, t.dims.map(Number)) > MAX_FOLD_BYTES) return undefined;
  const data = tensorValues(t);
  return data ? { dtype, dims: t.dims.map(Number), data } : undefined;
}

const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function clampBig(v: number, lo: bigint, hi: bigint): bigint {
  const b = BigInt(v);
  return b < lo ? lo : b > hi ? hi : b;
}

function storage(c: ConstTensor): ArrayBufferView {
  switch (c.dtype as DataType) {
    case DataType.FLOAT:
      return Float32Array.from(c.data);
    case DataType.DOUBLE:
      return Float64Array.from(c.data);
    case DataType.INT64:
      return BigInt64Array.from(c.data, (v) => clampBig(v, -INT64_MAX - 1n, INT64_MAX));
    case DataType.UINT64:
      return BigUint64Array.from(c.data, (v) => clampBig(v, 0n, UINT64_MAX));
    default:
      return integerStorage(c);
  }
}

function integerStorage(c: ConstTensor): ArrayBufferView {
  const ctor = { [DataType.INT8]: Int8Array, [DataType.UINT8]: Uint8Array, [DataType.BOOL]: Uint8Array, [DataType.INT16]: Int16Array, [DataType.UINT16]: Uint16Array, [DataType.INT32]: Int32Array, [DataType.UINT32]: Uint32Array }[c.dtype];
  if (!ctor) throw new FoldError(`dtype ${c.dtype} is not folded`);
  return ctor.from(c.data);
}

export function toTensorProto(name: string, c: ConstTensor): TensorProto {
  return rawTensor(name, c.dims, c.dtype, storage(c));
}

/** Strides of a row-major layout. */
export function stridesOf(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length);
  let s = 1;
  for (let a = dims.length - 1; a >= 0; a--) {
    strides[a] = s;
    s *= dims[a];
  }
  return strides;
}

/**
 * out[i] = src[offsets[0][i_0] + offsets[1][i_1] + ...] over every multi-index i of outDims: one
 * loop that does Slice, Transpose and broadcasting, given per-axis source offsets.
 */
export function pickElements(src: Float64Array, outDims: number[], offsets: number[][]): Float64Array {
  const count = product(outDims);
  const out = new Float64Array(count);
  const rank = outDims.length;
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < count; k++) {
    let off = 0;
    for (let a = 0; a < rank; a++) off += offsets[a][idx[a]];
    out[k] = src[off];
    for (let a = rank - 1; a >= 0 && ++idx[a] === outDims[a]; a--) idx[a] = 0;
  }
  return out;
}

/** Per-axis offsets that read `c` broadcast to `outDims` (numpy rules, dims aligned on the right). */
export function broadcastOffsets(c: ConstTensor, outDims: number[]): number[][] {
  const strides = stridesOf(c.dims);
  const lead = outDims.length - c.dims.length;
  return outDims.map((n, a) => {
    const d = c.dims[a - lead];
    return Array.from({ length: n }, (_, i) => (a < lead || d === 1 ? 0 : i * strides[a - lead]));
  });
}

/** Numpy broadcast of several dims; incompatible dims are a FoldError. */
export function broadcastDims(all: number[][]): number[] {
  const rank = Math.max(0, ...all.map((d) => d.length));
  const out = new Array<number>(rank).fill(1);
  for (const dims of all) {
    dims.forEach((d, i) => {
      const a = i + rank - dims.length;
      if (d !== 1 && out[a] !== 1 && out[a] !== d) throw new FoldError('shapes do not broadcast');
      if (d !== 1) out[a] = d;
    });
  }
  return out;
}

/** A possibly negative axis normalized against `rank`. */
export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new FoldError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}
