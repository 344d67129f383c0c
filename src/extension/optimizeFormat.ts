/** Summaries and Markdown reports of optimize and compare results. Model-given text is escaped. */
import * as path from 'node:path';
import type { CompareReport, OptimizeReport } from '../shared/protocol';
import { escapeMd } from './reportFormat';

type Fidelity = OptimizeReport['fidelity'][number];

const ms = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (v: number) => `${v.toFixed(2)}x`;
const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
const db = (v: number | null) => (v === null ? 'identical' : `${v.toFixed(1)} dB`);

function worstCosine(f: Fidelity[]): number | undefined {
  return f.length ? Math.min(...f.map((o) => o.cosineMean)) : undefined;
}

export function optimizeSummary(r: OptimizeReport): string {
  const parts = [`${path.basename(r.output)}: size ${ratio(r.sizeBytes.ratio)}`];
  if (r.latencyMs) parts.push(`p50 ${ms(r.latencyMs.before.p50)} → ${ms(r.latencyMs.after.p50)} ms (${ratio(r.latencyMs.ratioP50)})`);
  const cos = worstCosine(r.fidelity);
  // Enough digits that a lossy result never reads as 1.0000.
  if (cos !== undefined) parts.push(`cosine ${cos === 1 ? '1 (identical)' : cos.toFixed(cos > 0.9999 ? 6 : 4)}`);
  return parts.join(' · ');
}

function fidelityRows(f: Fidelity[]): string[] {
  return [
    '| output | cosine | min cosine | SQNR | max abs error | top-1 | top-5 |',
    '|---|---|---|---|---|---|---|',
    ...f.map((o) => `| ${escapeMd(o.output)} | ${o.cosineMean.toFixed(5)} | ${o.cosineMin.toFixed(5)} | ${db(o.sqnrDb)} | ${o.maxAbsError.toPrecision(3)} | ${o.top1Agreement === undefined ? '' : `${(o.top1Agreement * 100).toFixed(1)} %`} | ${o.top5Overlap === undefined ? '' : `${(o.top5Overlap * 100).toFixed(1)} %`} |`),
  ];
}

function speedRows(size: { before: number; after: number; ratio: number }, latency: OptimizeReport['latencyMs']): string[] {
  const rows = ['| | before | after | ratio |', '|---|---|---|---|', `| size | ${mb(size.before)} | ${mb(size.after)} | ${ratio(size.ratio)} |`];
  if (latency) {
    rows.push(`| p50 | ${ms(latency.before.p50)} ms | ${ms(latency.after.p50)} ms | ${ratio(latency.ratioP50)} |`);
    rows.push(`| p95 | ${ms(latency.before.p95)} ms | ${ms(latency.after.p95)} ms | ${ratio(latency.ratioP95)} |`);
  }
  return rows;
}

function passRows(r: OptimizeReport): string[] {
  return [
    '| pass | changed | skipped | onnxruntime fused |',
    '|---|---|---|---|',
    ...r.passes.map((p) => `| ${escapeMd(p.pass)} | ${p.changed.length} | ${p.skipped.length} | ${escapeMd(Object.entries(p.fusions.fused).map(([op, n]) => `${op}×${n}`).join(' '))} |`),
  ];
}

export function optimizeMarkdown(r: OptimizeReport): string {
  const lines = [`# ${escapeMd(path.basename(r.input))} → ${escapeMd(path.basename(r.output))}`, '', ...speedRows(r.sizeBytes, r.latencyMs), '', '## Fidelity', '', ...fidelityRows(r.fidelity), '', '## Passes', '', ...passRows(r)];
  const skipped = r.passes.flatMap((p) => p.skipped.map((s) => `- ${escapeMd(p.pass)}: ${escapeMd(s.name)} (${escapeMd(s.opType)}): ${escapeMd(s.reason)}`));
  if (skipped.length) lines.push('', '## Skipped layers', '', ...skipped.slice(0, 200));
  if (r.warnings.length) lines.push('', '## Notes', '', ...r.warnings.map((w) => `- ${escapeMd(w)}`));
  return lines.join('\n');
}

export function compareMarkdown(r: CompareReport): string {
  const latency = { before: r.latencyMs.reference, after: r.latencyMs.candidate, ratioP50: r.latencyMs.ratioP50, ratioP95: r.latencyMs.ratioP95 };
  const size = { before: r.sizeBytes.reference, after: r.sizeBytes.candidate, ratio: r.sizeBytes.ratio };
  const lines = [`# ${escapeMd(path.basename(r.reference))} vs ${escapeMd(path.basename(r.candidate))}`, '', `Inputs: ${escapeMd(r.inputs)}`, '', ...speedRows(size, latency), '', ...fidelityRows(r.outputs)];
  const warnings = [...r.warnings, ...r.outputs.flatMap((o) => o.warnings)];
  if (warnings.length) lines.push('', ...warnings.map((w) => `- ${escapeMd(w)}`));
  return lines.join('\n');
}
