/**
 * Safe cancellation of a worker that calls into onnxruntime.
 *
 * Worker.terminate() while the worker is inside onnxruntime-node's binding (run(), session creation,
 * even loading the addon) aborts the WHOLE process: when the native call returns it calls back into a
 * JS engine that is shutting down, node-addon-api throws a C++ Napi::Error nobody catches, and
 * std::terminate follows ("terminate called after throwing an instance of 'Napi::Error'"; reproduced
 * with onnxruntime-node 1.30.0 on Node 20 in about half of the attempts). Terminating a worker that is
 * running plain JavaScript is safe, live sessions included.
 *
 * So host and worker share one Int32 state word and move it with compare-and-swap:
 *   JS -> NATIVE (worker, before each binding call; refused once a stop was requested)
 *   NATIVE -> JS (worker, after the call)
 *   JS -> STOP (host: the worker is in JS and can never enter native again: terminate at once)
 *   NATIVE -> STOP_IN_NATIVE (host: the worker stops itself when the native call returns)
 */

export const GuardState = {
  JS: 0,
  NATIVE: 1,
  STOP: 2,
  STOP_IN_NATIVE: 3,
} as const;

export function createGuardState(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** The error a cancelled job ends with; `name` is 'AbortError' like DOM and Node cancellations. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'the operation was cancelled') {
    super(message);
    this.name = 'AbortError';
  }
}

/** Host side: asks the worker to stop. True when the worker may be terminated right away. */
export function requestStop(state: Int32Array): boolean {
  for (;;) {
    const current: number = Atomics.load(state, 0);
    if (current === GuardState.STOP || current === GuardState.STOP_IN_NATIVE) return current === GuardState.STOP;
    const next = current === GuardState.JS ? GuardState.STOP : GuardState.STOP_IN_NATIVE;
    if (Atomics.compareExchange(state, 0, current, next) === current) return next === GuardState.STOP;
  }
}

/** Worker side: brackets every call into the onnxruntime binding. */
export class NativeGuard {
  constructor(private readonly state: Int32Array) {}

  get stopRequested(): boolean {
    const s = Atomics.load(this.state, 0);
    return s === GuardState.STOP || s === GuardState.STOP_IN_NATIVE;
  }

  /** Runs `fn` marked as native; throws AbortError instead when a stop was requested before or during it. */
  async call<T>(fn: () => T | Promise<T>): Promise<T> {
    this.enter();
    let result: T;
    try {
      result = await fn();
    } finally {
      this.leave();
    }
    return result;
  }

  /** Synchronous variant, for calls such as loading the addon. */
  callSync<T>(fn: () => T): T {
    this.enter();
    try {
      return fn();
    } finally {
      this.leave();
    }
  }

  /** Throws AbortError when a stop was requested: a checkpoint between pieces of JS work. */
  checkpoint(): void {
    if (this.stopRequested) throw new AbortError();
  }

  private enter(): void {
    if (Atomics.compareExchange(this.state, 0, GuardState.JS, GuardState.NATIVE) !== GuardState.JS) throw new AbortError();
  }

  private leave(): void {
    if (Atomics.compareExchange(this.state, 0, GuardState.NATIVE, GuardState.JS) === GuardState.NATIVE) return;
    // The host asked to stop while we were inside: never enter native again (the state stays STOP).
    Atomics.store(this.state, 0, GuardState.STOP);
    throw new AbortError();
  }
}
