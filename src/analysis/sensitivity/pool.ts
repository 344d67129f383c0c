/**
 * A pool of 'sensitivity' worker jobs over one variant list. Each worker is an ordinary one-job
 * worker (workerHost.runWorkerJob); they share two counters through a SharedArrayBuffer in their
 * params, claim work items with Atomics.add (so a worker slowed down by other load simply takes
 * fewer), and count finished variants for progress.
 *
 * The first failure cancels the others; cancellation by the caller stops every worker (at once when
 * it runs JavaScript, after its current onnxruntime call otherwise). Either way the promise settles
 * only once every worker has exited (or its stop grace has passed), so no worker is left running.
 */
import { AbortError } from '../../runtime/nativeGuard';
import type { Progress } from '../../runtime/protocol';
import { runWorkerJob } from '../../runtime/workerHost';
import type { WorkerScript } from '../../runtime/workerScript';
import type { SensitivityJobParams, SensitivityJobResult } from './types';

export interface PoolHooks {
  onProgress?(progress: Progress): void;
  signal?: AbortSignal;
  /** Called once per worker when its thread has exited. */
  onWorkerExit?(): void;
}

export type PoolParams = Omit<SensitivityJobParams, 'counters' | 'worker'>;

function forwarder(hooks: PoolHooks, counters: Int32Array, total: number, worker: number): (p: Progress) => void {
  return (p) => {
    // Setup phases are the same in every worker: show worker 0's. Variants count across the pool.
    if (p.phase === 'variants') hooks.onProgress?.({ phase: 'variants', done: Atomics.load(counters, 1), total });
    else if (worker === 0) hooks.onProgress?.(p);
  };
}

/** Runs `workers` jobs to completion; rejects with the first real failure, or AbortError when cancelled. */
export async function runPool(script: WorkerScript, params: PoolParams, workers: number, hooks: PoolHooks = {}): Promise<SensitivityJobResult[]> {
  if (hooks.signal?.aborted) throw new AbortError('sensitivity analysis cancelled');
  const counters = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  let failure: Error | undefined;
  const jobs = Array.from({ length: workers }, (_, worker) =>
    runWorkerJob(script, 'sensitivity', { ...params, counters, worker }, {
      signal: stop.signal,
      onProgress: forwarder(hooks, counters, params.variants.length, worker),
      onWorkerExit: () => hooks.onWorkerExit?.(),
    }).catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      if (!failure && !(error instanceof AbortError)) failure = error;
      stop.abort();
      throw error;
    }),
  );
  const settled = await Promise.allSettled(jobs);
  hooks.signal?.removeEventListener('abort', onAbort);
  if (hooks.signal?.aborted) throw new AbortError('sensitivity analysis cancelled');
  if (failure) throw failure;
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<SensitivityJobResult>).value);
}
