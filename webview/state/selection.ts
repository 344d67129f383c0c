/**
 * The table's cursor and selection. The active row (the keyboard cursor) picks the layer whose
 * histogram is shown; the selection is the set of layers to prune. Only prunable layers are selected.
 * Pure functions over layer names, so the selection survives sorting, filtering and reloads.
 */
import type { Row } from './rows';

export function toggle(selected: readonly string[], row: Row): string[] {
  if (selected.includes(row.name)) return selected.filter((n) => n !== row.name);
  return row.prunable ? [...selected, row.name] : [...selected];
}

/** Adds the prunable rows between the anchor and the target (inclusive, in display order). */
export function addRange(selected: readonly string[], visible: readonly Row[], anchor: string | null, target: string): string[] {
  const to = visible.findIndex((r) => r.name === target);
  const from = anchor === null ? to : visible.findIndex((r) => r.name === anchor);
  if (to < 0) return [...selected];
  const [lo, hi] = from < 0 ? [to, to] : [Math.min(from, to), Math.max(from, to)];
  const out = new Set(selected);
  for (let i = lo; i <= hi; i++) if (visible[i].prunable) out.add(visible[i].name);
  return [...out];
}

/** All prunable rows shown, or none of them when all are selected already (a header checkbox). */
export function toggleAll(selected: readonly string[], visible: readonly Row[]): string[] {
  const prunable = visible.filter((r) => r.prunable).map((r) => r.name);
  const current = new Set(selected);
  if (prunable.length > 0 && prunable.every((n) => current.has(n))) return selected.filter((n) => !prunable.includes(n));
  for (const n of prunable) current.add(n);
  return [...current];
}

/** The selection restricted to prunable layers that exist (after the model changed on disk). */
export function keepExisting(selected: readonly string[], rows: readonly Row[]): string[] {
  const prunable = new Set(rows.filter((r) => r.prunable).map((r) => r.name));
  return selected.filter((n) => prunable.has(n));
}

export type Move = number | 'first' | 'last';

/** The active row after a cursor move among the visible rows; the first row when none was active. */
export function moveActive(visible: readonly Row[], active: string | null, move: Move): string | null {
  if (visible.length === 0) return null;
  const at = active === null ? -1 : visible.findIndex((r) => r.name === active);
  let next: number;
  if (move === 'first') next = 0;
  else if (move === 'last') next = visible.length - 1;
  else next = at < 0 ? 0 : at + move;
  return visible[Math.max(0, Math.min(visible.length - 1, next))].name;
}

/** Checkbox state of the header: all, some or none of the prunable rows shown are selected. */
export function headerCheckState(selected: readonly string[], visible: readonly Row[]): 'all' | 'some' | 'none' {
  const current = new Set(selected);
  const prunable = visible.filter((r) => r.prunable);
  const count = prunable.filter((r) => current.has(r.name)).length;
  if (count === 0) return 'none';
  return count === prunable.length ? 'all' : 'some';
}
