/**
 * "Optimize to meet budget": tries configurations in the order of candidates.ts, measuring each for
 * real (size on disk; fidelity against the source on the same inputs; latency with the budget's
 * settings; memory in a fresh process when limited), and stops at the first that meets every limit.
 * A quantized candidate that fails only its fidelity floor gets greedy fp32 fallback, as Intel Neural
 * Compressor and NNCF do: rank its quantized layers by the fidelity lost when each alone is quantized,
 * keep the worst in fp32, measure, then the two worst, … (at most MAX_FALLBACK), stopping when another
 * limit breaks. The winner is written beside the source as "<stem>.budget.onnx"; when nothing meets the
 * budget the report gives the Pareto points closest to it and the limit that binds.
 */
import { freeSiblingPath } from '../core/paths';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError, UserError } from '../core/errors';
import { inspectModel } from '../core/inspect';
import type { OptimizeReport } from '../core/reports';
import { loadModel, saveModel } from '../onnx/io';
import { PASSES } from '../passes/registry';
import { calibrateForPipeline } from '../pipeline/calibration';
import { optimizeModel, type OptimizeHooks } from '../pipeline/optimize';
import { profileModel, type Progress } from '../runtime/profiler';
import type { MeasurementCache } from './cache';
import { describeStep, searchOrder, type Candidate } from './candidates';
import { excessOf, formatMetric, judge, type MetricContext, type Metrics } from './evaluate';
import { FIDELITY_SAMPLES, checkEntry, fidelityFrom } from './measure';
import type { PassStep } from '../pipeline/presets';
import { compareModels } from '../runtime/compare';
import { measureMemory } from './memory';
import { modelFacts } from './modelFacts';
import { LATENCY_LIMITS, LIMIT_NAMES, type BudgetEntry, type FidelityMeasurement, type LimitName, type Limits, type PlanCandidate, type PlanReport } from './types';
import { formatPercent } from './units';

export const DEFAULT_COSINE_FLOOR = 0.99;
/** Layers ranked for fallback at most (each costs one optimize-and-compare). */
const MAX_RANKED = 8;
/** Layers kept in fp32 at most, cumulatively. */
const MAX_FALLBACK = 4;

export interface PlanHooks {
  signal?: AbortSignal;
  onProgress?(progress: Progress): void;
  /** For the source model's own measurement (shared with diagnostics). */
  cache?: MeasurementCache;
  calibrate?: OptimizeHooks['calibrate'];
}

interface State {
  entry: BudgetEntry;
  source: string;
  /** What candidates' passes start from: the source after cleanup (run once), or the source. */
  base: string;
  limits: Limits;
  hooks: PlanHooks;
  scratch: string;
  candidates: PlanCandidate[];
  files: Map<PlanCandidate, string>;
  counter: number;
}

function check(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('planning cancelled');
}

function isCancel(err: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (err instanceof Error && (err.name === 'AbortError' || err.name === 'CancelledError'));
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

const needsLatency = (limits: Limits) => LATENCY_LIMITS.some((l) => limits[l] !== undefined);

function progress(st: State, phase: string, done = 0, total = 1): void {
  st.hooks.onProgress?.({ phase, done, total });
}

function outcome(st: State, c: Candidate, metrics: Metrics, ctx: MetricContext, warnings: string[] = []): PlanCandidate {
  const verdicts = judge(st.limits, metrics, ctx);
  const missing = LIMIT_NAMES.filter((l) => st.limits[l] !== undefined && metrics[l] === undefined);
  const meets = missing.length === 0 && verdicts.every((v) => v.status !== 'exceeded');
  const reason = missing.length ? `not measurable: ${missing.join(', ')}${warnings.length ? ` (${warnings[0]})` : ''}` : undefined;
  return { label: c.label, passes: c.steps.map(describeStep), fp32Layers: c.exclude, status: meets ? 'meets' : 'fails', ...(reason ? { reason } : {}), metrics, verdicts };
}

/** Latency and memory of a candidate file with the budget's settings. */
async function runtimeMetrics(st: State, file: string, metrics: Metrics, ctx: MetricContext): Promise<void> {
  const s = st.entry.settings;
  if (needsLatency(st.limits)) {
    const r = await profileModel(file, { runs: s.runs, threads: s.threads, executionProvider: s.provider, shapes: s.shapes, dataDir: s.dataDir, perNode: false }, { signal: st.hooks.signal });
    Object.assign(metrics, { p50: r.latencyMs.p50, p95: r.latencyMs.p95, p99: r.latencyMs.p99 });
    Object.assign(ctx, { runs: r.runs, threads: r.threads });
  }
  if (st.limits.memory !== undefined) metrics.memory = await measureMemory(file, s, st.hooks.signal);
}

/** The source itself, through the shared cache: fidelity 1 by definition. */
async function baseline(st: State, c: Candidate): Promise<PlanCandidate> {
  const { cosine: _c, top1: _t, ...runtimeLimits } = st.limits;
  const entry: BudgetEntry = { ...st.entry, model: st.source, reference: undefined, limits: runtimeLimits };
  const r = await checkEntry(entry, { signal: st.hooks.signal, cache: st.hooks.cache, onProgress: (p) => progress(st, `as is: ${p.phase}`, p.done, p.total) });
  if (r.error) throw new UserError(`${path.basename(st.source)}: ${r.error.message}`);
  const m = r.measurement!;
  const metrics: Metrics = { size: m.sizeBytes, cosine: 1, top1: 1 };
  if (m.latency) Object.assign(metrics, { p50: m.latency.p50, p95: m.latency.p95, p99: m.latency.p99 });
  if (m.memoryBytes !== undefined) metrics.memory = m.memoryBytes;
  return outcome(st, c, metrics, { runs: m.latency?.runs, threads: m.latency?.threads });
}

/** Cleanup is lossless and shared by every candidate, so it runs once (see prepareBase). */
function stepsToRun(st: State, c: Candidate): PassStep[] {
  return st.base === st.source ? c.steps : c.steps.filter((s) => s.name !== 'cleanup');
}

/** Builds the candidate at `output` and measures its fidelity against the source itself. */
async function optimizeCandidate(st: State, c: Candidate, output: string): Promise<{ report: OptimizeReport; fidelity: FidelityMeasurement }> {
  const s = st.entry.settings;
  const onProgress = (p: Progress) => progress(st, `${c.label}: ${p.phase}`, p.done, p.total);
  const report = await optimizeModel(
    { input: st.base, output, force: true, passes: stepsToRun(st, c), exclude: c.exclude, dataDir: s.dataDir, shapes: s.shapes, compare: false, threads: s.threads },
    { signal: st.hooks.signal, calibrate: st.hooks.calibrate ?? calibrateForPipeline, onProgress },
  );
  const cmp = await compareModels(st.source, output, { shapes: s.shapes, dataDir: s.dataDir, threads: s.threads, samples: FIDELITY_SAMPLES, runs: 1 }, { signal: st.hooks.signal, onProgress });
  return { report, fidelity: fidelityFrom(cmp.outputs, cmp.samples, st.source) };
}

/** The source after cleanup, in the scratch folder; the source itself when cleanup is unavailable or fails. */
async function prepareBase(st: State): Promise<string> {
  if (!PASSES.has('cleanup')) return st.source;
  const file = path.join(st.scratch, 'base.onnx');
  try {
    progress(st, 'cleanup', 0, 1);
    await optimizeModel({ input: st.source, output: file, force: true, passes: [{ name: 'cleanup', options: {} }], shapes: st.entry.settings.shapes, compare: false }, { signal: st.hooks.signal });
    return file;
  } catch (err) {
    if (isCancel(err, st.hooks.signal)) throw err;
    return st.source;
  }
}

function removeModel(file: string): void {
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.data`, { force: true });
}

/** Builds and measures one candidate; `changed` receives the layers its main pass changed. */
async function measureCandidate(st: State, c: Candidate, changed: string[] = []): Promise<PlanCandidate> {
  check(st.hooks.signal);
  if (c.skip) return { label: c.label, passes: [], fp32Layers: [], status: 'skipped', reason: c.skip, metrics: {}, verdicts: [] };
  if (c.steps.length === 0) return baseline(st, c);
  const file = path.join(st.scratch, `candidate-${++st.counter}.onnx`);
  const failed = (status: 'skipped' | 'failed', reason: string): PlanCandidate => ({ label: c.label, passes: c.steps.map(describeStep), fp32Layers: c.exclude, status, reason, metrics: {}, verdicts: [] });
  let report: OptimizeReport;
  let fidelity: FidelityMeasurement;
  try {
    ({ report, fidelity } = await optimizeCandidate(st, c, file));
  } catch (err) {
    if (isCancel(err, st.hooks.signal)) throw err;
    return failed(err instanceof UserError || (err instanceof Error && err.name !== 'Error') ? 'skipped' : 'failed', oneLine(err));
  }
  const main = report.passes.find((p) => p.pass === c.main);
  if (main && main.changed.length === 0) {
    removeModel(file);
    return failed('skipped', `${c.main} found nothing to change${main.skipped[0] ? ` (${main.skipped[0].name}: ${main.skipped[0].reason})` : ''}`);
  }
  changed.push(...(main?.changed.map((ch) => ch.name) ?? []));
  // Bytes on disk, counted like the budget counts the source (external data files included).
  const size = (await modelFacts(file)).sizeBytes;
  const metrics: Metrics = { size, cosine: fidelity.cosine, ...(fidelity.top1 !== undefined ? { top1: fidelity.top1 } : {}) };
  const ctx: MetricContext = { samples: fidelity.samples, reference: st.source };
  try {
    await runtimeMetrics(st, file, metrics, ctx);
  } catch (err) {
    if (isCancel(err, st.hooks.signal)) throw err;
    removeModel(file);
    return failed('failed', oneLine(err));
  }
  const result = outcome(st, c, metrics, ctx, top1Warning(st, fidelity.top1));
  st.files.set(result, file);
  return result;
}

function top1Warning(st: State, top1: number | undefined): string[] {
  return st.limits.top1 !== undefined && top1 === undefined ? ['no output looks like class scores'] : [];
}

/** Fidelity loss when only `layer` of the candidate's changed layers is transformed. */
async function layerLoss(st: State, c: Candidate, changed: string[], layer: string): Promise<number> {
  const file = path.join(st.scratch, `rank-${++st.counter}.onnx`);
  try {
    const only: Candidate = { ...c, exclude: [...c.exclude, ...changed.filter((n) => n !== layer)] };
    const { fidelity: f } = await optimizeCandidate(st, only, file);
    return Math.max(1 - f.cosine, st.limits.top1 !== undefined && f.top1 !== undefined ? 1 - f.top1 : 0);
  } finally {
    removeModel(file);
  }
}

/** Changed layers, most sensitive first (at most MAX_RANKED of them are ranked). */
async function rankLayers(st: State, c: Candidate, changed: string[]): Promise<string[]> {
  const ranked: { layer: string; loss: number }[] = [];
  const layers = changed.slice(0, MAX_RANKED);
  for (const [i, layer] of layers.entries()) {
    check(st.hooks.signal);
    progress(st, `${c.label}: sensitivity of ${layer}`, i, layers.length);
    try {
      ranked.push({ layer, loss: await layerLoss(st, c, changed, layer) });
    } catch (err) {
      if (isCancel(err, st.hooks.signal)) throw err;
    }
  }
  return ranked.sort((a, b) => b.loss - a.loss).map((r) => r.layer);
}

const onlyFidelityFails = (r: PlanCandidate) => r.status === 'fails' && r.verdicts.every((v) => v.status !== 'exceeded' || v.limit === 'cosine' || v.limit === 'top1');

/** Greedy fp32 fallback after a candidate that failed only on fidelity; returns a candidate that meets, if any. */
async function fallback(st: State, c: Candidate, changed: string[]): Promise<PlanCandidate | undefined> {
  if (changed.length < 2) return undefined;
  const order = await rankLayers(st, c, changed);
  const steps = Math.min(MAX_FALLBACK, order.length - 1);
  for (let k = 1; k <= steps; k++) {
    const kept = order.slice(0, k);
    const next: Candidate = { ...c, label: `${c.label} + fp32 ${kept.join(', ')}`, exclude: [...c.exclude, ...kept], fallback: false };
    const r = await record(st, next);
    if (r.status === 'meets') return r;
    // Keeping more layers in fp32 only makes latency, size and memory worse.
    if (r.status !== 'fails' || !onlyFidelityFails(r)) return undefined;
  }
  return undefined;
}

async function record(st: State, c: Candidate, changed?: string[]): Promise<PlanCandidate> {
  const i = st.candidates.length + 1;
  progress(st, `candidate ${i}: ${c.label}`, 0, 1);
  const r = await measureCandidate(st, c, changed);
  st.candidates.push(r);
  return r;
}

/** Per limit, how far over (> 0) or under a candidate is, normalized by the limit. */
function excesses(st: State, r: PlanCandidate): Partial<Record<LimitName, number>> {
  const out: Partial<Record<LimitName, number>> = {};
  for (const l of LIMIT_NAMES) {
    const [bound, value] = [st.limits[l], r.metrics[l]];
    if (bound !== undefined) out[l] = value === undefined ? Infinity : excessOf(l, value, bound);
  }
  return out;
}

const worst = (e: Partial<Record<LimitName, number>>) => Math.max(...Object.values(e));

function dominates(a: Partial<Record<LimitName, number>>, b: Partial<Record<LimitName, number>>): boolean {
  const keys = Object.keys(a) as LimitName[];
  return keys.every((k) => (a[k] as number) <= (b[k] as number)) && keys.some((k) => (a[k] as number) < (b[k] as number));
}

function paretoOf(st: State): PlanCandidate[] {
  const measured = st.candidates.filter((r) => r.status === 'fails' || r.status === 'meets');
  const ex = new Map(measured.map((r) => [r, excesses(st, r)]));
  const front = measured.filter((r) => !measured.some((o) => o !== r && dominates(ex.get(o)!, ex.get(r)!)));
  return front.sort((a, b) => worst(ex.get(a)!) - worst(ex.get(b)!));
}

/** The limit in the way: the one the closest candidate misses by most; says if no candidate meets it. */
function bindingOf(st: State, closest: PlanCandidate | undefined): PlanReport['binding'] {
  if (!closest) return undefined;
  const e = excesses(st, closest);
  const limit = (Object.keys(e) as LimitName[]).sort((a, b) => (e[b] as number) - (e[a] as number))[0];
  const measured = st.candidates.filter((r) => r.metrics[limit] !== undefined);
  const anyMeets = measured.some((r) => (excesses(st, r)[limit] as number) <= 0);
  const best = measured.sort((a, b) => (excesses(st, a)[limit] as number) - (excesses(st, b)[limit] as number))[0];
  const bound = formatMetric(limit, st.limits[limit] as number);
  const verdict = closest.verdicts.find((v) => v.limit === limit);
  const over = verdict ? `${formatMetric(limit, verdict.measured)} against ${bound}, ${formatPercent(Math.max(0, verdict.excess))} over` : 'not measurable';
  const message = anyMeets
    ? `${limit} binds: the closest configuration, ${closest.label}, misses it (${over}); configurations that meet ${limit} break other limits`
    : `${limit} binds: no configuration meets ${bound}; the best, ${best?.label ?? closest.label}, reaches ${best ? formatMetric(limit, best.metrics[limit] as number) : 'nothing'}`;
  return { limit, message };
}

/** Never over an existing file: "<stem>.budget.onnx", or "<stem>.budget-2.onnx", ... */
function outputPath(source: string): string {
  return freeSiblingPath(source, 'budget');
}

/** Copies the chosen candidate beside the source (atomic save; external data kept external). */
function writeChosen(st: State, chosen: PlanCandidate): string | undefined {
  const file = st.files.get(chosen);
  if (!file) return undefined;
  const target = outputPath(st.source);
  const external = loadModel(st.source).externalFiles.length > 0;
  saveModel(loadModel(file).model, target, external ? { externalData: {} } : {});
  return target;
}

function summaryOf(st: State, chosen: PlanCandidate | undefined, output: string | undefined, binding: PlanReport['binding']): string {
  const name = path.basename(st.source);
  if (chosen && !output) return `${name} already meets the budget as it is`;
  if (chosen) {
    const numbers = chosen.verdicts.map((v) => `${v.limit} ${formatMetric(v.limit, v.measured)}`).join(', ');
    return `${chosen.label} meets the budget (${numbers}): wrote ${path.basename(output as string)}`;
  }
  return `no configuration of ${name} meets the budget (${st.candidates.length} tried): ${binding?.message ?? 'nothing could be measured'}`;
}

/** Plans the budget entry; never modifies the source. */
export async function planBudget(entry: BudgetEntry, hooks: PlanHooks = {}): Promise<PlanReport> {
  const started = performance.now();
  const source = entry.reference ?? entry.model;
  const defaultFidelity = entry.limits.cosine === undefined && entry.limits.top1 === undefined;
  const limits: Limits = defaultFidelity ? { ...entry.limits, cosine: DEFAULT_COSINE_FLOOR } : { ...entry.limits };
  const report = inspectModel(loadModel(source), { shapes: entry.settings.shapes });
  const st: State = { entry, source, base: source, limits, hooks, scratch: fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-plan-')), candidates: [], files: new Map(), counter: 0 };
  try {
    st.base = await prepareBase(st);
    let chosen: PlanCandidate | undefined;
    for (const c of searchOrder(report, PASSES, { latency: needsLatency(limits) })) {
      const changed: string[] = [];
      const r = await record(st, c, changed);
      if (r.status === 'meets') chosen = r;
      else if (c.fallback && onlyFidelityFails(r)) chosen = await fallback(st, c, changed);
      if (chosen) break;
    }
    const output = chosen ? writeChosen(st, chosen) : undefined;
    const pareto = chosen ? [] : paretoOf(st);
    const binding = chosen ? undefined : bindingOf(st, pareto[0]);
    return { model: entry.model, source, limits, defaultFidelity, met: chosen !== undefined, ...(output ? { output } : {}), ...(chosen ? { chosen } : {}), candidates: st.candidates, pareto, ...(binding ? { binding } : {}), summary: summaryOf(st, chosen, output, binding), timeMs: performance.now() - started };
  } finally {
    fs.rmSync(st.scratch, { recursive: true, force: true });
  }
}
