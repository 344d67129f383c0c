/** What a job running inside a worker gets from the worker: cancellation and progress. */
import type { NativeGuard } from './nativeGuard';
import type { Progress } from './protocol';

export interface JobContext {
  /** Brackets calls into onnxruntime; throws AbortError once the host asked to stop. */
  guard: NativeGuard;
  progress: ProgressReporter;
}

/**
 * Sends progress at every phase change and otherwise at most about once a second, so a job can call
 * `report` after every run without flooding the host.
 */
export class ProgressReporter {
  private phase = '';
  private lastSent = -Infinity;

  constructor(
    private readonly send: (progress: Progress) => void,
    private readonly intervalMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  report(phase: string, done: number, total: number): void {
    const t = this.now();
    if (phase === this.phase && t - this.lastSent < this.intervalMs) return;
    this.phase = phase;
    this.lastSent = t;
    this.send({ phase, done, total });
  }
}
