/** One recycled row element of the virtual table: a checkbox cell and one text cell per column. */
import { el, setAttrs, setText } from '../../dom.js';
import type { Row } from '../../state/rows.js';
import { COLUMNS } from './columns.js';

export const ROW_HEIGHT = 24;

export class RowView {
  readonly element: HTMLElement;
  readonly check: HTMLInputElement;
  private readonly cells: HTMLElement[];
  row: Row | undefined;
  private key = '';

  constructor() {
    this.check = el('input', { type: 'checkbox', tabindex: -1, 'aria-label': 'Select for pruning' });
    this.cells = COLUMNS.map((c) => el('div', { role: 'gridcell', class: `cell${c.numeric ? ' numeric' : ''}` }));
    this.element = el('div', { role: 'row', class: 'grid-row' }, el('div', { role: 'gridcell', class: 'cell cell-check' }, this.check), ...this.cells);
  }

  /** Shows `row` at display position `position` (0-based, below the header); a no-op when nothing changed. */
  show(row: Row, position: number, selected: boolean, active: boolean): void {
    const key = `${position}|${selected ? 1 : 0}${active ? 1 : 0}`;
    if (row === this.row && key === this.key) return;
    if (row !== this.row) this.fill(row);
    this.row = row;
    this.key = key;
    this.element.hidden = false;
    this.element.style.transform = `translateY(${position * ROW_HEIGHT}px)`;
    setAttrs(this.element, { 'aria-rowindex': position + 2, 'aria-selected': row.prunable ? String(selected) : null });
    this.element.classList.toggle('active', active);
    this.element.classList.toggle('selected', selected);
    this.check.checked = selected;
  }

  private fill(row: Row): void {
    this.element.id = `lr-row-${row.index}`;
    this.check.disabled = !row.prunable;
    this.check.title = row.prunable ? 'Select for pruning' : 'No weight matrices or kernels to prune';
    COLUMNS.forEach((c, i) => {
      const text = c.format(row);
      setText(this.cells[i], text);
      if (c.key === 'name' || c.key === 'opType') this.cells[i].title = text;
    });
  }

  hide(): void {
    this.row = undefined;
    this.key = '';
    this.element.hidden = true;
    this.element.removeAttribute('id');
  }
}
