/** The custom requests: inspect (reads the model) and profile (executes it in a worker thread). */
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { CancellationToken, Connection, ProgressToken } from 'vscode-languageserver/node';
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

export function handleProfile(ctx: ServerContext, params: ProfileParams, token: CancellationToken): Promise<ProfileReport> {
  return runExecutingJob(ctx, { path: params.path, workDoneToken: params.workDoneToken, verb: 'Profiling', what: 'profiling' }, token, (file, signal, progress) =>
    profileModel(file, params.options ?? {}, { signal, onProgress: (p) => progress.step(p) }),
  );
}

export interface ExecutingJob {
  /** The model the job executes (its queue key). */
  path: string;
  workDoneToken?: ProgressToken;
  /** "Profiling", "Optimizing", ... for the progress title. */
  verb: string;
  /** "profiling", "optimization", ... for messages. */
  what: string;
}

/**
 * A job that executes a model: refused in untrusted workspaces, queued one at a time, with work-done
 * progress, and cancelled for real (the AbortSignal reaches the worker) with a prompt reply.
 */
export async function runExecutingJob<T>(ctx: ServerContext, job: ExecutingJob, token: CancellationToken, run: (file: string, signal: AbortSignal, progress: WorkDoneReporter) => Promise<T>): Promise<T> {
  const progress = new WorkDoneReporter(ctx.connection, job.workDoneToken);
  const abort = new AbortController();
  const onCancel = token.onCancellationRequested(() => abort.abort());
  try {
    const file = checkExecutingRequest(ctx, job);
    progress.begin(`${job.verb} ${path.basename(file)}`);
    const queued = ctx.jobs.run(modelKey(file), { signal: abort.signal, onQueued: () => progress.note('waiting for another job to finish') }, () => run(file, abort.signal, progress));
    return await settle(queued, abort.signal, job.what);
  } catch (err) {
    throw toResponseError(abort.signal.aborted ? cancelledReply(job.what) : err, job.what, (text) => ctx.connection.console.error(text));
  } finally {
    onCancel.dispose();
    progress.end();
  }
}

function checkExecutingRequest(ctx: ServerContext, job: ExecutingJob): string {
  if (!ctx.isTrusted()) {
    throw new RequestRefused(OnnxLeanErrorCodes.Untrusted, `${job.what} executes the model, so it needs a trusted workspace; inspecting works without trust`);
  }
  return resolveModelPath({ path: job.path });
}

const ABORTED = Symbol('aborted');
/** How long a cancelled job may take to release its worker before the reply goes out anyway. */
const CANCEL_GRACE_MS = 2000;

/**
 * The job's outcome; on abort, a RequestCancelled reply once the job has settled (the worker is gone and
 * the model's slot free), or after CANCEL_GRACE_MS at the latest so the reply stays prompt.
 */
async function settle<T>(job: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    if (signal.aborted) resolve(ABORTED);
    signal.addEventListener('abort', () => resolve(ABORTED), { once: true });
  });
  const first = await Promise.race([job, aborted]);
  if (first !== ABORTED) return first;
  await Promise.race([job.catch(() => undefined), delay(CANCEL_GRACE_MS, undefined, { ref: false })]);
  throw cancelledReply(what);
}
