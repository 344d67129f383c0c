/**
 * The Layer Report's document: a model file, plus the results this session computed for it (so a
 * panel shown again, or a second panel on the same file, starts from them). Results are dropped when
 * the file changes on disk, since they describe the old model.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProfileReport } from '../../shared/protocol';
import type { SensitivityResult } from '../../shared/webviewProtocol';
import { PanelError } from './errors';

export class LayerReportDocument implements vscode.CustomDocument {
  profile: ProfileReport | undefined;
  sensitivity: SensitivityResult | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the model file changed on disk (results already dropped). */
  readonly onDidChangeFile = this.changed.event;
  private readonly watcher: vscode.FileSystemWatcher;
  private debounce: NodeJS.Timeout | undefined;

  constructor(readonly uri: vscode.Uri) {
    const folder = vscode.Uri.joinPath(uri, '..');
    this.watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, path.posix.basename(uri.path)));
    const onChange = () => this.fileChanged();
    this.watcher.onDidChange(onChange);
    this.watcher.onDidCreate(onChange);
  }

  get fileName(): string {
    return path.posix.basename(this.uri.path);
  }

  /** The model's path on this machine; the engine reads files only. */
  get path(): string {
    if (this.uri.scheme !== 'file') throw new PanelError('failed', `ONNX Lean reads models on disk only, not ${this.uri.toString()}`);
    return this.uri.fsPath;
  }

  private fileChanged(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.profile = undefined;
      this.sensitivity = undefined;
      this.changed.fire();
    }, 300);
  }

  dispose(): void {
    clearTimeout(this.debounce);
    this.watcher.dispose();
    this.changed.dispose();
  }
}
