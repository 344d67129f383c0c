/**
 * calibrateModel: activation statistics for static quantization (and bias correction), gathered in a
 * worker thread (see calibrateJob.ts) with progress and real cancellation.
 *
 * Defaults follow onnxruntime's calibrators (python/tools/quantization/calibrate.py, create_calibrator):
 * Percentile 99.999 % over 2048 bins, Entropy with 128 quantized bins, MinMax without moving average.
 */
import { UserError } from '../core/errors';
import type { CalibrationData } from '../passes/pass';
import type { CalibrateJobParams } from './calibrateJob';
import type { CalibrationMethod } from './calibrateStats';
import type { Progress } from './protocol';
import { runWorkerJob } from './workerHost';
import { resolveWorkerScript } from './workerScript';

export type { CalibrationMethod } from './calibrateStats';

export interface CalibrateOptions {
  method: CalibrationMethod;
  /** Tensors to gather statistics for; default: every tensor the main graph computes, and its inputs. */
  tensors?: string[];
  /** Tensor -> axis whose per-channel means to collect (bias correction); -1 = last axis. */
  channelMeans?: Record<string, number>;
  /** Folder of .npz/.npy samples; without it, inputs are generated from `seed`. */
  dataDir?: string;
  shapes?: Record<string, number[]>;
  seed?: number;
  /** Default: 16 generated samples, or every file of dataDir. */
  samples?: number;
  /** Percentile method: share of |x| kept, in percent (default 99.999). */
  percentile?: number;
  /** Histogram bins for Percentile and Entropy (default 2048). */
  bins?: number;
  /** Entropy method: quantized levels the KL search compares against (default 128). */
  quantizedBins?: number;
  /** MinMax method: averaging constant of a moving average of per-run extremes (ORT's default 0.01 when enabled). */
  movingAverage?: number;
  /** Bytes of extra outputs one run may return before the tensors are split into groups (default 512 MB). */
  memoryBudgetBytes?: number;
  /** Intra-op threads; 0 lets onnxruntime choose. */
  threads?: number;
}

export interface CalibrateHooks {
  onProgress?(progress: Progress): void;
  signal?: AbortSignal;
}

export class CalibrationOptionError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'CalibrationOptionError';
  }
}

export const CALIBRATION_DEFAULTS = {
  seed: 1,
  percentile: 99.999,
  bins: 2048,
  quantizedBins: 128,
  memoryBudgetBytes: 512 * 1024 * 1024,
  threads: 0,
} as const;

const METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy'];

function check(condition: boolean, message: string): void {
  if (!condition) throw new CalibrationOptionError(message);
}

function isInteger(value: number | undefined, min: number): boolean {
  return value === undefined || (Number.isSafeInteger(value) && value >= min);
}

function validate(o: CalibrateOptions): void {
  check(METHODS.includes(o.method), `calibration method must be one of ${METHODS.join(', ')}, got '${String(o.method)}'`);
  check(o.percentile === undefined || (o.percentile > 0 && o.percentile <= 100), `percentile must be in (0, 100], got ${o.percentile}`);
  check(isInteger(o.samples, 1), `samples must be an integer >= 1, got ${o.samples}`);
  check(isInteger(o.seed, 0), `seed must be an integer >= 0, got ${o.seed}`);
  check(isInteger(o.bins, 16), `bins must be an integer >= 16, got ${o.bins}`);
  check(isInteger(o.quantizedBins, 2), `quantized bins must be an integer >= 2, got ${o.quantizedBins}`);
  check(o.movingAverage === undefined || (o.movingAverage > 0 && o.movingAverage <= 1), `moving average constant must be in (0, 1], got ${o.movingAverage}`);
  check(o.memoryBudgetBytes === undefined || o.memoryBudgetBytes > 0, `memory budget must be positive, got ${o.memoryBudgetBytes}`);
  check(isInteger(o.threads, 0), `threads must be an integer >= 0, got ${o.threads}`);
  const bins = o.bins ?? CALIBRATION_DEFAULTS.bins;
  check((o.quantizedBins ?? CALIBRATION_DEFAULTS.quantizedBins) <= bins, `quantized bins must not exceed the histogram's ${bins} bins`);
}

/** Worker parameters with defaults filled in; throws CalibrationOptionError on nonsense. */
export function calibrationParams(modelPath: string, options: CalibrateOptions): CalibrateJobParams {
  validate(options);
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as CalibrateOptions;
  return { ...CALIBRATION_DEFAULTS, ...defined, channelMeans: options.channelMeans ?? {}, path: modelPath };
}

/**
 * Runs the calibration samples through the model at `modelPath` in a fresh worker and returns the
 * per-tensor statistics and the ranges the method chose. Rejects with one-line errors: bad options
 * (CalibrationOptionError), bad inputs or data files (InputError), onnxruntime failures (OrtError),
 * cancellation (AbortError).
 */
export async function calibrateModel(modelPath: string, options: CalibrateOptions, hooks: CalibrateHooks = {}): Promise<CalibrationData> {
  const params = calibrationParams(modelPath, options);
  return runWorkerJob(resolveWorkerScript('ortWorker'), 'calibrate', params, { onProgress: (p) => hooks.onProgress?.(p), signal: hooks.signal });
}
