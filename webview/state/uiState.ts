/**
 * The panel's view state kept across hide/show with the webview's getState/setState (the panel does
 * not retain its context). Results are not kept here: the extension re-sends them in `init`. What
 * getState returns is checked field by field, since it may come from an older version.
 */
import { COLUMN_KEYS, type SortSpec } from './rows';

export interface UiState {
  sort: SortSpec | null;
  filter: string;
  /** Layers selected for pruning. */
  selected: string[];
  /** The table's cursor: the layer whose histogram is shown. */
  active: string | null;
  /** Target sparsity per selected layer, 0..0.99. */
  sparsity: number;
  /** Bars in the latency chart. */
  topN: number;
  scrollTop: number;
  /** Logarithmic count axis in the histogram (heavy-tailed layers). */
  histogramLog: boolean;
  /** Dims typed for inputs with symbolic dimensions ("1, 3, 48, 320"), by input name. */
  shapes: Record<string, string>;
}

export const DEFAULT_UI: Readonly<UiState> = { sort: null, filter: '', selected: [], active: null, sparsity: 0.5, topN: 15, scrollTop: 0, histogramLog: false, shapes: {} };

export const MAX_SPARSITY = 0.99;
export const TOP_N_CHOICES = [10, 15, 25, 50] as const;

type Obj = Record<string, unknown>;

function sortOf(v: unknown): SortSpec | null {
  if (typeof v !== 'object' || v === null) return null;
  const { key, dir } = v as Obj;
  return COLUMN_KEYS.includes(key as SortSpec['key']) && (dir === 'asc' || dir === 'desc') ? { key: key as SortSpec['key'], dir } : null;
}

const clamp = (v: unknown, lo: number, hi: number, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback);

function shapeTexts(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const [name, text] of Object.entries(v)) if (typeof text === 'string') out[name] = text.slice(0, 200);
  return out;
}

/** A valid UiState from whatever getState returned, with defaults for what is missing or wrong. */
export function restoreUi(raw: unknown): UiState {
  if (typeof raw !== 'object' || raw === null) return { ...DEFAULT_UI };
  const v = raw as Obj;
  const strings = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);
  return {
    sort: sortOf(v.sort),
    filter: typeof v.filter === 'string' ? v.filter.slice(0, 500) : '',
    selected: strings(v.selected),
    active: typeof v.active === 'string' ? v.active : null,
    sparsity: clamp(v.sparsity, 0, MAX_SPARSITY, DEFAULT_UI.sparsity),
    topN: TOP_N_CHOICES.includes(v.topN as (typeof TOP_N_CHOICES)[number]) ? (v.topN as number) : DEFAULT_UI.topN,
    scrollTop: clamp(v.scrollTop, 0, Number.MAX_SAFE_INTEGER, 0),
    histogramLog: v.histogramLog === true,
    shapes: shapeTexts(v.shapes),
  };
}
