/**
 * optimizeModel: the job behind `onnx-lean optimize`, the server's onnxLean/optimize and the budget
 * planner. Load → (calibrate) → passes in order, each verified in onnxruntime (loads, and what it
 * fused) → atomic save beside the input → compare with the input (fidelity, latency, size).
 * The input is never modified; on any failure or cancellation no output file is left behind.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { countFusions } from '../analysis/fusions';
import { CancelledError, UserError } from '../core/errors';
import { inspectModel } from '../core/inspect';
import { assertWritableTarget } from '../core/paths';
import type { CompareReport, FusionSummary, OptimizeReport, PassSummary } from '../core/reports';
import { loadModel, saveModel, type LoadedModel, type SaveOptions } from '../onnx/io';
import type { ModelProto } from '../onnx/types';
import { excludeMatcher } from '../passes/exclude';
import type { CalibrationData, PassContext, PassDefinition } from '../passes/pass';
import { passByName } from '../passes/registry';
import { compareModels, ortOptimizedModel } from '../runtime/compare';
import { listSampleFiles } from '../runtime/inputs';
import type { Progress } from '../runtime/protocol';
import { mainStep, presetSteps, type PassStep } from './presets';

export interface OptimizeRequest {
  input: string;
  /** Default: beside the input, "<stem>.<preset or last pass>.onnx". */
  output?: string;
  force?: boolean;
  preset?: string;
  passes?: PassStep[];
  /** Samples for calibration and evaluation; split between the two unless `evalDataDir` is given. */
  dataDir?: string;
  /** Samples for the comparison only (never used for calibration). */
  evalDataDir?: string;
  exclude?: string[];
  shapes?: Record<string, number[]>;
  /** Samples and timed runs for the final comparison; false skips it. */
  compare?: { samples?: number; runs?: number } | false;
  threads?: number;
}

export interface OptimizeHooks {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Calibrates activations for passes that need it (static quantization, activation-aware pruning). */
  calibrate?: (input: string, request: OptimizeRequest, hooks: { signal?: AbortSignal; onProgress?(p: Progress): void }) => Promise<CalibrationData & { source: string }>;
}

interface PlannedStep {
  step: PassStep;
  pass: PassDefinition;
  options: unknown;
}

function defaultOutput(input: string, label: string): string {
  const dir = path.dirname(input);
  const stem = path.basename(input).replace(/\.onnx$/i, '');
  return path.join(dir, `${stem}.${label}.onnx`);
}

/** Validates every step's options before any work starts, so a typo costs nothing. */
function planSteps(steps: PassStep[]): PlannedStep[] {
  if (steps.length === 0) throw new UserError('nothing to do: give --preset or at least one --pass');
  return steps.map((step) => {
    const pass = passByName(step.name);
    return { step, pass, options: pass.parseOptions(step.options) };
  });
}

function resolveSteps(request: OptimizeRequest, loaded: LoadedModel): { steps: PassStep[]; warnings: string[] } {
  if (request.preset && request.passes?.length) throw new UserError('give either --preset or --pass, not both');
  if (!request.preset) return { steps: request.passes ?? [], warnings: [] };
  const choice = presetSteps(request.preset, inspectModel(loaded, { shapes: request.shapes }));
  return { steps: choice.steps, warnings: [`preset ${request.preset}: ${choice.reason}`] };
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('optimization cancelled');
}

function saveOptionsFor(loaded: LoadedModel): SaveOptions {
  // Keep weights external when the input had them external (big models must: protobuf stops at 2 GiB).
  return loaded.externalFiles.length > 0 ? { externalData: {} } : {};
}

/** Writes the working model to a scratch file and asks onnxruntime what it fuses; throws if ORT refuses it. */
async function verifyInOrt(model: ModelProto, scratch: string, label: string, hooks: OptimizeHooks): Promise<FusionSummary> {
  const file = path.join(scratch, `${label}.onnx`);
  saveModel(model, file, model.graph && estimateBytes(model) > 1.5 * 2 ** 30 ? { externalData: {} } : {});
  try {
    return countFusions(await ortOptimizedModel(file, 'all', { signal: hooks.signal }));
  } finally {
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.data`, { force: true });
  }
}

/**
 * Calibration and evaluation must not share samples, or fidelity is measured on the data the
 * quantization was fitted to. With one folder, the first 3/4 of its files calibrate and the rest
 * evaluate (linked into scratch folders); generated inputs use disjoint seeds (see calibration.ts).
 */
function splitData(request: OptimizeRequest, scratch: string): { calibration?: string; evaluation?: string; warnings: string[] } {
  if (!request.dataDir) return { evaluation: request.evalDataDir, warnings: [] };
  if (request.evalDataDir) return { calibration: request.dataDir, evaluation: request.evalDataDir, warnings: [] };
  const files = listSampleFiles(request.dataDir);
  if (files.length < 2) return { calibration: request.dataDir, evaluation: request.dataDir, warnings: ['--data holds one sample: calibration and evaluation use the same data'] };
  const cut = Math.max(1, Math.floor(files.length * 0.75));
  return {
    calibration: linkFiles(files.slice(0, cut), path.join(scratch, 'calibration')),
    evaluation: linkFiles(files.slice(cut), path.join(scratch, 'evaluation')),
    warnings: [`--data: ${cut} samples calibrate, ${files.length - cut} evaluate`],
  };
}

/** The distillation teacher: the input as loaded, before any pass; loaded again only if a pass asks. */
function teacherOf(request: OptimizeRequest, dataDir: string | undefined, hooks: OptimizeHooks): PassContext['teacher'] {
  let model: ModelProto | undefined;
  return {
    get model() {
      return (model ??= loadModel(request.input).model);
    },
    path: request.input,
    dataDir,
    shapes: request.shapes,
    signal: hooks.signal,
    onProgress: hooks.onProgress,
  };
}

function linkFiles(files: string[], dir: string): string {
  fs.mkdirSync(dir);
  for (const f of files) fs.symlinkSync(path.resolve(f), path.join(dir, path.basename(f)));
  return dir;
}

function estimateBytes(model: ModelProto): number {
  let n = 0;
  for (const t of model.graph?.initializer ?? []) n += t.raw_data?.length ?? 0;
  return n;
}

async function runPasses(planned: PlannedStep[], ctx: PassContext, scratch: string, hooks: OptimizeHooks & { input?: string }): Promise<PassSummary[]> {
  const summaries: PassSummary[] = [];
  for (const [i, p] of planned.entries()) {
    checkAborted(hooks.signal);
    hooks.onProgress?.({ phase: `pass ${p.pass.name}`, done: i, total: planned.length });
    const started = performance.now();
    const report = await p.pass.run(ctx, p.options);
    const timeMs = performance.now() - started;
    hooks.onProgress?.({ phase: `verify ${p.pass.name}`, done: i, total: planned.length });
    const fusions = await verifyInOrt(ctx.model, scratch, `after-${i}-${p.pass.name}`, hooks).catch(async (err: unknown) => {
      if (err instanceof Error && err.name === 'AbortError') throw err;
      throw await explainVerifyFailure(p.pass.name, i, err, hooks);
    });
    summaries.push({ ...report, timeMs, fusions });
  }
  return summaries;
}

/** A model ORT refuses after the first pass may have been refused before it: say which. */
async function explainVerifyFailure(pass: string, index: number, err: unknown, hooks: OptimizeHooks & { input?: string }): Promise<Error> {
  const reason = (err instanceof Error ? err.message : String(err)).replace(/\S*onnx-lean-optimize-\S*/g, 'the result');
  if (index === 0 && hooks.input) {
    const inputLoads = await ortOptimizedModel(hooks.input, 'disabled', { signal: hooks.signal }).then(
      () => true,
      () => false,
    );
    if (!inputLoads) return new UserError(`onnxruntime cannot load the input model ${hooks.input} itself: ${reason}`);
  }
  return new UserError(`after pass ${pass} onnxruntime cannot load the model: ${reason}`);
}

function assertPresetDidSomething(request: OptimizeRequest, steps: PassStep[], summaries: PassSummary[]): void {
  if (!request.preset) return;
  const main = summaries.find((s) => s.pass === mainStep(steps).name);
  if (main && main.changed.length === 0) {
    const why = main.skipped.slice(0, 3).map((s) => `${s.name}: ${s.reason}`).join('; ');
    throw new UserError(`preset ${request.preset}: ${main.pass} found nothing to change in ${request.input}${why ? ` (${why})` : ''}`);
  }
}

function latencyFrom(cmp: CompareReport | undefined): OptimizeReport['latencyMs'] {
  if (!cmp) return null;
  const l = cmp.latencyMs;
  return { before: l.reference, after: l.candidate, ratioP50: l.ratioP50, ratioP95: l.ratioP95 };
}

export async function optimizeModel(request: OptimizeRequest, hooks: OptimizeHooks = {}): Promise<OptimizeReport> {
  const t0 = performance.now();
  const loaded = loadModel(request.input);
  const timings = { load: performance.now() - t0, calibration: 0, passes: 0, save: 0, verify: 0, compare: 0 };
  const { steps, warnings } = resolveSteps(request, loaded);
  const planned = planSteps(steps);
  const label = request.preset ?? steps[steps.length - 1].name;
  const output = request.output ?? defaultOutput(request.input, label);
  assertWritableTarget(request.input, output, request.force === true);

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-optimize-'));
  try {
    const data = splitData(request, scratch);
    warnings.push(...data.warnings);
    let calibration: (CalibrationData & { source: string }) | undefined;
    if (planned.some((p) => p.pass.needsCalibration)) {
      if (!hooks.calibrate) throw new UserError(`${planned.find((p) => p.pass.needsCalibration)?.pass.name} needs calibration, which this front end does not offer`);
      const t = performance.now();
      calibration = await hooks.calibrate(request.input, { ...request, dataDir: data.calibration }, { signal: hooks.signal, onProgress: hooks.onProgress });
      timings.calibration = performance.now() - t;
    }

    const ctx: PassContext = { model: loaded.model, isExcluded: excludeMatcher(request.exclude ?? []), calibration, teacher: teacherOf(request, data.calibration, hooks) };
    const t = performance.now();
    const passes = await runPasses(planned, ctx, scratch, { ...hooks, input: request.input });
    timings.passes = passes.reduce((sum, p) => sum + p.timeMs, 0);
    timings.verify = performance.now() - t - timings.passes;
    assertPresetDidSomething(request, steps, passes);
    checkAborted(hooks.signal);

    const ts = performance.now();
    hooks.onProgress?.({ phase: 'save', done: 0, total: 1 });
    const saved = saveModel(ctx.model, output, saveOptionsFor(loaded));
    timings.save = performance.now() - ts;
    try {
      return await finish({ ...request, dataDir: data.evaluation }, hooks, { output, loaded, saved: saved.sizeBytes + saved.dataBytes, passes, warnings, timings, calibration });
    } catch (err) {
      // A cancelled or failed comparison must not leave a half-reported model behind.
      fs.rmSync(output, { force: true });
      if (saved.dataPath) fs.rmSync(saved.dataPath, { force: true });
      throw err;
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

interface FinishState {
  output: string;
  loaded: LoadedModel;
  saved: number;
  passes: PassSummary[];
  warnings: string[];
  timings: OptimizeReport['timingsMs'];
  calibration?: CalibrationData & { source: string };
}

async function finish(request: OptimizeRequest, hooks: OptimizeHooks, s: FinishState): Promise<OptimizeReport> {
  const last = s.passes[s.passes.length - 1];
  let cmp: CompareReport | undefined;
  if (request.compare !== false) {
    const t = performance.now();
    const c = request.compare ?? {};
    cmp = await compareModels(request.input, s.output, { dataDir: request.dataDir, shapes: request.shapes, samples: c.samples, runs: c.runs, threads: request.threads }, hooks);
    s.timings.compare = performance.now() - t;
  }
  const before = s.loaded.fileBytes + s.loaded.externalBytes;
  const outputWarnings = (cmp?.outputs ?? []).flatMap((o) => o.warnings.map((w) => `output ${o.output}: ${w}`));
  const warnings = [...s.warnings, ...s.passes.flatMap((p) => p.warnings.map((w) => `${p.pass}: ${w}`)), ...last.fusions.warnings, ...(cmp?.warnings ?? []), ...outputWarnings];
  return {
    input: request.input,
    output: s.output,
    preset: request.preset,
    shapes: request.shapes,
    sizeBytes: { before, after: s.saved, ratio: s.saved / before },
    timingsMs: s.timings,
    passes: s.passes,
    fusions: last.fusions,
    calibration: s.calibration ? { method: s.calibration.method, samples: s.calibration.samples, source: s.calibration.source } : undefined,
    fidelity: cmp?.outputs ?? [],
    latencyMs: latencyFrom(cmp),
    warnings,
  };
}
