/**
 * profileModel: latency and per-node times of a model under onnxruntime-node, measured in a worker
 * thread (run() blocks its thread) so the caller's event loop stays free, with progress and real
 * cancellation. Entry point for the CLI's `profile` command and the language server's onnxLean/profile.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../core/errors';
import type { GraphOptimizationLevel, ProfileOptions, ProfileReport } from '../core/reports';
import type { Progress, ProfileJobParams } from './protocol';
import { runWorkerJob } from './workerHost';
import { resolveWorkerScript } from './workerScript';

export { AbortError } from './nativeGuard';
export type { Progress } from './protocol';

export interface ProfileHooks {
  /** Called at every phase change and about once a second within a phase. */
  onProgress?(progress: Progress): void;
  /** Aborting rejects with an AbortError once the worker is gone (see workerHost.ts). */
  signal?: AbortSignal;
}

export class ProfileOptionError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileOptionError';
  }
}

export const PROFILE_DEFAULTS = {
  runs: 50,
  warmup: 5,
  threads: 0,
  graphOptimizationLevel: 'all' as GraphOptimizationLevel,
  executionProvider: 'cpu',
  seed: 1,
  perNode: true,
} as const;

const LEVELS: readonly GraphOptimizationLevel[] = ['disabled', 'basic', 'extended', 'layout', 'all'];

function integerAtLeast(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new ProfileOptionError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

/** Options with defaults filled in; throws ProfileOptionError on values that make no sense. */
export function normalizeProfileOptions(options: ProfileOptions = {}): ProfileJobParams['options'] {
  const o = { ...PROFILE_DEFAULTS, ...stripUndefined(options) };
  if (!LEVELS.includes(o.graphOptimizationLevel)) {
    throw new ProfileOptionError(`graph optimization level must be one of ${LEVELS.join(', ')}, got '${o.graphOptimizationLevel}'`);
  }
  if (typeof o.executionProvider !== 'string' || o.executionProvider.trim() === '') throw new ProfileOptionError('execution provider must be a name such as cpu');
  return {
    ...o,
    runs: integerAtLeast('runs', o.runs, 1),
    warmup: integerAtLeast('warmup', o.warmup, 0),
    threads: integerAtLeast('threads', o.threads, 0),
    seed: integerAtLeast('seed', o.seed, 0),
    executionProvider: o.executionProvider.trim().toLowerCase(),
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Profiles the model at `modelPath` in a fresh worker thread. Rejects with one-line errors: bad
 * options (ProfileOptionError), bad inputs or --data files (InputError), onnxruntime failures
 * (OrtError), cancellation (AbortError), or a worker that died without answering.
 */
export async function profileModel(modelPath: string, options: ProfileOptions = {}, hooks: ProfileHooks = {}): Promise<ProfileReport> {
  const normalized = normalizeProfileOptions(options);
  const script = resolveWorkerScript('ortWorker');
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-profile-'));
  const params: ProfileJobParams = { path: modelPath, options: normalized, tempDir };
  return runWorkerJob(script, 'profile', params, {
    onProgress: (progress) => hooks.onProgress?.(progress),
    signal: hooks.signal,
    // Only once the worker is gone: ORT writes the profile file when a profiled session is destroyed.
    onWorkerExit: () => fs.rmSync(tempDir, { recursive: true, force: true }),
  });
}
