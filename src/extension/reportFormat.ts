/**
 * Text forms of a profile report for the notification, the output channel and the details document.
 * Pure functions (no `vscode`). Names come from the model file, which is untrusted input: they are
 * escaped before they go into Markdown.
 */
import * as path from 'node:path';
import type { NodeTime, ProfileReport } from '../core/reports';

const ms = (v: number): string => `${v.toFixed(v < 10 ? 3 : 1)} ms`;
const pct = (share: number): string => `${(100 * share).toFixed(1)}%`;

export function topNodes(report: ProfileReport, count: number): NodeTime[] {
  return [...report.nodes].sort((a, b) => b.meanUs - a.meanUs).slice(0, count);
}

/** One line for a notification: percentiles and the three slowest nodes. */
export function summaryLine(report: ProfileReport): string {
  const l = report.latencyMs;
  const head = `${plain(path.basename(report.path))}: p50 ${ms(l.p50)}, p95 ${ms(l.p95)}, p99 ${ms(l.p99)} over ${report.runs} runs.`;
  const top = topNodes(report, 3).map((n) => `${plain(n.name).slice(0, 60)} (${plain(n.opType)}) ${pct(n.share)}`);
  return top.length > 0 ? `${head} Slowest: ${top.join(', ')}.` : head;
}

/** The whole report as Markdown, ending with the raw JSON. */
export function reportMarkdown(report: ProfileReport): string {
  return [...overview(report), '', ...nodeTable(report), '', ...warnings(report), '## Raw report', '', fenced(JSON.stringify(report, null, 2), 'json'), ''].join('\n');
}

function overview(r: ProfileReport): string[] {
  const l = r.latencyMs;
  return [
    `# Profile of ${escapeMd(path.basename(r.path))}`,
    '',
    `\`${r.path.replace(/`/g, "'")}\``,
    '',
    '| latency | mean | p50 | p95 | p99 | min | max | stdev |',
    '|---|---|---|---|---|---|---|---|',
    `| ms | ${[l.mean, l.p50, l.p95, l.p99, l.min, l.max, l.stdev].map((v) => v.toFixed(3)).join(' | ')} |`,
    '',
    `Throughput ${r.throughput.toFixed(1)} runs/s; ${r.runs} runs after ${r.warmup} warm-up; session created in ${ms(r.sessionCreateMs)}; ` +
      `${r.threads} threads; graph optimization \`${r.graphOptimizationLevel}\`; ${escapeMd(r.executionProvider)}; peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB.`,
    '',
    `Inputs: ${r.inputs.map((i) => `${escapeMd(i.name)} ${i.dtype}[${i.shape.join(', ')}] (${escapeMd(i.source)})`).join('; ') || 'none'}.`,
  ];
}

function nodeTable(r: ProfileReport): string[] {
  if (r.nodes.length === 0) return ['No per-node times were collected.'];
  const rows = topNodes(r, r.nodes.length).map(
    (n) => `| ${escapeMd(n.name)}${n.inserted ? ' (inserted by ORT)' : ''} | ${escapeMd(n.opType)} | ${n.meanUs.toFixed(1)} | ${pct(n.share)} |`,
  );
  return [`## Nodes (${r.profiledRuns} profiled runs)`, '', '| node | op | mean µs | share |', '|---|---|---|---|', ...rows];
}

function warnings(r: ProfileReport): string[] {
  if (r.warnings.length === 0) return [];
  return ['## Warnings', '', ...r.warnings.map((w) => `- ${escapeMd(w)}`), ''];
}

/** Notification text renders [label](target) as a link (even command: links): no brackets from models. */
export function plain(text: string): string {
  return oneLine(text).replace(/\[/g, '(').replace(/\]/g, ')');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ');
}

/**
 * Escapes what Markdown (or HTML inside it) would interpret within a line: emphasis, code, links,
 * table cells, tags and entities. Flattens newlines, so text never starts a block of its own.
 */
export function escapeMd(text: string): string {
  return oneLine(text).replace(/[\\`*_[\]|<>&~]/g, (c) => `\\${c}`);
}

/** A code fence longer than any run of backticks inside the text, so the text cannot close it. */
export function fenced(text: string, lang: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${text}\n${fence}`;
}
