/**
 * The 'sensitivity' job, run by every worker of the sensitivity pool (src/analysis/sensitivity/index.ts).
 * Workers share a claim counter, so each takes the next unclaimed variant until none is left.
 *
 * Setup, once per worker:
 * 1. inputs (generated or --data), and the original model with the layers' input activations as
 *    extra outputs: reference outputs, calibration ranges, proxy inputs. Samples run as one batch
 *    along axis 0 when the model allows it, the batched outputs match the per-sample ones and a batch
 *    is faster (for big activations it often is not: caches);
 * 2. end-to-end: ONE session over the weights-as-inputs rewrite (rewrite.ts), plus for int8 variants
 *    a second one with gated activation fake-quant. A variant feeds one changed weight; no session is
 *    created per variant. Worker 0 also measures the rewrite against the original model.
 * Proxy: layers are claimed in chunks; one capture run per chunk, then per layer a one-node session.
 */
import type * as Ort from 'onnxruntime-node';
import { batchableSpecs, concatSamples, sampleRows, splitOutputs, summarizeFidelity } from '../analysis/sensitivity/batching';
import { layerWeight, type SensitivityLayer } from '../analysis/sensitivity/layers';
import { PROXY_INPUT, PROXY_OUTPUT, PROXY_WEIGHT, singleLayerModel } from '../analysis/sensitivity/proxy';
import { captureModel, rewriteForVariants, supportsActivationQuant, type ActivationQuant, type CaptureModel } from '../analysis/sensitivity/rewrite';
import { activationQuant, fakeQuantActivation, fakeQuantInt8, magnitudePrune, RangeTracker } from '../analysis/sensitivity/transforms';
import { PROXY_CHUNK, type SensitivityJobParams, type SensitivityJobResult, type VariantResult, type VariantSpec } from '../analysis/sensitivity/types';
import { compareSamples, type NumericArray, type SampleOutputs } from '../analysis/fidelity';
import { UserError } from '../core/errors';
import type { SensitivityMetrics } from '../core/reports';
import { encodeModel } from '../onnx/encode';
import { loadModel } from '../onnx/io';
import type { GraphProto } from '../onnx/types';
import { channelGroups, groupScores, lowestUnits, pruneChannelGroups, unitsToRemove } from '../passes/prune';
import { generateInputs, loadInputSamples, modelInputSpecs, type InputSample, type ModelInputSpec } from './inputs';
import type { JobContext } from './jobContext';
import { ortError } from './ortErrors';
import * as ortSession from './ortSession';
import type { OrtFeeds, OrtModule, OrtSession } from './ortSession';

/** Activations fetched per capture run, bounding the memory one run returns. */
const CAPTURE_CHUNK = 16;

interface Env {
  params: SensitivityJobParams;
  ctx: JobContext;
  ort: OrtModule;
  options: Ort.InferenceSession.SessionOptions;
  feeder: Feeder;
  warnings: string[];
}

export async function sensitivityJob(params: SensitivityJobParams, ctx: JobContext): Promise<SensitivityJobResult> {
  ctx.progress.report('load', 0, 1);
  const ort = ortSession.loadOrt(ctx.guard);
  const capture = captureModel(loadModel(params.path).model);
  checkLayers(capture.layers, params.layerNames);
  const specs = modelInputSpecs(capture.model.graph as GraphProto);
  const inputs = buildSamples(specs, params);
  const options = ortSession.sessionOptions({ executionProvider: 'cpu', graphOptimizationLevel: 'all', threads: params.threads });
  const env: Env = { params, ctx, ort, options, feeder: new Feeder(ort, ctx, inputs.samples), warnings: [] };
  ctx.progress.report('session', 0, 1);
  const original = await createSession(env, encodeModel(capture.model), 'the model');
  try {
    const reference = await env.feeder.prepare(original, capture.outputs, batchableSpecs(specs));
    const base = { inputs: inputs.description, samples: inputs.samples.length, batched: env.feeder.batched, warnings: env.warnings };
    if (params.method === 'proxy') return { ...base, ...(await proxyMethod(env, capture, original)) };
    return { ...base, ...(await endToEnd(env, capture, original, reference)) };
  } finally {
    await ortSession.releaseSession(ctx.guard, original);
  }
}

function checkLayers(layers: SensitivityLayer[], expected: string[]): void {
  const names = layers.map((l) => l.name);
  if (names.length !== expected.length || names.some((n, i) => n !== expected[i])) throw new UserError('the model changed on disk while it was being analysed');
}

function buildSamples(specs: ModelInputSpec[], params: SensitivityJobParams): { samples: InputSample[]; description: string } {
  if (params.dataDir) {
    const set = loadInputSamples(specs, params.dataDir, params.shapes);
    return { samples: set.samples, description: Object.values(set.sources)[0] ?? '' };
  }
  const samples = Array.from({ length: params.samples }, (_, i) => generateInputs(specs, { shapes: params.shapes, seed: params.seed + i }).samples[0]);
  return { samples, description: `${samples.length} generated sample${samples.length === 1 ? '' : 's'} (normal(0,1), seeds ${params.seed}..${params.seed + samples.length - 1})` };
}

async function createSession(env: Env, source: Uint8Array, label: string): Promise<OrtSession> {
  return ortSession.createSession(env.ort, env.ctx.guard, source, env.options, label);
}

// ---------------------------------------------------------------------------------------------------
// Running every sample

async function runOnce(ctx: JobContext, session: OrtSession, feeds: OrtFeeds, fetches: string[]): Promise<SampleOutputs> {
  let results: Ort.InferenceSession.ReturnType;
  try {
    results = await ctx.guard.call(() => session.run(feeds, fetches));
  } catch (err) {
    if (err instanceof Error && err.name === 'AbortError') throw err;
    throw ortError('onnxruntime failed to run the model', err);
  }
  const out: SampleOutputs = {};
  for (const name of fetches) {
    const t = results[name];
    if (t && ArrayBuffer.isView(t.data)) out[name] = { data: t.data as NumericArray, dims: [...t.dims] };
  }
  return out;
}

/** Runs sessions over all samples, one by one or as one batch (decided once, in `prepare`). */
class Feeder {
  private readonly sampleFeeds: OrtFeeds[];
  private batchFeeds?: OrtFeeds;
  private readonly rows: number[];

  constructor(
    private readonly ort: OrtModule,
    private readonly ctx: JobContext,
    readonly samples: InputSample[],
  ) {
    this.sampleFeeds = samples.map((s) => ortSession.toFeeds(ort, s));
    this.rows = sampleRows(samples);
  }

  get batched(): boolean {
    return this.batchFeeds !== undefined;
  }

  /** The feeds as the session sees them: one per run. */
  get feeds(): OrtFeeds[] {
    return this.batchFeeds ? [this.batchFeeds] : this.sampleFeeds;
  }

  /** Input values of one graph input, one piece per run. */
  inputPieces(name: string): { data: Float32Array; dims: number[] }[] {
    return this.feeds.map((f) => ({ data: f[name].data as Float32Array, dims: [...f[name].dims] }));
  }

  /** Per-sample reference outputs; switches to batching when it is valid and faster. */
  async prepare(session: OrtSession, outputs: string[], batchable: boolean): Promise<SampleOutputs[]> {
    const reference = await this.perSample(session, {}, outputs);
    const batch = batchable ? concatSamples(this.samples) : undefined;
    if (!batch) return reference;
    const batchFeeds = ortSession.toFeeds(this.ort, batch);
    const split = splitOutputs(await runOnce(this.ctx, session, batchFeeds, outputs), this.rows);
    if (!split || !closeOutputs(reference, split)) return reference;
    const t0 = performance.now();
    await this.perSample(session, {}, outputs);
    const t1 = performance.now();
    await runOnce(this.ctx, session, batchFeeds, outputs);
    const t2 = performance.now();
    if (t2 - t1 < 0.9 * (t1 - t0)) {
      this.batchFeeds = batchFeeds;
      return split;
    }
    return reference;
  }

  private async perSample(session: OrtSession, extra: OrtFeeds, fetches: string[]): Promise<SampleOutputs[]> {
    const out: SampleOutputs[] = [];
    for (const feeds of this.sampleFeeds) out.push(await runOnce(this.ctx, session, { ...feeds, ...extra }, fetches));
    return out;
  }

  /** Every sample's outputs, whatever the mode. */
  async run(session: OrtSession, extra: OrtFeeds, fetches: string[]): Promise<SampleOutputs[]> {
    if (!this.batchFeeds) return this.perSample(session, extra, fetches);
    const out = await runOnce(this.ctx, session, { ...this.batchFeeds, ...extra }, fetches);
    const split = splitOutputs(out, this.rows);
    if (!split) throw new Error('batched outputs no longer split into samples');
    return split;
  }

  /** Raw outputs of each run (whole batches when batched): for captured activations. */
  async runPieces(session: OrtSession, fetches: string[]): Promise<SampleOutputs[]> {
    const out: SampleOutputs[] = [];
    for (const feeds of this.feeds) out.push(await runOnce(this.ctx, session, feeds, fetches));
    return out;
  }
}

/** Batched and per-sample outputs agree (batching must not change what the model computes). */
function closeOutputs(a: SampleOutputs[], b: SampleOutputs[]): boolean {
  return compareSamples(a, b).every((o) => o.cosineMin >= 1 - 1e-6 && o.nonFinite.mismatched === 0);
}

// ---------------------------------------------------------------------------------------------------
// Calibration ranges and captured activations

/** Input pieces (one per run) of every requested activation, read in chunks of CAPTURE_CHUNK. */
async function* capturedActivations(env: Env, session: OrtSession, capture: CaptureModel, names: string[]): AsyncGenerator<[string, { data: Float32Array; dims: number[] }[]]> {
  const graphInputs = new Set((capture.model.graph?.input ?? []).map((v) => v.name ?? ''));
  for (const name of names.filter((n) => graphInputs.has(n))) yield [name, env.feeder.inputPieces(name)];
  const computed = names.filter((n) => !graphInputs.has(n));
  for (let i = 0; i < computed.length; i += CAPTURE_CHUNK) {
    const chunk = computed.slice(i, i + CAPTURE_CHUNK);
    const runs = await env.feeder.runPieces(session, chunk);
    for (const name of chunk) yield [name, runs.map((r) => ({ data: r[name].data as Float32Array, dims: [...r[name].dims] }))];
  }
}

/** Static int8 parameters of each layer input, from its range over all samples. */
async function activationRanges(env: Env, session: OrtSession, capture: CaptureModel, layers: number[]): Promise<Map<number, ActivationQuant>> {
  const names = [...new Set(layers.map((l) => capture.activations[l]).filter((n): n is string => n !== undefined))];
  const quant = new Map<string, ActivationQuant>();
  for await (const [name, pieces] of capturedActivations(env, session, capture, names)) {
    const tracker = new RangeTracker();
    for (const p of pieces) tracker.add(p.data);
    const range = tracker.range;
    if (range) quant.set(name, activationQuant(range));
  }
  const byLayer = new Map<number, ActivationQuant>();
  for (const l of layers) {
    const q = quant.get(capture.activations[l] ?? '');
    if (q) byLayer.set(l, q);
  }
  return byLayer;
}

// ---------------------------------------------------------------------------------------------------
// End to end

interface VariantSession {
  session: OrtSession;
  /** Original weights (and int8 gates off) for every layer. */
  feeds: OrtFeeds;
  weightInputs: string[];
  flagInputs: (string | undefined)[];
  outputs: string[];
  baseline: SampleOutputs[];
}

function floatTensor(ort: OrtModule, data: Float32Array, dims: number[]): Ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

async function openVariantSession(env: Env, weights: Float32Array[], quant?: Map<number, ActivationQuant>): Promise<VariantSession> {
  const rewritten = rewriteForVariants(loadModel(env.params.path).model, { activationQuant: quant });
  const session = await createSession(env, encodeModel(rewritten.model), 'the model with its weights as inputs');
  const feeds: OrtFeeds = {};
  rewritten.weightInputs.forEach((name, i) => (feeds[name] = floatTensor(env.ort, weights[i], rewritten.layers[i].dims)));
  for (const flag of rewritten.flagInputs) if (flag) feeds[flag] = new env.ort.Tensor('bool', Uint8Array.of(0), []);
  const vs = { session, feeds, weightInputs: rewritten.weightInputs, flagInputs: rewritten.flagInputs, outputs: rewritten.outputs, baseline: [] };
  return { ...vs, baseline: await env.feeder.run(session, feeds, rewritten.outputs) };
}

function metricsOf(baseline: SampleOutputs[], outputs: SampleOutputs[]): SensitivityMetrics {
  return summarizeFidelity(compareSamples(baseline, outputs));
}

async function endToEnd(env: Env, capture: CaptureModel, original: OrtSession, reference: SampleOutputs[]): Promise<Pick<SensitivityJobResult, 'results' | 'activationQuantLayers' | 'rewriteCheck'>> {
  const { params, ctx } = env;
  const weights = capture.layers.map((l) => layerWeight(l));
  const sessions: OrtSession[] = [];
  try {
    ctx.progress.report('session', 0, 2);
    const plain = await openVariantSession(env, weights);
    sessions.push(plain.session);
    const rewriteCheck = params.worker === 0 ? checkRewrite(reference, plain.baseline) : undefined;
    const gated = await openGatedSession(env, capture, original, weights);
    if (gated) sessions.push(gated.session);
    const results = await claimVariants(env, (v) => (v.kind === 'channels' ? channelVariant(env, v, capture.outputs, reference) : evaluate(env, capture.layers, weights, v, plain, gated)));
    const activationQuantLayers = gated ? gated.flagInputs.flatMap((f, i) => (f ? [i] : [])) : [];
    return { results, activationQuantLayers, rewriteCheck };
  } finally {
    for (const s of sessions) await ortSession.releaseSession(ctx.guard, s);
  }
}

function checkRewrite(reference: SampleOutputs[], rewritten: SampleOutputs[]): { cosine: number; maxAbsError: number } {
  const f = compareSamples(reference, rewritten);
  return { cosine: Math.min(1, ...f.map((o) => o.cosineMin)), maxAbsError: Math.max(0, ...f.map((o) => o.maxAbsError)) };
}

/** The int8 session: weights as inputs plus gated activation fake-quant, when int8 variants need it. */
async function openGatedSession(env: Env, capture: CaptureModel, original: OrtSession, weights: Float32Array[]): Promise<VariantSession | undefined> {
  const int8Layers = env.params.variants.filter((v) => v.kind === 'int8').map((v) => v.layer);
  if (!env.params.activationQuant || int8Layers.length === 0) return undefined;
  if (!supportsActivationQuant(capture.model)) {
    env.warnings.push('int8 variants quantize weights only: the model imports an opset below 9, which has no Where to gate the activation quantization');
    return undefined;
  }
  env.ctx.progress.report('calibrate', 0, 1);
  const quant = await activationRanges(env, original, capture, int8Layers);
  env.ctx.progress.report('session', 1, 2);
  return openVariantSession(env, weights, quant);
}

async function claimVariants(env: Env, run: (v: VariantSpec) => Promise<SensitivityMetrics>): Promise<VariantResult[]> {
  const { counters, variants } = env.params;
  const results: VariantResult[] = [];
  for (;;) {
    const i = Atomics.add(counters, 0, 1);
    if (i >= variants.length) return results;
    env.ctx.guard.checkpoint();
    results.push({ variant: i, ...(await run(variants[i])) });
    env.ctx.progress.report('variants', Atomics.add(counters, 1, 1) + 1, variants.length);
  }
}

async function evaluate(env: Env, layers: SensitivityLayer[], weights: Float32Array[], v: VariantSpec, plain: VariantSession, gated?: VariantSession): Promise<SensitivityMetrics> {
  const layer = layers[v.layer];
  const changed = v.kind === 'int8' ? fakeQuantInt8(weights[v.layer], layer.dims, layer.channelAxis) : magnitudePrune(weights[v.layer], v.level);
  const target = v.kind === 'int8' && gated ? gated : plain;
  const feeds: OrtFeeds = { ...target.feeds, [target.weightInputs[v.layer]]: floatTensor(env.ort, changed, layer.dims) };
  const flag = v.kind === 'int8' ? target.flagInputs[v.layer] : undefined;
  if (flag) feeds[flag] = new env.ort.Tensor('bool', Uint8Array.of(1), []);
  return metricsOf(target.baseline, await env.feeder.run(target.session, feeds, target.outputs));
}

/**
 * Channel pruning changes shapes, so each variant is a really pruned model (the group's lowest-l2
 * units removed from every coupled member by src/passes/prune) in a session of its own, compared
 * with the original model's outputs. Exact, at the price of one session per variant.
 */
async function channelVariant(env: Env, v: VariantSpec, outputs: string[], reference: SampleOutputs[]): Promise<SensitivityMetrics> {
  const model = loadModel(env.params.path).model;
  const analysis = channelGroups(model, { inputShapes: env.params.shapes });
  const group = v.group ? analysis.groups[v.group.id] : undefined;
  if (!group || group.name !== v.group?.name) throw new Error('the host and the worker found different channel groups');
  const k = unitsToRemove(group.units, v.level, 1);
  if (k > 0) pruneChannelGroups(analysis, new Map([[group.id, lowestUnits(groupScores(analysis, group, 'l2').scores, k)]]));
  env.ctx.guard.checkpoint();
  const session = await createSession(env, encodeModel(model), `the model with channel group ${group.name} pruned`);
  try {
    return metricsOf(reference, await env.feeder.run(session, {}, outputs));
  } finally {
    await ortSession.releaseSession(env.ctx.guard, session);
  }
}

// ---------------------------------------------------------------------------------------------------
// Proxy

async function proxyMethod(env: Env, capture: CaptureModel, original: OrtSession): Promise<Pick<SensitivityJobResult, 'results' | 'activationQuantLayers'>> {
  const { params, ctx } = env;
  const byLayer = new Map<number, number[]>();
  params.variants.forEach((v, i) => byLayer.set(v.layer, [...(byLayer.get(v.layer) ?? []), i]));
  const order = [...byLayer.keys()].sort((a, b) => a - b);
  const results: VariantResult[] = [];
  const activationQuantLayers: number[] = [];
  for (;;) {
    const chunk = Atomics.add(params.counters, 0, 1);
    const layers = order.slice(chunk * PROXY_CHUNK, (chunk + 1) * PROXY_CHUNK);
    if (layers.length === 0) return { results, activationQuantLayers };
    ctx.guard.checkpoint();
    const names = [...new Set(layers.map((l) => capture.activations[l]).filter((n): n is string => n !== undefined))];
    const pieces = new Map<string, { data: Float32Array; dims: number[] }[]>();
    for await (const [name, list] of capturedActivations(env, original, capture, names)) pieces.set(name, list);
    for (const l of layers) {
      const x = pieces.get(capture.activations[l] ?? '');
      const done = x ? await proxyLayer(env, capture, l, x, byLayer.get(l) ?? []) : [];
      if (done.some((r) => params.variants[r.variant].kind === 'int8') && params.activationQuant) activationQuantLayers.push(l);
      results.push(...done);
      const finished = Atomics.add(params.counters, 1, (byLayer.get(l) ?? []).length) + (byLayer.get(l) ?? []).length;
      ctx.progress.report('variants', finished, params.variants.length);
    }
  }
}

/** Every variant of one layer on its one-node model; [] when the layer has none (see singleLayerModel). */
async function proxyLayer(env: Env, capture: CaptureModel, l: number, x: { data: Float32Array; dims: number[] }[], variants: number[]): Promise<VariantResult[]> {
  const layer = capture.layers[l];
  const single = singleLayerModel(capture.model, layer);
  if (typeof single === 'string') return [];
  const session = await createSession(env, encodeModel(single), `layer ${layer.name} alone`);
  try {
    const weight = layerWeight(layer);
    const runAll = async (xs: Float32Array[], w: Float32Array): Promise<SampleOutputs[]> => {
      const out: SampleOutputs[] = [];
      for (let i = 0; i < x.length; i++) {
        const feeds = { [PROXY_INPUT]: floatTensor(env.ort, xs[i], x[i].dims), [PROXY_WEIGHT]: floatTensor(env.ort, w, layer.dims) };
        out.push(await runOnce(env.ctx, session, feeds, [PROXY_OUTPUT]));
      }
      return out;
    };
    const plainX = x.map((p) => p.data);
    const baseline = await runAll(plainX, weight);
    const quantX = env.params.activationQuant ? quantizedPieces(x) : plainX;
    const results: VariantResult[] = [];
    for (const i of variants) {
      const v = env.params.variants[i];
      if (v.kind === 'channels') continue;
      const w = v.kind === 'int8' ? fakeQuantInt8(weight, layer.dims, layer.channelAxis) : magnitudePrune(weight, v.level);
      const outputs = await runAll(v.kind === 'int8' ? quantX : plainX, w);
      results.push({ variant: i, ...summarizeFidelity(compareSamples(baseline, outputs, { [PROXY_OUTPUT]: { scores: false } })) });
    }
    return results;
  } finally {
    await ortSession.releaseSession(env.ctx.guard, session);
  }
}

function quantizedPieces(x: { data: Float32Array }[]): Float32Array[] {
  const tracker = new RangeTracker();
  for (const p of x) tracker.add(p.data);
  const range = tracker.range;
  if (!range) return x.map((p) => p.data);
  const quant = activationQuant(range);
  return x.map((p) => fakeQuantActivation(p.data, quant));
}
