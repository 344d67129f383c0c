/** Derived data, recomputed only when its inputs change (by reference): rows and the rows shown. */
import { buildRows, visibleRows, type Row } from './rows';
import type { AppState } from './store';

function memo<A extends readonly unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  let last: { args: A; result: R } | undefined;
  return (...args: A) => {
    if (last && last.args.length === args.length && last.args.every((a, i) => a === args[i])) return last.result;
    const result = fn(...args);
    last = { args, result };
    return result;
  };
}

const rowsMemo = memo(buildRows);
const visibleMemo = memo(visibleRows);
const EMPTY: Row[] = [];

export function allRows(s: AppState): Row[] {
  return s.report ? rowsMemo(s.report, s.profile, s.sensitivity) : EMPTY;
}

export function shownRows(s: AppState): Row[] {
  return visibleMemo(allRows(s), s.ui.filter, s.ui.sort);
}
