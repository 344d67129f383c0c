/**
 * Optimize Model… (a guided goal pick), Quantize to INT8, Convert to FP16, and Compare With…. Results
 * are written beside the original under a name that does not exist yet: nothing is ever overwritten.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CompareRequest, InspectRequest, OptimizeRequest, type CompareReport, type InspectReport, type OptimizeParams, type OptimizeReport } from '../shared/protocol';
import { freeSiblingPath } from '../core/paths';
import type { Engine } from './engine';
import { runEngineJob } from './engineJob';
import { showLog } from './notify';
import { compareMarkdown, optimizeMarkdown, optimizeSummary } from './optimizeFormat';
import { goalsFor, type Goal } from './optimizeGoals';
import { modelShapes } from './inputShapes';
import { pickModel } from './pickModel';
import type { ReportDocuments } from './reportDocuments';
import { plain } from './reportFormat';

const CUSTOM_PASSES = [
  { label: 'cleanup', description: 'constant folding, BatchNorm folding, dead nodes' },
  { label: 'int8-dynamic', description: 'INT8 MatMul/Gemm weights, activations quantized at run time' },
  { label: 'int8-static', description: 'INT8 QDQ with calibration (Conv models)' },
  { label: 'int4-weights', description: '4-bit blockwise MatMul weights' },
  { label: 'fp16', description: 'float16 weights and compute' },
  { label: 'ort-optimize', description: "onnxruntime's own offline graph optimization" },
];

const freeOutputPath = freeSiblingPath;

async function inspect(engine: Engine, file: string): Promise<InspectReport | undefined> {
  try {
    return await (await engine.ready()).sendRequest(InspectRequest.type, { path: file });
  } catch (err) {
    showLog(engine.output, 'error', plain(`Cannot read ${path.basename(file)}: ${err instanceof Error ? err.message : String(err)}`));
    return undefined;
  }
}

async function pickGoal(report: InspectReport): Promise<Goal | undefined> {
  const goals = goalsFor(report);
  const picked = await vscode.window.showQuickPick(
    goals.map((g) => ({ label: g.label, detail: g.detail, goal: g })),
    { title: `Optimize ${path.basename(report.path)}`, placeHolder: 'What matters most?', matchOnDetail: true },
  );
  return picked?.goal;
}

async function pickPasses(): Promise<string[] | undefined> {
  const picked = await vscode.window.showQuickPick(CUSTOM_PASSES, { title: 'Passes (run in the order listed)', canPickMany: true });
  return picked?.length ? picked.map((p) => p.label) : undefined;
}

async function optimizeParams(engine: Engine, file: string, preset?: string): Promise<Omit<OptimizeParams, 'workDoneToken'> | undefined> {
  if (preset) return { path: file, preset, output: freeOutputPath(file, preset) };
  const report = await inspect(engine, file);
  if (!report) return undefined;
  const goal = await pickGoal(report);
  if (!goal) return undefined;
  if (goal.preset) return { path: file, preset: goal.preset, output: freeOutputPath(file, goal.preset) };
  const passes = await pickPasses();
  if (!passes) return undefined;
  return { path: file, passes: passes.map((name) => ({ name })), output: freeOutputPath(file, passes[passes.length - 1]) };
}

function settings(): Pick<OptimizeParams, 'dataDir' | 'threads'> {
  const config = vscode.workspace.getConfiguration('onnxLean');
  const dataDir = config.get<string>('calibrationData') || undefined;
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return { dataDir: dataDir && root && !path.isAbsolute(dataDir) ? path.join(root, dataDir) : dataDir, threads: config.get<number>('threads') || undefined };
}

export function optimizeCommand(engine: Engine, reports: ReportDocuments, state: vscode.Memento, preset?: string) {
  return async (arg?: unknown): Promise<OptimizeReport | undefined> => {
    const uri = await pickModel(arg, 'Optimize');
    if (!uri) return undefined;
    const shapes = await modelShapes(engine, state, uri.fsPath);
    if (!shapes) return undefined;
    const picked = await optimizeParams(engine, uri.fsPath, preset);
    if (!picked) return undefined;
    const params = { ...picked, shapes };
    const report = await runEngineJob(engine, {
      title: `Optimizing ${path.basename(uri.fsPath)}`,
      label: 'optimize',
      send: (client, workDoneToken, token) => client.sendRequest(OptimizeRequest.type, { ...settings(), ...params, workDoneToken }, token),
    });
    if (report) announceOptimized(engine, reports, report);
    return report;
  };
}

const OPEN_REPORT = 'Open Layer Report';
const COMPARE = 'Compare';
const DETAILS = 'Show Details';

function announceOptimized(engine: Engine, reports: ReportDocuments, report: OptimizeReport): void {
  const markdown = optimizeMarkdown(report);
  engine.output.appendLine(markdown);
  void vscode.window.showInformationMessage(plain(optimizeSummary(report)), OPEN_REPORT, COMPARE, DETAILS).then(async (choice) => {
    if (choice === OPEN_REPORT) await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(report.output), 'onnxLean.layerReport');
    if (choice === COMPARE) await runCompare(engine, reports, report.input, report.output, shapesOf(report));
    if (choice === DETAILS) await reports.show(`${path.basename(report.output)} report`, markdown);
  });
}

/** The shapes the optimization ran with (the pipeline resolved them), for a follow-up comparison. */
function shapesOf(report: OptimizeReport): Record<string, number[]> | undefined {
  return report.shapes;
}

async function runCompare(engine: Engine, reports: ReportDocuments, reference: string, candidate: string, shapes?: Record<string, number[]>): Promise<CompareReport | undefined> {
  const report = await runEngineJob(engine, {
    title: `Comparing ${path.basename(candidate)} with ${path.basename(reference)}`,
    label: 'compare',
    send: (client, workDoneToken, token) => client.sendRequest(CompareRequest.type, { reference, candidate, workDoneToken, options: { threads: settings().threads, shapes } }, token),
  });
  if (report) await reports.show(`${path.basename(candidate)} vs ${path.basename(reference)}`, compareMarkdown(report));
  return report;
}

/** Explorer: (clicked, selection[]); with two .onnx files selected, the first is the reference. */
export function compareCommand(engine: Engine, reports: ReportDocuments, state: vscode.Memento) {
  return async (arg?: unknown, selection?: unknown): Promise<CompareReport | undefined> => {
    const selected = Array.isArray(selection) ? selection.filter((u): u is vscode.Uri => u instanceof vscode.Uri) : [];
    const reference = selected.length === 2 ? selected[0] : await pickModel(arg, 'Compare');
    let candidate = selected.length === 2 ? selected[1] : undefined;
    if (!reference) return undefined;
    if (!candidate) {
      const picked = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Compare With', filters: { 'ONNX models': ['onnx'] }, defaultUri: vscode.Uri.file(path.dirname(reference.fsPath)) });
      candidate = picked?.[0];
    }
    if (!candidate) return undefined;
    const shapes = await modelShapes(engine, state, reference.fsPath);
    if (!shapes) return undefined;
    return runCompare(engine, reports, reference.fsPath, candidate.fsPath, shapes);
  };
}
