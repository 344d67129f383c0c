/**
 * Code actions on budget entries: "Optimize to meet budget" (runs the planner through the extension's
 * command, which shows progress) and, once a plan wrote a model, "Point the budget entry at
 * <model>.budget.onnx" (a WorkspaceEdit replacing the key, keeping the old model as `reference`).
 */
import * as path from 'node:path';
import { CodeActionKind, type CodeAction, type CodeActionParams, type Diagnostic, type TextEdit, type WorkspaceEdit } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { UserError } from '../../core/errors';
import { entryAt } from '../../budget/parse';
import type { ParsedBudget, PlanReport } from '../../budget/types';
import { BudgetCommands } from '../../shared/protocol';
import { SOURCE, rangeOf, type BudgetDiagnosticData } from './diagnostics';
import type { BudgetDocument } from './service';

/** The edit that makes entry `key` budget `model` (absolute) instead, with the old model as reference. */
export function retargetEdit(text: TextDocument, parsed: ParsedBudget, key: string, model: string): WorkspaceEdit {
  const entry = parsed.entries.find((e) => e.key === key);
  if (!entry) throw new UserError(`the budget has no entry "${key}"`);
  const relative = path.relative(path.dirname(parsed.file), model).split(path.sep).join('/');
  const edits: TextEdit[] = [{ range: rangeOf(text, entry.keySpan), newText: JSON.stringify(relative) }];
  if (entry.keySpans.reference === undefined) {
    const source = text.getText();
    const brace = source.indexOf('{', entry.keySpan.offset + entry.keySpan.length);
    if (brace >= 0 && brace < entry.span.offset + entry.span.length) {
      const comma = Object.keys(entry.keySpans).length > 0 ? ',' : ' ';
      const position = text.positionAt(brace + 1);
      edits.push({ range: { start: position, end: position }, newText: ` "reference": ${JSON.stringify(key)}${comma}` });
    }
  }
  return { changes: { [text.uri]: edits } };
}

function planKey(uri: string, key: string): string {
  return `${uri}#${key}`;
}

/** The last plan of each entry, so that its model can be offered as a code action. */
export class PlanMemory {
  private readonly plans = new Map<string, PlanReport>();

  remember(uri: string, key: string, report: PlanReport): void {
    this.plans.set(planKey(uri, key), report);
  }

  get(uri: string, key: string): PlanReport | undefined {
    return this.plans.get(planKey(uri, key));
  }
}

function keysInContext(doc: BudgetDocument, params: CodeActionParams): { key: string; diagnostics: Diagnostic[] }[] {
  const byKey = new Map<string, Diagnostic[]>();
  for (const d of params.context.diagnostics) {
    const data = d.data as BudgetDiagnosticData | undefined;
    if (d.source === SOURCE && typeof data?.key === 'string' && data.limit) byKey.set(data.key, [...(byKey.get(data.key) ?? []), d]);
  }
  const atCursor = entryAt(doc.parsed, doc.text.offsetAt(params.range.start));
  if (atCursor && !byKey.has(atCursor.key)) byKey.set(atCursor.key, []);
  return [...byKey].map(([key, diagnostics]) => ({ key, diagnostics }));
}

export function budgetCodeActions(doc: BudgetDocument, params: CodeActionParams, plans: PlanMemory): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const { key, diagnostics } of keysInContext(doc, params)) {
    const entry = doc.parsed.entries.find((e) => e.key === key);
    if (!entry?.measurable) continue;
    actions.push({
      title: 'Optimize to meet budget',
      kind: diagnostics.length ? CodeActionKind.QuickFix : CodeActionKind.RefactorRewrite,
      ...(diagnostics.length ? { diagnostics, isPreferred: true } : {}),
      command: { title: 'Optimize to meet budget', command: BudgetCommands.optimize, arguments: [doc.uri, key] },
    });
    const plan = plans.get(doc.uri, key);
    if (plan?.output && plan.output !== entry.model) {
      actions.push({
        title: `Point the budget entry at ${path.basename(plan.output)}`,
        kind: CodeActionKind.QuickFix,
        ...(diagnostics.length ? { diagnostics } : {}),
        edit: retargetEdit(doc.text, doc.parsed, key, plan.output),
      });
    }
  }
  return actions;
}
