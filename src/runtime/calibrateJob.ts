/**
 * The 'calibrate' job, run inside the ORT worker: statistics of intermediate tensors over calibration
 * samples, the way onnxruntime's calibrators gather them (python/tools/quantization/calibrate.py):
 * the wanted tensors become extra graph outputs, a session with graph optimizations disabled
 * (CalibraterBase.create_inference_session uses ORT_DISABLE_ALL, so no tensor is fused away) runs every
 * sample, and each output is folded into running statistics right after its run.
 *
 * Memory: a run returns every extra output at once. When their estimated size passes the budget, the
 * tensors are split into groups and the samples run once per group (MinMaxCalibrater's
 * max_intermediate_outputs addresses the same problem by merging ranges periodically; splitting by
 * tensor also bounds one run). Inputs are read or generated again for each group rather than kept.
 */
import { inferModelShapes } from '../core/shapes';
import { encodeModel } from '../onnx/encode';
import { GraphIndex } from '../onnx/graph';
import { loadModel } from '../onnx/io';
import type { GraphProto, ModelProto } from '../onnx/types';
import type { CalibrationData, TensorStats } from '../passes/pass';
import { chooseRange, TensorAccumulator, type CalibrationMethod } from './calibrateStats';
import { generateInputs, listSampleFiles, modelInputSpecs, readSample, type InputSample, type ModelInputSpec } from './inputs';
import type { JobContext } from './jobContext';
import { ortError } from './ortErrors';
import * as ortSession from './ortSession';
import type { OrtModule, OrtSession } from './ortSession';

export interface CalibrateJobParams {
  path: string;
  /** Tensors to gather statistics for; undefined = every tensor the main graph computes, and its inputs. */
  tensors?: string[];
  /** Tensor -> axis whose per-channel means to collect (for bias correction). */
  channelMeans: Record<string, number>;
  method: CalibrationMethod;
  percentile: number;
  bins: number;
  quantizedBins: number;
  /** MinMax only: averaging constant of the moving average of per-run extremes. */
  movingAverage?: number;
  /** Samples to use: default 16 generated, or every file of dataDir. */
  samples?: number;
  seed: number;
  dataDir?: string;
  shapes?: Record<string, number[]>;
  memoryBudgetBytes: number;
  threads: number;
}

/** Generated samples when no data folder is given, as many as ORT's examples use for a quick calibration. */
export const DEFAULT_GENERATED_SAMPLES = 16;
const FLOAT_BYTES = 4;
const MAX_LISTED = 5;

// ---------------------------------------------------------------------------------------------------
// Samples

/** Calibration inputs, produced one at a time so that a large data folder is never held in memory. */
interface SampleSource {
  count: number;
  get(i: number): InputSample;
  warnings: string[];
}

function generatedSource(specs: ModelInputSpec[], params: CalibrateJobParams): SampleSource {
  const count = params.samples ?? DEFAULT_GENERATED_SAMPLES;
  const warning =
    `calibrated on ${count} generated input${count === 1 ? '' : 's'} (normal(0,1), seeds ${params.seed}..${params.seed + count - 1}): ` +
    'ranges from real inputs (--data folder of .npz/.npy samples) are more representative';
  return { count, get: (i) => generateInputs(specs, { shapes: params.shapes, seed: params.seed + i }).samples[0], warnings: [warning] };
}

function fileSource(specs: ModelInputSpec[], params: CalibrateJobParams, dataDir: string): SampleSource {
  const files = listSampleFiles(dataDir);
  const chosen = params.samples ? files.slice(0, params.samples) : files;
  return { count: chosen.length, get: (i) => readSample(chosen[i], specs, params.shapes), warnings: [] };
}

function sampleSource(graph: GraphProto, params: CalibrateJobParams): SampleSource {
  const specs = modelInputSpecs(graph);
  return params.dataDir ? fileSource(specs, params, params.dataDir) : generatedSource(specs, params);
}

// ---------------------------------------------------------------------------------------------------
// Which tensors

interface TensorPlan {
  /** Graph inputs: their statistics come from the feeds, no run needed. */
  inputs: string[];
  /** Tensors computed by nodes, fetched as extra outputs, in graph order. */
  computed: string[];
  warnings: string[];
}

function listNames(names: string[]): string {
  return names.length > MAX_LISTED ? `${names.slice(0, MAX_LISTED).join(', ')} and ${names.length - MAX_LISTED} more` : names.join(', ');
}

/** Every tensor a main-graph node computes (Constant outputs excluded), in node order. */
function computedTensors(graph: GraphProto): string[] {
  return graph.node.filter((n) => n.op_type !== 'Constant').flatMap((n) => n.output.filter(Boolean));
}

function planTensors(graph: GraphProto, params: CalibrateJobParams): TensorPlan {
  const index = new GraphIndex(graph);
  const inputNames = index.graphInputs.map((v) => v.name ?? '');
  const wanted = new Set([...(params.tensors ?? [...inputNames, ...computedTensors(graph)]), ...Object.keys(params.channelMeans)]);
  const isInput = (n: string) => inputNames.includes(n);
  const isComputed = (n: string) => index.producer.has(n) && !index.constants.has(n);
  const unknown = [...wanted].filter((n) => !isInput(n) && !isComputed(n) && !index.initializers.has(n) && !index.constants.has(n));
  const warnings = unknown.length ? [`${unknown.length} requested tensor(s) are not computed by the main graph and were skipped: ${listNames(unknown)}`] : [];
  const order = computedTensors(graph);
  return { inputs: inputNames.filter((n) => wanted.has(n)), computed: order.filter((n) => wanted.has(n) && isComputed(n)), warnings };
}

// ---------------------------------------------------------------------------------------------------
// Memory budget

/** Estimated float32 bytes of each tensor for the first sample's input shapes (unknown: the largest known). */
export function estimateTensorBytes(model: ModelProto, names: string[], inputShapes: Record<string, number[]>): Map<string, number> {
  const shapes = inferModelShapes(model, inputShapes).main;
  const known = new Map<string, number>();
  for (const name of names) {
    const shape = shapes.shape(name);
    if (shape && shape.every((d) => typeof d === 'number')) known.set(name, FLOAT_BYTES * shape.reduce((a, b) => a * b, 1));
  }
  const inputBytes = Object.values(inputShapes).reduce((sum, s) => sum + FLOAT_BYTES * s.reduce((a, b) => a * b, 1), 0);
  const fallback = Math.max(inputBytes, ...known.values());
  return new Map(names.map((n) => [n, known.get(n) ?? fallback]));
}

/** Consecutive tensors packed into groups whose estimated bytes stay within the budget (at least one each). */
export function packGroups(names: string[], bytes: Map<string, number>, budget: number): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let used = 0;
  for (const name of names) {
    const size = bytes.get(name) ?? 0;
    if (current.length > 0 && used + size > budget) {
      groups.push(current);
      current = [];
      used = 0;
    }
    current.push(name);
    used += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

// ---------------------------------------------------------------------------------------------------
// Runs

interface Run {
  ctx: JobContext;
  ort: OrtModule;
  model: ModelProto;
  params: CalibrateJobParams;
  source: SampleSource;
  accumulators: Map<string, TensorAccumulator>;
  /** Tensors that turned out not to be float32: no statistics. */
  skipped: Set<string>;
  runsDone: number;
  runsTotal: number;
}

function accumulatorFor(run: Run, name: string): TensorAccumulator {
  let acc = run.accumulators.get(name);
  if (!acc) {
    const { method, bins, movingAverage, channelMeans } = run.params;
    acc = new TensorAccumulator({ bins: method === 'minmax' ? undefined : bins, movingAverage: method === 'minmax' ? movingAverage : undefined, channelAxis: channelMeans[name] });
    run.accumulators.set(name, acc);
  }
  return acc;
}

function accumulate(run: Run, name: string, data: unknown, dims: readonly number[]): void {
  if (!(data instanceof Float32Array)) {
    run.skipped.add(name);
    return;
  }
  accumulatorFor(run, name).add(data, dims);
}

/** The model with `names` appended to its outputs, untyped (ORT takes the types it infers), as bytes. */
function withExtraOutputs(model: ModelProto, names: string[]): Uint8Array {
  const graph = model.graph as GraphProto;
  const original = graph.output;
  const existing = new Set(original.map((o) => o.name));
  graph.output = [...original, ...names.filter((n) => !existing.has(n)).map((name) => ({ name, metadata_props: [] }))];
  try {
    return encodeModel(model);
  } finally {
    graph.output = original;
  }
}

async function fetchOutputs(run: Run, session: OrtSession, sample: InputSample, names: string[]): Promise<void> {
  const feeds = ortSession.toFeeds(run.ort, sample);
  let results: Record<string, { data: unknown; dims: readonly number[] }>;
  try {
    results = await run.ctx.guard.call(() => session.run(feeds, names));
  } catch (err) {
    throw ortError('onnxruntime failed to run the model for calibration', err);
  }
  for (const name of names) {
    run.ctx.guard.checkpoint();
    accumulate(run, name, results[name]?.data, results[name]?.dims ?? []);
  }
}

function reportRun(run: Run): void {
  run.runsDone++;
  run.ctx.progress.report('calibrate', run.runsDone, run.runsTotal);
}

/** Graph-input statistics straight from the feeds (gathered while the first group runs). */
function accumulateInputs(run: Run, sample: InputSample, inputs: string[]): void {
  for (const tensor of sample) if (inputs.includes(tensor.name)) accumulate(run, tensor.name, tensor.data, tensor.shape);
  run.ctx.guard.checkpoint();
}

async function runGroup(run: Run, names: string[], inputs: string[]): Promise<void> {
  const { ctx, params } = run;
  const settings = { executionProvider: 'cpu', graphOptimizationLevel: 'disabled' as const, threads: params.threads };
  const session = await ortSession.createSession(run.ort, ctx.guard, withExtraOutputs(run.model, names), ortSession.sessionOptions(settings), params.path);
  try {
    for (let i = 0; i < run.source.count; i++) {
      const sample = run.source.get(i);
      accumulateInputs(run, sample, inputs);
      await fetchOutputs(run, session, sample, names);
      reportRun(run);
    }
  } finally {
    await ortSession.releaseSession(ctx.guard, session);
  }
}

/** Only graph inputs wanted: no session needed. */
function inputsOnly(run: Run, inputs: string[]): void {
  for (let i = 0; i < run.source.count; i++) {
    accumulateInputs(run, run.source.get(i), inputs);
    reportRun(run);
  }
}

// ---------------------------------------------------------------------------------------------------
// Result

function statsOf(acc: TensorAccumulator, axis: number | undefined): TensorStats {
  const stats: TensorStats = acc.min <= acc.max ? { min: acc.min, max: acc.max } : { min: 0, max: 0 };
  if (acc.histogram) stats.histogram = { counts: acc.histogram.counts, absMax: acc.histogram.absMax };
  const mean = acc.channelMean();
  if (mean) {
    stats.channelMean = mean;
    if (axis !== undefined && axis !== 1) stats.channelAxis = axis;
  }
  return stats;
}

function buildResult(run: Run, groups: number, warnings: string[]): CalibrationData {
  const { params } = run;
  const ranges = new Map<string, { min: number; max: number }>();
  const stats = new Map<string, TensorStats>();
  for (const [name, acc] of run.accumulators) {
    if (run.skipped.has(name) || acc.runs === 0) continue;
    ranges.set(name, chooseRange(acc, params));
    stats.set(name, statsOf(acc, params.channelMeans[name]));
  }
  return { ranges, stats, method: params.method, samples: run.source.count, warnings, groups };
}

export async function calibrateJob(params: CalibrateJobParams, ctx: JobContext): Promise<CalibrationData> {
  ctx.progress.report('load', 0, 1);
  const ort = ortSession.loadOrt(ctx.guard);
  const model = loadModel(params.path).model;
  const graph = model.graph as GraphProto; // loadModel refuses models without a graph
  const source = sampleSource(graph, params);
  const plan = planTensors(graph, params);
  const firstShapes = Object.fromEntries(source.get(0).map((t) => [t.name, t.shape]));
  const groups = packGroups(plan.computed, estimateTensorBytes(model, plan.computed, firstShapes), params.memoryBudgetBytes);
  const run: Run = { ctx, ort, model, params, source, accumulators: new Map(), skipped: new Set(), runsDone: 0, runsTotal: Math.max(1, groups.length) * source.count };
  if (groups.length === 0) inputsOnly(run, plan.inputs);
  for (const [g, group] of groups.entries()) await runGroup(run, group, g === 0 ? plan.inputs : []);
  ctx.progress.report('compute', 0, 1);
  return buildResult(run, groups.length, [...source.warnings, ...plan.warnings]);
}
