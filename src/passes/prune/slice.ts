/**
 * Physically removing positions along one axis of a constant tensor, whatever dtype and field holds
 * its data. The tensor is edited in place (dims and raw_data), so it keeps its name and its place
 * (initializer or Constant node) and every reader sees the sliced version.
 */
import { DataType, dtypeBits } from '../../onnx/dtypes';
import { dimsOf, isExternal, tensorElementCount } from '../../onnx/tensor';
import type { TensorProto } from '../../onnx/types';

interface StoredBytes {
  bytes: Uint8Array;
  /** Bytes per element. */
  width: number;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Typed-field storage converted to raw bytes, for the dtypes exporters store that way. */
function typedFieldBytes(t: TensorProto, count: number): Uint8Array | undefined {
  if (t.data_type === DataType.FLOAT && t.float_data.length === count) return bytesOf(Float32Array.from(t.float_data));
  if (t.data_type === DataType.DOUBLE && t.double_data.length === count) return bytesOf(Float64Array.from(t.double_data));
  if (t.data_type === DataType.INT64 && t.int64_data.length === count) return bytesOf(BigInt64Array.from(t.int64_data, (v) => BigInt(v)));
  if (t.data_type === DataType.INT32 && t.int32_data.length === count) return bytesOf(Int32Array.from(t.int32_data));
  return undefined;
}

/** The tensor's elements as bytes of a whole-byte dtype, or undefined when they cannot be sliced. */
export function storedBytes(t: TensorProto): StoredBytes | undefined {
  const bits = dtypeBits(t.data_type);
  if (bits === 0 || bits % 8 !== 0 || isExternal(t) || t.data_type === DataType.STRING) return undefined;
  const width = bits / 8;
  const count = tensorElementCount(t);
  if (t.raw_data !== undefined) return t.raw_data.length === count * width ? { bytes: t.raw_data, width } : undefined;
  const bytes = typedFieldBytes(t, count);
  return bytes ? { bytes, width } : undefined;
}

/** Why a tensor cannot be sliced, or undefined when it can. */
export function unsliceableReason(t: TensorProto, name: string): string | undefined {
  if (isExternal(t)) return `weight ${name} is in external data that was not loaded`;
  return storedBytes(t) ? undefined : `weight ${name} is stored in a form that cannot be sliced`;
}

/** Bytes with the given positions of `axis` removed (positions outside the axis are ignored). */
export function removeAlongAxis(stored: StoredBytes, dims: readonly number[], axis: number, removed: ReadonlySet<number>): Uint8Array {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1) * stored.width;
  const length = dims[axis];
  const keep: number[] = [];
  for (let p = 0; p < length; p++) if (!removed.has(p)) keep.push(p);
  const out = new Uint8Array(outer * keep.length * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * length * inner;
    for (const p of keep) {
      out.set(stored.bytes.subarray(base + p * inner, base + (p + 1) * inner), at);
      at += inner;
    }
  }
  return out;
}

/** Replaces the tensor's contents with raw bytes of new dims (typed fields cleared). */
export function setTensorBytes(t: TensorProto, dims: number[], bytes: Uint8Array): void {
  t.dims = dims;
  t.raw_data = bytes;
  t.float_data = [];
  t.double_data = [];
  t.int32_data = [];
  t.int64_data = [];
  t.uint64_data = [];
}

/** Removes positions along several axes of one tensor; positions are in the original coordinates. */
export function sliceTensor(t: TensorProto, removals: ReadonlyMap<number, ReadonlySet<number>>): void {
  let dims = dimsOf(t);
  let stored = storedBytes(t);
  if (!stored) throw new Error(`internal error: tensor ${t.name ?? ''} cannot be sliced`);
  for (const [axis, removed] of removals) {
    const kept = [...Array(dims[axis]).keys()].filter((p) => !removed.has(p)).length;
    stored = { bytes: removeAlongAxis(stored, dims, axis, removed), width: stored.width };
    dims = dims.map((d, i) => (i === axis ? kept : d));
  }
  setTensorBytes(t, dims, stored.bytes);
}
