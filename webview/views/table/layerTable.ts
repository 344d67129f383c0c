/**
 * The layer table: an ARIA grid that renders only the rows in view (a pool of recycled row elements
 * over a spacer as tall as all rows), so 5000 layers scroll as smoothly as 50.
 *
 * Keyboard (when the grid has focus): Up/Down, PageUp/PageDown, Home/End move the cursor (the layer
 * whose histogram is shown); Shift with a move extends the pruning selection; Space or Enter toggles
 * the cursor's layer; Ctrl/Cmd+A selects every prunable layer shown; Escape clears the selection.
 * The header's sort buttons are in the tab order after the grid.
 */
import { el, setAttrs } from '../../dom.js';
import type { ColumnKey, Row, SortSpec } from '../../state/rows.js';
import { addRange, headerCheckState, moveActive, toggle, toggleAll, type Move } from '../../state/selection.js';
import { TableHeader } from './header.js';
import { ROW_HEIGHT, RowView } from './rowView.js';

export interface TableEvents {
  sort(key: ColumnKey): void;
  activate(name: string): void;
  select(selected: string[]): void;
  scroll(top: number): void;
}

export interface TableModel {
  rows: Row[];
  selected: string[];
  active: string | null;
  sort: SortSpec | null;
}

const OVERSCAN = 8;

export class LayerTable {
  readonly element: HTMLElement;
  private readonly header: TableHeader;
  private readonly body = el('div', { role: 'rowgroup', class: 'grid-body' });
  private readonly empty = el('p', { class: 'grid-empty', hidden: true });
  private readonly pool: RowView[] = [];
  private model: TableModel = { rows: [], selected: [], active: null, sort: null };
  private selectedSet = new Set<string>();
  private anchor: string | null = null;
  private frame = 0;

  constructor(private readonly events: TableEvents) {
    this.header = new TableHeader({ sort: (key) => events.sort(key), toggleAll: () => events.select(toggleAll(this.model.selected, this.model.rows)) });
    this.element = el('div', { role: 'grid', class: 'grid', tabindex: 0, 'aria-label': 'Layers', 'aria-multiselectable': 'true', 'aria-colcount': 10, 'aria-describedby': 'grid-help' });
    this.element.append(this.header.element, this.body, this.empty);
    this.element.addEventListener('scroll', () => this.scheduleRender());
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.body.addEventListener('click', (e) => this.onClick(e));
    new ResizeObserver(() => this.scheduleRender()).observe(this.element);
  }

  /** `reveal`: scroll the cursor's row into view (after sorting or filtering moved it). */
  update(model: TableModel, reveal = false): void {
    this.model = model;
    this.selectedSet = new Set(model.selected);
    setAttrs(this.element, { 'aria-rowcount': model.rows.length + 1 });
    this.body.style.height = `${model.rows.length * ROW_HEIGHT}px`;
    this.header.update(model.sort, headerCheckState(model.selected, model.rows), model.rows.some((r) => r.prunable));
    this.empty.hidden = model.rows.length > 0;
    this.empty.textContent = 'No layer matches the filter.';
    if (reveal) this.scrollToActive();
    this.render();
  }

  /** Scrolls back to where the user was (after the webview was hidden and shown again). */
  restoreScroll(top: number): void {
    this.element.scrollTop = top;
    this.render();
  }

  focusLayer(name: string): void {
    this.scrollToActive(name);
    this.element.focus({ preventScroll: true });
  }

  private scheduleRender(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const top = this.element.scrollTop; // read before render() writes, so no forced layout
      this.render();
      this.events.scroll(top);
    });
  }

  private window(): { first: number; last: number } {
    const top = Math.max(0, this.element.scrollTop - this.body.offsetTop);
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.model.rows.length, Math.ceil((top + this.element.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    return { first, last };
  }

  /** Row at display position p goes to pool[p % size]: scrolling by a row re-fills one element, not all. */
  private render(): void {
    const { first, last } = this.window();
    while (this.pool.length < last - first) {
      const view = new RowView();
      this.pool.push(view);
      this.body.appendChild(view.element);
    }
    const used = new Set<RowView>();
    let activeId: string | null = null;
    for (let position = first; position < last; position++) {
      const row = this.model.rows[position];
      const view = this.pool[position % this.pool.length];
      const active = row.name === this.model.active;
      view.show(row, position, this.selectedSet.has(row.name), active);
      used.add(view);
      if (active) activeId = view.element.id;
    }
    for (const view of this.pool) if (!used.has(view)) view.hide();
    setAttrs(this.element, { 'aria-activedescendant': activeId });
  }

  private scrollToActive(name = this.model.active): void {
    const position = name === null ? -1 : this.model.rows.findIndex((r) => r.name === name);
    if (position < 0) return;
    const top = this.body.offsetTop + position * ROW_HEIGHT;
    const viewTop = this.element.scrollTop + this.body.offsetTop;
    const viewBottom = this.element.scrollTop + this.element.clientHeight - ROW_HEIGHT;
    if (top < viewTop) this.element.scrollTop = top - this.body.offsetTop;
    else if (top > viewBottom) this.element.scrollTop = top - this.element.clientHeight + ROW_HEIGHT;
  }

  private pageRows(): number {
    return Math.max(1, Math.floor((this.element.clientHeight - this.body.offsetTop) / ROW_HEIGHT) - 1);
  }

  private moveFor(e: KeyboardEvent): Move | undefined {
    const moves: Record<string, Move> = { ArrowDown: 1, ArrowUp: -1, PageDown: this.pageRows(), PageUp: -this.pageRows(), Home: 'first', End: 'last' };
    return moves[e.key];
  }

  private onKey(e: KeyboardEvent): void {
    if (e.target !== this.element) return; // keys on the header's buttons and checkbox are theirs
    const { rows, selected, active } = this.model;
    const move = this.moveFor(e);
    const activeRow = rows.find((r) => r.name === active);
    if (move !== undefined) {
      const next = moveActive(rows, active, move);
      if (next === null) return;
      if (e.shiftKey) this.events.select(addRange(selected, rows, this.anchor ?? active, next));
      else this.anchor = next;
      this.activate(next);
    } else if ((e.key === ' ' || e.key === 'Enter') && activeRow) {
      this.anchor = activeRow.name;
      this.events.select(toggle(selected, activeRow));
    } else if (e.key.toLowerCase() === 'a' && (e.ctrlKey || e.metaKey)) {
      this.events.select(toggleAll(selected, rows));
    } else if (e.key === 'Escape' && selected.length > 0) {
      this.events.select([]);
    } else return;
    e.preventDefault();
  }

  private activate(name: string): void {
    this.events.activate(name);
    this.scrollToActive(name);
  }

  private onClick(e: MouseEvent): void {
    const view = this.pool.find((v) => v.element.contains(e.target as Node));
    const row = view?.row;
    if (!row) return;
    const onCheck = e.target === view.check;
    if (e.shiftKey) this.events.select(addRange(this.model.selected, this.model.rows, this.anchor, row.name));
    else if (onCheck || e.ctrlKey || e.metaKey) this.events.select(toggle(this.model.selected, row));
    if (!e.shiftKey) this.anchor = row.name;
    this.events.activate(row.name);
    this.element.focus({ preventScroll: true });
  }
}
