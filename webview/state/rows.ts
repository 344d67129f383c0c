/**
 * The table's rows: one per layer of the inspect report, joined with profile times and sensitivity by
 * layer name; sorted and filtered without touching the DOM. Unknown values sort last either way.
 */
import type { InspectReport, ProfileReport, SensitivityResult } from './types';

export type ColumnKey = 'name' | 'opType' | 'params' | 'dtype' | 'sparsity' | 'macs' | 'timeUs' | 'share' | 'sensitivity';
export type SortDir = 'asc' | 'desc';

export interface SortSpec {
  key: ColumnKey;
  dir: SortDir;
}

export interface Row {
  /** Position in the report (the model's order). */
  index: number;
  name: string;
  opType: string;
  params: number;
  dtype: string;
  sparsity: number;
  macs: number | null;
  timeUs: number | null;
  share: number | null;
  /** SQNR (dB) of the outputs with only this layer in int8: lower means more sensitive. */
  sensitivity: number | null;
  /** Whether the layer has weights that magnitude pruning can act on. */
  prunable: boolean;
}

export const COLUMN_KEYS: readonly ColumnKey[] = ['name', 'opType', 'params', 'dtype', 'sparsity', 'macs', 'timeUs', 'share', 'sensitivity'];

/** Columns whose natural first sort is largest first. */
const DESC_FIRST = new Set<ColumnKey>(['params', 'sparsity', 'macs', 'timeUs', 'share']);

const FLOAT_DTYPES = new Set(['float32', 'float16', 'bfloat16', 'double']);

/**
 * Ops whose weights are kernels or matrices, the ones magnitude pruning acts on (the server counts a
 * layer's floating-point weights of rank 2 or more). Norms, biases and shape constants are left alone.
 */
export const PRUNABLE_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'Gather', 'Einsum', 'LSTM', 'GRU', 'RNN', 'Attention', 'FusedConv', 'FusedGemm', 'FusedMatMul']);

export function buildRows(report: InspectReport, profile?: ProfileReport, sensitivity?: SensitivityResult): Row[] {
  const times = new Map(profile?.nodes.map((n) => [n.name, n]) ?? []);
  const sqnr = new Map(sensitivity?.layers.map((l) => [l.name, l.int8?.sqnrDb ?? null]) ?? []);
  return report.layers.map((layer, index) => {
    const time = times.get(layer.name);
    return {
      index,
      name: layer.name,
      opType: layer.opType,
      params: layer.params,
      dtype: layer.weightDtypes.join(', '),
      sparsity: layer.sparsity,
      macs: layer.macs,
      timeUs: time?.meanUs ?? null,
      share: time?.share ?? null,
      sensitivity: sqnr.get(layer.name) ?? null,
      prunable: layer.params > 0 && PRUNABLE_OPS.has(layer.opType) && layer.weightDtypes.some((d) => FLOAT_DTYPES.has(d)),
    };
  });
}

/** Every whitespace-separated term must appear in the name or the op type (case-insensitive). */
export function matchesFilter(row: Row, filter: string): boolean {
  const terms = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (terms.length === 0) return true;
  const name = row.name.toLowerCase();
  const op = row.opType.toLowerCase();
  return terms.every((t) => name.includes(t) || op.includes(t));
}

function compareValues(a: string | number | null, b: string | number | null): number {
  if (typeof a === 'string' && typeof b === 'string') return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
  return (a as number) - (b as number);
}

function isUnknown(v: string | number | null): boolean {
  return v === null || v === '';
}

export function compareRows(a: Row, b: Row, sort: SortSpec): number {
  const va = a[sort.key];
  const vb = b[sort.key];
  if (isUnknown(va) || isUnknown(vb)) return isUnknown(va) === isUnknown(vb) ? a.index - b.index : isUnknown(va) ? 1 : -1;
  const order = compareValues(va, vb) * (sort.dir === 'asc' ? 1 : -1);
  return order !== 0 ? order : a.index - b.index;
}

/** The rows to show: filtered, then sorted (stable: ties keep the model's order). */
export function visibleRows(rows: readonly Row[], filter: string, sort: SortSpec | null): Row[] {
  const shown = rows.filter((r) => matchesFilter(r, filter));
  return sort ? shown.sort((a, b) => compareRows(a, b, sort)) : shown;
}

/** Sorting by a header: a new column starts in its natural direction, the same column flips. */
export function nextSort(current: SortSpec | null, key: ColumnKey): SortSpec {
  if (current?.key === key) return { key, dir: current.dir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: DESC_FIRST.has(key) ? 'desc' : 'asc' };
}
