/**
 * Distill… (a narrower student fitted to the model by layer-wise least squares) and Analyze Layer
 * Sensitivity (per-layer fidelity under INT8 and pruning, as a Markdown report; the Layer Report shows
 * the same numbers in its table).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { freeSiblingPath } from '../core/paths';
import { OptimizeRequest, SensitivityRequest, type OptimizeReport, type SensitivityReport } from '../shared/protocol';
import type { Engine } from './engine';
import { runEngineJob } from './engineJob';
import { modelShapes } from './inputShapes';
import { optimizeMarkdown, optimizeSummary } from './optimizeFormat';
import { pickModel } from './pickModel';
import type { ReportDocuments } from './reportDocuments';
import { escapeMd } from './reportFormat';

const WIDTHS = [
  { label: '0.75', description: 'keep 75 % of the channels of every prunable group' },
  { label: '0.5', description: 'keep half: about a quarter of the MACs of the pruned convolutions' },
];

export function distillCommand(engine: Engine, reports: ReportDocuments, state: vscode.Memento) {
  return async (arg?: unknown): Promise<OptimizeReport | undefined> => {
    const uri = await pickModel(arg, 'Distill');
    const width = uri && (await vscode.window.showQuickPick(WIDTHS, { title: 'Distill: student width' }));
    const shapes = width && (await modelShapes(engine, state, uri.fsPath));
    if (!uri || !width || !shapes) return undefined;
    const output = freeSiblingPath(uri.fsPath, `student${width.label.replace('0.', '')}`);
    const passes = [{ name: 'cleanup' }, { name: 'distill', options: { width: width.label } }];
    const report = await runEngineJob(engine, {
      title: `Distilling ${path.basename(uri.fsPath)}`,
      label: 'distill',
      send: (client, workDoneToken, token) => client.sendRequest(OptimizeRequest.type, { path: uri.fsPath, passes, output, shapes, workDoneToken }, token),
    });
    if (report) await reports.show(`${path.basename(report.output)} report`, optimizeMarkdown(report)).then(() => vscode.window.showInformationMessage(optimizeSummary(report)));
    return report;
  };
}

function sensitivityMarkdown(r: SensitivityReport): string {
  const levels = r.levels.map((l) => `prune ${l}`);
  const rows = r.layers.map((l) => `| ${escapeMd(l.name)} | ${escapeMd(l.opType)} | ${l.int8 ? l.int8.cosine.toFixed(4) : ''} | ${r.levels.map((lv) => l.prune.find((p) => p.level === lv)?.cosine.toFixed(4) ?? '').join(' | ')} |`);
  return [
    `# Sensitivity of ${escapeMd(path.basename(r.path))}`,
    '',
    `Cosine of the model's outputs when only that layer changes (${escapeMd(r.inputs)}; ${r.method}; ${(r.wallMs / 1000).toFixed(1)} s${r.cached ? ', from the cache' : ''}).`,
    '',
    `| layer | op | int8 | ${levels.join(' | ')} |`,
    `|---|---|---|${levels.map(() => '---').join('|')}|`,
    ...rows,
    '',
    ...r.warnings.map((w) => `- ${escapeMd(w)}`),
  ].join('\n');
}

export function sensitivityCommand(engine: Engine, reports: ReportDocuments, state: vscode.Memento) {
  return async (arg?: unknown): Promise<SensitivityReport | undefined> => {
    const uri = await pickModel(arg, 'Analyze');
    const shapes = uri && (await modelShapes(engine, state, uri.fsPath));
    if (!uri || !shapes) return undefined;
    const levels = vscode.workspace.getConfiguration('onnxLean').get<number[]>('sensitivityLevels');
    const report = await runEngineJob(engine, {
      title: `Analyzing layer sensitivity of ${path.basename(uri.fsPath)}`,
      label: 'sensitivity',
      send: (client, workDoneToken, token) => client.sendRequest(SensitivityRequest.type, { path: uri.fsPath, shapes, levels, workDoneToken }, token),
    });
    if (report) await reports.show(`${path.basename(uri.fsPath)} sensitivity`, sensitivityMarkdown(report));
    return report;
  };
}
