/** IEEE 754 half precision from JS numbers, for float16 model inputs (onnxruntime-node takes the raw bits). */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Half-precision bits of `value`, rounded to nearest even (through float32, which is exact for our uses). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf stays Inf, NaN stays a quiet NaN
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // too large: Inf
  if (halfExponent <= 0) return sign | subnormalBits(mantissa | 0x800000, 14 - halfExponent);
  // Rounding may carry into the exponent, which is exactly right (up to Inf at the top).
  return sign | roundShift((halfExponent << 23) | mantissa, 13);
}

/** A value below half's normal range becomes a subnormal: the full 24-bit significand shifted right. */
function subnormalBits(significand: number, shift: number): number {
  return shift > 24 ? 0 : roundShift(significand, shift);
}

/** value >> shift, rounded to nearest, ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  return rest > halfway || (rest === halfway && kept & 1) ? kept + 1 : kept;
}
