/**
 * Code lenses above each budget entry: the verdicts in one line ("p95 12.3 ms / 15 ms ✓ · 4.1 MB /
 * 20 MB ✓"), "Re-measure", and "Optimize to meet budget" when a limit is exceeded. The summary lens has
 * an empty command id, which VS Code shows as plain text.
 */
import type { CodeLens } from 'vscode-languageserver/node';
import { shortVerdict } from '../../budget/evaluate';
import type { BudgetEntry } from '../../budget/types';
import { BudgetCommands } from '../../shared/protocol';
import { currentVerdicts, rangeOf } from './diagnostics';
import type { BudgetDocument, EntryState } from './service';

export function summaryTitle(entry: BudgetEntry, state: EntryState | undefined, trusted: boolean): string {
  const result = state?.result;
  if (!entry.measurable) return 'not measured: fix the settings marked below';
  if (!result) return '$(sync~spin) measuring…';
  if (result.error) return `✗ ${result.error.message}`;
  const verdicts = currentVerdicts(entry, result).map(shortVerdict);
  const unchecked = result.unchecked.length && !trusted ? ['not measured (untrusted workspace)'] : [];
  const text = [...verdicts, ...unchecked].join(' · ') || 'no limits';
  return state?.pending ? `${text} · re-measuring…` : text;
}

export function budgetLenses(doc: BudgetDocument, trusted: boolean): CodeLens[] {
  return doc.parsed.entries.flatMap((entry) => {
    const range = rangeOf(doc.text, entry.keySpan);
    const state = doc.entries.get(entry.key);
    const lenses: CodeLens[] = [
      { range, command: { title: summaryTitle(entry, state, trusted), command: '' } },
      { range, command: { title: 'Re-measure', command: BudgetCommands.remeasure, arguments: [doc.uri, entry.key] } },
    ];
    const exceeded = state?.result && currentVerdicts(entry, state.result).some((v) => v.status === 'exceeded');
    if (exceeded) lenses.push({ range, command: { title: 'Optimize to meet budget', command: BudgetCommands.optimize, arguments: [doc.uri, entry.key] } });
    return lenses;
  });
}
