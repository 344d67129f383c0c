/**
 * Thin helpers over onnxruntime-node for worker jobs. Every call into the binding goes through the
 * NativeGuard (so cancellation never terminates a thread inside native code), and every ORT failure
 * becomes an OrtError with one clean line. Only workers import this module.
 */
import type * as Ort from 'onnxruntime-node';
import type { GraphOptimizationLevel } from '../core/reports';
import type { InputSample } from './inputs';
import type { NativeGuard } from './nativeGuard';
import { OrtError, ortError } from './ortErrors';

export type OrtModule = typeof Ort;
export type OrtSession = Ort.InferenceSession;
export type OrtFeeds = Record<string, Ort.Tensor>;

/** Loads the addon lazily and inside the guard: loading it is itself a native call. */
export function loadOrt(guard: NativeGuard): OrtModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a static import would load the addon outside the guard
  return guard.callSync(() => require('onnxruntime-node') as OrtModule);
}

/** Refuses providers this onnxruntime-node does not know, listing the ones it does. */
export function checkExecutionProvider(ort: OrtModule, guard: NativeGuard, name: string): void {
  const backends = guard.callSync(() => ort.listSupportedBackends());
  if (backends.some((b) => b.name === name)) return;
  const offered = backends.map((b) => (b.bundled ? b.name : `${b.name} (needs onnxruntime-node's separate install)`)).join(', ');
  throw new OrtError(`unknown execution provider '${name}': this onnxruntime-node offers ${offered}`);
}

export interface SessionSettings {
  executionProvider: string;
  graphOptimizationLevel: GraphOptimizationLevel;
  /** 0 = onnxruntime's default. */
  threads: number;
}

export function sessionOptions(settings: SessionSettings, extra: Ort.InferenceSession.SessionOptions = {}): Ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [settings.executionProvider],
    graphOptimizationLevel: settings.graphOptimizationLevel,
    ...(settings.threads > 0 ? { intraOpNumThreads: settings.threads } : {}),
    // Fatal only: errors come back as exceptions (reported once, cleaned up), and ORT's own log lines
    // on stderr would repeat them and clutter the CLI's output.
    logSeverityLevel: 4,
    ...extra,
  };
}

/** Creates a session from a file path or model bytes. */
export async function createSession(ort: OrtModule, guard: NativeGuard, source: string | Uint8Array, options: Ort.InferenceSession.SessionOptions, label: string): Promise<OrtSession> {
  try {
    return await guard.call(() => (typeof source === 'string' ? ort.InferenceSession.create(source, options) : ort.InferenceSession.create(source, options)));
  } catch (err) {
    const first = options.executionProviders?.[0];
    const provider = typeof first === 'string' ? first : (first?.name ?? 'cpu');
    const context = provider === 'cpu' ? `onnxruntime cannot load ${label}` : `onnxruntime cannot load ${label} with execution provider '${provider}'`;
    throw ortError(context, err);
  }
}

export async function runSession(guard: NativeGuard, session: OrtSession, feeds: OrtFeeds): Promise<void> {
  try {
    await guard.call(() => session.run(feeds));
  } catch (err) {
    throw ortError('onnxruntime failed to run the model', err);
  }
}

/** Releases a session; failures (and a pending stop, which ends the worker anyway) are ignored. */
export async function releaseSession(guard: NativeGuard, session: OrtSession): Promise<void> {
  if (guard.stopRequested) return;
  await guard.call(() => session.release()).catch(() => undefined);
}

/** ORT tensors for one sample. */
export function toFeeds(ort: OrtModule, sample: InputSample): OrtFeeds {
  return Object.fromEntries(sample.map((t) => [t.name, new ort.Tensor(t.dtype, t.data, t.shape)]));
}
