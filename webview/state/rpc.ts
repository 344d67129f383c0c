/**
 * The webview's side of the request/response protocol: numbered requests, one pending entry each,
 * settled by the matching `response`, or rejected when the request times out (`TIMEOUT_MS` plus a
 * grace, restarted by progress) or is cancelled. DOM-free: `post` and the timer are injected.
 */
import { TIMEOUT_MS, WEBVIEW_GRACE_MS, type ErrorKind, type ParamsOf, type ProgressMessage, type RequestKind, type ResponseMessage, type ResultOf, type ToExtension } from '../../src/shared/webviewProtocol';

export class RequestFailed extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'RequestFailed';
  }
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

interface Pending {
  kind: RequestKind;
  resolve(result: unknown): void;
  reject(err: RequestFailed): void;
  onProgress?: (p: ProgressMessage) => void;
  timer: unknown;
}

export interface Started<K extends RequestKind> {
  requestId: number;
  result: Promise<ResultOf[K]>;
}

export class RequestClient {
  private readonly pending = new Map<number, Pending>();
  private nextId: number;

  /** `firstId` should differ from any id a previous webview of the same panel used (e.g. Date.now() × 1000). */
  constructor(
    private readonly post: (m: ToExtension) => void,
    private readonly timers: Timers,
    firstId: number,
  ) {
    this.nextId = firstId;
  }

  request<K extends RequestKind>(kind: K, params: ParamsOf<K>, onProgress?: (p: ProgressMessage) => void): Started<K> {
    const requestId = this.nextId++;
    const result = this.track(kind, requestId, onProgress);
    this.post({ ...params, type: kind, requestId } as ToExtension);
    return { requestId, result };
  }

  /** Follows a request an earlier webview of this panel started (announced in `init`). */
  adopt<K extends RequestKind>(kind: K, requestId: number, onProgress?: (p: ProgressMessage) => void): Promise<ResultOf[K]> {
    this.nextId = Math.max(this.nextId, requestId + 1);
    return this.track(kind, requestId, onProgress);
  }

  private track<K extends RequestKind>(kind: K, requestId: number, onProgress?: (p: ProgressMessage) => void): Promise<ResultOf[K]> {
    return new Promise<ResultOf[K]>((resolve, reject) => {
      const entry: Pending = { kind, resolve, reject, onProgress, timer: undefined };
      this.pending.set(requestId, entry);
      this.arm(requestId, entry);
    });
  }

  private arm(requestId: number, entry: Pending): void {
    this.timers.clear(entry.timer);
    entry.timer = this.timers.set(() => {
      this.settle(requestId, (p) => p.reject(new RequestFailed('timeout', 'no answer in time')));
      this.post({ type: 'cancel', requestId });
    }, TIMEOUT_MS[entry.kind] + WEBVIEW_GRACE_MS);
  }

  private settle(requestId: number, how: (p: Pending) => void): boolean {
    const entry = this.pending.get(requestId);
    if (!entry) return false;
    this.pending.delete(requestId);
    this.timers.clear(entry.timer);
    how(entry);
    return true;
  }

  /** Settles the matching request; false for an unknown id or a response of another kind. */
  handleResponse(m: ResponseMessage): boolean {
    if (this.pending.get(m.requestId)?.kind !== m.request) return false;
    return this.settle(m.requestId, (p) => (m.ok ? p.resolve(m.result) : p.reject(new RequestFailed(m.error.kind, m.error.message))));
  }

  handleProgress(m: ProgressMessage): void {
    const entry = this.pending.get(m.requestId);
    if (!entry) return;
    this.arm(m.requestId, entry);
    entry.onProgress?.(m);
  }

  /** Asks the extension to cancel; the request then settles with its `cancelled` answer. */
  cancel(requestId: number): void {
    if (this.pending.has(requestId)) this.post({ type: 'cancel', requestId });
  }

  isPending(requestId: number): boolean {
    return this.pending.has(requestId);
  }
}
