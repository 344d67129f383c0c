/**
 * Runs the webview's requests: one handler per request kind, each with a cancellation token that fires
 * on the webview's `cancel`, on the request's timeout (restarted by every progress report) or when the
 * panel closes. Every request is answered exactly once: its result, or an error, and promptly on
 * cancel or timeout even when the handler itself is slow to stop.
 */
import * as vscode from 'vscode';
import {
  TIMEOUT_MS,
  type ParamsOf,
  type RequestKind,
  type ResponseMessage,
  type ResultOf,
  type RunningJob,
  type ToWebview,
  type WebviewRequest,
} from '../../shared/webviewProtocol';
import { toWebviewError } from './errors';

export interface JobControl {
  token: vscode.CancellationToken;
  /** Forwards a progress step to the webview and restarts the request's timeout. */
  progress(message: string, percentage?: number): void;
}

export type Handler<K extends RequestKind> = (params: ParamsOf<K>, job: JobControl) => Promise<ResultOf[K]>;
export type Handlers = { [K in RequestKind]: Handler<K> };

/** One request in flight. */
class Job implements vscode.Disposable {
  readonly cts = new vscode.CancellationTokenSource();
  timedOut = false;
  message?: string;
  percentage?: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly request: WebviewRequest,
    private readonly timeoutMs: number,
  ) {
    this.restartTimer();
  }

  restartTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.cts.cancel();
    }, this.timeoutMs);
  }

  /** Settles (rejects) as soon as the job is cancelled, whatever the handler does. */
  cancelled(): Promise<never> {
    return new Promise<never>((_, reject) => {
      if (this.cts.token.isCancellationRequested) reject(new vscode.CancellationError());
      this.cts.token.onCancellationRequested(() => reject(new vscode.CancellationError()));
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.cts.dispose();
  }
}

function paramsOf(request: WebviewRequest): unknown {
  const { type: _type, requestId: _id, ...params } = request;
  return params;
}

export class RequestDispatcher implements vscode.Disposable {
  private readonly jobs = new Map<number, Job>();

  constructor(
    private readonly handlers: Handlers,
    private readonly post: (message: ToWebview) => void,
  ) {}

  async dispatch(request: WebviewRequest): Promise<void> {
    if (this.jobs.has(request.requestId)) return; // a repeated id: the first one will answer
    const job = new Job(request, TIMEOUT_MS[request.type]);
    this.jobs.set(request.requestId, job);
    const control: JobControl = { token: job.cts.token, progress: (message, percentage) => this.progress(job, message, percentage) };
    const handler = this.handlers[request.type] as (params: unknown, job: JobControl) => Promise<unknown>;
    try {
      const result = await Promise.race([handler(paramsOf(request), control), job.cancelled()]);
      this.post({ type: 'response', requestId: request.requestId, request: request.type, ok: true, result } as ResponseMessage);
    } catch (err) {
      this.post({ type: 'response', requestId: request.requestId, request: request.type, ok: false, error: toWebviewError(err, job.timedOut) });
    } finally {
      this.jobs.delete(request.requestId);
      job.dispose();
    }
  }

  cancel(requestId: number): void {
    this.jobs.get(requestId)?.cts.cancel();
  }

  /** Long jobs still running, so a webview shown again can follow and cancel them. */
  runningJobs(): RunningJob[] {
    const out: RunningJob[] = [];
    for (const job of this.jobs.values()) {
      const kind = job.request.type;
      if (kind === 'profile' || kind === 'analyzeSensitivity') out.push({ requestId: job.request.requestId, request: kind, message: job.message, percentage: job.percentage });
    }
    return out;
  }

  private progress(job: Job, message: string, percentage?: number): void {
    job.message = message;
    job.percentage = percentage;
    job.restartTimer();
    this.post({ type: 'progress', requestId: job.request.requestId, message, percentage });
  }

  dispose(): void {
    for (const job of this.jobs.values()) job.cts.cancel();
  }
}
