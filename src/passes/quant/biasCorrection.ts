/**
 * Bias correction (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias
 * Correction", ICCV 2019, section 4.2): rounding the weights shifts the expected output of a layer by
 * E[(W_q − W)·x] = (W_q − W)·E[x]. Subtracting that from the bias, b' = b − (W_q − W)·E[x], removes the
 * shift, using the per-channel means of the layer's input measured during calibration. Applied before
 * the bias is quantized, so the corrected bias is what the int32 bias stores.
 *
 * For a convolution the expected input is taken to be the same at every spatial position (per input
 * channel mean), so the shift of output channel m sums the weight error over its input channels and
 * kernel taps; zero padding at the borders makes this an approximation there, as in the paper.
 */

/** A convolution weight [M, C/group, k...] and its input channel means [C]. */
export interface ConvCorrection {
  kind: 'conv';
  dims: readonly number[];
  group: number;
}

/** A linear layer's weight: stored [K, N], or [N, K] when `transposed` (Gemm transB=1). */
export interface LinearCorrection {
  kind: 'linear';
  dims: readonly number[];
  transposed: boolean;
}

export type CorrectionLayout = ConvCorrection | LinearCorrection;

/** Input channels the layer's weight expects a mean for. */
export function expectedMeanLength(layout: CorrectionLayout): number {
  if (layout.kind === 'conv') return layout.dims[1] * layout.group;
  return layout.transposed ? layout.dims[1] : layout.dims[0];
}

/** Output channels of the layer (bias length). */
export function outputChannels(layout: CorrectionLayout): number {
  if (layout.kind === 'conv') return layout.dims[0];
  return layout.transposed ? layout.dims[0] : layout.dims[1];
}

function convShift(weight: Float32Array, dequantized: Float32Array, mean: Float64Array, layout: ConvCorrection): Float64Array {
  const [outChannels, perGroup] = layout.dims;
  const taps = layout.dims.slice(2).reduce((a, b) => a * b, 1);
  const outPerGroup = outChannels / layout.group;
  const shift = new Float64Array(outChannels);
  for (let m = 0; m < outChannels; m++) {
    const firstInput = Math.floor(m / outPerGroup) * perGroup;
    let sum = 0;
    for (let c = 0; c < perGroup; c++) {
      const base = (m * perGroup + c) * taps;
      let error = 0;
      for (let k = 0; k < taps; k++) error += dequantized[base + k] - weight[base + k];
      sum += error * mean[firstInput + c];
    }
    shift[m] = sum;
  }
  return shift;
}

function linearShift(weight: Float32Array, dequantized: Float32Array, mean: Float64Array, layout: LinearCorrection): Float64Array {
  const rows = layout.dims[0];
  const cols = layout.dims[1];
  const N = layout.transposed ? rows : cols;
  const shift = new Float64Array(N);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const [k, n] = layout.transposed ? [c, r] : [r, c];
      shift[n] += (dequantized[i] - weight[i]) * mean[k];
    }
  }
  return shift;
}

/** (W_q − W)·E[x] for each output channel. */
export function biasShift(weight: Float32Array, dequantized: Float32Array, mean: Float64Array, layout: CorrectionLayout): Float64Array {
  return layout.kind === 'conv' ? convShift(weight, dequantized, mean, layout) : linearShift(weight, dequantized, mean, layout);
}

/**
 * b' = b − (W_q − W)·E[x]; `bias` may be undefined (no bias yet: the correction becomes one).
 * Returns a reason instead when the input means do not match the weight.
 */
export function correctBias(weight: Float32Array, dequantized: Float32Array, bias: Float32Array | undefined, mean: Float64Array, layout: CorrectionLayout): Float32Array | string {
  const expected = expectedMeanLength(layout);
  if (mean.length !== expected) return `input has ${mean.length} channel means, the weight expects ${expected}`;
  const shift = biasShift(weight, dequantized, mean, layout);
  return Float32Array.from(shift, (s, c) => (bias ? bias[c] : 0) - s);
}
