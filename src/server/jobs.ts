/**
 * Scheduling of jobs that execute models. Policy (documented in docs/protocol.md):
 * - one job per model: a second request for a model that is queued or running is refused (Busy), so the
 *   user cancels or waits rather than stacking identical runs;
 * - one job at a time overall: jobs on other models wait in FIFO order, because concurrent sessions on
 *   a few cores would distort each other's latencies. A queued job can be cancelled while it waits.
 */
import * as path from 'node:path';
import { CancelledError } from '../core/errors';
import { OnnxLeanErrorCodes } from '../shared/protocol';
import { RequestRefused } from './errors';

export interface JobHooks {
  signal: AbortSignal;
  /** Called when the job has to wait for another one to finish. */
  onQueued?(): void;
}

export class JobScheduler {
  private readonly models = new Set<string>();
  private readonly slot = new Slot();

  async run<T>(key: string, hooks: JobHooks, job: () => Promise<T>): Promise<T> {
    if (this.models.has(key)) {
      throw new RequestRefused(OnnxLeanErrorCodes.Busy, `${path.basename(key)} is already being profiled: wait for that run or cancel it`);
    }
    this.models.add(key);
    try {
      const release = await this.slot.acquire(hooks);
      try {
        return await job();
      } finally {
        release();
      }
    } finally {
      this.models.delete(key);
    }
  }
}

/** A single execution slot handed over in FIFO order; waiting ends early when the signal aborts. */
class Slot {
  private busy = false;
  private readonly waiters: (() => void)[] = [];

  async acquire(hooks: JobHooks): Promise<() => void> {
    if (hooks.signal.aborted) throw new CancelledError();
    if (this.busy) {
      hooks.onQueued?.();
      await this.wait(hooks.signal);
    }
    this.busy = true;
    return () => this.release();
  }

  private wait(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.waiters.splice(this.waiters.indexOf(wake), 1);
        reject(new CancelledError());
      };
      this.waiters.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.busy = false;
  }
}
