/**
 * Work-done progress on a token the client created (`workDoneToken` in the request's params): `begin`
 * at once, `report` at most every REPORT_INTERVAL_MS (and whenever the phase changes), `end` when done.
 * Without a token every call is a no-op.
 */
import {
  WorkDoneProgress,
  type Connection,
  type ProgressToken,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from 'vscode-languageserver/node';
import type { Progress as JobProgress } from '../runtime/profiler';

const REPORT_INTERVAL_MS = 250;

export class WorkDoneReporter {
  private lastSent = 0;
  private lastPhase = '';
  private begun = false;

  constructor(
    private readonly connection: Connection,
    private readonly token: ProgressToken | undefined,
  ) {}

  begin(title: string, message?: string): void {
    this.begun = true;
    this.send({ kind: 'begin', title, cancellable: true, message });
  }

  /** Sends a free-text step (e.g. "waiting for another job") immediately. */
  note(message: string): void {
    this.send({ kind: 'report', message });
  }

  step(p: JobProgress): void {
    const now = Date.now();
    const phaseChanged = p.phase !== this.lastPhase;
    if (!phaseChanged && now - this.lastSent < REPORT_INTERVAL_MS && p.done < p.total) return;
    this.lastPhase = p.phase;
    this.lastSent = now;
    const percentage = p.total > 0 ? Math.min(100, Math.round((100 * p.done) / p.total)) : undefined;
    this.send({ kind: 'report', message: describeStep(p), percentage });
  }

  /** Ends the progress if it began (a request refused up front sends nothing). */
  end(message?: string): void {
    if (this.begun) this.send({ kind: 'end', message });
    this.begun = false;
  }

  private send(value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd): void {
    if (this.token === undefined) return;
    this.connection.sendProgress(WorkDoneProgress.type, this.token, value).catch(() => undefined);
  }
}

const PHASE_NAMES: Record<string, string> = {
  load: 'loading the model',
  session: 'creating the session',
  warmup: 'warm-up',
  latency: 'run',
  profile: 'per-node profile',
};

/** "run 12/50", "warm-up 2/5", "creating the session". */
export function describeStep(p: JobProgress): string {
  const name = PHASE_NAMES[p.phase] ?? p.phase;
  return p.total > 1 ? `${name} ${p.done}/${p.total}` : name;
}
