/** Read-only Markdown documents holding full reports, served from memory under their own URI scheme. */
import * as vscode from 'vscode';

export const REPORT_SCHEME = 'onnx-lean-report';
const KEEP = 20;

export class ReportDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly contents = new Map<string, string>();
  private next = 1;
  private readonly registration = vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, this);

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.query) ?? 'This report is no longer available: run the command again.';
  }

  /** Opens `markdown` as a read-only document titled `title` (documents from a provider cannot be edited). */
  async show(title: string, markdown: string): Promise<void> {
    const id = String(this.next++);
    this.contents.set(id, markdown);
    if (this.contents.size > KEEP) this.contents.delete(this.contents.keys().next().value as string);
    const uri = vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/${title.replace(/[/\\]/g, '_')}.md`, query: id });
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: true });
  }

  dispose(): void {
    this.registration.dispose();
    this.contents.clear();
  }
}
