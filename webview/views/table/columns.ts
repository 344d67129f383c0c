/** The layer table's columns: header text, description for assistive tech, and cell formatting. */
import { compact, DASH, decibels, micros, percent } from '../../state/format.js';
import type { ColumnKey, Row } from '../../state/rows.js';

export interface Column {
  key: ColumnKey;
  label: string;
  description: string;
  numeric: boolean;
  format(row: Row): string;
}

export const COLUMNS: readonly Column[] = [
  { key: 'name', label: 'Name', description: 'Layer name', numeric: false, format: (r) => r.name },
  { key: 'opType', label: 'Op', description: 'Operator type', numeric: false, format: (r) => r.opType },
  { key: 'params', label: 'Params', description: 'Floating-point weight elements', numeric: true, format: (r) => (r.params > 0 ? compact(r.params) : DASH) },
  { key: 'dtype', label: 'Dtype', description: 'Weight data types', numeric: false, format: (r) => r.dtype || DASH },
  { key: 'sparsity', label: 'Sparsity', description: 'Fraction of weights that are exactly zero', numeric: true, format: (r) => (r.params > 0 ? percent(r.sparsity) : DASH) },
  { key: 'macs', label: 'MACs', description: 'Multiply-accumulates per run', numeric: true, format: (r) => compact(r.macs) },
  { key: 'timeUs', label: 'Time/run', description: 'Mean kernel time per run from the profile', numeric: true, format: (r) => micros(r.timeUs) },
  { key: 'share', label: 'Share', description: 'Share of the total kernel time', numeric: true, format: (r) => percent(r.share) },
  { key: 'sensitivity', label: 'Sensitivity', description: 'Output SQNR with only this layer in int8 (lower is more sensitive)', numeric: true, format: (r) => decibels(r.sensitivity) },
];
