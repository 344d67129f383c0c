/**
 * Diagnostics of a budget document. Ranges: a problem in the text (syntax, unknown key, bad unit) on
 * the offending key or value; a result of measuring (limit exceeded or near, missing model, model error)
 * on the entry's key, or on the setting at fault (`shapes`, `data`, `reference`) when there is one.
 * Verdicts are re-judged against the entry's current limits, so editing a limit updates at once.
 */
import { pathToFileURL } from 'node:url';
import { DiagnosticSeverity, type Diagnostic, type DiagnosticRelatedInformation, type Range } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { contextOf, judge, metricsOf } from '../../budget/evaluate';
import type { BudgetEntry, EntryResult, TextSpan, Verdict } from '../../budget/types';
import { formatMs, formatPercent } from '../../budget/units';
import type { BudgetDocument } from './service';

export const SOURCE = 'onnx-lean';
const RELATED_LAYERS = 3;

/** What a code action needs to know about a diagnostic. */
export interface BudgetDiagnosticData {
  key: string;
  limit?: string;
}

export function rangeOf(text: TextDocument, span: TextSpan): Range {
  return { start: text.positionAt(span.offset), end: text.positionAt(span.offset + span.length) };
}

/** The entry's verdicts against its current limits. */
export function currentVerdicts(entry: BudgetEntry, result: EntryResult): Verdict[] {
  if (!result.measurement) return [];
  return judge(entry.limits, metricsOf(result.measurement), contextOf(result.measurement));
}

function slowestLayers(entry: BudgetEntry, result: EntryResult): DiagnosticRelatedInformation[] {
  const layers = result.measurement?.latency?.topLayers.slice(0, RELATED_LAYERS) ?? [];
  const uri = pathToFileURL(entry.model).toString();
  const location = { uri, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } };
  return layers.map((l, i) => ({ location, message: `slowest layer ${i + 1}: ${l.name} (${l.opType}) ${formatMs(l.meanUs / 1000)} per run, ${formatPercent(l.share)} of kernel time` }));
}

function verdictDiagnostic(text: TextDocument, entry: BudgetEntry, result: EntryResult, v: Verdict): Diagnostic {
  const latency = v.limit === 'p50' || v.limit === 'p95' || v.limit === 'p99';
  const related = latency ? slowestLayers(entry, result) : [];
  const data: BudgetDiagnosticData = { key: entry.key, limit: v.limit };
  return {
    range: rangeOf(text, entry.keySpan),
    severity: v.status === 'exceeded' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
    source: SOURCE,
    code: `budget-${v.limit}`,
    message: v.message,
    ...(related.length ? { relatedInformation: related } : {}),
    data,
  };
}

function entryDiagnostics(text: TextDocument, entry: BudgetEntry, result: EntryResult, trusted: boolean): Diagnostic[] {
  const data: BudgetDiagnosticData = { key: entry.key };
  if (result.error) {
    const span = (result.error.setting && entry.keySpans[result.error.setting]) || entry.keySpan;
    const code = result.error.message.startsWith('model not found') ? 'budget-missing-model' : 'budget-model-error';
    return [{ range: rangeOf(text, span), severity: DiagnosticSeverity.Error, source: SOURCE, code, message: result.error.message, data }];
  }
  const out = currentVerdicts(entry, result)
    .filter((v) => v.status !== 'met')
    .map((v) => verdictDiagnostic(text, entry, result, v));
  if (!trusted && result.unchecked.length) {
    const limits = result.unchecked.map((u) => u.limit).join(', ');
    out.push({ range: rangeOf(text, entry.keySpan), severity: DiagnosticSeverity.Information, source: SOURCE, code: 'budget-untrusted', message: `${limits} not measured: measuring runs the model, which needs a trusted workspace`, data });
  }
  return out;
}

export function toDiagnostics(doc: BudgetDocument, trusted: boolean): Diagnostic[] {
  const problems: Diagnostic[] = doc.parsed.problems.map((p) => ({
    range: rangeOf(doc.text, p.span),
    severity: p.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
    source: SOURCE,
    code: 'budget-syntax',
    message: p.message,
  }));
  const measured = doc.parsed.entries.flatMap((entry) => {
    const result = doc.entries.get(entry.key)?.result;
    return result ? entryDiagnostics(doc.text, entry, result, trusted) : [];
  });
  return [...problems, ...measured];
}
