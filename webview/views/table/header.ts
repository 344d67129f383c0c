/**
 * The layer table's header row: a checkbox that selects every prunable layer shown, and one sort
 * button per column (a native button: Tab reaches it, Enter or Space sorts, aria-sort tells the state).
 */
import { el, setAttrs } from '../../dom.js';
import type { ColumnKey, SortSpec } from '../../state/rows.js';
import { COLUMNS } from './columns.js';

export interface HeaderEvents {
  sort(key: ColumnKey): void;
  toggleAll(): void;
}

export class TableHeader {
  readonly element: HTMLElement;
  private readonly check: HTMLInputElement;
  private readonly cells = new Map<ColumnKey, { cell: HTMLElement; arrow: HTMLElement }>();

  constructor(events: HeaderEvents) {
    this.check = el('input', { type: 'checkbox', 'aria-label': 'Select every prunable layer shown' });
    this.check.addEventListener('change', () => events.toggleAll());
    const row = el('div', { role: 'row', class: 'grid-row grid-head-row', 'aria-rowindex': 1 }, el('div', { role: 'columnheader', class: 'cell cell-check' }, this.check));
    for (const column of COLUMNS) {
      const arrow = el('span', { class: 'sort-arrow', 'aria-hidden': 'true' });
      const button = el('button', { type: 'button', class: 'sort-button', title: `${column.description}. Sort by ${column.label}.` }, column.label, arrow);
      button.addEventListener('click', () => events.sort(column.key));
      const cell = el('div', { role: 'columnheader', class: `cell${column.numeric ? ' numeric' : ''}`, 'aria-sort': 'none' }, button);
      this.cells.set(column.key, { cell, arrow });
      row.appendChild(cell);
    }
    this.element = el('div', { role: 'rowgroup', class: 'grid-head' }, row);
  }

  update(sort: SortSpec | null, checkState: 'all' | 'some' | 'none', anyPrunable: boolean): void {
    for (const [key, { cell, arrow }] of this.cells) {
      const dir = sort?.key === key ? sort.dir : null;
      setAttrs(cell, { 'aria-sort': dir === 'asc' ? 'ascending' : dir === 'desc' ? 'descending' : 'none' });
      arrow.textContent = dir === 'asc' ? '▲' : dir === 'desc' ? '▼' : '';
    }
    this.check.checked = checkState === 'all';
    this.check.indeterminate = checkState === 'some';
    this.check.disabled = !anyPrunable;
  }
}
