/**
 * Latency budgets in the editor. The server diagnoses onnx-budget.json and supplies hovers, code lenses
 * and code actions through standard LSP; this file adds what LSP leaves to the client:
 * - a status item fed by `onnxLean/status` (what is being measured, how many are queued);
 * - the commands the lenses and actions name: Re-measure, Optimize to Meet Budget (with a cancellable
 *   progress notification), and Point Budget Entry at Model (applies the server's WorkspaceEdit).
 * Like the rest of the extension it only talks to the engine process; it never runs a model itself.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LSPErrorCodes, ResponseError, WorkDoneProgress, type LanguageClient } from 'vscode-languageclient/node';
import type { PlanReport } from '../budget/types';
import { BudgetCommands, BudgetStatusNotification, OnnxLeanErrorCodes, PlanBudgetRequest, RemeasureRequest, RetargetBudgetRequest, type BudgetStatusParams } from '../shared/protocol';
import type { Engine } from './engine';
import { explainTrust, showLog } from './notify';
import { plain } from './reportFormat';

const BUDGET_FILE = 'onnx-budget.json';

class BudgetStatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('onnxLean.budget', vscode.StatusBarAlignment.Left, 10);

  constructor() {
    this.item.name = 'ONNX Lean Budgets';
  }

  update(s: BudgetStatusParams): void {
    const counts = `${s.measured} measured, ${s.cacheHits} from the cache since the engine started`;
    if (s.state === 'measuring') {
      this.item.text = `$(sync~spin) ${s.message || 'measuring budgets'}`;
      this.item.tooltip = `ONNX Lean: ${s.pending} budget measurement${s.pending === 1 ? '' : 's'} queued or running (${counts})`;
      this.item.command = undefined;
      this.item.show();
    } else if (s.documents.length > 0) {
      this.item.text = '$(dashboard) Budgets measured';
      this.item.tooltip = `ONNX Lean: every open budget is measured (${counts}). Click to re-measure the active one.`;
      this.item.command = BudgetCommands.remeasure;
      this.item.show();
    } else {
      this.item.hide();
    }
  }

  dispose(): void {
    this.item.dispose();
  }
}

function activeBudgetUri(): string | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  return doc && path.basename(doc.uri.fsPath) === BUDGET_FILE ? doc.uri.toString() : undefined;
}

/** The entry keys of a budget document, from its code lenses (the Re-measure lens carries [uri, key]). */
async function pickKey(uri: string): Promise<string | undefined> {
  const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', vscode.Uri.parse(uri))) ?? [];
  const keys = [...new Set(lenses.filter((l) => l.command?.command === BudgetCommands.remeasure).map((l) => String(l.command?.arguments?.[1])))];
  if (keys.length <= 1) return keys[0];
  return vscode.window.showQuickPick(keys, { title: 'Optimize which model to meet its budget?' });
}

function describePlan(r: PlanReport): string {
  const lines = [`Budget plan for ${r.source}${r.defaultFidelity ? ' (no fidelity floor in the budget: cosine 0.99 used)' : ''}`];
  for (const c of r.candidates) {
    const detail = c.reason ?? c.verdicts.map((v) => v.message).join('; ');
    lines.push(`  ${c.status.padEnd(7)} ${c.label}: ${detail}`);
  }
  if (!r.met && r.pareto.length) lines.push(`  closest (Pareto): ${r.pareto.slice(0, 3).map((c) => c.label).join('; ')}`);
  lines.push(`  ${r.summary}`, '');
  return lines.join('\n');
}

async function runPlan(engine: Engine, uri: string, key: string): Promise<PlanReport> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Optimizing ${key} to meet its budget`, cancellable: true }, async (progress, token) => {
    const client = await engine.ready();
    const workDoneToken = randomUUID();
    const listener = client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
      if (value.kind !== 'end' && value.message) progress.report({ message: value.message });
    });
    try {
      return await client.sendRequest(PlanBudgetRequest.type, { uri, key, workDoneToken }, token);
    } finally {
      listener.dispose();
    }
  });
}

function planFailed(engine: Engine, key: string, err: unknown): void {
  const code = err instanceof ResponseError ? err.code : undefined;
  if (code === LSPErrorCodes.RequestCancelled || err instanceof vscode.CancellationError) {
    vscode.window.setStatusBarMessage(`ONNX Lean: optimizing ${key} cancelled`, 4000);
    return;
  }
  if (code === OnnxLeanErrorCodes.Untrusted) return explainTrust();
  showLog(engine.output, 'error', plain(`Optimizing ${key} failed: ${err instanceof Error ? err.message : String(err)}`));
}

const USE_IT = 'Point Budget at It';
const SHOW_DETAILS = 'Show Details';

async function optimize(engine: Engine, uriArg?: unknown, keyArg?: unknown): Promise<PlanReport | undefined> {
  if (!vscode.workspace.isTrusted) {
    explainTrust();
    return undefined;
  }
  const uri = typeof uriArg === 'string' ? uriArg : activeBudgetUri();
  if (!uri) return void vscode.window.showInformationMessage(`Open an ${BUDGET_FILE} to optimize one of its models.`);
  const key = typeof keyArg === 'string' ? keyArg : await pickKey(uri);
  if (!key) return undefined;
  let report: PlanReport;
  try {
    report = await runPlan(engine, uri, key);
  } catch (err) {
    planFailed(engine, key, err);
    return undefined;
  }
  engine.output.appendLine(describePlan(report));
  const choices = report.output ? [USE_IT, SHOW_DETAILS] : [SHOW_DETAILS];
  const show = report.met ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  void show(plain(report.summary), ...choices).then(async (choice) => {
    if (choice === USE_IT && report.output) await useModel(engine, uri, key, report.output);
    if (choice === SHOW_DETAILS) engine.output.show(true);
  });
  return report;
}

async function useModel(engine: Engine, uri: unknown, key: unknown, model: unknown): Promise<boolean> {
  if (typeof uri !== 'string' || typeof key !== 'string' || typeof model !== 'string') return false;
  try {
    const client: LanguageClient = await engine.ready();
    const edit = await client.sendRequest(RetargetBudgetRequest.type, { uri, key, model });
    return await vscode.workspace.applyEdit(await client.protocol2CodeConverter.asWorkspaceEdit(edit));
  } catch (err) {
    showLog(engine.output, 'error', plain(`Could not update the budget entry: ${err instanceof Error ? err.message : String(err)}`));
    return false;
  }
}

async function remeasure(engine: Engine, uriArg?: unknown, keyArg?: unknown): Promise<number> {
  const uri = typeof uriArg === 'string' ? uriArg : activeBudgetUri();
  if (!uri) return 0;
  const client = await engine.ready();
  const { scheduled } = await client.sendRequest(RemeasureRequest.type, { uri, ...(typeof keyArg === 'string' ? { key: keyArg } : {}) });
  return scheduled;
}

export function registerBudgetFeatures(context: vscode.ExtensionContext, engine: Engine): void {
  const status = new BudgetStatusItem();
  context.subscriptions.push(
    status,
    vscode.commands.registerCommand(BudgetCommands.remeasure, (uri?: unknown, key?: unknown) => remeasure(engine, uri, key)),
    vscode.commands.registerCommand(BudgetCommands.optimize, (uri?: unknown, key?: unknown) => optimize(engine, uri, key)),
    vscode.commands.registerCommand(BudgetCommands.useModel, (uri?: unknown, key?: unknown, model?: unknown) => useModel(engine, uri, key, model)),
  );
  engine
    .ready()
    .then((client) => context.subscriptions.push(client.onNotification(BudgetStatusNotification.type, (s) => status.update(s))))
    .catch((err: unknown) => engine.output.appendLine(`[budget] status unavailable: ${err instanceof Error ? err.message : String(err)}`));
}
