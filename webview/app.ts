/**
 * The Layer Report page: builds the views once, routes the extension's messages, and re-renders the
 * views whose slice of the state changed. The page starts empty; everything shown arrives by message.
 */
import { parseToWebview } from '../src/shared/webviewGuards.js';
import type { InitMessage, ToWebview } from '../src/shared/webviewProtocol.js';
import { Controller } from './controller.js';
import { el, fill } from './dom.js';
import { estimateSelection, exactSelection, previewKey, thresholdFromHistogram, type SelectionEstimate } from './state/prune.js';
import { RequestClient } from './state/rpc.js';
import { nextSort } from './state/rows.js';
import { shownRows } from './state/selectors.js';
import { resolveShapes } from './state/shapes.js';
import { addNotice, initialState, Store, type AppState } from './state/store.js';
import { restoreUi } from './state/uiState.js';
import type { Host } from './vscodeApi.js';
import { Actions } from './views/actions.js';
import { HistogramChart, type Threshold } from './views/charts/histogramChart.js';
import { LatencyChart } from './views/charts/latencyChart.js';
import { SensitivityChart } from './views/charts/sensitivityChart.js';
import { applyTheme } from './views/charts/setup.js';
import { readTheme, watchTheme, type ChartTheme } from './views/charts/theme.js';
import { LayersSection } from './views/layersSection.js';
import { Notices } from './views/notices.js';
import { PrunePanel } from './views/prunePanel.js';
import { ShapesEditor } from './views/shapesEditor.js';
import { renderSummary } from './views/summary.js';

const SAVE_DELAY_MS = 200;

export class App {
  private readonly store: Store;
  private readonly rpc: RequestClient;
  private readonly controller: Controller;
  private theme: ChartTheme = readTheme();
  private readonly actions: Actions;
  private readonly notices: Notices;
  private readonly shapes: ShapesEditor;
  private readonly summary = el('section', { class: 'card summary-card', 'aria-label': 'Model summary' });
  private readonly layers: LayersSection;
  private readonly latency: LatencyChart;
  private readonly sensitivity: SensitivityChart;
  private readonly histogram: HistogramChart;
  private readonly prune: PrunePanel;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly host: Host,
  ) {
    this.store = new Store(initialState(restoreUi(host.loadState())));
    this.rpc = new RequestClient((m) => host.post(m), { set: (fn, ms) => setTimeout(fn, ms), clear: (t) => clearTimeout(t as ReturnType<typeof setTimeout>) }, Date.now() * 1000);
    this.controller = new Controller(this.store, this.rpc);
    this.actions = new Actions({ start: (k) => this.controller.startJob(k), cancel: (k) => this.controller.cancelJob(k), manageTrust: () => host.post({ type: 'manageTrust' }) });
    this.shapes = new ShapesEditor((name, text) => this.controller.shapeTyped(name, text));
    this.notices = new Notices((id) => this.store.update((s) => ({ notices: s.notices.filter((n) => n.id !== id) })));
    this.layers = new LayersSection({
      sort: (key) => this.store.updateUi({ sort: nextSort(this.store.state.ui.sort, key) }),
      activate: (name) => this.store.updateUi({ active: name }),
      select: (selected) => this.store.updateUi({ selected }),
      scroll: (scrollTop) => this.store.updateUi({ scrollTop }),
      filter: (filter) => this.store.updateUi({ filter }),
    });
    const pick = (name: string) => this.pickLayer(name);
    this.latency = new LatencyChart({ pick, topN: (topN) => this.store.updateUi({ topN }) });
    this.sensitivity = new SensitivityChart(pick);
    this.histogram = new HistogramChart(this.theme, (histogramLog) => this.store.updateUi({ histogramLog }));
    this.prune = new PrunePanel({ sparsity: (sparsity) => this.store.updateUi({ sparsity }), clear: () => this.store.updateUi({ selected: [] }), apply: () => this.controller.applyPrune() });
    applyTheme(this.theme);
    this.store.subscribe((s, prev) => this.effects(s, prev));
    this.store.subscribe((s, prev) => this.render(s, prev));
    watchTheme(() => this.themeChanged());
  }

  start(): void {
    window.addEventListener('message', (e: MessageEvent) => this.receive(e.data));
    this.host.post({ type: 'ready' });
  }

  private receive(data: unknown): void {
    const message = parseToWebview(data);
    if (message) this.route(message);
  }

  private route(m: ToWebview): void {
    switch (m.type) {
      case 'init':
        return this.init(m);
      case 'response':
        this.rpc.handleResponse(m);
        return;
      case 'progress':
        return this.rpc.handleProgress(m);
      case 'sensitivity':
        return this.store.update({ sensitivity: m.result });
      case 'trust':
        return this.store.update({ trusted: m.trusted });
      case 'modelChanged':
        this.store.update((s) => ({ profile: undefined, sensitivity: undefined, notices: addNotice(s.notices, 'info', 'The model file changed on disk: reloaded. Profile again for new timings.') }));
        void this.controller.loadReport();
    }
  }

  private init(m: InitMessage): void {
    this.store.update({ fileName: m.fileName, trusted: m.trusted, profile: m.profile, sensitivity: m.sensitivity });
    for (const job of m.running) this.controller.adoptJob(job);
    this.mount();
    void this.controller.loadReport().then(() => this.layers.table.restoreScroll(this.store.state.ui.scrollTop));
  }

  private mount(): void {
    if (this.root.dataset.mounted) return;
    this.root.dataset.mounted = 'true';
    const main = el('div', { class: 'main-column' }, this.layers.element, this.sensitivity.element);
    const side = el('div', { class: 'side' }, this.latency.element, this.histogram.element, this.prune.element);
    fill(this.root, this.actions.element, this.shapes.element, this.notices.element, this.summary, el('div', { class: 'columns' }, main, side));
    this.render(this.store.state, undefined);
  }

  private pickLayer(name: string): void {
    this.store.updateUi({ active: name, filter: shownRows(this.store.state).some((r) => r.name === name) ? this.store.state.ui.filter : '' });
    this.layers.table.focusLayer(name);
  }

  private themeChanged(): void {
    this.theme = readTheme();
    applyTheme(this.theme);
    this.render(this.store.state, undefined);
  }

  /** Requests that follow from a state change: saving the view state, the histogram, the preview. */
  private effects(s: AppState, prev: AppState): void {
    const changed = (...picks: ((x: AppState) => unknown)[]) => picks.some((pick) => pick(s) !== pick(prev));
    if (changed((x) => x.ui)) this.scheduleSave(s);
    if (!s.report) return;
    if (changed((x) => x.ui.active, (x) => x.report)) this.controller.refreshHistogram();
    if (changed((x) => x.ui.selected, (x) => x.ui.sparsity)) this.controller.schedulePreview();
  }

  private render(s: AppState, prev: AppState | undefined): void {
    const changed = (...picks: ((x: AppState) => unknown)[]) => !prev || picks.some((pick) => pick(s) !== pick(prev));
    if (changed((x) => x.loading)) this.root.setAttribute('aria-busy', String(s.loading));
    if (changed((x) => x.fileName, (x) => x.trusted, (x) => x.jobs, (x) => x.report, (x) => x.ui.shapes)) {
      const resolution = s.report ? resolveShapes(s.report, s.ui.shapes) : undefined;
      this.actions.update(s, resolution?.problems.length === 0);
      this.shapes.update(s.report, s.ui.shapes, resolution);
    }
    if (changed((x) => x.notices)) this.notices.update(s.notices);
    if (changed((x) => x.report, (x) => x.profile, (x) => x.reportError, (x) => x.loading)) this.renderSummary(s);
    if (!s.report) return;
    if (changed(shownRows, (x) => x.ui.selected, (x) => x.ui.active, (x) => x.ui.sort)) {
      const reveal = prev !== undefined && changed((x) => x.ui.sort, (x) => x.ui.filter);
      this.layers.update({ rows: shownRows(s), selected: s.ui.selected, active: s.ui.active, sort: s.ui.sort }, s.report.layers.length, s.ui.filter, reveal);
    }
    if (changed((x) => x.report, (x) => x.profile, (x) => x.ui.topN)) this.latency.update(s.profile, s.ui.topN, this.theme);
    if (changed((x) => x.report, (x) => x.sensitivity)) this.sensitivity.update(s.sensitivity, this.theme);
    if (changed((x) => x.histogram, (x) => x.ui.histogramLog)) this.histogram.show(s.ui.active, s.histogram, this.theme, s.ui.histogramLog);
    if (changed((x) => x.report, (x) => x.ui.selected, (x) => x.ui.sparsity, (x) => x.preview, (x) => x.histogram, (x) => x.applying, (x) => x.applyResult)) {
      this.histogram.setThreshold(thresholdFor(s));
      this.prune.update(s, selectionEstimate(s));
    }
  }

  private renderSummary(s: AppState): void {
    if (s.report) return renderSummary(this.summary, s.report, s.profile);
    fill(this.summary, el('p', { class: s.reportError ? 'empty error-text' : 'empty' }, s.reportError ? `Could not read the model: ${s.reportError}` : 'Reading the model…'));
  }

  private scheduleSave(s: AppState): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.host.saveState(s.ui), SAVE_DELAY_MS);
  }
}

/** The threshold line for the active layer: exact from the preview when it covers the layer. */
function thresholdFor(s: AppState): Threshold | null {
  const h = s.histogram?.data;
  if (!h || h.layer !== s.ui.active || h.count === 0) return null;
  const exact = s.preview?.key === previewKey(s.ui.selected, s.ui.sparsity) ? s.preview.data?.layers.find((l) => l.layer === h.layer) : undefined;
  if (exact) return { value: exact.threshold, exact: true, sparsity: s.ui.sparsity };
  return { value: thresholdFromHistogram(h, s.ui.sparsity), exact: false, sparsity: s.ui.sparsity };
}

function selectionEstimate(s: AppState): SelectionEstimate | null {
  if (!s.report || s.ui.selected.length === 0) return null;
  const model = { paramCount: s.report.paramCount, sparsity: s.report.sparsity };
  if (s.preview?.data && s.preview.key === previewKey(s.ui.selected, s.ui.sparsity)) return exactSelection(s.preview.data, model);
  const chosen = new Set(s.ui.selected);
  return estimateSelection(s.report.layers.filter((l) => chosen.has(l.name)), s.ui.sparsity, model);
}
