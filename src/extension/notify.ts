/** Notifications that offer the "ONNX Lean" output channel, and the trust explanation. */
import * as vscode from 'vscode';

const SHOW_LOG = 'Show Log';

/** Shows a message with a "Show Log" button; does not wait for the user. */
export function showLog(output: vscode.OutputChannel, severity: 'error' | 'warning', message: string): void {
  const show = severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
  void show(message, SHOW_LOG).then((choice) => {
    if (choice === SHOW_LOG) output.show(true);
  });
}

const MANAGE_TRUST = 'Manage Workspace Trust';

/** Profiling executes the model with onnxruntime: explain why that needs trust and offer to grant it. */
export function explainTrust(): void {
  const message =
    'Profiling runs the model with onnxruntime, and a model file can exploit bugs in the runtime. Trust this workspace to profile its models; inspecting works without trust.';
  void vscode.window.showWarningMessage(message, MANAGE_TRUST).then((choice) => {
    if (choice === MANAGE_TRUST) void vscode.commands.executeCommand('workbench.trust.manage');
  });
}
