/** onnxLean/sensitivity: per-layer sensitivity through the shared job queue, cached on disk. */
import * as os from 'node:os';
import * as path from 'node:path';
import type { CancellationToken } from 'vscode-languageserver/node';
import { analyzeSensitivity } from '../analysis/sensitivity';
import { UserError } from '../core/errors';
import { inspectModel } from '../core/inspect';
import { defaultShapes } from '../core/inputShapes';
import type { SensitivityReport } from '../core/reports';
import { loadModel } from '../onnx/io';
import type { SensitivityParams } from '../shared/protocol';
import { runExecutingJob, type ServerContext } from './handlers';

/** JSON has no Infinity: identical outputs are reported as this many dB. */
const IDENTICAL_DB = 200;

function shapesFor(file: string, given: Record<string, number[]> | undefined): Record<string, number[]> | undefined {
  if (given) return given;
  const { shapes, complete } = defaultShapes(inspectModel(loadModel(file)));
  if (!complete) throw new UserError(`${path.basename(file)} has symbolic input dimensions besides the batch: give the input shapes first`);
  return Object.keys(shapes).length ? shapes : undefined;
}

const finite = (db: number | null): number => (db === null || !Number.isFinite(db) ? IDENTICAL_DB : db);

/** Finite SQNRs, so the reply survives JSON and the panel's shape checks. */
function forTheWire(report: SensitivityReport): SensitivityReport {
  const fix = <T extends { sqnrDb: number | null }>(m: T): T => ({ ...m, sqnrDb: finite(m.sqnrDb) });
  return { ...report, layers: report.layers.map((l) => ({ ...l, int8: l.int8 ? fix(l.int8) : null, prune: l.prune.map(fix), channels: l.channels.map(fix) })) };
}

export function handleSensitivity(ctx: ServerContext, params: SensitivityParams, token: CancellationToken): Promise<SensitivityReport> {
  return runExecutingJob(ctx, { path: params.path, workDoneToken: params.workDoneToken, verb: 'Analyzing', what: 'sensitivity analysis' }, token, async (file, signal, progress) => {
    const report = await analyzeSensitivity(
      file,
      { shapes: shapesFor(file, params.shapes), levels: params.levels, cacheDir: path.join(os.tmpdir(), 'onnx-lean-cache', 'sensitivity') },
      { signal, onProgress: (p) => progress.step(p) },
    );
    return forTheWire(report);
  });
}
