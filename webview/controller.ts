/**
 * What the panel asks the extension for, and how answers land in the state: the report, the active
 * layer's histogram, the exact pruning preview (debounced while the slider moves), the long jobs with
 * progress and Cancel, and Apply. Answers for an older layer or selection are dropped.
 */
import type { ErrorKind, InputShapes, RunningJob } from '../src/shared/webviewProtocol.js';
import { previewKey } from './state/prune.js';
import { RequestFailed, type RequestClient } from './state/rpc.js';
import { keepExisting } from './state/selection.js';
import { resolveShapes, sameShapes } from './state/shapes.js';
import { allRows } from './state/selectors.js';
import { addNotice, type JobKind, type Store } from './state/store.js';

const HISTOGRAM_BINS = 64;
const PREVIEW_DELAY_MS = 250;
const SHAPE_DELAY_MS = 600;

const DONE: Record<JobKind, string> = { profile: 'Profiling', analyzeSensitivity: 'Sensitivity analysis' };

function messageOf(err: unknown): { kind: ErrorKind; text: string } {
  if (err instanceof RequestFailed) return { kind: err.kind, text: err.message };
  return { kind: 'failed', text: err instanceof Error ? err.message : String(err) };
}

export class Controller {
  private previewTimer: ReturnType<typeof setTimeout> | undefined;
  private shapeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: Store,
    private readonly rpc: RequestClient,
  ) {}

  /** Inspects the model, then again with the input shapes once they are known (for MACs). */
  async loadReport(): Promise<void> {
    await this.inspect(this.shapes());
    const shapes = this.shapes();
    const report = this.store.state.report;
    if (report && shapes && !sameShapes(report, shapes)) await this.inspect(shapes);
  }

  /** Shapes for the symbolic inputs from what the user typed (or the suggestions), when all are complete. */
  shapes(): InputShapes | undefined {
    const { report, ui } = this.store.state;
    return report ? resolveShapes(report, ui.shapes).shapes : undefined;
  }

  /** The user typed dims for an input: inspect again once typing pauses and the shapes are complete. */
  shapeTyped(name: string, text: string): void {
    this.store.updateUi({ shapes: { ...this.store.state.ui.shapes, [name]: text } });
    clearTimeout(this.shapeTimer);
    this.shapeTimer = setTimeout(() => {
      const shapes = this.shapes();
      const report = this.store.state.report;
      if (report && shapes && !sameShapes(report, shapes)) void this.inspect(shapes);
    }, SHAPE_DELAY_MS);
  }

  private async inspect(shapes: InputShapes | undefined): Promise<void> {
    this.store.update({ loading: true, reportError: undefined });
    try {
      const report = await this.rpc.request('inspect', shapes ? { shapes } : {}).result;
      this.store.update({ report, loading: false, histogram: null, preview: null });
      this.settleSelection();
    } catch (err) {
      this.store.update({ loading: false, reportError: messageOf(err).text });
    }
  }

  /** Keeps the selection and cursor on layers that exist; the cursor starts on the largest layer. */
  private settleSelection(): void {
    const rows = allRows(this.store.state);
    const { selected, active } = this.store.state.ui;
    const biggest = rows.reduce<(typeof rows)[number] | undefined>((best, r) => (r.prunable && r.params > (best?.params ?? 0) ? r : best), undefined);
    const keep = active !== null && rows.some((r) => r.name === active);
    this.store.updateUi({ selected: keepExisting(selected, rows), active: keep ? active : (biggest?.name ?? null) });
    this.refreshHistogram();
    this.schedulePreview();
  }

  refreshHistogram(): void {
    const layer = this.store.state.ui.active;
    const row = allRows(this.store.state).find((r) => r.name === layer);
    if (!layer || !row) return this.store.update({ histogram: null });
    if (!row.prunable) return this.store.update({ histogram: { key: layer, note: 'This layer has no weight matrices or kernels, so there is nothing to prune here.' } });
    if (this.store.state.histogram?.key === layer) return;
    this.store.update({ histogram: { key: layer } });
    this.rpc
      .request('weightHistogram', { layer, bins: HISTOGRAM_BINS })
      .result.then((data) => this.landHistogram(layer, { key: layer, data }))
      .catch((err: unknown) => this.landHistogram(layer, { key: layer, error: messageOf(err).text }));
  }

  private landHistogram(layer: string, histogram: NonNullable<Store['state']['histogram']>): void {
    if (this.store.state.histogram?.key === layer) this.store.update({ histogram });
  }

  /** Asks for the exact preview once the selection and slider have been still for a moment. */
  schedulePreview(): void {
    clearTimeout(this.previewTimer);
    const { selected, sparsity } = this.store.state.ui;
    if (selected.length === 0) return this.store.update({ preview: null });
    const key = previewKey(selected, sparsity);
    if (this.store.state.preview?.key === key) return;
    this.store.update({ preview: { key } });
    this.previewTimer = setTimeout(() => this.fetchPreview(key, [...selected], sparsity), PREVIEW_DELAY_MS);
  }

  private fetchPreview(key: string, layers: string[], sparsity: number): void {
    const land = (preview: NonNullable<Store['state']['preview']>) => {
      if (this.store.state.preview?.key === key) this.store.update({ preview });
    };
    this.rpc
      .request('prunePreview', { layers, sparsity })
      .result.then((data) => land({ key, data }))
      .catch((err: unknown) => land({ key, error: messageOf(err).text }));
  }

  startJob(kind: JobKind): void {
    if (this.store.state.jobs[kind]) return;
    const shapes = this.shapes();
    const started = this.rpc.request(kind, kind === 'profile' && shapes ? { shapes } : {}, (p) => this.jobProgress(kind, p.requestId, p.message, p.percentage));
    this.followJob(kind, started.requestId, started.result);
  }

  /** Follows a job a previous webview of this panel started (from `init`). */
  adoptJob(job: RunningJob): void {
    const result = this.rpc.adopt(job.request, job.requestId, (p) => this.jobProgress(job.request, p.requestId, p.message, p.percentage));
    this.followJob(job.request, job.requestId, result, job.message, job.percentage);
  }

  cancelJob(kind: JobKind): void {
    const job = this.store.state.jobs[kind];
    if (job) this.rpc.cancel(job.requestId);
  }

  private jobProgress(kind: JobKind, requestId: number, message: string, percentage?: number): void {
    this.store.update((s) => ({ jobs: { ...s.jobs, [kind]: { requestId, message, percentage } } }));
  }

  private followJob(kind: JobKind, requestId: number, result: Promise<unknown>, message = 'starting', percentage?: number): void {
    this.jobProgress(kind, requestId, message, percentage);
    result
      .then((data) => this.store.update(kind === 'profile' ? { profile: data as Store['state']['profile'] } : { sensitivity: data as Store['state']['sensitivity'] }))
      .catch((err: unknown) => {
        const { kind: errorKind, text } = messageOf(err);
        const level = errorKind === 'cancelled' || errorKind === 'unavailable' ? 'info' : 'error';
        const message = errorKind === 'cancelled' ? `${DONE[kind]} cancelled.` : errorKind === 'unavailable' ? text : `${DONE[kind]} failed: ${text}`;
        this.store.update((s) => ({ notices: addNotice(s.notices, level, message) }));
      })
      .finally(() => this.store.update((s) => ({ jobs: { ...s.jobs, [kind]: undefined } })));
  }

  applyPrune(): void {
    const { selected, sparsity } = this.store.state.ui;
    this.store.update({ applying: true, applyResult: undefined });
    this.rpc
      .request('applyPrune', { layers: [...selected], sparsity })
      .result.then((applyResult) => this.store.update({ applying: false, applyResult }))
      .catch((err: unknown) => this.store.update({ applying: false, applyResult: { applied: false, message: `Pruning failed: ${messageOf(err).text}` } }));
  }
}
