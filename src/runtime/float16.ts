/**
 * IEEE 754 half precision for float16 model inputs (onnxruntime-node takes the raw bits). One
 * implementation serves the whole project: the fp16 pass's, tested on every float16 value and midpoint.
 */
export { float32ToHalfBits as toFloat16Bits } from '../passes/fp16/half';
