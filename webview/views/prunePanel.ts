/**
 * The pruning preview: a sparsity slider for the layers selected in the table, the predicted sparsity
 * and size (estimated at once from the layer statistics, then exact from the server), and Apply, which
 * hands the selection to `onnxLean.pruneModel` and shows whatever it answers.
 */
import '../components.js';
import { el, fill, setAttrs, setText } from '../dom.js';
import { bytes, compact, percent } from '../state/format.js';
import type { SelectionEstimate } from '../state/prune.js';
import type { AppState } from '../state/store.js';
import { MAX_SPARSITY } from '../state/uiState.js';

export interface PruneEvents {
  sparsity(value: number): void;
  clear(): void;
  apply(): void;
}

function figure(label: string, value: string): HTMLElement {
  return el('div', { class: 'fact' }, el('dt', {}, label), el('dd', {}, value));
}

export class PrunePanel {
  readonly element: HTMLElement;
  private readonly selection = el('p', { class: 'selection-text' });
  private readonly clearButton = el('vscode-button', { secondary: true }, 'Clear Selection');
  private readonly slider = el('input', { type: 'range', id: 'prune-sparsity', min: 0, max: Math.round(100 * MAX_SPARSITY), step: 1 });
  private readonly sliderValue = el('output', { for: 'prune-sparsity', class: 'slider-value' });
  private readonly figures = el('dl', { class: 'facts compact' });
  private readonly exactness = el('p', { class: 'muted', 'aria-live': 'polite' });
  private readonly applyButton = el('vscode-button', {}, 'Apply Pruning');
  private readonly applyStatus = el('p', { class: 'apply-status', role: 'status' });

  constructor(events: PruneEvents) {
    this.slider.addEventListener('input', () => events.sparsity(Number(this.slider.value) / 100));
    this.clearButton.addEventListener('click', () => events.clear());
    this.applyButton.addEventListener('click', () => {
      if (!this.applyButton.disabled) events.apply();
    });
    this.element = el(
      'section',
      { class: 'card prune-card', 'aria-labelledby': 'prune-heading' },
      el('div', { class: 'card-head' }, el('h2', { id: 'prune-heading' }, 'Pruning preview'), this.clearButton),
      this.selection,
      el('div', { class: 'slider-row' }, el('label', { for: 'prune-sparsity' }, 'Target sparsity per layer'), this.slider, this.sliderValue),
      this.figures,
      this.exactness,
      el('p', { class: 'muted note' }, 'Magnitude pruning zeroes the smallest weights of each selected layer. Unstructured zeros do not make onnxruntime faster on CPU; they shrink compressed or sparse storage, while the dense file keeps its size.'),
      el('div', { class: 'buttons' }, this.applyButton),
      this.applyStatus,
    );
  }

  update(s: AppState, estimate: SelectionEstimate | null): void {
    const selected = s.ui.selected;
    this.slider.value = String(Math.round(100 * s.ui.sparsity));
    setAttrs(this.slider, { 'aria-valuetext': `${percent(s.ui.sparsity, 0)} of the weights zero in each selected layer` });
    setText(this.sliderValue, percent(s.ui.sparsity, 0));
    setText(this.selection, selectionText(selected));
    this.clearButton.hidden = selected.length === 0;
    this.applyButton.disabled = selected.length === 0 || s.applying;
    setText(this.applyStatus, s.applying ? 'Applying…' : (s.applyResult?.message ?? ''));
    this.applyStatus.classList.toggle('error-text', s.applyResult?.applied === false);
    this.renderFigures(estimate, s);
  }

  private renderFigures(e: SelectionEstimate | null, s: AppState): void {
    if (!e || e.layers === 0) {
      fill(this.figures);
      setText(this.exactness, '');
      return;
    }
    const sparse = e.exact && s.preview?.data ? bytes(s.preview.data.sparseBytes) : '—';
    fill(
      this.figures,
      figure('Prunable weights', compact(e.params)),
      figure('Sparsity', `${percent(e.sparsityNow)} → ${percent(e.sparsityAfter)}`),
      figure('Non-zero weights kept', compact(e.kept)),
      figure('Dense size (unchanged)', bytes(e.bytes)),
      figure('As sparse tensors', sparse),
      figure('Model sparsity after', percent(e.modelSparsityAfter)),
    );
    const text = s.preview?.error ? `Exact figures unavailable: ${s.preview.error}` : e.exact ? 'Exact figures, computed from the weights.' : 'Estimated from the layer statistics; computing exact figures…';
    setText(this.exactness, text);
  }
}

function selectionText(selected: readonly string[]): string {
  if (selected.length === 0) return 'No layer selected. Select layers in the table (checkbox, or Space on the cursor row; Shift+arrows to extend) to preview pruning them.';
  const shown = selected.slice(0, 3).join(', ');
  return `${selected.length} layer${selected.length === 1 ? '' : 's'} selected: ${shown}${selected.length > 3 ? ` and ${selected.length - 3} more` : ''}.`;
}
