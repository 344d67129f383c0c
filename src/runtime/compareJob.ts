/**
 * The 'compare' job, run inside the ORT worker: both models on the same inputs (generated from a seed,
 * or --data files), outputs compared tensor by tensor, and latency of both measured interleaved (one
 * run of each in turn) so that drift in machine load hits both alike.
 */
import type * as Ort from 'onnxruntime-node';
import { compareSamples, type OutputFidelity, type SampleOutputs } from '../analysis/fidelity';
import type { CompareReport, OutputComparison } from '../core/reports';
import { UserError } from '../core/errors';
import { loadModel } from '../onnx/io';
import type { GraphProto } from '../onnx/types';
import { generateInputs, loadInputSamples, modelInputSpecs, type InputSet, type ModelInputSpec } from './inputs';
import type { JobContext } from './jobContext';
import { ortError } from './ortErrors';
import * as ortSession from './ortSession';
import type { OrtFeeds, OrtSession } from './ortSession';
import type { CompareJobParams } from './protocol';
import { latencyStats } from './stats';

const WARMUP = 3;

export async function compareJob(params: CompareJobParams, ctx: JobContext): Promise<Omit<CompareReport, 'sizeBytes'>> {
  ctx.progress.report('load', 0, 1);
  const ort = ortSession.loadOrt(ctx.guard);
  const specs = matchingInputs(params.reference, params.candidate);
  const inputs = compareInputs(specs, params);
  const feeds = inputs.samples.map((s) => ortSession.toFeeds(ort, s));
  const settings = { executionProvider: 'cpu', graphOptimizationLevel: 'all' as const, threads: params.threads };
  ctx.progress.report('session', 0, 2);
  const ref = await ortSession.createSession(ort, ctx.guard, params.reference, ortSession.sessionOptions(settings), params.reference);
  try {
    ctx.progress.report('session', 1, 2);
    const cand = await ortSession.createSession(ort, ctx.guard, params.candidate, ortSession.sessionOptions(settings), params.candidate);
    try {
      const outputs = await compareOutputs(ctx, ref, cand, feeds);
      const latencyMs = await interleavedLatency(ctx, ref, cand, feeds, params.runs);
      return { reference: params.reference, candidate: params.candidate, samples: feeds.length, inputs: describeInputs(inputs), outputs, latencyMs, warnings: [] };
    } finally {
      await ortSession.releaseSession(ctx.guard, cand);
    }
  } finally {
    await ortSession.releaseSession(ctx.guard, ref);
  }
}

function graphOf(file: string): GraphProto {
  return loadModel(file).model.graph as GraphProto;
}

/** Both models must take the same inputs; the reference's specs drive input generation. */
function matchingInputs(reference: string, candidate: string): ModelInputSpec[] {
  const a = modelInputSpecs(graphOf(reference));
  const b = new Map(modelInputSpecs(graphOf(candidate)).map((s) => [s.name, s]));
  for (const spec of a) {
    const other = b.get(spec.name);
    if (!other) throw new UserError(`the models take different inputs: ${candidate} has no input ${spec.name}`);
    if (other.dtype !== spec.dtype) throw new UserError(`input ${spec.name} is ${spec.dtype} in ${reference} but ${other.dtype} in ${candidate}`);
  }
  if (b.size !== a.length) throw new UserError(`the models take different inputs (${a.length} vs ${b.size})`);
  return a;
}

function compareInputs(specs: ModelInputSpec[], params: CompareJobParams): InputSet {
  if (params.dataDir) return loadInputSamples(specs, params.dataDir, params.shapes);
  const sets = Array.from({ length: params.samples }, (_, i) => generateInputs(specs, { shapes: params.shapes, seed: params.seed + i }));
  return { samples: sets.map((s) => s.samples[0]), sources: sets[0].sources };
}

function describeInputs(inputs: InputSet): string {
  const first = Object.values(inputs.sources)[0] ?? '';
  return inputs.samples.length > 1 && first.startsWith('generated') ? `${inputs.samples.length} generated samples (${first})` : first;
}

async function runOutputs(ctx: JobContext, session: OrtSession, feeds: OrtFeeds): Promise<SampleOutputs> {
  let results: Ort.InferenceSession.ReturnType;
  try {
    results = await ctx.guard.call(() => session.run(feeds));
  } catch (err) {
    if (err instanceof Error && err.name === 'AbortError') throw err;
    throw ortError('onnxruntime failed to run the model', err);
  }
  const out: SampleOutputs = {};
  for (const [name, t] of Object.entries(results)) {
    if (typeof t.data === 'object' && !Array.isArray(t.data)) out[name] = { data: t.data as Float32Array, dims: [...t.dims] };
  }
  return out;
}

async function compareOutputs(ctx: JobContext, ref: OrtSession, cand: OrtSession, feeds: OrtFeeds[]): Promise<OutputComparison[]> {
  const refOut: SampleOutputs[] = [];
  const candOut: SampleOutputs[] = [];
  for (let i = 0; i < feeds.length; i++) {
    ctx.progress.report('outputs', i, feeds.length);
    refOut.push(await runOutputs(ctx, ref, feeds[i]));
    candOut.push(await runOutputs(ctx, cand, feeds[i]));
  }
  return compareSamples(refOut, candOut).map(toComparison);
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function toComparison(f: OutputFidelity): OutputComparison {
  return {
    output: f.output,
    samples: f.samples,
    elements: f.elements,
    cosineMean: f.cosineMean,
    cosineMin: f.cosineMin,
    sqnrDb: finiteOrNull(f.sqnrDb),
    sqnrDbMin: finiteOrNull(f.sqnrDbMin),
    maxAbsError: f.maxAbsError,
    meanAbsError: f.meanAbsError,
    ...(f.scores ? { top1Agreement: f.scores.top1Agreement, top5Overlap: f.scores.top5Overlap } : {}),
    warnings: f.warnings,
  };
}

async function timedRun(ctx: JobContext, session: OrtSession, feeds: OrtFeeds): Promise<number> {
  const t = performance.now();
  await ortSession.runSession(ctx.guard, session, feeds);
  return performance.now() - t;
}

async function interleavedLatency(ctx: JobContext, ref: OrtSession, cand: OrtSession, feeds: OrtFeeds[], runs: number): Promise<CompareReport['latencyMs']> {
  for (let i = 0; i < WARMUP; i++) {
    await timedRun(ctx, ref, feeds[i % feeds.length]);
    await timedRun(ctx, cand, feeds[i % feeds.length]);
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    ctx.progress.report('latency', i, runs);
    const f = feeds[i % feeds.length];
    a.push(await timedRun(ctx, ref, f));
    b.push(await timedRun(ctx, cand, f));
  }
  const [sa, sb] = [latencyStats(a), latencyStats(b)];
  const summary = (s: typeof sa) => ({ mean: s.mean, p50: s.p50, p95: s.p95 });
  return { reference: summary(sa), candidate: summary(sb), ratioP50: sb.p50 / sa.p50, ratioP95: sb.p95 / sa.p95 };
}
