/**
 * The 'activations' job, run inside the ORT worker: intermediate tensors of one or more models on the
 * same inputs. Each wanted tensor is added as a graph output (the way onnxruntime's own calibrators
 * do it) and the session runs with graph optimization 'disabled', so no fusion renames or removes
 * it. Tensors that are graph inputs come straight from the feeds. Every sample's values are kept, up
 * to a memory budget: past it the job fails with a UserError naming the budget instead of letting the
 * process run out of memory.
 */
import { UserError } from '../core/errors';
import { encodeModel } from '../onnx/encode';
import { GraphIndex } from '../onnx/graph';
import { decodeBuffer, loadModel } from '../onnx/io';
import type { GraphProto, ModelProto } from '../onnx/types';
import { generateInputs, loadInputSamples, modelInputSpecs, type InputSample, type InputSet, type ModelInputSpec } from './inputs';
import type { JobContext } from './jobContext';
import { ortError } from './ortErrors';
import * as ortSession from './ortSession';
import type { OrtFeeds, OrtModule } from './ortSession';

/** A model file path or the serialized model. */
export type ModelSource = string | Uint8Array;

export interface ActivationRequest {
  source: ModelSource;
  /** Tensor names to capture (activations or graph inputs). */
  tensors: string[];
  /** For messages, e.g. 'teacher'. */
  label?: string;
}

/** Parameters of the 'activations' job (defaults filled by the host). */
export interface ActivationsJobParams {
  models: ActivationRequest[];
  shapes?: Record<string, number[]>;
  /** Folder of .npz/.npy samples: every file is one sample (then `samples` and `seed` are unused). */
  dataDir?: string;
  /** Generated samples use seeds seed, seed+1, …, seed+samples-1. */
  seed: number;
  samples: number;
  /** Bytes of captured values allowed in total, over every model, tensor and sample. */
  maxBytes: number;
  threads: number;
}

/** One tensor over every sample. */
export interface CapturedTensor {
  /** Dims of the first sample. */
  dims: number[];
  /** Dims of every sample (they differ only when --data files differ in shape). */
  sampleDims: number[][];
  /** Values, one array per sample. */
  data: Float32Array[];
}

export interface ActivationsJobResult {
  /** One record per requested model, tensor name -> values. */
  captures: Record<string, CapturedTensor>[];
  samples: number;
  /** Where the inputs came from, for reports. */
  inputs: string;
}

interface PreparedModel {
  label: string;
  bytes: Uint8Array;
  graph: GraphProto;
  /** Requested tensors ORT must fetch (graph inputs excluded). */
  fetches: string[];
  /** Requested tensors that are graph inputs. */
  fromFeeds: string[];
}

function decode(source: ModelSource, label: string): ModelProto {
  return typeof source === 'string' ? loadModel(source).model : decodeBuffer(Buffer.from(source.buffer, source.byteOffset, source.byteLength), label);
}

/** Where a tensor name is in the main graph, so a wrong name fails with a clear message. */
function checkTensor(index: GraphIndex, name: string, label: string): 'input' | 'activation' {
  if (index.graphInputs.some((v) => v.name === name)) return 'input';
  if (index.initializers.has(name) || index.constants.has(name)) throw new UserError(`${label}: ${name} is a constant, not an activation`);
  if (!index.producer.has(name)) throw new UserError(`${label}: no tensor named ${name} in the main graph`);
  return 'activation';
}

/** The model with every wanted activation added as an (untyped) graph output. */
function prepare(request: ActivationRequest, index: number): PreparedModel {
  const label = request.label ?? `model ${index + 1}`;
  const model = decode(request.source, label);
  const graph = model.graph as GraphProto;
  const gi = new GraphIndex(graph);
  const fetches: string[] = [];
  const fromFeeds: string[] = [];
  const outputs = new Set(graph.output.map((v) => v.name));
  for (const name of new Set(request.tensors)) {
    if (checkTensor(gi, name, label) === 'input') {
      fromFeeds.push(name);
      continue;
    }
    fetches.push(name);
    if (!outputs.has(name)) graph.output.push({ name, metadata_props: [] });
  }
  return { label, bytes: encodeModel(model), graph, fetches, fromFeeds };
}

/** Every model must take the inputs of the first one. */
function sharedSpecs(models: PreparedModel[]): ModelInputSpec[] {
  const first = modelInputSpecs(models[0].graph);
  for (const m of models.slice(1)) {
    const other = new Map(modelInputSpecs(m.graph).map((s) => [s.name, s]));
    const same = other.size === first.length && first.every((s) => other.get(s.name)?.dtype === s.dtype);
    if (!same) throw new UserError(`${m.label} does not take the same inputs as ${models[0].label}`);
  }
  return first;
}

function buildSamples(specs: ModelInputSpec[], params: ActivationsJobParams): InputSet {
  if (params.dataDir) return loadInputSamples(specs, params.dataDir, params.shapes);
  const sets = Array.from({ length: params.samples }, (_, i) => generateInputs(specs, { shapes: params.shapes, seed: params.seed + i }));
  return { samples: sets.map((s) => s.samples[0]), sources: sets[0]?.sources ?? {} };
}

function describeInputs(inputs: InputSet, params: ActivationsJobParams): string {
  if (params.dataDir) return Object.values(inputs.sources)[0] ?? params.dataDir;
  return `${inputs.samples.length} generated samples (seeds ${params.seed}..${params.seed + inputs.samples.length - 1})`;
}

/** Captured values would exceed the memory budget (callers may retry with fewer tensors). */
export class ActivationBudgetError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ActivationBudgetError';
  }
}

class Budget {
  private used = 0;
  constructor(private readonly max: number) {}

  take(bytes: number, what: string): void {
    this.used += bytes;
    if (this.used > this.max) {
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
      throw new ActivationBudgetError(`capturing activations needs more than the ${mib(this.max)} budget (at ${what}): capture fewer tensors or samples`);
    }
  }
}

function store(out: Record<string, CapturedTensor>, name: string, dims: readonly number[], data: Float32Array): void {
  const entry = (out[name] ??= { dims: [...dims], sampleDims: [], data: [] });
  entry.sampleDims.push([...dims]);
  entry.data.push(data);
}

function fromFeed(sample: InputSample, name: string, label: string): { dims: number[]; data: Float32Array } {
  const t = sample.find((s) => s.name === name) as InputSample[number];
  if (!(t.data instanceof Float32Array)) throw new UserError(`${label}: input ${name} is ${t.dtype}; only float32 tensors are captured`);
  return { dims: t.shape, data: Float32Array.from(t.data) };
}

interface RunState {
  ort: OrtModule;
  ctx: JobContext;
  params: ActivationsJobParams;
  inputs: InputSet;
  feeds: OrtFeeds[];
  budget: Budget;
  /** Runs done and to do, over every model, for progress. */
  done: number;
  total: number;
}

async function runSample(state: RunState, session: ortSession.OrtSession, model: PreparedModel, s: number, out: Record<string, CapturedTensor>): Promise<void> {
  let results: Awaited<ReturnType<ortSession.OrtSession['run']>>;
  try {
    results = await state.ctx.guard.call(() => session.run(state.feeds[s], model.fetches));
  } catch (err) {
    if (err instanceof Error && err.name === 'AbortError') throw err;
    throw ortError(`onnxruntime failed to run ${model.label}`, err);
  }
  for (const name of model.fetches) {
    const t = results[name];
    if (t.type !== 'float32') throw new UserError(`${model.label}: ${name} is ${t.type}; only float32 activations are captured`);
    const data = (t.data as Float32Array).slice();
    state.budget.take(data.byteLength, `${model.label} ${name}, sample ${s + 1}`);
    store(out, name, t.dims, data);
  }
  for (const name of model.fromFeeds) {
    const { dims, data } = fromFeed(state.inputs.samples[s], name, model.label);
    state.budget.take(data.byteLength, `${model.label} ${name}, sample ${s + 1}`);
    store(out, name, dims, data);
  }
}

async function captureModel(state: RunState, model: PreparedModel): Promise<Record<string, CapturedTensor>> {
  const out: Record<string, CapturedTensor> = {};
  if (model.fetches.length === 0 && model.fromFeeds.length === 0) return out;
  const settings = { executionProvider: 'cpu', graphOptimizationLevel: 'disabled' as const, threads: state.params.threads };
  state.ctx.progress.report('session', state.done, state.total);
  const session = await ortSession.createSession(state.ort, state.ctx.guard, model.bytes, ortSession.sessionOptions(settings), model.label);
  try {
    for (let s = 0; s < state.feeds.length; s++) {
      state.ctx.progress.report('capture', state.done++, state.total);
      await runSample(state, session, model, s, out);
    }
  } finally {
    await ortSession.releaseSession(state.ctx.guard, session);
  }
  return out;
}

export async function activationsJob(params: ActivationsJobParams, ctx: JobContext): Promise<ActivationsJobResult> {
  ctx.progress.report('load', 0, 1);
  if (params.models.length === 0) return { captures: [], samples: 0, inputs: '' };
  const ort = ortSession.loadOrt(ctx.guard);
  const models = params.models.map(prepare);
  ctx.guard.checkpoint();
  const inputs = buildSamples(sharedSpecs(models), params);
  const feeds = inputs.samples.map((s) => ortSession.toFeeds(ort, s));
  const state: RunState = { ort, ctx, params, inputs, feeds, budget: new Budget(params.maxBytes), done: 0, total: feeds.length * models.length };
  const captures: Record<string, CapturedTensor>[] = [];
  for (const model of models) captures.push(await captureModel(state, model));
  return { captures, samples: feeds.length, inputs: describeInputs(inputs, params) };
}
