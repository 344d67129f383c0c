/** Which model a command acts on: the explorer's selection, the active editor's .onnx, or a picked file. */
import * as vscode from 'vscode';

/** Resolves the target, asking with a file picker when nothing fits; undefined when the user gives up. */
export async function pickModel(arg: unknown, openLabel: string): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  const active = activeOnnx();
  if (active) return active;
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel,
    filters: { 'ONNX models': ['onnx'] },
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0];
}

/** The .onnx file shown in the active tab, whether in a text editor or a custom editor. */
function activeOnnx(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom ? input.uri : vscode.window.activeTextEditor?.document.uri;
  return uri && uri.path.toLowerCase().endsWith('.onnx') ? uri : undefined;
}
