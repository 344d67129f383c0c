/**
 * Reading tensor contents whatever field holds them (raw_data, or the typed *_data fields older
 * exporters use), as bytes or as float64 values for statistics.
 */
import { DataType, dtypeBits, rawByteLength } from './dtypes';
import type { Int64, TensorProto } from './types';

export function dimsOf(t: TensorProto): number[] {
  return t.dims.map((d) => Number(d));
}

export function elementCount(dims: readonly Int64[]): number {
  let n = 1;
  for (const d of dims) n *= Number(d);
  return n;
}

export function tensorElementCount(t: TensorProto): number {
  return elementCount(t.dims);
}

/** Whether the tensor's data lives in an external file that has not been loaded. */
export function isExternal(t: TensorProto): boolean {
  return t.data_location === 1 && t.raw_data === undefined;
}

function bitsToFloat16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
function bitsToBFloat16(b: number): number {
  u32Scratch[0] = b << 16;
  return f32Scratch[0];
}

export const float16ToNumber = bitsToFloat16;
export const bfloat16ToNumber = bitsToBFloat16;

/** An aligned typed-array view of raw bytes when possible, otherwise a copy. */
function typedView<T>(bytes: Uint8Array, Ctor: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number }, count: number): T {
  const width = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % width === 0) return new Ctor(bytes.buffer, bytes.byteOffset, count);
  const copy = new Uint8Array(count * width);
  copy.set(bytes.subarray(0, count * width));
  return new Ctor(copy.buffer, 0, count);
}

/**
 * The tensor's values as float64, for floating-point and integer dtypes stored in raw_data or in the
 * typed fields. Returns undefined for strings, external data not yet loaded and unknown dtypes.
 */
export function tensorValues(t: TensorProto): Float64Array | undefined {
  const n = tensorElementCount(t);
  if (t.raw_data !== undefined) return rawValues(t.raw_data, t.data_type ?? 0, n);
  const src: ArrayLike<number | bigint> =
    t.float_data.length ? t.float_data : t.double_data.length ? t.double_data : t.int64_data.length ? t.int64_data : t.uint64_data.length ? t.uint64_data : t.int32_data;
  // The declared dims are untrusted: believe them only when the stored values agree.
  if (src.length !== n) return undefined;
  const out = new Float64Array(n);
  const dt = t.data_type ?? 0;
  for (let i = 0; i < n; i++) {
    const v = Number(src[i]);
    out[i] = dt === DataType.FLOAT16 ? bitsToFloat16(v) : dt === DataType.BFLOAT16 ? bitsToBFloat16(v) : v;
  }
  return out;
}

function rawValues(raw: Uint8Array, dt: number, n: number): Float64Array | undefined {
  if (dtypeBits(dt) === 0 || raw.length !== rawByteLength(dt, n)) return undefined;
  const out = new Float64Array(n);
  const copyFrom = (src: ArrayLike<number | bigint>) => {
    for (let i = 0; i < n; i++) out[i] = Number(src[i]);
  };
  switch (dt) {
    case DataType.FLOAT:
      copyFrom(typedView(raw, Float32Array, n));
      return out;
    case DataType.DOUBLE:
      return Float64Array.from(typedView(raw, Float64Array, n));
    case DataType.FLOAT16: {
      const h = typedView(raw, Uint16Array, n);
      for (let i = 0; i < n; i++) out[i] = bitsToFloat16(h[i]);
      return out;
    }
    case DataType.BFLOAT16: {
      const h = typedView(raw, Uint16Array, n);
      for (let i = 0; i < n; i++) out[i] = bitsToBFloat16(h[i]);
      return out;
    }
    case DataType.INT8:
      copyFrom(new Int8Array(raw.buffer, raw.byteOffset, n));
      return out;
    case DataType.UINT8:
    case DataType.BOOL:
      copyFrom(raw.subarray(0, n));
      return out;
    case DataType.INT16:
      copyFrom(typedView(raw, Int16Array, n));
      return out;
    case DataType.UINT16:
      copyFrom(typedView(raw, Uint16Array, n));
      return out;
    case DataType.INT32:
      copyFrom(typedView(raw, Int32Array, n));
      return out;
    case DataType.UINT32:
      copyFrom(typedView(raw, Uint32Array, n));
      return out;
    case DataType.INT64:
      copyFrom(typedView(raw, BigInt64Array, n));
      return out;
    case DataType.UINT64:
      copyFrom(typedView(raw, BigUint64Array, n));
      return out;
    case DataType.INT4:
    case DataType.UINT4:
      for (let i = 0; i < n; i++) {
        const nib = (raw[i >> 1] >> ((i & 1) * 4)) & 0xf;
        out[i] = dt === DataType.INT4 && nib >= 8 ? nib - 16 : nib;
      }
      return out;
    default:
      return undefined;
  }
}

/** Fraction of elements that are exactly zero (either sign), computed on the stored bits. */
export function zeroFraction(t: TensorProto): { zeros: number; count: number } | undefined {
  const count = tensorElementCount(t);
  const raw = t.raw_data;
  const dt = t.data_type ?? 0;
  if (raw !== undefined && (dt === DataType.FLOAT || dt === DataType.FLOAT16 || dt === DataType.BFLOAT16)) {
    if (raw.length !== rawByteLength(dt, count)) return undefined;
    return { zeros: countZeroBits(raw, dtypeBits(dt), count), count };
  }
  const values = tensorValues(t);
  if (!values) return undefined;
  let zeros = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) zeros++;
  return { zeros, count };
}

/** Counts +0/-0 floats directly on their bit patterns (no conversion of every element). */
function countZeroBits(raw: Uint8Array, bits: number, count: number): number {
  let zeros = 0;
  if (bits === 32) {
    const u = typedView(raw, Uint32Array, count);
    for (let i = 0; i < count; i++) if ((u[i] & 0x7fffffff) === 0) zeros++;
  } else {
    const u = typedView(raw, Uint16Array, count);
    for (let i = 0; i < count; i++) if ((u[i] & 0x7fff) === 0) zeros++;
  }
  return zeros;
}

/** Bytes of the tensor's data as stored (raw_data, or the size its typed fields would take raw). */
export function tensorByteLength(t: TensorProto): number {
  if (t.raw_data !== undefined) return t.raw_data.length;
  if (t.data_type === DataType.STRING) return t.string_data.reduce((s, b) => s + b.length, 0);
  return rawByteLength(t.data_type, tensorElementCount(t));
}
