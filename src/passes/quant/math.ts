/**
 * Quantization arithmetic on typed arrays: int8 (per-channel symmetric, per-tensor affine), int4
 * blockwise in MatMulNBits layout, and float16 / bfloat16 conversion. Pure functions, no model types,
 * written as flat loops so that a 100 MB fp32 weight set converts in well under a second or two.
 *
 * Rounding is round-half-to-even everywhere, as onnxruntime's QuantizeLinear/DynamicQuantizeLinear
 * kernels and numpy's `round` (used by onnxruntime/python/tools/quantization/quant_utils.py) do, and
 * quotients x / scale are taken in float32 as those kernels and numpy's float32 arrays compute them.
 */

export const INT8_SYMMETRIC_MAX = 127;

/** Scale used for an all-zero channel or tensor: any positive value dequantizes 0 to 0 exactly. */
const SAFE_SCALE = 1;

/** Round half to even for |x| < 2^31 (callers clamp to the integer range first). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // half rounds toward +infinity
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Sizes of the dimensions before, at and after `axis` (a tensor seen as [outer, channels, inner]). */
function splitAtAxis(dims: readonly number[], axis: number): { outer: number; channels: number; inner: number } {
  if (axis < 0 || axis >= dims.length) throw new RangeError(`axis ${axis} is out of range for a ${dims.length}-D tensor`);
  const product = (list: readonly number[]) => list.reduce((a, b) => a * b, 1);
  return { outer: product(dims.slice(0, axis)), channels: dims[axis], inner: product(dims.slice(axis + 1)) };
}

// ---------------------------------------------------------------------------------------------
// int8 symmetric per channel (weights)

export interface SymmetricInt8 {
  values: Int8Array;
  /** One float32 scale per channel along the chosen axis. */
  scales: Float32Array;
}

/** Largest |x| of each channel along `axis`, reading the data once in memory order. */
export function channelMaxAbs(data: Float32Array, dims: readonly number[], axis: number): Float32Array {
  const { outer, channels, inner } = splitAtAxis(dims, axis);
  const maxAbs = new Float32Array(channels);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let m = maxAbs[c];
      for (let j = 0; j < inner; j++, i++) {
        const a = Math.abs(data[i]);
        if (a > m) m = a;
      }
      maxAbs[c] = m;
    }
  }
  return maxAbs;
}

/** scale = maxAbs / 127 as float32; zero or non-finite ranges get a safe scale. */
export function symmetricScale(maxAbs: number): number {
  const scale = Math.fround(maxAbs / INT8_SYMMETRIC_MAX);
  return scale > 0 && Number.isFinite(scale) ? scale : SAFE_SCALE;
}

/**
 * Symmetric int8 quantization with one scale per channel along `axis` (zero point 0, range
 * [-127, 127] as onnxruntime's quantizer uses for symmetric int8 weights).
 */
export function quantizePerChannelInt8(data: Float32Array, dims: readonly number[], axis: number): SymmetricInt8 {
  const { outer, channels, inner } = splitAtAxis(dims, axis);
  const scales = channelMaxAbs(data, dims, axis).map(symmetricScale);
  const values = new Int8Array(data.length);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const scale = scales[c];
      for (let j = 0; j < inner; j++, i++) values[i] = roundHalfEven(clamp(Math.fround(data[i] / scale), -INT8_SYMMETRIC_MAX, INT8_SYMMETRIC_MAX));
    }
  }
  return { values, scales };
}

/** Symmetric int8 quantization of the whole tensor with one scale. */
export function quantizePerTensorInt8(data: Float32Array): { values: Int8Array; scale: number } {
  const { values, scales } = quantizePerChannelInt8(data, [1, data.length], 0);
  return { values, scale: scales[0] };
}

/** Inverse of quantizePerChannelInt8 (zero point 0). */
export function dequantizePerChannel(values: Int8Array, scales: Float32Array, dims: readonly number[], axis: number): Float32Array {
  const { outer, channels, inner } = splitAtAxis(dims, axis);
  const out = new Float32Array(values.length);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      for (let j = 0; j < inner; j++, i++) out[i] = values[i] * scales[c];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Affine per tensor (activations), as ONNX DynamicQuantizeLinear / QuantizeLinear define it

export type AffineType = 'uint8' | 'int8';

export interface AffineParams {
  /** float32 scale. */
  scale: number;
  /** Integer in [qmin, qmax]; dequantizing it gives exactly 0. */
  zeroPoint: number;
  qmin: number;
  qmax: number;
}

export function integerRange(type: AffineType): { qmin: number; qmax: number } {
  return type === 'uint8' ? { qmin: 0, qmax: 255 } : { qmin: -128, qmax: 127 };
}

/**
 * Scale and zero point for values in [min, max]. The range is widened to include 0 so that zero
 * (padding, Relu outputs) is exact; the zero point is rounded half to even and saturated, as in the
 * ONNX DynamicQuantizeLinear definition.
 */
export function affineParams(min: number, max: number, type: AffineType): AffineParams {
  const { qmin, qmax } = integerRange(type);
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const raw = Math.fround((hi - lo) / (qmax - qmin));
  const scale = raw > 0 && Number.isFinite(raw) ? raw : SAFE_SCALE;
  const zeroPoint = roundHalfEven(clamp(qmin - lo / scale, qmin, qmax));
  return { scale, zeroPoint, qmin, qmax };
}

/** Smallest and largest finite values (NaN and infinities are ignored). */
export function finiteRange(data: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min && v !== -Infinity) min = v;
    if (v > max && v !== Infinity) max = v;
  }
  return min <= max ? { min, max } : { min: 0, max: 0 };
}

/**
 * q = saturate(roundHalfEven(x / scale) + zeroPoint), the ONNX QuantizeLinear formula: the quotient is
 * rounded before the zero point is added (which matters at ties when the zero point is odd) and is
 * computed in float32 like onnxruntime's kernels. NaN becomes the zero point.
 */
export function quantizeAffine(data: ArrayLike<number>, p: AffineParams): Int32Array {
  const out = new Int32Array(data.length);
  const lo = p.qmin - p.zeroPoint;
  const hi = p.qmax - p.zeroPoint;
  for (let i = 0; i < data.length; i++) {
    const x = Math.fround(data[i] / p.scale);
    out[i] = Number.isNaN(x) ? p.zeroPoint : roundHalfEven(clamp(x, lo, hi)) + p.zeroPoint;
  }
  return out;
}

/** Quantizes to the storage array of the chosen type. */
export function quantizeAffineTyped(data: ArrayLike<number>, p: AffineParams, type: AffineType): Uint8Array | Int8Array {
  const q = quantizeAffine(data, p);
  return type === 'uint8' ? Uint8Array.from(q) : Int8Array.from(q);
}

/** x = (q - zeroPoint) * scale. */
export function dequantizeAffine(q: ArrayLike<number>, scale: number, zeroPoint: number): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = (q[i] - zeroPoint) * scale;
  return out;
}

// ---------------------------------------------------------------------------------------------
// int4 blockwise, MatMulNBits layout

/** Packs 4-bit values two per byte, the first (even index) in the low nibble. */
export function packInt4(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array((values.length + 1) >> 1);
  for (let i = 0; i < values.length; i++) out[i >> 1] |= (values[i] & 0xf) << ((i & 1) * 4);
  return out;
}

/** Unpacks `count` 4-bit values (low nibble first), sign-extending when `signed`. */
export function unpackInt4(bytes: Uint8Array, count: number, signed: boolean): Int8Array {
  const out = new Int8Array(count);
  for (let i = 0; i < count; i++) {
    const nibble = (bytes[i >> 1] >> ((i & 1) * 4)) & 0xf;
    out[i] = signed && nibble >= 8 ? nibble - 16 : nibble;
  }
  return out;
}

export interface Int4Blockwise {
  /** uint8 [N, blocksPerColumn, blockSize / 2]: column n's K values, block by block, low nibble first. */
  packed: Uint8Array;
  /** float32 [N * blocksPerColumn], index n * blocksPerColumn + block. */
  scales: Float32Array;
  /** uint8 [N * ceil(blocksPerColumn / 2)], two blocks per byte, low nibble first; absent when symmetric. */
  zeroPoints?: Uint8Array;
  blocksPerColumn: number;
}

/** Stored 4-bit value meaning 0 when a block has no zero point (MatMulNBits' default zero point). */
export const INT4_DEFAULT_ZERO_POINT = 8;
const INT4_MAX = 15;

/** [K, N] row-major -> [N, K] row-major, in tiles so both sides stay in cache. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const TILE = 64;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(r0 + TILE, rows);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(c0 + TILE, cols);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = data[r * cols + c];
    }
  }
  return out;
}

interface BlockParams {
  scale: number;
  zeroPoint: number;
}

/**
 * Symmetric block: the value of largest magnitude maps to -8 (scale = extreme / -8, possibly
 * negative), so all 16 levels are used. This is MLAS's `range2scale` in
 * onnxruntime/core/mlas/lib/q4_dq.cpp; the opposite extreme of equal magnitude saturates at 7.
 */
function symmetricBlock(min: number, max: number): BlockParams {
  const extreme = Math.abs(max) > Math.abs(min) ? max : min;
  const scale = Math.fround(extreme / -INT4_DEFAULT_ZERO_POINT);
  return { scale: scale !== 0 && Number.isFinite(scale) ? scale : SAFE_SCALE, zeroPoint: INT4_DEFAULT_ZERO_POINT };
}

/** Asymmetric block: range widened to include 0, scale = (max - min) / 15 (MLAS `range2scalezp`). */
function asymmetricBlock(min: number, max: number): BlockParams {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const raw = Math.fround((hi - lo) / INT4_MAX);
  const scale = raw > 0 && Number.isFinite(raw) ? raw : SAFE_SCALE;
  return { scale, zeroPoint: roundHalfEven(clamp(-lo / scale, 0, INT4_MAX)) };
}

/** Quantizes one block of a column (values[start..end)) into 4-bit codes at codes[0..]. */
function quantizeBlock(column: Float32Array, start: number, end: number, symmetric: boolean, codes: Uint8Array): BlockParams {
  let min = Infinity;
  let max = -Infinity;
  for (let k = start; k < end; k++) {
    const v = column[k];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const params = symmetric ? symmetricBlock(min, max) : asymmetricBlock(min, max);
  // Padding past K stays at the zero point, so it dequantizes to exactly 0 whatever A holds there.
  codes.fill(params.zeroPoint);
  for (let k = start; k < end; k++) {
    const x = Math.fround(column[k] / params.scale);
    codes[k - start] = Number.isNaN(x) ? params.zeroPoint : roundHalfEven(clamp(x, -params.zeroPoint, INT4_MAX - params.zeroPoint)) + params.zeroPoint;
  }
  return params;
}

function packCodesInto(codes: Uint8Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < codes.length; i += 2) out[offset + (i >> 1)] = (codes[i] & 0xf) | ((codes[i + 1] & 0xf) << 4);
}

/**
 * 4-bit blockwise quantization of a [K, N] row-major weight along K, in the layout of the
 * com.microsoft MatMulNBits inputs B, scales and zero_points (onnxruntime docs/ContribOperators.md and
 * python/tools/quantization/matmul_nbits_quantizer.py). K is padded up to a whole number of blocks.
 */
export function quantizeInt4Blockwise(weight: Float32Array, K: number, N: number, blockSize: number, symmetric: boolean): Int4Blockwise {
  if (weight.length !== K * N) throw new RangeError(`weight has ${weight.length} values, expected ${K}x${N}`);
  return quantizeInt4Columns(transpose2d(weight, K, N), K, N, blockSize, symmetric);
}

/** The same from the weight stored column by column ([N, K] row-major, e.g. Gemm's transB=1 weight). */
export function quantizeInt4Columns(columns: Float32Array, K: number, N: number, blockSize: number, symmetric: boolean): Int4Blockwise {
  if (blockSize < 2 || blockSize % 2 !== 0) throw new RangeError(`block size ${blockSize} must be even`);
  if (columns.length !== K * N) throw new RangeError(`weight has ${columns.length} values, expected ${N}x${K}`);
  const blocksPerColumn = Math.ceil(K / blockSize);
  const blobSize = blockSize / 2;
  const packed = new Uint8Array(N * blocksPerColumn * blobSize);
  const scales = new Float32Array(N * blocksPerColumn);
  const zeroPointBytesPerColumn = Math.ceil(blocksPerColumn / 2);
  const zeroPoints = symmetric ? undefined : new Uint8Array(N * zeroPointBytesPerColumn);
  const codes = new Uint8Array(blockSize);
  for (let n = 0; n < N; n++) {
    const column = columns.subarray(n * K, (n + 1) * K);
    for (let b = 0; b < blocksPerColumn; b++) {
      const params = quantizeBlock(column, b * blockSize, Math.min((b + 1) * blockSize, K), symmetric, codes);
      const meta = n * blocksPerColumn + b;
      scales[meta] = params.scale;
      packCodesInto(codes, packed, meta * blobSize);
      if (zeroPoints) zeroPoints[n * zeroPointBytesPerColumn + (b >> 1)] |= params.zeroPoint << ((b & 1) * 4);
    }
  }
  return { packed, scales, zeroPoints, blocksPerColumn };
}

/** Inverse of quantizeInt4Blockwise: the [K, N] row-major weight MatMulNBits computes with. */
export function dequantizeInt4Blockwise(q: Int4Blockwise, K: number, N: number, blockSize: number): Float32Array {
  const out = new Float32Array(K * N);
  const blobSize = blockSize / 2;
  const zeroPointBytesPerColumn = Math.ceil(q.blocksPerColumn / 2);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize);
      const meta = n * q.blocksPerColumn + b;
      const within = k - b * blockSize;
      const code = (q.packed[meta * blobSize + (within >> 1)] >> ((within & 1) * 4)) & 0xf;
      const zp = q.zeroPoints ? (q.zeroPoints[n * zeroPointBytesPerColumn + (b >> 1)] >> ((b & 1) * 4)) & 0xf : INT4_DEFAULT_ZERO_POINT;
      out[k * N + n] = (code - zp) * q.scales[meta];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// float16 and bfloat16

/**
 * Magnitude limits applied before converting to float16, as onnxconverter-common's float16.py does:
 * non-zero values smaller than minPositive become ±minPositive (instead of flushing to 0) and finite
 * values larger than maxFinite become ±maxFinite (instead of overflowing to infinity).
 */
export interface Float16Clamp {
  minPositive?: number;
  maxFinite?: number;
}

/** float16 bits of +infinity. */
const F16_INF = 0x7c00;
/** f32 bit pattern of 65520: the first magnitude that rounds to float16 infinity. */
const F32_F16_OVERFLOW = 0x477ff000;
/** f32 bit pattern of 2^-14, the smallest normal float16. */
const F32_F16_MIN_NORMAL = 0x38800000;
/** (127 - 15) << 23: moves a float32 exponent to the float16 bias. */
const EXPONENT_REBIAS = 0x38000000;
const TWO_POW_24 = 16777216;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float16 bits of one float32 bit pattern, rounding to nearest even. */
function float16FromBits(bits: number, value: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | F16_INF | 0x200 | ((abs >>> 13) & 0x3ff); // NaN stays NaN (quiet)
  if (abs >= F32_F16_OVERFLOW) return sign | F16_INF;
  if (abs >= F32_F16_MIN_NORMAL) {
    const rebased = abs - EXPONENT_REBIAS;
    return sign | ((rebased + 0x0fff + ((rebased >>> 13) & 1)) >>> 13);
  }
  // Subnormal: the float16 holds m * 2^-24; m = 1024 rolls into the smallest normal by itself.
  return sign | roundHalfEven(Math.abs(value) * TWO_POW_24);
}

function clampMagnitude(x: number, clampTo: Float16Clamp): number {
  const a = Math.abs(x);
  const { minPositive, maxFinite } = clampTo;
  if (minPositive !== undefined && a > 0 && a < minPositive) return x < 0 ? -minPositive : minPositive;
  if (maxFinite !== undefined && a > maxFinite && a !== Infinity) return x < 0 ? -maxFinite : maxFinite;
  return x;
}

/** One value to float16 bits (round to nearest even, subnormals, ±inf, NaN). */
export function toFloat16Bits(x: number, clampTo?: Float16Clamp): number {
  scratchF32[0] = clampTo ? clampMagnitude(x, clampTo) : x;
  return float16FromBits(scratchU32[0], scratchF32[0]);
}

/** float32 -> float16 bit patterns, optionally clamping magnitudes first. */
export function float32ToFloat16(data: Float32Array, clampTo?: Float16Clamp): Uint16Array {
  const out = new Uint16Array(data.length);
  if (clampTo) {
    for (let i = 0; i < data.length; i++) out[i] = toFloat16Bits(data[i], clampTo);
    return out;
  }
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) out[i] = float16FromBits(bits[i], data[i]);
  return out;
}

/** float16 bit patterns -> float32 (exact: every float16 is a float32). */
export function float16ToFloat32(halves: Uint16Array): Float32Array {
  const out = new Float32Array(halves.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < halves.length; i++) {
    const h = halves[i];
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0x1f) bits[i] = sign | 0x7f800000 | (mantissa << 13);
    else if (exponent !== 0) bits[i] = sign | ((exponent + 112) << 23) | (mantissa << 13);
    else out[i] = (sign ? -mantissa : mantissa) / TWO_POW_24; // subnormal or ±0
  }
  return out;
}

/** float32 -> bfloat16 bit patterns (the top 16 bits, rounded to nearest even; NaN stays NaN). */
export function float32ToBfloat16(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) {
    const b = bits[i];
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = (b >>> 16) | 0x40;
    // Below 2^32 for every non-NaN pattern, so the unsigned shift cannot wrap.
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** bfloat16 bit patterns -> float32 (exact). */
export function bfloat16ToFloat32(halves: Uint16Array): Float32Array {
  const out = new Float32Array(halves.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < halves.length; i++) bits[i] = halves[i] << 16;
  return out;
}
