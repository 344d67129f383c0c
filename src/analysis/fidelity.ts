/**
 * How close a candidate model's outputs are to the reference model's: cosine similarity, SQNR in dB
 * (ORT's qdq_loss_debug definition, 20·log10(‖x‖ / ‖x − y‖)), absolute errors, and for outputs that
 * look like class scores, top-1 agreement and top-5 overlap per row. Pure functions over typed arrays;
 * the caller runs the models.
 *
 * NaN and ±Infinity never make a metric NaN: the metrics cover the positions where both sides are
 * finite, and non-finite values are counted separately. A position where the sides differ in
 * finiteness (or hold different non-finite values) is a "mismatch" and is reported as a warning.
 */
import { UserError } from '../core/errors';

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | readonly number[];

/** One output of one sample: its values and dims. */
export interface TensorData {
  data: NumericArray;
  dims: readonly number[];
}

export interface NonFiniteCounts {
  /** NaN/±Inf values in the reference. */
  reference: number;
  /** NaN/±Inf values in the candidate. */
  candidate: number;
  /** Positions where the two sides disagree on a non-finite value (e.g. finite vs NaN, +Inf vs −Inf). */
  mismatched: number;
}

export interface ScoreAgreement {
  rows: number;
  /** Fraction of rows whose argmax is the same. */
  top1Agreement: number;
  /** Mean over rows of |top5(ref) ∩ top5(candidate)| / min(5, classes). */
  top5Overlap: number;
}

/** Sums over finite pairs, kept so that samples can be aggregated exactly. */
interface Sums {
  count: number;
  dot: number;
  refSq: number;
  candSq: number;
  errSq: number;
  absErr: number;
  maxAbsErr: number;
}

export interface TensorComparison {
  /** Elements where both sides are finite: what the metrics below cover. */
  compared: number;
  elements: number;
  cosine: number;
  sqnrDb: number;
  maxAbsError: number;
  meanAbsError: number;
  nonFinite: NonFiniteCounts;
  /** Present when the output looks like class scores (see looksLikeScores) or the caller said so. */
  scores?: ScoreAgreement;
  sums: Sums;
}

// ---------------------------------------------------------------------------------------------
// Metrics on plain vectors

function toFloat64(data: NumericArray): Float64Array {
  if (data instanceof Float64Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float64Array.from(data, Number);
  return Float64Array.from(data);
}

function sameLength(x: NumericArray, y: NumericArray): void {
  if (x.length !== y.length) throw new UserError(`cannot compare ${x.length} reference values with ${y.length} candidate values`);
}

/** Cosine of the angle between x and y; 1 when both are all zeros, 0 when only one is. */
function cosineOf(s: Sums): number {
  if (s.refSq === 0 && s.candSq === 0) return 1;
  if (s.refSq === 0 || s.candSq === 0) return 0;
  return Math.min(1, Math.max(-1, s.dot / Math.sqrt(s.refSq * s.candSq)));
}

/** 20·log10(‖x‖/‖x−y‖): +Infinity when identical, −Infinity when x is zero and y is not. */
function sqnrOf(s: Sums): number {
  if (s.errSq === 0) return Infinity;
  return 10 * Math.log10(s.refSq / s.errSq);
}

function emptySums(): Sums {
  return { count: 0, dot: 0, refSq: 0, candSq: 0, errSq: 0, absErr: 0, maxAbsErr: 0 };
}

function isSameNonFinite(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/** One pass over both arrays: the finite-pair sums and the non-finite counts. */
function accumulate(x: Float64Array, y: Float64Array): { sums: Sums; nonFinite: NonFiniteCounts } {
  const s = emptySums();
  const nonFinite: NonFiniteCounts = { reference: 0, candidate: 0, mismatched: 0 };
  for (let i = 0; i < x.length; i++) {
    const [a, b] = [x[i], y[i]];
    const [fa, fb] = [Number.isFinite(a), Number.isFinite(b)];
    if (!fa || !fb) {
      nonFinite.reference += fa ? 0 : 1;
      nonFinite.candidate += fb ? 0 : 1;
      nonFinite.mismatched += isSameNonFinite(a, b) ? 0 : 1;
      continue;
    }
    addPair(s, a, b);
  }
  return { sums: s, nonFinite };
}

function addPair(s: Sums, a: number, b: number): void {
  const err = a - b;
  s.count++;
  s.dot += a * b;
  s.refSq += a * a;
  s.candSq += b * b;
  s.errSq += err * err;
  s.absErr += Math.abs(err);
  s.maxAbsErr = Math.max(s.maxAbsErr, Math.abs(err));
}

export function cosineSimilarity(x: NumericArray, y: NumericArray): number {
  sameLength(x, y);
  return cosineOf(accumulate(toFloat64(x), toFloat64(y)).sums);
}

/** SQNR in dB as ORT's qdq_loss_debug computes it: 20·log10(‖x‖ / ‖x − y‖), x the reference. */
export function sqnrDb(x: NumericArray, y: NumericArray): number {
  sameLength(x, y);
  return sqnrOf(accumulate(toFloat64(x), toFloat64(y)).sums);
}

export function absoluteErrors(x: NumericArray, y: NumericArray): { max: number; mean: number } {
  sameLength(x, y);
  const { sums } = accumulate(toFloat64(x), toFloat64(y));
  return { max: sums.maxAbsErr, mean: sums.count ? sums.absErr / sums.count : 0 };
}

// ---------------------------------------------------------------------------------------------
// Class scores

/**
 * Whether an output looks like class scores, one row of scores per item along the last dim:
 * - rank 2, [batch, classes] with classes >= 2 (image classifiers, the PaddleOCR angle classifier);
 * - rank 3, [batch, positions, classes] with classes >= 2 (sequence and CTC heads, token logits);
 * - rank >= 4 only when every dim between the first and the last is 1 ([N, 1, 1, C] conv heads),
 *   since anything else is a feature map or an image, where a per-row argmax means nothing.
 * Rank 1 is never scores: a lone vector does not say which dim is the batch. Callers who know better
 * pass `scores: true/false` to compareTensors.
 */
export function looksLikeScores(dims: readonly number[]): boolean {
  const rank = dims.length;
  if (rank < 2 || dims[rank - 1] < 2) return false;
  return rank <= 3 || dims.slice(1, -1).every((d) => d === 1);
}

/** Indices of the k largest values of row[from, from+n), best first, ties to the lower index; NaN ranks last. */
export function topK(row: Float64Array, from: number, n: number, k: number): number[] {
  const best: number[] = [];
  const value = (i: number) => (Number.isNaN(row[from + i]) ? -Infinity : row[from + i]);
  for (let i = 0; i < n; i++) {
    const v = value(i);
    if (best.length === k && v <= value(best[k - 1])) continue;
    let at = best.length;
    while (at > 0 && value(best[at - 1]) < v) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Top-1 agreement and top-5 overlap over the rows of the last dim. */
export function scoreAgreement(reference: NumericArray, candidate: NumericArray, classes: number): ScoreAgreement {
  sameLength(reference, candidate);
  if (!(classes >= 1) || reference.length % classes !== 0) throw new UserError(`${reference.length} scores do not split into rows of ${classes}`);
  const [x, y] = [toFloat64(reference), toFloat64(candidate)];
  const rows = x.length / classes;
  const k = Math.min(5, classes);
  let [top1, overlap] = [0, 0];
  for (let r = 0; r < rows; r++) {
    const [a, b] = [topK(x, r * classes, classes, k), topK(y, r * classes, classes, k)];
    top1 += a[0] === b[0] ? 1 : 0;
    overlap += a.filter((i) => b.includes(i)).length / k;
  }
  return { rows, top1Agreement: rows ? top1 / rows : 1, top5Overlap: rows ? overlap / rows : 1 };
}

// ---------------------------------------------------------------------------------------------
// One output of one sample

function checkTensor(t: TensorData, side: string, label: string): void {
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== expected) throw new UserError(`${label}: ${side} has ${t.data.length} values but its dims [${t.dims.join(', ')}] need ${expected}`);
}

function checkPair(reference: TensorData, candidate: TensorData, label: string): void {
  checkTensor(reference, 'the reference', label);
  checkTensor(candidate, 'the candidate', label);
  const same = reference.dims.length === candidate.dims.length && reference.dims.every((d, i) => d === candidate.dims[i]);
  if (!same) throw new UserError(`${label}: reference shape [${reference.dims.join(', ')}] differs from candidate shape [${candidate.dims.join(', ')}]`);
}

function isFloatData(data: NumericArray): boolean {
  return data instanceof Float32Array || data instanceof Float64Array || Array.isArray(data);
}

export interface CompareOptions {
  /** Force (or forbid) the class-score metrics instead of guessing with looksLikeScores. */
  scores?: boolean;
  /** Names the output in error messages. */
  label?: string;
}

/** Every metric for one output of one sample. Throws UserError when the shapes do not match. */
export function compareTensors(reference: TensorData, candidate: TensorData, options: CompareOptions = {}): TensorComparison {
  const label = options.label ?? 'output';
  checkPair(reference, candidate, label);
  const { sums, nonFinite } = accumulate(toFloat64(reference.data), toFloat64(candidate.data));
  const asScores = options.scores ?? (isFloatData(reference.data) && looksLikeScores(reference.dims));
  const classes = reference.dims[reference.dims.length - 1];
  return {
    compared: sums.count,
    elements: reference.data.length,
    cosine: cosineOf(sums),
    sqnrDb: sqnrOf(sums),
    maxAbsError: sums.maxAbsErr,
    meanAbsError: sums.count ? sums.absErr / sums.count : 0,
    nonFinite,
    scores: asScores && classes >= 1 ? scoreAgreement(reference.data, candidate.data, classes) : undefined,
    sums,
  };
}

// ---------------------------------------------------------------------------------------------
// Several samples

export interface OutputFidelity {
  output: string;
  samples: number;
  elements: number;
  cosineMean: number;
  cosineMin: number;
  /** SQNR of all samples' values concatenated (signal and noise energies summed first). */
  sqnrDb: number;
  /** The worst single sample's SQNR. */
  sqnrDbMin: number;
  maxAbsError: number;
  meanAbsError: number;
  nonFinite: NonFiniteCounts;
  /** Over every row of every sample. */
  scores?: ScoreAgreement;
  warnings: string[];
}

function addSums(into: Sums, s: Sums): void {
  into.count += s.count;
  into.dot += s.dot;
  into.refSq += s.refSq;
  into.candSq += s.candSq;
  into.errSq += s.errSq;
  into.absErr += s.absErr;
  into.maxAbsErr = Math.max(into.maxAbsErr, s.maxAbsErr);
}

function mergeScores(list: ScoreAgreement[]): ScoreAgreement | undefined {
  if (list.length === 0) return undefined;
  const rows = list.reduce((n, s) => n + s.rows, 0);
  const weighted = (f: (s: ScoreAgreement) => number) => (rows ? list.reduce((sum, s) => sum + f(s) * s.rows, 0) / rows : 1);
  return { rows, top1Agreement: weighted((s) => s.top1Agreement), top5Overlap: weighted((s) => s.top5Overlap) };
}

function nonFiniteWarnings(output: string, n: NonFiniteCounts): string[] {
  const warnings: string[] = [];
  if (n.mismatched > 0) warnings.push(`${output}: ${n.mismatched} values are NaN or infinite on one side only; metrics cover only the positions where both are finite`);
  else if (n.reference > 0) warnings.push(`${output}: the reference itself has ${n.reference} NaN or infinite values (the candidate matches them)`);
  return warnings;
}

/** Aggregates one output's per-sample comparisons. */
export function aggregateComparisons(output: string, list: TensorComparison[]): OutputFidelity {
  const total = emptySums();
  const nonFinite: NonFiniteCounts = { reference: 0, candidate: 0, mismatched: 0 };
  for (const c of list) {
    addSums(total, c.sums);
    nonFinite.reference += c.nonFinite.reference;
    nonFinite.candidate += c.nonFinite.candidate;
    nonFinite.mismatched += c.nonFinite.mismatched;
  }
  const cosines = list.map((c) => c.cosine);
  return {
    output,
    samples: list.length,
    elements: list.reduce((n, c) => n + c.elements, 0),
    cosineMean: cosines.length ? cosines.reduce((a, b) => a + b, 0) / cosines.length : 1,
    cosineMin: Math.min(1, ...cosines),
    sqnrDb: sqnrOf(total),
    sqnrDbMin: Math.min(Infinity, ...list.map((c) => c.sqnrDb)),
    maxAbsError: total.maxAbsErr,
    meanAbsError: total.count ? total.absErr / total.count : 0,
    nonFinite,
    scores: mergeScores(list.flatMap((c) => (c.scores ? [c.scores] : []))),
    warnings: nonFiniteWarnings(output, nonFinite),
  };
}

/** Output name -> tensor, for one sample. */
export type SampleOutputs = Record<string, TensorData>;

function outputNames(reference: SampleOutputs[], candidate: SampleOutputs[]): string[] {
  if (reference.length !== candidate.length) throw new UserError(`${reference.length} reference samples but ${candidate.length} candidate samples`);
  const names = Object.keys(reference[0] ?? {});
  reference.forEach((ref, i) => {
    const missing = names.filter((n) => !(n in ref) || !(n in candidate[i]));
    if (missing.length) throw new UserError(`sample ${i}: output ${missing.join(', ')} is missing from the ${missing.every((n) => n in ref) ? 'candidate' : 'reference'}`);
  });
  return names;
}

/** Per-output fidelity over several samples (the reference's output names, in its order). */
export function compareSamples(reference: SampleOutputs[], candidate: SampleOutputs[], options: Record<string, CompareOptions> = {}): OutputFidelity[] {
  return outputNames(reference, candidate).map((name) => {
    const list = reference.map((ref, i) => compareTensors(ref[name], candidate[i][name], { label: `output ${name} (sample ${i})`, ...options[name] }));
    return aggregateComparisons(name, list);
  });
}
