/**
 * ONNX Lean's VS Code extension: commands, menus and notifications. The engine runs in a separate
 * language-server process (src/server, bundled as dist/server.js).
 *
 * ARCHITECTURE RULE: the extension host NEVER imports onnxruntime-node or anything under src/runtime
 * (or the core modules that execute models). It only imports the protocol (src/shared/protocol.ts) and
 * type-only report shapes, so that a native crash can take down the engine process but never the editor.
 * test/unit/server.test.ts checks that dist/extension.js does not reference onnxruntime.
 */
import * as vscode from 'vscode';
import { registerBudgetFeatures } from './budget';
import { Engine } from './engine';
import { registerLayerReport } from './layerReport';
import { distillCommand, sensitivityCommand } from './analysisCommands';
import { compareCommand, optimizeCommand } from './optimizeCommands';
import { profileModelCommand } from './profileCommand';
import { pruneModelCommand } from './pruneModelCommand';
import { ReportDocuments } from './reportDocuments';

let engine: Engine | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('ONNX Lean');
  const reports = new ReportDocuments();
  engine = new Engine(context, output);
  context.subscriptions.push(
    output,
    reports,
    vscode.commands.registerCommand('onnxLean.profileModel', profileModelCommand(engine, reports, context.workspaceState)),
    vscode.commands.registerCommand('onnxLean.optimizeModel', optimizeCommand(engine, reports, context.workspaceState)),
    vscode.commands.registerCommand('onnxLean.quantizeInt8', optimizeCommand(engine, reports, context.workspaceState, 'int8')),
    vscode.commands.registerCommand('onnxLean.convertFp16', optimizeCommand(engine, reports, context.workspaceState, 'fp16')),
    vscode.commands.registerCommand('onnxLean.pruneModel', pruneModelCommand(engine, context.workspaceState)),
    vscode.commands.registerCommand('onnxLean.distillModel', distillCommand(engine, reports, context.workspaceState)),
    vscode.commands.registerCommand('onnxLean.analyzeSensitivity', sensitivityCommand(engine, reports, context.workspaceState)),
    vscode.commands.registerCommand('onnxLean.compareWith', compareCommand(engine, reports, context.workspaceState)),
  );
  registerLayerReport(context, engine);
  registerBudgetFeatures(context, engine);
  // Start the engine while the user picks a file; commands wait for it anyway.
  engine.ready().catch((err: unknown) => output.appendLine(`[engine] failed to start: ${err instanceof Error ? err.message : String(err)}`));
}

export async function deactivate(): Promise<void> {
  await engine?.dispose();
  engine = undefined;
}
