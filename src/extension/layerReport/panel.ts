/**
 * One Layer Report editor: binds a webview panel to its document. It answers the webview's `ready`
 * with `init`, hands requests to the dispatcher, and forwards trust and file changes. Messages go out
 * only while the webview is ready; a webview shown again says `ready` again and gets a fresh `init`
 * with the results so far and the jobs still running.
 */
import * as vscode from 'vscode';
import { parseToExtension } from '../../shared/webviewGuards';
import type { ToWebview } from '../../shared/webviewProtocol';
import type { Engine } from '../engine';
import { RequestDispatcher } from './dispatcher';
import type { LayerReportDocument } from './document';
import { layerReportHtml, webviewOptions } from './html';
import { layerReportHandlers } from './requests';

export class LayerReportPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly dispatcher: RequestDispatcher;
  private ready = false;

  constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly document: LayerReportDocument,
    private readonly engine: Engine,
    extensionUri: vscode.Uri,
  ) {
    this.dispatcher = new RequestDispatcher(layerReportHandlers(engine, document), (m) => this.post(m));
    this.disposables.push(
      this.dispatcher,
      panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
      document.onDidChangeFile(() => this.post({ type: 'modelChanged' })),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.post({ type: 'trust', trusted: true })),
      panel.onDidDispose(() => this.dispose()),
    );
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = layerReportHtml(panel.webview, extensionUri);
  }

  private receive(raw: unknown): void {
    const message = parseToExtension(raw);
    if (!message) {
      this.engine.output.appendLine(`[layer report] ignored an invalid message from the webview: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    switch (message.type) {
      case 'ready':
        this.ready = true;
        return this.sendInit();
      case 'cancel':
        return this.dispatcher.cancel(message.requestId);
      case 'manageTrust':
        void vscode.commands.executeCommand('workbench.trust.manage');
        return;
      default:
        void this.dispatcher.dispatch(message);
    }
  }

  private sendInit(): void {
    const { fileName, profile, sensitivity } = this.document;
    this.post({ type: 'init', fileName, trusted: vscode.workspace.isTrusted, profile, sensitivity, running: this.dispatcher.runningJobs() });
  }

  private post(message: ToWebview): void {
    if (this.ready) void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    this.ready = false;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
