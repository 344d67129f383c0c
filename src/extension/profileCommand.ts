/**
 * `onnxLean.profileModel`: profiles a model in the engine process with a cancellable progress
 * notification, then shows a summary and writes the full report to the output channel. Returns the
 * report (undefined when cancelled or failed), which the integration tests use.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ProfileRequest, type ProfileOptions, type ProfileReport } from '../shared/protocol';
import type { Engine } from './engine';
import { runEngineJob } from './engineJob';
import { explainTrust, showLog } from './notify';
import { modelShapes } from './inputShapes';
import { pickModel } from './pickModel';
import type { ReportDocuments } from './reportDocuments';
import { plain, reportMarkdown, summaryLine } from './reportFormat';

export function profileModelCommand(engine: Engine, reports: ReportDocuments, state: vscode.Memento) {
  // The explorer passes (clicked uri, selected uris); tests and other extensions may pass (uri, options).
  return async (arg?: unknown, second?: unknown): Promise<ProfileReport | undefined> => {
    if (!vscode.workspace.isTrusted) {
      explainTrust();
      return undefined;
    }
    const uri = await pickModel(arg, 'Profile');
    if (!uri) return undefined;
    if (uri.scheme !== 'file') {
      showLog(engine.output, 'error', plain(`ONNX Lean can only profile files on disk, not ${uri.toString()}.`));
      return undefined;
    }
    const options = withSettings(asOptions(second));
    options.shapes ??= await modelShapes(engine, state, uri.fsPath);
    if (!options.shapes) return undefined;
    const report = await runProfile(engine, uri.fsPath, options);
    if (report) announce(engine.output, reports, report);
    return report;
  };
}

/** Threads, runs and warm-up from the user's settings, unless the caller gave them. */
function withSettings(options: ProfileOptions): ProfileOptions {
  const config = vscode.workspace.getConfiguration('onnxLean');
  return { threads: config.get<number>('threads'), runs: config.get<number>('runs'), warmup: config.get<number>('warmup'), ...options };
}

function asOptions(value: unknown): ProfileOptions {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof vscode.Uri) ? value : {};
}

function runProfile(engine: Engine, file: string, options: ProfileOptions): Promise<ProfileReport | undefined> {
  return runEngineJob(engine, {
    title: `Profiling ${path.basename(file)}`,
    label: 'profile',
    send: (client, workDoneToken, token) => client.sendRequest(ProfileRequest.type, { path: file, options, workDoneToken }, token),
  });
}

const SHOW_DETAILS = 'Show Details';

function announce(output: vscode.OutputChannel, reports: ReportDocuments, report: ProfileReport): void {
  const markdown = reportMarkdown(report);
  output.appendLine(markdown);
  void vscode.window.showInformationMessage(summaryLine(report), SHOW_DETAILS).then(async (choice) => {
    if (choice === SHOW_DETAILS) await reports.show(`${path.basename(report.path)} profile`, markdown);
  });
}
