/**
 * Host side of model comparison and of ORT's own graph optimization, both run in a worker thread.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CompareOptions, CompareReport, GraphOptimizationLevel } from '../core/reports';
import { loadModel } from '../onnx/io';
import { decodeBuffer } from '../onnx/io';
import type { ModelProto } from '../onnx/types';
import type { ProfileHooks } from './profiler';
import { runWorkerJob } from './workerHost';
import { resolveWorkerScript } from './workerScript';

export const COMPARE_DEFAULTS = { seed: 1, samples: 8, runs: 20, threads: 0 } as const;

/** Bytes a model takes on disk: its file plus the external data it references. */
export function modelDiskBytes(file: string): number {
  const loaded = loadModel(file);
  return loaded.fileBytes + loaded.externalBytes;
}

/** Runs both models on the same inputs: per-output fidelity, interleaved latency, and size. */
export async function compareModels(reference: string, candidate: string, options: CompareOptions = {}, hooks: ProfileHooks = {}): Promise<CompareReport> {
  const params = { reference, candidate, shapes: options.shapes, dataDir: options.dataDir, ...COMPARE_DEFAULTS, ...definedOnly(options) };
  const result = await runWorkerJob(resolveWorkerScript('ortWorker'), 'compare', params, { onProgress: (p) => hooks.onProgress?.(p), signal: hooks.signal });
  const [a, b] = [modelDiskBytes(reference), modelDiskBytes(candidate)];
  return { ...result, sizeBytes: { reference: a, candidate: b, ratio: b / a } };
}

function definedOnly(options: CompareOptions): Partial<typeof COMPARE_DEFAULTS> {
  const { seed, samples, runs, threads } = options;
  return Object.fromEntries(Object.entries({ seed, samples, runs, threads }).filter(([, v]) => v !== undefined));
}

/** The graph onnxruntime runs for `file` at `level` (written by ORT, decoded here). */
export async function ortOptimizedModel(file: string, level: GraphOptimizationLevel, hooks: ProfileHooks = {}): Promise<ModelProto> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-ortopt-'));
  try {
    const outPath = path.join(dir, 'optimized.onnx');
    await runWorkerJob(resolveWorkerScript('ortWorker'), 'optimizedGraph', { path: file, level, outPath }, { onProgress: (p) => hooks.onProgress?.(p), signal: hooks.signal });
    return decodeBuffer(fs.readFileSync(outPath), `onnxruntime's optimized ${path.basename(file)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
