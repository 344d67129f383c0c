/**
 * float32 -> IEEE 754 binary16 conversion on bit patterns, rounding to nearest, ties to even, with
 * subnormals, infinities and NaN handled the way hardware (and numpy's float16) does. Works on the
 * float32 bits rather than on doubles so that a float32 tie is seen as a tie (no double rounding).
 *
 * Also the value clamping onnxconverter-common applies before converting weights (see clampForHalf).
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Largest finite float16 (0x7bff). */
export const HALF_MAX = 65504;

/** Rounds `value` right by `shift` bits, to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** float16 bits of the float32 whose bits are `f`. */
export function halfBitsFromFloatBits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  const mantissa = f & 0x7fffff;
  if (exp === 0xff) {
    // Keep NaN a NaN (quiet bit set, top payload bits kept); infinity stays infinity.
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }
  const halfExp = exp - 127 + 15;
  if (halfExp >= 31) return sign | 0x7c00;
  if (halfExp > 0) {
    // A carry out of the mantissa correctly bumps the exponent, up to infinity (0x7c00).
    return sign | roundShift((halfExp << 23) | mantissa, 13);
  }
  // Subnormal result: below 2^-25 everything rounds to zero; 2^-25 itself is a tie and rounds to even (0).
  if (halfExp < -10) return sign;
  // value = (1.mantissa) * 2^(exp-127) = significand * 2^(halfExp-25); the subnormal unit is 2^-24.
  return sign | roundShift(mantissa | 0x800000, 14 - halfExp);
}

/** float16 bits of a number (first rounded to float32, as a float32 tensor would hold it). */
export function float32ToHalfBits(value: number): number {
  scratchF32[0] = value;
  return halfBitsFromFloatBits(scratchU32[0]);
}

/** Converts a whole float32 array; `out` may be given to avoid an allocation. */
export function float32ArrayToHalf(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = halfBitsFromFloatBits(bits[i]);
  return out;
}

export interface ClampLimits {
  /** Non-zero magnitudes below this become this (sign kept). */
  minPositive: number;
  /** Finite magnitudes above this become this (sign kept). */
  maxFinite: number;
}

export interface ClampCount {
  /** Values raised to minPositive in magnitude. */
  low: number;
  /** Values lowered to maxFinite in magnitude. */
  high: number;
  /** Largest finite magnitude seen before clamping. */
  maxAbs: number;
}

/**
 * Clamps in place as onnxconverter-common's convert_np_to_float16 does: 0 < |x| < minPositive becomes
 * ±minPositive, maxFinite < |x| < inf becomes ±maxFinite; zeros, infinities and NaN are left alone, so
 * no value changes sign or finiteness.
 */
export function clampForHalf(values: Float32Array, limits: ClampLimits, count: ClampCount): void {
  const { minPositive, maxFinite } = limits;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const a = Math.abs(v);
    if (a === 0 || a !== a || a === Infinity) continue;
    if (a > count.maxAbs) count.maxAbs = a;
    if (a < minPositive) {
      values[i] = v < 0 ? -minPositive : minPositive;
      count.low++;
    } else if (a > maxFinite) {
      values[i] = v < 0 ? -maxFinite : maxFinite;
      count.high++;
    }
  }
}
