/**
 * The language client that talks to ONNX Lean's engine: a separate Node process (dist/server.js) that
 * owns onnxruntime. A crash there takes down that process, never the extension host; the client
 * restarts it (at most MAX_RESTARTS times in RESTART_WINDOW_MS) and tells the user each time.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  TransportKind,
  type CloseHandlerResult,
  type ErrorHandler,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { DidChangeTrustNotification, type BudgetInitializationOptions, type InitializationOptions } from '../shared/protocol';
import { showLog } from './notify';

const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60 * 1000;

export class Engine implements vscode.Disposable {
  private readonly client: LanguageClient;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(context: vscode.ExtensionContext, readonly output: vscode.OutputChannel) {
    this.client = new LanguageClient('onnxLean', 'ONNX Lean', serverOptions(context), clientOptions(context, output));
    this.subscriptions.push(
      this.client.onDidChangeState((e) => output.appendLine(`[engine] ${State[e.oldState]} -> ${State[e.newState]}`)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.notifyTrust()),
    );
  }

  /** The running client, starting (or restarting, after it gave up) the server when needed. */
  async ready(): Promise<LanguageClient> {
    if (this.client.state !== State.Running) await this.client.start();
    return this.client;
  }

  private async notifyTrust(): Promise<void> {
    if (this.client.state !== State.Running) return; // a later start sends trust in initializationOptions
    await this.client.sendNotification(DidChangeTrustNotification.type, { trusted: vscode.workspace.isTrusted });
  }

  async dispose(): Promise<void> {
    for (const s of this.subscriptions) s.dispose();
    await this.client.dispose();
  }
}

function serverOptions(context: vscode.ExtensionContext): ServerOptions {
  const module = context.asAbsolutePath('dist/server.js');
  return {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6011'] } },
  };
}

/** Budget files the server diagnoses, and the files whose changes re-measure them (workspace/didChangeWatchedFiles). */
const BUDGET_SELECTOR = [
  { scheme: 'file', language: 'jsonc', pattern: '**/onnx-budget.json' },
  { scheme: 'file', language: 'json', pattern: '**/onnx-budget.json' },
];
const WATCHED = ['**/*.onnx', '**/*.onnx.data', '**/onnx-budget.json', '**/*.{npz,npy}'];

function clientOptions(context: vscode.ExtensionContext, output: vscode.OutputChannel): LanguageClientOptions {
  const watchers = WATCHED.map((glob) => vscode.workspace.createFileSystemWatcher(glob));
  context.subscriptions.push(...watchers);
  return {
    documentSelector: BUDGET_SELECTOR,
    synchronize: { fileEvents: watchers },
    outputChannel: output,
    // A function, so that every (re)start sends the trust of that moment.
    initializationOptions: (): InitializationOptions & BudgetInitializationOptions => ({
      trusted: vscode.workspace.isTrusted,
      budgetCacheDir: path.join(context.globalStorageUri.fsPath, 'budget-cache'),
    }),
    errorHandler: new RestartingErrorHandler(output),
  };
}

/** Restarts a crashed server like the default handler, but always tells the user what happened. */
class RestartingErrorHandler implements ErrorHandler {
  private restarts: number[] = [];

  constructor(private readonly output: vscode.OutputChannel) {}

  error(_error: Error, _message: unknown, count: number | undefined): ErrorHandlerResult {
    return { action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
  }

  closed(): CloseHandlerResult {
    const now = Date.now();
    this.restarts = [...this.restarts.filter((t) => now - t < RESTART_WINDOW_MS), now];
    if (this.restarts.length > MAX_RESTARTS) {
      const message = `The ONNX Lean engine stopped ${this.restarts.length} times in 3 minutes and will not be restarted. Run a command again to start it.`;
      showLog(this.output, 'error', message);
      this.restarts = [];
      return { action: CloseAction.DoNotRestart, message, handled: true };
    }
    const message = 'The ONNX Lean engine stopped unexpectedly and was restarted; any job it was running was lost.';
    showLog(this.output, 'warning', message);
    return { action: CloseAction.Restart, message, handled: true };
  }
}
