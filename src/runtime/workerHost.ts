/**
 * Host side of a runtime worker: start it, send one job, forward its progress, and settle with its
 * reply, its crash, or cancellation. One worker per job for now (a pool can reuse the same protocol).
 *
 * The promise settles once the worker thread is gone, so anything the caller cleans up afterwards
 * (temp files the worker wrote) is no longer in use. On cancellation the worker is terminated at once
 * when it is running JavaScript; when it is inside onnxruntime (where terminating would abort the
 * process, see nativeGuard.ts) it stops itself as soon as that call returns. If that takes longer than
 * `stopGraceMs`, the promise rejects anyway and the worker finishes in the background.
 */
import { Worker } from 'node:worker_threads';
import { UserError } from '../core/errors';
import { AbortError, createGuardState, requestStop } from './nativeGuard';
import { isWorkerToHost, type ErrorReply, type JobName, type Progress, type RunRequest, type WorkerInit, type WorkerJobs, type WorkerToHost } from './protocol';
import type { WorkerScript } from './workerScript';

export interface JobHooks {
  onProgress?(progress: Progress): void;
  signal?: AbortSignal;
  /** Called once the worker thread has exited, whatever the outcome. */
  onWorkerExit?(): void;
  /** How long a cancelled job may take to leave a native call before the promise rejects anyway. */
  stopGraceMs?: number;
}

/** An unexpected error inside the worker (a bug); `stack` is the worker's. */
export class WorkerJobError extends Error {
  constructor(name: string, message: string, stack?: string) {
    super(message);
    this.name = name;
    if (stack) this.stack = stack;
  }
}

/** The host-side error for a worker's ErrorReply: user-facing ones stay UserErrors, keeping their name. */
function errorFromReply(error: ErrorReply['error']): Error {
  if (error.name === 'AbortError') return new AbortError(error.message);
  if (!error.userFacing) return new WorkerJobError(error.name, error.message, error.stack);
  const userError = new UserError(error.message);
  userError.name = error.name;
  return userError;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

const JOB_ID = 1;

class WorkerRun<K extends JobName> {
  private readonly guardState = createGuardState();
  private readonly worker: Worker;
  private outcome?: Outcome<WorkerJobs[K]['result']>;
  private settled = false;
  private graceTimer?: NodeJS.Timeout;
  private readonly onAbort = () => this.cancel();

  constructor(
    script: WorkerScript,
    private readonly job: K,
    params: WorkerJobs[K]['params'],
    private readonly hooks: JobHooks,
    private readonly resolve: (value: WorkerJobs[K]['result']) => void,
    private readonly reject: (error: Error) => void,
  ) {
    const workerData: WorkerInit = { guardState: this.guardState };
    this.worker = new Worker(script.filename, { execArgv: script.execArgv, workerData });
    this.worker.on('message', (message: unknown) => this.onMessage(message));
    this.worker.on('error', (err) => this.record({ ok: false, error: new Error(`the ${this.job} worker failed: ${err.message}`) }));
    this.worker.on('messageerror', (err) => this.record({ ok: false, error: new Error(`the ${this.job} worker sent an unreadable message: ${err.message}`) }));
    this.worker.on('exit', (code) => this.onExit(code));
    hooks.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.worker.postMessage({ type: 'run', id: JOB_ID, job, params } satisfies RunRequest<K>);
  }

  private onMessage(message: unknown): void {
    if (!isWorkerToHost(message) || message.id !== JOB_ID) return;
    if (message.type === 'progress') this.forwardProgress(message.progress);
    else this.record(this.outcomeOf(message));
  }

  private forwardProgress(progress: Progress): void {
    if (this.outcome) return;
    try {
      this.hooks.onProgress?.(progress);
    } catch {
      // A failing progress listener must not break the job it listens to.
    }
  }

  private outcomeOf(reply: Exclude<WorkerToHost, { type: 'progress' }>): Outcome<WorkerJobs[K]['result']> {
    if (reply.type === 'result') return { ok: true, value: reply.result };
    return { ok: false, error: errorFromReply(reply.error) };
  }

  /** Keeps the first outcome and stops the worker; the promise settles when it has exited. */
  private record(outcome: Outcome<WorkerJobs[K]['result']>): void {
    this.outcome ??= outcome;
    this.stopWorker();
  }

  private cancel(): void {
    if (this.outcome?.ok === false && this.outcome.error instanceof AbortError) return;
    // A reply that raced with the abort is dropped: the caller asked for cancellation.
    this.outcome = { ok: false, error: new AbortError(`${this.job} cancelled`) };
    this.stopWorker();
    this.graceTimer = setTimeout(() => this.settle(), this.hooks.stopGraceMs ?? 10_000);
    this.graceTimer.unref();
  }

  /** Terminates now if the worker runs JavaScript; otherwise it stops itself after its native call. */
  private stopWorker(): void {
    if (requestStop(this.guardState)) void this.worker.terminate();
  }

  private onExit(code: number): void {
    if (!this.outcome) this.outcome = { ok: false, error: new Error(`the ${this.job} worker exited unexpectedly (exit code ${code}) without answering`) };
    this.hooks.signal?.removeEventListener('abort', this.onAbort);
    clearTimeout(this.graceTimer);
    try {
      this.hooks.onWorkerExit?.();
    } catch {
      // Cleanup is best effort (a temp folder): it must not turn a result into an uncaught exception.
    }
    this.settle();
  }

  private settle(): void {
    if (this.settled || !this.outcome) return;
    this.settled = true;
    if (this.outcome.ok) this.resolve(this.outcome.value);
    else this.reject(this.outcome.error);
  }
}

/** Runs one job in a fresh worker. Rejects with AbortError when `hooks.signal` aborts. */
export function runWorkerJob<K extends JobName>(script: WorkerScript, job: K, params: WorkerJobs[K]['params'], hooks: JobHooks = {}): Promise<WorkerJobs[K]['result']> {
  return new Promise((resolve, reject) => {
    if (hooks.signal?.aborted) {
      hooks.onWorkerExit?.();
      reject(new AbortError(`${job} cancelled`));
      return;
    }
    new WorkerRun(script, job, params, hooks, resolve, reject);
  });
}
