/**
 * One run of the distill pass: capture, wave after wave, the student's layer inputs and the teacher's
 * layer outputs on the same samples; refit each layer of the wave; finally compare student and
 * teacher end to end on held-out samples, and restore every original weight if that got worse.
 */
import { Rng } from '../../core/random';
import { encodeModel } from '../../onnx/encode';
import type { ModelProto } from '../../onnx/types';
import { captureActivationsOfModels, type Activations, type CaptureOptions, type ModelCapture, type ModelSource } from '../../runtime/activations';
import { AbortError } from '../../runtime/nativeGuard';
import type { LayerChange, PassContext, PassReport } from '../pass';
import { WeightEditor, type Scope } from '../quant/weights';
import { describeFidelity, endToEnd, type EndToEnd } from './endToEnd';
import { EXACT_RELATIVE_ERROR, fitLayer, type LayerFit } from './fit';
import { biasValues, weightRows, writeLayer } from './layers';
import type { DistillOptions } from './options';
import { TargetPlanner } from './targets';
import { gatherRows, pickRows, sampleLayouts, type LayerRows, type SampleLayout } from './rows';
import type { Candidate } from './select';

export type TeacherContext = NonNullable<PassContext['teacher']>;

/** Which captured samples fit and which are held out. */
export interface SampleSplit {
  fit: number[];
  held: number[];
}

interface Change {
  /** The report entry of the refit (removed again if it is reverted). */
  entry: LayerChange;
  /** The layer's own held-out error before and after, for the report. */
  error: string;
  undo: () => void;
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

function hashName(name: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}

function relative(err: number, yy: number): string {
  return yy > 0 ? Math.sqrt(err / yy).toPrecision(3) : err.toPrecision(3);
}

/** Values (inputs + targets) of one layer's fitting rows held at once: 64 MiB as float32. */
const ROW_VALUES = 2 ** 24;

/** max_rows, lowered for very wide layers (a 6625-class head) but never below 4 rows per unknown. */
function rowBudget(c: Candidate, maxRows: number): number {
  const perRow = c.layer.groups * c.layer.Kg + c.layer.N;
  return Math.min(maxRows, Math.max(4 * (c.layer.Kg + 1), Math.floor(ROW_VALUES / perRow)));
}

interface Captured {
  s: Activations;
  t: Activations;
  samples: number;
}

function isBudgetError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ActivationBudgetError';
}

export class DistillRun {
  readonly editor: WeightEditor;
  readonly changes: Change[] = [];
  split?: SampleSplit;
  before?: EndToEnd;
  teacherOutputs?: Activations;
  exact = false;
  readonly timings = { capture: 0, fit: 0, captures: 0, teacherRuns: 0 };
  /** Teacher targets captured and not used yet. */
  private targets: Activations = new Map();
  private readonly planner: TargetPlanner;
  private lastPause = performance.now();
  private readonly underdetermined: string[] = [];

  constructor(
    readonly ctx: PassContext,
    readonly teacher: TeacherContext,
    readonly teacherSource: ModelSource,
    teacherModel: ModelProto,
    readonly student: Scope,
    readonly options: DistillOptions,
    readonly report: PassReport,
    readonly outputs: string[],
  ) {
    this.editor = new WeightEditor(ctx.model);
    this.planner = new TargetPlanner(teacherModel, teacher.shapes, options.samples + options.holdout);
  }

  /** Yields to the event loop now and then; throws AbortError once cancelled. */
  readonly pause = async (): Promise<void> => {
    if (performance.now() - this.lastPause > 50) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.lastPause = performance.now();
    }
    if (this.teacher.signal?.aborted) throw new AbortError('distill cancelled');
  };

  private captureOptions(seed: number, samples: number): CaptureOptions {
    return { dataDir: this.teacher.dataDir, shapes: this.teacher.shapes, seed, samples };
  }

  private progress(phase: string): (p: { done: number; total: number }) => void {
    return (p) => this.teacher.onProgress?.({ phase, done: p.done, total: p.total });
  }

  /** Student tensors and teacher tensors on the fitting and held-out samples (no teacher run when none). */
  private async capture(student: string[], teacher: string[], phase: string): Promise<Captured> {
    const started = performance.now();
    const models: ModelCapture[] = [{ source: encodeModel(this.ctx.model), tensors: student, label: 'student' }];
    if (teacher.length) models.push({ source: this.teacherSource, tensors: teacher, label: 'teacher' });
    const options = this.captureOptions(this.options.seed, this.options.samples + this.options.holdout);
    const result = await captureActivationsOfModels(models, options, { signal: this.teacher.signal, onProgress: this.progress(phase) });
    this.timings.capture += performance.now() - started;
    this.timings.captures++;
    if (teacher.length) this.timings.teacherRuns++;
    return { s: result.activations[0], t: result.activations[1] ?? new Map(), samples: result.samples };
  }

  private splitSamples(total: number): SampleSplit {
    if (!this.teacher.dataDir) return { fit: range(0, this.options.samples), held: range(this.options.samples, this.options.holdout) };
    if (total < 2) {
      this.report.warnings.push('--data holds one sample: it is used both to fit and to check; give more samples for an honest held-out check');
      return { fit: [0], held: [0] };
    }
    const held = Math.max(1, Math.floor(total / 4));
    return { fit: range(0, total - held), held: range(total - held, held) };
  }

  /** Refits wave i: its student inputs captured now, its teacher targets now or with an earlier wave. */
  async runWave(waves: Candidate[][], i: number, phase: string): Promise<void> {
    const items = waves[i];
    const missing = items.some((c) => !this.targets.has(c.target.tensor));
    const teacher = i === 0 || missing ? this.planner.block(waves, i) : [];
    await this.captureAndFit(items, i === 0, phase, teacher);
  }

  private async captureAndFit(items: Candidate[], first: boolean, phase: string, teacher: string[]): Promise<void> {
    const extra = first ? this.outputs : [];
    const own = unique(items.map((c) => c.target.tensor));
    let captured: Captured;
    try {
      captured = await this.capture(unique([...items.map((c) => c.layer.input), ...extra]), teacher.length ? unique([...teacher, ...extra]) : [], phase);
    } catch (err) {
      if (!isBudgetError(err)) throw err;
      if (teacher.length > own.length) {
        // Targets captured ahead did not fit after all: one wave at a time from now on.
        this.planner.enabled = false;
        return this.captureAndFit(items, first, phase, own);
      }
      if (items.length < 2) throw err;
      const half = Math.ceil(items.length / 2);
      await this.captureAndFit(items.slice(0, half), first, phase, unique(items.slice(0, half).map((c) => c.target.tensor)));
      await this.captureAndFit(items.slice(half), false, phase, unique(items.slice(half).map((c) => c.target.tensor)));
      return;
    }
    if (teacher.length) this.targets = captured.t;
    if (first) this.start(captured);
    if (this.exact) return;
    for (const c of items) {
      await this.refit(c, captured.s, this.targets);
      this.targets.delete(c.target.tensor);
    }
  }

  private start(captured: Captured): void {
    this.split = this.splitSamples(captured.samples);
    this.teacherOutputs = new Map(this.outputs.map((o) => [o, captured.t.get(o) as NonNullable<ReturnType<Activations['get']>>]));
    this.before = endToEnd(captured.t, this.split.held, captured.s, this.split.held, this.outputs);
    this.exact = this.outputs.length > 0 && this.before.sqnrDb === Infinity;
  }

  private skip(c: Candidate, reason: string): void {
    this.report.skipped.push({ name: c.layer.name, opType: c.layer.opType, reason });
  }

  private rows(c: Candidate, layouts: SampleLayout[], samples: number[], max: number, rng: Rng, x: Activations, t: Activations): LayerRows {
    const picked = samples.map((s) => layouts[s]);
    const picks = pickRows(picked.map((l) => l.rows), max, rng);
    return gatherRows(c.layer, c.target, x.get(c.layer.input) as NonNullable<ReturnType<Activations['get']>>, t.get(c.target.tensor) as NonNullable<ReturnType<Activations['get']>>, samples, picked, picks);
  }

  private async refit(c: Candidate, s: Activations, t: Activations): Promise<void> {
    const split = this.split as SampleSplit;
    const x = s.get(c.layer.input);
    const y = t.get(c.target.tensor);
    if (!x || !y) return this.skip(c, 'its activations were not captured');
    const layouts = sampleLayouts(c.layer, x, y, c.target, range(0, x.data.length));
    if (typeof layouts === 'string') return this.skip(c, layouts);
    const rng = new Rng(hashName(c.layer.name, this.options.seed));
    const maxRows = rowBudget(c, this.options.maxRows);
    const fit = this.rows(c, layouts, split.fit, maxRows, rng, s, t);
    const held = this.rows(c, layouts, split.held, Math.max(256, Math.ceil(maxRows / 4)), rng, s, t);
    if (fit.rows < c.layer.Kg + 1) this.underdetermined.push(`${c.layer.name} (${fit.rows} rows, ${c.layer.Kg + 1} unknowns)`);
    const started = performance.now();
    const result = await fitLayer({ N: c.layer.N, groups: c.layer.groups, Kg: c.layer.Kg, rows: weightRows(c.layer), bias: biasValues(c.layer) }, fit, held, this.options.ridge, this.pause);
    this.timings.fit += performance.now() - started;
    this.decide(c, fit.rows, result);
  }

  private decide(c: Candidate, rows: number, result: LayerFit | 'exact'): void {
    if (result === 'exact') return this.skip(c, `its output already equals the teacher's on the held-out rows (relative error below ${EXACT_RELATIVE_ERROR})`);
    const change = `held-out relative error ${relative(result.errBefore, result.yy)} -> ${relative(result.errAfter, result.yy)}`;
    if (!(result.errAfter < result.errBefore)) {
      this.report.stats.layersKept = (this.report.stats.layersKept ?? 0) + 1;
      return this.skip(c, `refit would not reduce the layer's own output error (${change}); original weights kept`);
    }
    const undo = writeLayer(c.layer, result.rows, result.bias, this.editor, this.student);
    const masked = result.pinned ? `, ${result.pinned} zeros kept (${result.method})` : '';
    const damped = result.jitter > 0 ? ', damped' : '';
    const bias = result.bias ? ' + bias' : '';
    const entry: LayerChange = { name: c.layer.name, opType: c.layer.opType, action: `refit weights${bias} on ${rows} rows${masked}${damped}: ${change}` };
    this.report.changed.push(entry);
    this.changes.push({ entry, error: change, undo });
  }

  /** End-to-end fidelity after fitting; restores every original weight when it got worse. */
  async finish(): Promise<EndToEnd | undefined> {
    if (this.underdetermined.length) {
      const list = this.underdetermined.slice(0, 5).join(', ') + (this.underdetermined.length > 5 ? ', ...' : '');
      this.report.warnings.push(`fewer rows than unknowns, the ridge term decides part of the fit: ${list}; use more samples or a larger batch (--shape)`);
    }
    if (!this.changes.length || !this.before || !this.split || !this.outputs.length) return this.before;
    const started = performance.now();
    const generated = !this.teacher.dataDir;
    const options = generated ? this.captureOptions(this.options.seed + this.options.samples, this.options.holdout) : this.captureOptions(this.options.seed, 1);
    const result = await captureActivationsOfModels([{ source: encodeModel(this.ctx.model), tensors: this.outputs, label: 'student' }], options, {
      signal: this.teacher.signal,
      onProgress: this.progress('distill: final check'),
    });
    this.timings.capture += performance.now() - started;
    this.timings.captures++;
    const studentIdx = generated ? range(0, this.options.holdout) : this.split.held;
    const after = endToEnd(this.teacherOutputs as Activations, this.split.held, result.activations[0], studentIdx, this.outputs);
    if (after.sqnrDb < this.before.sqnrDb) this.revert(after);
    return after;
  }

  private revert(after: EndToEnd): void {
    for (const c of [...this.changes].reverse()) c.undo();
    const entries = new Set(this.changes.map((c) => c.entry));
    this.report.changed = this.report.changed.filter((c) => !entries.has(c));
    for (const c of this.changes) this.report.skipped.push({ name: c.entry.name, opType: c.entry.opType, reason: `refit reverted (${c.error}): end-to-end fidelity got worse` });
    this.report.warnings.push(
      `end-to-end fidelity on held-out samples got worse (${describeFidelity(this.before as EndToEnd)} -> ${describeFidelity(after)}) although each refitted layer got closer to the teacher; every original weight was restored (more samples, or real inputs with --data, usually help)`,
    );
    this.changes.length = 0;
  }
}
