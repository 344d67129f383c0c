/** The Layer Report: its custom editor and the command that opens it. */
import * as vscode from 'vscode';
import type { Engine } from '../engine';
import { pickModel } from '../pickModel';
import { LAYER_REPORT_VIEW_TYPE, registerLayerReportProvider } from './provider';

export const OPEN_LAYER_REPORT_COMMAND = 'onnxLean.openLayerReport';

export function registerLayerReport(context: vscode.ExtensionContext, engine: Engine): void {
  context.subscriptions.push(
    registerLayerReportProvider(engine, context.extensionUri),
    vscode.commands.registerCommand(OPEN_LAYER_REPORT_COMMAND, async (arg?: unknown) => {
      const uri = await pickModel(arg, 'Open Layer Report');
      if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, LAYER_REPORT_VIEW_TYPE);
    }),
  );
}
