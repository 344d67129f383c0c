/**
 * Running several samples as one batch (concatenated along axis 0) and splitting the outputs back,
 * plus the summary of per-output fidelity into one set of numbers per variant.
 */
import type { SensitivityMetrics } from '../../core/reports';
import type { InputSample, InputTensor, ModelInputSpec } from '../../runtime/inputs';
import type { NpyData } from '../../runtime/npy';
import type { OutputFidelity, SampleOutputs, TensorData } from '../fidelity';

type TypedCtor = { new (length: number): NpyData };

function concatData(parts: NpyData[]): NpyData {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new (parts[0].constructor as TypedCtor)(total);
  let at = 0;
  for (const p of parts) {
    // Same constructor on both sides; TypeScript cannot see that through the union.
    (out as Float32Array).set(p as Float32Array, at);
    at += p.length;
  }
  return out;
}

/** Whether the model lets axis 0 of every input vary (a symbolic or unnamed batch dim). */
export function batchableSpecs(specs: ModelInputSpec[]): boolean {
  return specs.length > 0 && specs.every((s) => s.dims !== null && s.dims.length > 0 && typeof s.dims[0] !== 'number');
}

/** The samples as one, concatenated along axis 0; undefined when their shapes differ beyond axis 0. */
export function concatSamples(samples: InputSample[]): InputSample | undefined {
  if (samples.length < 2) return undefined;
  const first = samples[0];
  const sameTail = (a: InputTensor, b: InputTensor) => a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => i === 0 || d === b.shape[i]);
  if (!samples.every((s) => s.length === first.length && s.every((t, i) => t.name === first[i].name && sameTail(t, first[i])))) return undefined;
  return first.map((t, i): InputTensor => {
    const parts = samples.map((s) => s[i]);
    return { ...t, shape: [parts.reduce((n, p) => n + p.shape[0], 0), ...t.shape.slice(1)], data: concatData(parts.map((p) => p.data)) };
  });
}

/** Rows along axis 0 that each sample contributed (its first input's batch size). */
export function sampleRows(samples: InputSample[]): number[] {
  return samples.map((s) => s[0].shape[0]);
}

function sliceRows(t: TensorData, from: number, rows: number, total: number): TensorData {
  const per = t.data.length / total;
  const data = t.data as Float32Array;
  return { data: data.subarray(from * per, (from + rows) * per), dims: [rows, ...t.dims.slice(1)] };
}

/** Splits batched outputs back into samples; undefined when an output's axis 0 is not the batch. */
export function splitOutputs(out: SampleOutputs, rows: number[]): SampleOutputs[] | undefined {
  const total = rows.reduce((a, b) => a + b, 0);
  const names = Object.keys(out);
  if (!names.every((n) => out[n].dims.length > 0 && out[n].dims[0] === total && ArrayBuffer.isView(out[n].data))) return undefined;
  const split: SampleOutputs[] = rows.map(() => ({}));
  let at = 0;
  rows.forEach((r, i) => {
    for (const n of names) split[i][n] = sliceRows(out[n], at, r, total);
    at += r;
  });
  return split;
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * One set of numbers for a variant: the worst output's mean cosine, the worst output's SQNR, and the
 * worst top-1 agreement among outputs that look like class scores.
 */
export function summarizeFidelity(outputs: OutputFidelity[]): SensitivityMetrics {
  const cosine = Math.min(1, ...outputs.map((o) => o.cosineMean));
  const sqnr = Math.min(Infinity, ...outputs.map((o) => o.sqnrDb));
  const scored = outputs.flatMap((o) => (o.scores ? [o.scores.top1Agreement] : []));
  return { cosine, sqnrDb: finiteOrNull(sqnr), ...(scored.length ? { top1Agreement: Math.min(...scored) } : {}) };
}
