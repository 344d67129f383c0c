/** The custom requests: inspect (reads the model) and profile (executes it in a worker thread). */
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { CancellationToken, Connection } from 'vscode-languageserver/node';
import { inspectModel } from '../core/inspect';
import type { InspectReport, ProfileReport } from '../core/reports';
import { loadModel } from '../onnx/io';
import { profileModel } from '../runtime/profiler';
import { OnnxLeanErrorCodes, type InspectParams, type ProfileParams } from '../shared/protocol';
import { RequestRefused, cancelledReply, toResponseError } from './errors';
import type { JobScheduler } from './jobs';
import { modelKey, resolveModelPath } from './modelPath';
import { WorkDoneReporter } from './progress';

export interface ServerContext {
  connection: Connection;
  jobs: JobScheduler;
  isTrusted(): boolean;
}

export function handleInspect(ctx: ServerContext, params: InspectParams, token: CancellationToken): InspectReport {
  try {
    if (token.isCancellationRequested) throw cancelledReply('inspect');
    const file = resolveModelPath(params);
    return inspectModel(loadModel(file), { shapes: params.shapes });
  } catch (err) {
    throw toResponseError(err, 'inspect', (text) => ctx.connection.console.error(text));
  }
}

export async function handleProfile(ctx: ServerContext, params: ProfileParams, token: CancellationToken): Promise<ProfileReport> {
  const progress = new WorkDoneReporter(ctx.connection, params.workDoneToken);
  const abort = new AbortController();
  const onCancel = token.onCancellationRequested(() => abort.abort());
  try {
    const file = checkProfileRequest(ctx, params);
    progress.begin(`Profiling ${path.basename(file)}`);
    const job = ctx.jobs.run(modelKey(file), { signal: abort.signal, onQueued: () => progress.note('waiting for another profiling job to finish') }, () =>
      profileModel(file, params.options ?? {}, { signal: abort.signal, onProgress: (p) => progress.step(p) }),
    );
    return await settle(job, abort.signal);
  } catch (err) {
    throw toResponseError(abort.signal.aborted ? cancelledReply('profiling') : err, 'profile', (text) => ctx.connection.console.error(text));
  } finally {
    onCancel.dispose();
    progress.end();
  }
}

function checkProfileRequest(ctx: ServerContext, params: ProfileParams): string {
  if (!ctx.isTrusted()) {
    throw new RequestRefused(OnnxLeanErrorCodes.Untrusted, 'profiling executes the model, so it needs a trusted workspace; inspecting works without trust');
  }
  return resolveModelPath({ path: params.path });
}

const ABORTED = Symbol('aborted');
/** How long a cancelled job may take to release its worker before the reply goes out anyway. */
const CANCEL_GRACE_MS = 2000;

/**
 * The job's outcome; on abort, a RequestCancelled reply once the job has settled (the worker is gone and
 * the model's slot free), or after CANCEL_GRACE_MS at the latest so the reply stays prompt.
 */
async function settle<T>(job: Promise<T>, signal: AbortSignal): Promise<T> {
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    if (signal.aborted) resolve(ABORTED);
    signal.addEventListener('abort', () => resolve(ABORTED), { once: true });
  });
  const first = await Promise.race([job, aborted]);
  if (first !== ABORTED) return first;
  await Promise.race([job.catch(() => undefined), delay(CANCEL_GRACE_MS, undefined, { ref: false })]);
  throw cancelledReply('profiling');
}
