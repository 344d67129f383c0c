/** Shared text rendering of fidelity, latency and size for `compare` and `optimize`. */
import type { LatencySummary, OutputComparison } from '../../core/reports';
import { formatBytes, formatMs, formatPercent, table } from '../format';

const sqnr = (db: number | null) => (db === null ? 'identical' : `${db.toFixed(1)} dB`);

export function fidelityTable(outputs: OutputComparison[]): string {
  return table(outputs, [
    { header: 'output', value: (o) => o.output },
    { header: 'cosine', value: (o) => o.cosineMean.toFixed(5), align: 'right' },
    { header: 'min cos', value: (o) => o.cosineMin.toFixed(5), align: 'right' },
    { header: 'SQNR', value: (o) => sqnr(o.sqnrDb), align: 'right' },
    { header: 'max |err|', value: (o) => o.maxAbsError.toPrecision(3), align: 'right' },
    { header: 'mean |err|', value: (o) => o.meanAbsError.toPrecision(3), align: 'right' },
    { header: 'top-1', value: (o) => (o.top1Agreement === undefined ? '' : formatPercent(o.top1Agreement)), align: 'right' },
    { header: 'top-5', value: (o) => (o.top5Overlap === undefined ? '' : formatPercent(o.top5Overlap)), align: 'right' },
  ]);
}

export function speedAndSize(latency: { before: LatencySummary; after: LatencySummary; ratioP50: number; ratioP95: number } | null, size: { before: number; after: number; ratio: number }): string {
  const rows: [string, string, string, string][] = [['size', formatBytes(size.before), formatBytes(size.after), `${size.ratio.toFixed(2)}x`]];
  if (latency) {
    rows.push(['p50 ms', formatMs(latency.before.p50), formatMs(latency.after.p50), `${latency.ratioP50.toFixed(2)}x`]);
    rows.push(['p95 ms', formatMs(latency.before.p95), formatMs(latency.after.p95), `${latency.ratioP95.toFixed(2)}x`]);
  }
  return table(rows, [
    { header: '', value: (r) => r[0] },
    { header: 'before', value: (r) => r[1], align: 'right' },
    { header: 'after', value: (r) => r[2], align: 'right' },
    { header: 'ratio', value: (r) => r[3], align: 'right' },
  ]);
}
