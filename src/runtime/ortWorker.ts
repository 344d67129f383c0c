/**
 * Entry of the onnxruntime worker thread (bundled as dist/ortWorker.js). onnxruntime-node's run() is
 * synchronous native code that blocks its thread, so sessions live here, never on the host's thread.
 * Every RunRequest gets exactly one ResultReply or ErrorReply.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { isUserFacing } from '../core/errors';
import { ProgressReporter, type JobContext } from './jobContext';
import { NativeGuard } from './nativeGuard';
import { activationsJob } from './activationsJob';
import { calibrateJob } from './calibrateJob';
import { compareJob } from './compareJob';
import { optimizedGraphJob } from './graphJob';
import { profileJob } from './profileJob';
import { sensitivityJob } from './sensitivityJob';
import type { HostToWorker, JobName, ResultReply, RunRequest, WorkerInit, WorkerJobs, WorkerToHost } from './protocol';

type JobTable = { [K in JobName]: (params: WorkerJobs[K]['params'], ctx: JobContext) => Promise<WorkerJobs[K]['result']> };

const JOBS: JobTable = { profile: profileJob, compare: compareJob, optimizedGraph: optimizedGraphJob, calibrate: calibrateJob, activations: activationsJob, sensitivity: sensitivityJob };

function errorReply(id: number, err: unknown): WorkerToHost {
  if (!(err instanceof Error)) return { type: 'error', id, error: { name: 'Error', message: String(err), userFacing: false } };
  const { name, message, stack } = err;
  const userFacing = isUserFacing(err);
  return { type: 'error', id, error: { name, message, userFacing, stack: userFacing ? undefined : stack } };
}

async function runJob<K extends JobName>(request: RunRequest<K>, port: MessagePort, guard: NativeGuard): Promise<WorkerToHost> {
  const progress = new ProgressReporter((p) => port.postMessage({ type: 'progress', id: request.id, progress: p } satisfies WorkerToHost));
  const job: JobTable[K] = JOBS[request.job];
  const result = await job(request.params, { guard, progress });
  const reply: ResultReply<K> = { type: 'result', id: request.id, job: request.job, result };
  // TypeScript cannot narrow a generic K to one member of the distributive union; the shape is the same.
  return reply as unknown as WorkerToHost;
}

function start(port: MessagePort, init: WorkerInit): void {
  const guard = new NativeGuard(init.guardState);
  port.on('message', (message: HostToWorker) => {
    if (message.type !== 'run') return;
    runJob(message, port, guard).then(
      (reply) => port.postMessage(reply),
      (err: unknown) => port.postMessage(errorReply(message.id, err)),
    );
  });
}

if (!parentPort) throw new Error('ortWorker must run as a worker thread');
start(parentPort, workerData as WorkerInit);
