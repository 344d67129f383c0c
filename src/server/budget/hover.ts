/**
 * Hover over a budget entry: each limit with the measured number and the margin, limits that could not
 * be checked and why, and the slowest layers. Layer names come from the model (untrusted): escaped.
 */
import * as path from 'node:path';
import { MarkupKind, type Hover, type Position } from 'vscode-languageserver/node';
import { formatMetric } from '../../budget/evaluate';
import { entryAt } from '../../budget/parse';
import type { BudgetEntry, EntryResult, Verdict } from '../../budget/types';
import { formatBytes, formatMs, formatPercent } from '../../budget/units';
import { currentVerdicts, rangeOf } from './diagnostics';
import type { BudgetDocument } from './service';

/** Escapes Markdown (and HTML) in text taken from a model. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>&~]/g, (c) => `\\${c}`);
}

const MARK: Record<Verdict['status'], string> = { met: '✓', near: '⚠ within 10 %', exceeded: '✗' };

function margin(v: Verdict): string {
  if (v.limit === 'cosine' || v.limit === 'top1') return v.status === 'exceeded' ? `below by ${formatMetric(v.limit, v.bound - v.measured)}` : `uses ${formatPercent(v.excess + 1)} of the allowed error`;
  return v.excess > 0 ? `${formatPercent(v.excess)} over` : `${formatPercent(-v.excess)} headroom`;
}

function verdictTable(verdicts: Verdict[]): string[] {
  if (verdicts.length === 0) return [];
  const rows = verdicts.map((v) => `| ${v.limit} | ${formatMetric(v.limit, v.measured)} | ${formatMetric(v.limit, v.bound)} | ${MARK[v.status]} ${margin(v)} |`);
  return ['| limit | measured | budget | |', '|---|---:|---:|---|', ...rows, ''];
}

function layerList(result: EntryResult): string[] {
  const latency = result.measurement?.latency;
  if (!latency || latency.topLayers.length === 0) return [];
  const lines = latency.topLayers.map((l, i) => `${i + 1}. \`${l.name.replace(/`/g, "'")}\` ${escapeMarkdown(l.opType)}: ${formatMs(l.meanUs / 1000)} per run (${formatPercent(l.share)})`);
  return [`**Slowest layers** (${latency.runs} runs, ${latency.threads} threads, ${escapeMarkdown(latency.provider)}):`, '', ...lines, ''];
}

export function hoverMarkdown(entry: BudgetEntry, result: EntryResult | undefined, pending: boolean): string {
  const title = `**${escapeMarkdown(entry.key)}**`;
  if (!entry.measurable) return `${title}: not measured until the settings marked in the file are fixed`;
  if (!result) return `${title}: measuring…`;
  if (result.error) return `${title}\n\n${escapeMarkdown(result.error.message)}`;
  const m = result.measurement;
  const facts = m ? [`size ${formatBytes(m.sizeBytes)}`, m.cached.length ? `from the cache: ${m.cached.join(', ')}` : '', pending ? 're-measuring…' : ''].filter(Boolean).join(' · ') : '';
  const unchecked = result.unchecked.map((u) => `- ${u.limit}: ${escapeMarkdown(u.reason)}`);
  return [
    `${title} ${facts ? `(${facts})` : ''}`,
    '',
    ...verdictTable(currentVerdicts(entry, result)),
    ...(unchecked.length ? ['**Not checked:**', ...unchecked, ''] : []),
    ...layerList(result),
    `_${escapeMarkdown(path.basename(entry.model))} · sha256 ${m?.hash.slice(0, 12) ?? '?'}_`,
  ].join('\n');
}

export function budgetHover(doc: BudgetDocument, position: Position): Hover | null {
  const entry = entryAt(doc.parsed, doc.text.offsetAt(position));
  if (!entry) return null;
  const state = doc.entries.get(entry.key);
  return { contents: { kind: MarkupKind.Markdown, value: hoverMarkdown(entry, state?.result, state?.pending ?? false) }, range: rangeOf(doc.text, entry.keySpan) };
}
