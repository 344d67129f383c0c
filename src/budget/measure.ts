/**
 * Measures one budget entry and judges it: checks the files, checks `shapes` against the model's
 * inputs, then measures only what the limits need (latency with per-layer times, memory in a fresh
 * process, fidelity against `reference`), each part from the cache when the model's content and the
 * settings are unchanged. Work that executes the model goes through `hooks.schedule`, which the
 * language server points at its one-job-at-a-time queue.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../core/errors';
import type { CompareReport } from '../core/reports';
import { compareModels } from '../runtime/compare';
import { formatDims, shapeMismatch, type ModelInputSpec } from '../runtime/inputs';
import { profileModel, type Progress } from '../runtime/profiler';
import { measurementKey, type MeasurementCache } from './cache';
import { contextOf, judge, metricsOf, uncheckedLimits } from './evaluate';
import { measureMemory } from './memory';
import { modelFacts, type ModelFacts } from './modelFacts';
import { LATENCY_LIMITS, type BudgetEntry, type EntryResult, type FidelityMeasurement, type LatencyMeasurement, type Measurement, type MeasureSettings } from './types';

export interface MeasureHooks {
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  cache?: MeasurementCache;
  /** Runs work that executes a model (default: at once). `label` says what for, e.g. "latency of m.onnx". */
  schedule?: <T>(label: string, job: () => Promise<T>) => Promise<T>;
  /** Called for every part actually measured (not from the cache): 'latency', 'memory', 'fidelity'. */
  onMeasured?: (part: string) => void;
  /** Only what needs no execution (size); the rest is reported unchecked (untrusted workspace). */
  noExecution?: boolean;
  /** Ignore cached values for this entry (re-measure) and replace them. */
  refresh?: boolean;
}

/** A problem with one setting of an entry (shown on that key) or with the entry itself. */
export class EntryError extends UserError {
  constructor(
    message: string,
    readonly setting?: string,
  ) {
    super(message);
    this.name = 'EntryError';
  }
}

export const FIDELITY_SAMPLES = 8;
const TOP_LAYERS = 5;

/** `shown` is the path as the budget file writes it (relative), for messages. */
function checkFile(file: string, what: string, shown: string, setting?: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new EntryError(`${what} not found: ${shown} (${file})`, setting);
  }
  if (setting === 'data' ? !stat.isDirectory() : stat.isDirectory()) throw new EntryError(`${what} is not a ${setting === 'data' ? 'folder' : 'file'}: ${file}`, setting);
}

/**
 * The inputs the budget's `shapes` name must exist and fit; when the model will run (`willRun`), every
 * dynamic dimension must be given too (unless samples come from a data folder).
 */
export function checkShapes(inputs: readonly ModelInputSpec[], settings: MeasureSettings, willRun = true): void {
  const shapes = settings.shapes ?? {};
  const names = inputs.map((i) => i.name);
  for (const [name, dims] of Object.entries(shapes)) {
    const spec = inputs.find((i) => i.name === name);
    if (!spec) throw new EntryError(`shapes: the model has no input "${name}" (inputs: ${names.join(', ') || 'none'})`, 'shapes');
    const problem = shapeMismatch(spec, dims);
    if (problem) throw new EntryError(`shapes: [${dims.join(', ')}] does not fit input "${name}": ${problem}`, 'shapes');
  }
  if (settings.dataDir || !willRun) return;
  for (const spec of inputs) {
    const free = spec.dims === null || spec.dims.some((d) => typeof d !== 'number');
    if (free && !shapes[spec.name]) {
      const example = (spec.dims ?? [1]).map((d) => (typeof d === 'number' ? d : 1));
      throw new EntryError(`input "${spec.name}" has dynamic dimensions ${formatDims(spec.dims)}: add "shapes": { "${spec.name}": [${example.join(', ')}] }`, 'shapes');
    }
  }
}

async function measureLatency(model: string, settings: MeasureSettings, hooks: MeasureHooks): Promise<LatencyMeasurement> {
  const report = await profileModel(
    model,
    { runs: settings.runs, threads: settings.threads, executionProvider: settings.provider, shapes: settings.shapes, dataDir: settings.dataDir, perNode: true },
    { signal: hooks.signal, onProgress: hooks.onProgress },
  );
  const l = report.latencyMs;
  const topLayers = [...report.nodes]
    .sort((a, b) => b.meanUs - a.meanUs)
    .slice(0, TOP_LAYERS)
    .map((n) => ({ name: n.name, opType: n.opType, meanUs: n.meanUs, share: n.share }));
  return { p50: l.p50, p95: l.p95, p99: l.p99, mean: l.mean, runs: report.runs, threads: report.threads, provider: report.executionProvider, topLayers, warnings: report.warnings };
}

/** The worst output's mean cosine and top-1 agreement of `candidate` against `reference`. */
export function fidelityFrom(outputs: CompareReport['outputs'], samples: number, reference: string): FidelityMeasurement {
  if (outputs.length === 0) throw new UserError('the models have no output to compare');
  const cosine = Math.min(...outputs.map((o) => o.cosineMean));
  const top1s = outputs.map((o) => o.top1Agreement).filter((t): t is number => t !== undefined);
  return { cosine, ...(top1s.length ? { top1: Math.min(...top1s) } : {}), samples, reference };
}

async function measureFidelity(reference: string, model: string, settings: MeasureSettings, hooks: MeasureHooks): Promise<FidelityMeasurement> {
  const report = await compareModels(
    reference,
    model,
    { shapes: settings.shapes, dataDir: settings.dataDir, threads: settings.threads, samples: FIDELITY_SAMPLES, runs: 1 },
    { signal: hooks.signal, onProgress: hooks.onProgress },
  );
  return fidelityFrom(report.outputs, report.samples, reference);
}

/** One part from the cache, or measured (through the schedule) and cached. */
async function part<T>(name: string, key: string, label: string, hooks: MeasureHooks, cached: string[], run: () => Promise<T>): Promise<T> {
  const hit = hooks.refresh ? undefined : hooks.cache?.get<T>(key);
  if (hit !== undefined) {
    cached.push(name);
    return hit;
  }
  const schedule = hooks.schedule ?? (<U>(_label: string, job: () => Promise<U>) => job());
  const value = await schedule(label, run);
  hooks.cache?.set(key, value);
  hooks.onMeasured?.(name);
  return value;
}

function needsLatency(entry: BudgetEntry): boolean {
  return LATENCY_LIMITS.some((l) => entry.limits[l] !== undefined);
}

function needsFidelity(entry: BudgetEntry): boolean {
  return entry.limits.cosine !== undefined || entry.limits.top1 !== undefined;
}

function needsExecution(entry: BudgetEntry): boolean {
  return needsLatency(entry) || entry.limits.memory !== undefined || (entry.reference !== undefined && needsFidelity(entry));
}

/** Measures what the entry's limits need; throws EntryError (or the runtime's one-line errors). */
export async function measure(entry: BudgetEntry, hooks: MeasureHooks = {}): Promise<Measurement> {
  checkFile(entry.model, 'model', entry.key);
  if (entry.settings.dataDir) checkFile(entry.settings.dataDir, 'data folder', path.basename(entry.settings.dataDir), 'data');
  if (entry.reference && needsFidelity(entry)) checkFile(entry.reference, 'reference model', path.basename(entry.reference), 'reference');
  let facts: ModelFacts;
  try {
    facts = await modelFacts(entry.model);
  } catch (err) {
    throw new EntryError(`cannot read ${path.basename(entry.model)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  checkShapes(facts.inputs, entry.settings, !hooks.noExecution && needsExecution(entry));
  const m: Measurement = { model: entry.model, hash: facts.hash, sizeBytes: facts.sizeBytes, cached: [] };
  if (hooks.noExecution) return m;
  const name = path.basename(entry.model);
  const s = entry.settings;
  if (needsLatency(entry)) {
    m.latency = await part('latency', measurementKey('latency', facts.hash, s), `latency of ${name}`, hooks, m.cached, () => measureLatency(entry.model, s, hooks));
  }
  if (entry.limits.memory !== undefined) {
    m.memoryBytes = await part('memory', measurementKey('memory', facts.hash, s), `memory of ${name}`, hooks, m.cached, () => measureMemory(entry.model, s, hooks.signal));
  }
  if (entry.reference && needsFidelity(entry)) {
    const ref = await modelFacts(entry.reference);
    const reference = entry.reference;
    m.fidelity = await part('fidelity', measurementKey('fidelity', facts.hash, s, ref.hash), `fidelity of ${name}`, hooks, m.cached, () => measureFidelity(reference, entry.model, s, hooks));
    m.fidelity = { ...m.fidelity, reference };
  }
  return m;
}

function whyUnchecked(entry: BudgetEntry, m: Measurement, hooks: MeasureHooks): (limit: string) => string {
  return (limit) => {
    if (hooks.noExecution) return 'not measured: measuring runs the model, which needs a trusted workspace';
    if ((limit === 'cosine' || limit === 'top1') && !entry.reference) return 'fidelity is measured against a reference: set "reference" to the original model (the optimizer checks this floor)';
    if (limit === 'top1' && m.fidelity) return 'no output looks like class scores, so top-1 agreement is undefined';
    return 'not measured';
  };
}

/** Measures and judges an entry; failures become `error` (never thrown, except cancellation). */
export async function checkEntry(entry: BudgetEntry, hooks: MeasureHooks = {}): Promise<EntryResult> {
  const base = { key: entry.key, model: entry.model, verdicts: [], unchecked: [] };
  try {
    const m = await measure(entry, hooks);
    const metrics = metricsOf(m);
    return { ...base, measurement: m, verdicts: judge(entry.limits, metrics, contextOf(m)), unchecked: uncheckedLimits(entry.limits, metrics, whyUnchecked(entry, m, hooks)) };
  } catch (err) {
    if (hooks.signal?.aborted) throw err;
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    const setting = err instanceof EntryError ? err.setting : settingOf(err, entry);
    return { ...base, error: { message, ...(setting ? { setting } : {}) } };
  }
}

/** Errors about inputs (ours or onnxruntime's) point at `shapes` (or `data`) when the entry sets them. */
function settingOf(err: unknown, entry: BudgetEntry): string | undefined {
  if (!(err instanceof Error)) return undefined;
  if (/execution provider/i.test(err.message) && entry.keySpans.provider) return 'provider';
  if (err.name === 'InputError' && entry.settings.dataDir && /data|\.np[yz]/i.test(err.message)) return 'data';
  const aboutShapes = err.name === 'InputError' || (err.name === 'OrtError' && /shape|dimension|rank/i.test(err.message));
  return aboutShapes && entry.settings.shapes ? 'shapes' : undefined;
}
