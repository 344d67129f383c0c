/**
 * Messages between the host (CLI, language server) and runtime workers: one discriminated union per
 * direction. Every RunRequest is answered by exactly one ResultReply or ErrorReply with the same id;
 * ProgressNotes may come before it. A worker that exits without answering is a crash (the host reports
 * it as such).
 */
import type { CompareReport, GraphOptimizationLevel, ProfileOptions, ProfileReport } from '../core/reports';

/** Progress of a long job, sent about once a second and at every phase change. */
export interface Progress {
  /** e.g. 'load', 'session', 'warmup', 'latency', 'profile'. */
  phase: string;
  done: number;
  total: number;
}

/** Parameters of the 'profile' job (options already validated and defaulted by the host). */
export interface ProfileJobParams {
  path: string;
  options: Required<Omit<ProfileOptions, 'dataDir' | 'shapes'>> & Pick<ProfileOptions, 'dataDir' | 'shapes'>;
  /** Folder the host created for ORT's profile file; the host deletes it when the worker is gone. */
  tempDir: string;
}

/** Parameters of the 'compare' job (defaults filled by the host). */
export interface CompareJobParams {
  reference: string;
  candidate: string;
  shapes?: Record<string, number[]>;
  dataDir?: string;
  seed: number;
  samples: number;
  runs: number;
  threads: number;
}

/** Parameters of the 'optimizedGraph' job: ORT writes the graph it runs at `level` to `outPath`. */
export interface OptimizedGraphJobParams {
  path: string;
  level: GraphOptimizationLevel;
  outPath: string;
}

/** Every job a worker can run: its parameters and its result. Add a job here and in the worker's table. */
export interface WorkerJobs {
  profile: { params: ProfileJobParams; result: ProfileReport };
  compare: { params: CompareJobParams; result: Omit<CompareReport, 'sizeBytes'> };
  optimizedGraph: { params: OptimizedGraphJobParams; result: { sessionCreateMs: number } };
  calibrate: { params: import('./calibrateJob').CalibrateJobParams; result: import('../passes/pass').CalibrationData };
  activations: { params: import('./activationsJob').ActivationsJobParams; result: import('./activationsJob').ActivationsJobResult };
  sensitivity: { params: import('../analysis/sensitivity/types').SensitivityJobParams; result: import('../analysis/sensitivity/types').SensitivityJobResult };
}

export type JobName = keyof WorkerJobs;

// ---------------------------------------------------------------------------------------------------
// Host -> worker

/** Start a job. */
export interface RunRequest<K extends JobName = JobName> {
  type: 'run';
  id: number;
  job: K;
  params: WorkerJobs[K]['params'];
}

export type HostToWorker = { [K in JobName]: RunRequest<K> }[JobName];

// ---------------------------------------------------------------------------------------------------
// Worker -> host

/** A job's progress. */
export interface ProgressNote {
  type: 'progress';
  id: number;
  progress: Progress;
}

/** A job's successful end. */
export interface ResultReply<K extends JobName = JobName> {
  type: 'result';
  id: number;
  job: K;
  result: WorkerJobs[K]['result'];
}

/** A job's failure: one line for people, the error's class name (e.g. 'InputError', 'AbortError'). */
export interface ErrorReply {
  type: 'error';
  id: number;
  error: {
    name: string;
    message: string;
    /** The user can act on it (bad file, option, model); otherwise it is a bug, with its stack. */
    userFacing: boolean;
    stack?: string;
  };
}

export type WorkerToHost = ProgressNote | { [K in JobName]: ResultReply<K> }[JobName] | ErrorReply;

/** What the host hands a worker at start (Worker `workerData`). */
export interface WorkerInit {
  /** Shared state word of the native-call guard (see nativeGuard.ts). */
  guardState: Int32Array;
}

export function isWorkerToHost(value: unknown): value is WorkerToHost {
  const v = value as { type?: unknown; id?: unknown } | null;
  return typeof v === 'object' && v !== null && typeof v.id === 'number' && (v.type === 'progress' || v.type === 'result' || v.type === 'error');
}
