/**
 * Shapes for inputs with symbolic dimensions, so that commands run on models exported with a dynamic
 * batch or image size. A symbolic leading (batch) dimension becomes 1; any other symbolic dimension
 * is asked for once per model, prefilled with a suggestion, and remembered for the workspace.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultShapes } from '../core/inputShapes';
import { InspectRequest, type InspectReport } from '../shared/protocol';
import type { Engine } from './engine';
import { showLog } from './notify';
import { plain } from './reportFormat';

type Shapes = Record<string, number[]>;
const STATE_KEY = 'onnxLean.inputShapes';

function formatShapes(shapes: Shapes): string {
  return Object.entries(shapes).map(([n, d]) => `${n}=${d.map((v) => (v === 0 ? '?' : v)).join(',')}`).join('; ');
}

export function parseShapes(text: string): Shapes | string {
  const shapes: Shapes = {};
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    const dims = part.slice(eq + 1).split(',').map((d) => Number(d.trim()));
    if (eq <= 0 || dims.some((d) => !Number.isInteger(d) || d <= 0)) return `"${part}" is not name=d0,d1,... with positive integers`;
    shapes[part.slice(0, eq).trim()] = dims;
  }
  return shapes;
}

/** The shapes to run `report`'s model with; undefined when the user cancels the question. */
export async function shapesFor(state: vscode.Memento, report: InspectReport): Promise<Shapes | undefined> {
  const { shapes, complete } = defaultShapes(report);
  if (complete) return shapes;
  const remembered = state.get<Record<string, Shapes>>(STATE_KEY, {})[report.path];
  if (remembered) return remembered;
  const answer = await vscode.window.showInputBox({
    title: `Input shapes for ${path.basename(report.path)}`,
    prompt: 'The model has symbolic dimensions. Give a shape per input (name=d0,d1,...; separate inputs with ;).',
    value: formatShapes(shapes),
    validateInput: (text) => {
      const parsed = parseShapes(text);
      return typeof parsed === 'string' ? parsed : undefined;
    },
  });
  if (answer === undefined) return undefined;
  const parsed = parseShapes(answer) as Shapes;
  await state.update(STATE_KEY, { ...state.get<Record<string, Shapes>>(STATE_KEY, {}), [report.path]: parsed });
  return parsed;
}

/** Inspects the model in the engine (no execution) and resolves its shapes; undefined if cancelled or unreadable. */
export async function modelShapes(engine: Engine, state: vscode.Memento, file: string): Promise<Shapes | undefined> {
  let report: InspectReport;
  try {
    report = await (await engine.ready()).sendRequest(InspectRequest.type, { path: file });
  } catch (err) {
    showLog(engine.output, 'error', plain(`Cannot read ${path.basename(file)}: ${err instanceof Error ? err.message : String(err)}`));
    return undefined;
  }
  return shapesFor(state, report);
}
