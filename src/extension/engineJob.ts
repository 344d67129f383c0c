/**
 * Runs one engine request that executes a model behind a cancellable progress notification: work-done
 * progress becomes the notification's message, Cancel cancels the request (the server terminates the
 * worker), and failures become one notification with "Show Log". Returns undefined on failure or cancel.
 */
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { ErrorCodes, LSPErrorCodes, ResponseError, WorkDoneProgress, type LanguageClient } from 'vscode-languageclient/node';
import { OnnxLeanErrorCodes } from '../shared/protocol';
import type { Engine } from './engine';
import { explainTrust, showLog } from './notify';
import { plain } from './reportFormat';

export interface EngineJob<R> {
  /** e.g. "Optimizing model.onnx" */
  title: string;
  /** e.g. "optimize" for the log and messages */
  label: string;
  send(client: LanguageClient, workDoneToken: string, token: vscode.CancellationToken): Promise<R>;
}

/** A status bar item per running job, so work stays visible after its notification is hidden. */
function showRunning(title: string): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('onnxLean.job', vscode.StatusBarAlignment.Left, 9);
  item.name = 'ONNX Lean job';
  item.text = `$(sync~spin) ONNX Lean: ${title}`;
  item.tooltip = 'ONNX Lean is working; cancel from its notification.';
  item.show();
  return item;
}

export async function runEngineJob<R>(engine: Engine, job: EngineJob<R>): Promise<R | undefined> {
  if (!vscode.workspace.isTrusted) {
    explainTrust();
    return undefined;
  }
  const status = showRunning(job.title);
  try {
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: job.title, cancellable: true }, async (progress, token) => {
      const client = await engine.ready();
      const workDoneToken = randomUUID();
      const listener = client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
        if (value.kind !== 'end' && value.message) progress.report({ message: value.message });
      });
      try {
        return await job.send(client, workDoneToken, token);
      } finally {
        listener.dispose();
      }
    });
  } catch (err) {
    reportJobFailure(engine.output, job, err);
    return undefined;
  } finally {
    status.dispose();
  }
}

export function reportJobFailure(output: vscode.OutputChannel, job: { title: string; label: string }, err: unknown): void {
  const code = err instanceof ResponseError ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (code === LSPErrorCodes.RequestCancelled || err instanceof vscode.CancellationError) {
    output.appendLine(`[${job.label}] ${job.title}: cancelled`);
    vscode.window.setStatusBarMessage(`ONNX Lean: ${job.title} cancelled`, 4000);
    return;
  }
  output.appendLine(`[${job.label}] ${job.title} failed: ${message}`);
  if (code === OnnxLeanErrorCodes.Untrusted) return explainTrust();
  if (code === ErrorCodes.PendingResponseRejected || code === ErrorCodes.ConnectionInactive) {
    return showLog(output, 'error', plain(`${job.title} failed: the ONNX Lean engine stopped. Try again once it has restarted.`));
  }
  showLog(output, 'error', plain(`${job.title} failed: ${message}`));
}
