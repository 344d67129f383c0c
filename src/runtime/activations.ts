/**
 * Host side of activation capture: intermediate tensors of a model (or of several models on the same
 * inputs, e.g. a teacher and its compressed student) over generated or --data samples, computed in a
 * worker thread with cancellation and progress (see activationsJob.ts).
 */
import { UserError } from '../core/errors';
import type { ActivationsJobParams, CapturedTensor, ModelSource } from './activationsJob';
import type { Progress } from './protocol';
import { runWorkerJob } from './workerHost';
import { resolveWorkerScript } from './workerScript';

export type { CapturedTensor, ModelSource } from './activationsJob';

/** Default memory budget for captured values: 512 MiB. */
export const ACTIVATION_BUDGET_BYTES = 512 * 2 ** 20;

export interface CaptureOptions {
  /** Folder of .npz/.npy samples (every file is one sample); otherwise samples are generated. */
  dataDir?: string;
  shapes?: Record<string, number[]>;
  /** First seed of generated samples (sample i uses seed + i). */
  seed: number;
  /** Generated samples (ignored with dataDir). */
  samples: number;
  /** Budget for captured values over every model, tensor and sample (default 512 MiB). */
  maxBytes?: number;
  /** Intra-op threads (0: onnxruntime's default). */
  threads?: number;
}

export interface CaptureHooks {
  signal?: AbortSignal;
  onProgress?(progress: Progress): void;
}

/** Tensor name -> its values, one array per sample. */
export type Activations = Map<string, CapturedTensor>;

export interface ModelCapture {
  source: ModelSource;
  tensors: string[];
  /** For messages, e.g. 'teacher'. */
  label?: string;
}

export interface MultiCapture {
  /** One map per model, in the order given. */
  activations: Activations[];
  samples: number;
  /** Where the inputs came from. */
  inputs: string;
}

function jobParams(models: ModelCapture[], options: CaptureOptions): ActivationsJobParams {
  if (!options.dataDir && !(Number.isInteger(options.samples) && options.samples >= 1)) throw new UserError(`samples must be a positive integer (got ${options.samples})`);
  if (!Number.isInteger(options.seed)) throw new UserError(`seed must be an integer (got ${options.seed})`);
  return {
    models: models.map((m) => ({ source: m.source, tensors: [...m.tensors], label: m.label })),
    shapes: options.shapes,
    dataDir: options.dataDir,
    seed: options.seed,
    samples: options.samples,
    maxBytes: options.maxBytes ?? ACTIVATION_BUDGET_BYTES,
    threads: options.threads ?? 0,
  };
}

/** Captures tensors of several models on the same inputs, in one worker. */
export async function captureActivationsOfModels(models: ModelCapture[], options: CaptureOptions, hooks: CaptureHooks = {}): Promise<MultiCapture> {
  const params = jobParams(models, options);
  const result = await runWorkerJob(resolveWorkerScript('ortWorker'), 'activations', params, { onProgress: (p) => hooks.onProgress?.(p), signal: hooks.signal });
  return { activations: result.captures.map((c) => new Map(Object.entries(c))), samples: result.samples, inputs: result.inputs };
}

/** Captures `tensorNames` of one model over every sample. Rejects with AbortError when cancelled. */
export async function captureActivations(source: ModelSource, tensorNames: string[], options: CaptureOptions, hooks: CaptureHooks = {}): Promise<Activations> {
  const result = await captureActivationsOfModels([{ source, tensors: tensorNames }], options, hooks);
  return result.activations[0];
}
