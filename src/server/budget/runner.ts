/**
 * Budget measurements in the language server. One task per *identity* (model, reference, settings,
 * the parts the limits need, trust): documents that want the same measurement share the task. A task
 * is cancelled (its worker terminated, or it leaves the queue) when no document wants its identity any
 * more (the entry changed or the document closed) or when a file it measures changes on disk. Work that
 * executes a model goes through the server's JobScheduler, one job at a time with profiling requests.
 */
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { MeasurementCache } from '../../budget/cache';
import { checkEntry } from '../../budget/measure';
import type { BudgetEntry, EntryResult } from '../../budget/types';
import type { Progress } from '../../runtime/profiler';
import type { JobScheduler } from '../jobs';
import { describeStep } from '../progress';

interface Task {
  identity: string;
  entry: BudgetEntry;
  abort: AbortController;
  promise: Promise<EntryResult>;
  users: Set<string>;
}

export interface RunnerEvents {
  /** Something changed that the status item shows (progress text, counts). */
  onStatus(): void;
  log(text: string): void;
}

const STATUS_INTERVAL_MS = 250;

/** Everything a measurement depends on besides file contents (which the cache key adds). */
export function identityOf(entry: BudgetEntry, trusted: boolean): string {
  const needs = Object.keys(entry.limits).sort();
  const text = JSON.stringify({ model: entry.model, reference: entry.reference ?? null, settings: entry.settings, needs, trusted });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export class MeasurementRunner {
  private readonly tasks = new Map<string, Task>();
  private message = '';
  private lastStatus = 0;
  measured = 0;
  cacheHits = 0;

  constructor(
    private readonly jobs: JobScheduler,
    private readonly cache: MeasurementCache,
    private readonly events: RunnerEvents,
  ) {}

  get pending(): number {
    return this.tasks.size;
  }

  get statusMessage(): string {
    return this.tasks.size === 0 ? '' : this.message || `measuring (${this.tasks.size} queued)`;
  }

  /** The entry's result, from a running task with the same identity or a new one. */
  run(user: string, entry: BudgetEntry, trusted: boolean, refresh = false): Promise<EntryResult> {
    const identity = identityOf(entry, trusted);
    const running = this.tasks.get(identity);
    if (running && !refresh) {
      running.users.add(user);
      return running.promise;
    }
    if (running) this.cancel(running);
    const abort = new AbortController();
    const task: Task = { identity, entry, abort, users: new Set([user]), promise: Promise.resolve(undefined as unknown as EntryResult) };
    task.promise = this.execute(task, trusted, refresh);
    this.tasks.set(identity, task);
    this.events.onStatus();
    return task.promise;
  }

  private async execute(task: Task, trusted: boolean, refresh: boolean): Promise<EntryResult> {
    const name = path.basename(task.entry.model);
    try {
      const result = await checkEntry(task.entry, {
        signal: task.abort.signal,
        cache: this.cache,
        refresh,
        noExecution: !trusted,
        schedule: (label, job) =>
          this.jobs.run(`budget:${task.identity}:${label}`, { signal: task.abort.signal, onQueued: () => this.progress(`${label}: waiting for another job`) }, () => {
            this.progress(`measuring ${label}`);
            return job();
          }),
        onProgress: (p: Progress) => this.progress(`measuring ${name}: ${describeStep(p)}`),
        onMeasured: () => this.measured++,
      });
      this.cacheHits += result.measurement?.cached.length ?? 0;
      return result;
    } finally {
      if (this.tasks.get(task.identity) === task) this.tasks.delete(task.identity);
      if (this.message.includes(name)) this.message = '';
    }
  }

  private progress(message: string): void {
    this.message = message;
    const now = Date.now();
    if (now - this.lastStatus < STATUS_INTERVAL_MS) return;
    this.lastStatus = now;
    this.events.onStatus();
  }

  /** Cancels the tasks only `user` wanted whose identity is not in `keep`. */
  release(user: string, keep: ReadonlySet<string> = new Set()): void {
    for (const task of [...this.tasks.values()]) {
      if (!task.users.has(user) || keep.has(task.identity)) continue;
      task.users.delete(user);
      if (task.users.size === 0) this.cancel(task);
    }
  }

  /** Cancels tasks measuring `file` (a model, reference or data file that changed on disk). */
  cancelFile(file: string): void {
    for (const task of [...this.tasks.values()]) {
      const e = task.entry;
      const inData = e.settings.dataDir !== undefined && file.startsWith(e.settings.dataDir + path.sep);
      if (e.model === file || e.reference === file || inData || file.startsWith(`${e.model}.`)) this.cancel(task);
    }
  }

  private cancel(task: Task): void {
    this.tasks.delete(task.identity);
    task.abort.abort();
    this.events.log(`budget: cancelled the stale measurement of ${path.basename(task.entry.model)}`);
    this.events.onStatus();
  }

  dispose(): void {
    for (const task of [...this.tasks.values()]) this.cancel(task);
  }
}
