/** The layers card: a filter box, what is shown and selected, the keyboard help, and the table. */
import '../components.js';
import { el, setText } from '../dom.js';
import { LayerTable, type TableEvents, type TableModel } from './table/layerTable.js';

export class LayersSection {
  readonly element: HTMLElement;
  readonly table: LayerTable;
  private readonly filter = el('vscode-textfield', { placeholder: 'Filter by name or op', 'aria-label': 'Filter layers by name or op type', class: 'filter' });
  private readonly count = el('span', { class: 'muted', 'aria-live': 'polite' });

  constructor(events: TableEvents & { filter(text: string): void }) {
    this.table = new LayerTable(events);
    this.filter.addEventListener('input', () => events.filter(this.filter.value));
    const help = el(
      'p',
      { id: 'grid-help', class: 'muted help' },
      'Arrows, Page Up/Down, Home/End move the cursor (its weights appear in the histogram). Space toggles pruning selection; Shift+arrows extend it; Ctrl+A selects all shown; Escape clears. Header buttons sort.',
    );
    this.element = el(
      'section',
      { class: 'card layers-card', 'aria-labelledby': 'layers-heading' },
      el('div', { class: 'card-head' }, el('h2', { id: 'layers-heading' }, 'Layers'), this.filter, this.count),
      this.table.element,
      help,
    );
  }

  update(model: TableModel, total: number, filter: string, reveal: boolean): void {
    if (this.filter.value !== filter) this.filter.value = filter;
    setText(this.count, `${model.rows.length === total ? `${total} layers` : `${model.rows.length} of ${total} layers`}${model.selected.length ? ` · ${model.selected.length} selected` : ''}`);
    this.table.update(model, reveal);
  }
}
