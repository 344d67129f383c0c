/**
 * `onnxLean.pruneModel` (Prune…): from the Layer Report's Apply ({uri, layers, sparsity}: magnitude
 * pruning of those layers) or from the palette/explorer (pick a model, a method and a level). The
 * pruned model goes beside the original under a new name; the result says what was written.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { freeSiblingPath } from '../core/paths';
import { OptimizeRequest, type OptimizeParams, type OptimizeReport } from '../shared/protocol';
import type { ApplyPruneResult } from '../shared/webviewProtocol';
import type { Engine } from './engine';
import { runEngineJob } from './engineJob';
import { modelShapes } from './inputShapes';
import { optimizeSummary } from './optimizeFormat';
import { pickModel } from './pickModel';

interface PanelArgs {
  uri: vscode.Uri;
  layers: string[];
  sparsity: number;
}

function isPanelArgs(value: unknown): value is PanelArgs {
  const v = value as Partial<PanelArgs> | undefined;
  return v?.uri instanceof vscode.Uri && Array.isArray(v.layers) && typeof v.sparsity === 'number';
}

const METHODS = [
  { label: 'Magnitude (unstructured)', pass: 'prune-magnitude', key: 'sparsity', description: 'smaller compressed file; no speed-up in onnxruntime on CPU' },
  { label: '2:4 (N:M)', pass: 'prune-nm', key: '', description: 'two zeros in every four weights' },
  { label: 'Channels (structured)', pass: 'prune-channels', key: 'ratio', description: 'removes channels for real: fewer FLOPs, faster' },
];

async function askPasses(): Promise<OptimizeParams['passes'] | undefined> {
  const method = await vscode.window.showQuickPick(METHODS, { title: 'Prune: method' });
  if (!method) return undefined;
  if (!method.key) return [{ name: method.pass }];
  const level = await vscode.window.showQuickPick(['0.25', '0.5', '0.75'], { title: `Prune: ${method.key}` });
  return level ? [{ name: method.pass, options: { [method.key]: level } }] : undefined;
}

async function prune(engine: Engine, state: vscode.Memento, file: string, passes: NonNullable<OptimizeParams['passes']>): Promise<OptimizeReport | undefined> {
  const shapes = await modelShapes(engine, state, file);
  if (!shapes) return undefined;
  const output = freeSiblingPath(file, 'pruned');
  return runEngineJob(engine, {
    title: `Pruning ${path.basename(file)}`,
    label: 'prune',
    send: (client, workDoneToken, token) => client.sendRequest(OptimizeRequest.type, { path: file, passes, output, shapes, workDoneToken }, token),
  });
}

export function pruneModelCommand(engine: Engine, state: vscode.Memento) {
  return async (arg?: unknown): Promise<ApplyPruneResult | OptimizeReport | undefined> => {
    if (isPanelArgs(arg)) {
      const layers = arg.layers.map((name) => `${name}:${arg.sparsity}`).join(';');
      const report = await prune(engine, state, arg.uri.fsPath, [{ name: 'prune-magnitude', options: { layers } }]);
      if (!report) return { applied: false, message: 'Pruning did not finish (cancelled or failed: see the notification). Nothing was written.' };
      return { applied: true, message: optimizeSummary(report), outputPath: report.output };
    }
    const uri = await pickModel(arg, 'Prune');
    const passes = uri && (await askPasses());
    if (!uri || !passes) return undefined;
    const report = await prune(engine, state, uri.fsPath, passes);
    if (report) void vscode.window.showInformationMessage(optimizeSummary(report));
    return report;
  };
}
