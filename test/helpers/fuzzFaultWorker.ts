/**
 * A stand-in for dist/ortWorker.js that fails on purpose, for test/unit/faults.test.ts. It speaks the
 * real host protocol (src/runtime/protocol.ts) and shares the native-call guard word, so the host
 * code under test (src/runtime/workerHost.ts) cannot tell it from the real worker. The mode comes in
 * the job's `path` parameter:
 * - exit:        reports progress, then exits with code 7 without answering (a crash);
 * - throw:       reports progress, then throws an uncaught error from a timer;
 * - silent:      exits cleanly (code 0) without ever answering;
 * - js-hang:     spins in JavaScript forever (the host must terminate it);
 * - native-hang: marks itself inside a native call and spins until the host asks it to stop, then
 *                stays "inside" for HOLD_MS more before leaving, like a long onnxruntime run().
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GuardState } from '../../src/runtime/nativeGuard';
import type { HostToWorker, WorkerInit, WorkerToHost } from '../../src/runtime/protocol';

export type FaultMode = 'exit' | 'throw' | 'silent' | 'js-hang' | 'native-hang';

const HOLD_MS = 1500;

function spinUntil(done: () => boolean): void {
  while (!done()) {
    // Busy on purpose: this thread must look stuck.
  }
}

function start(): void {
  const port = parentPort;
  if (!port) throw new Error('fuzzFaultWorker must run as a worker thread');
  const state = (workerData as WorkerInit).guardState;
  port.on('message', (message: HostToWorker) => {
    if (message.type !== 'run') return;
    const mode = (message.params as { path?: string }).path as FaultMode;
    // Inside the "native call" before the host hears of the job, so its abort finds the worker there.
    if (mode === 'native-hang' && Atomics.compareExchange(state, 0, GuardState.JS, GuardState.NATIVE) !== GuardState.JS) throw new Error('stopped before the job began');
    port.postMessage({ type: 'progress', id: message.id, progress: { phase: 'latency', done: 1, total: 100 } } satisfies WorkerToHost);
    switch (mode) {
      case 'exit':
        process.exit(7);
        break;
      case 'throw':
        setTimeout(() => {
          throw new Error('deliberate failure inside the worker');
        }, 5);
        break;
      case 'silent':
        process.exit(0);
        break;
      case 'js-hang':
        spinUntil(() => false);
        break;
      case 'native-hang': {
        spinUntil(() => Atomics.load(state, 0) === GuardState.STOP_IN_NATIVE);
        const leaveAt = performance.now() + HOLD_MS;
        spinUntil(() => performance.now() >= leaveAt);
        // Leaving the native call after a stop request, as NativeGuard.leave does: never enter again,
        // and answer with the AbortError the job ends with; the host then terminates this thread.
        Atomics.store(state, 0, GuardState.STOP);
        port.postMessage({ type: 'error', id: message.id, error: { name: 'AbortError', message: 'the operation was cancelled', userFacing: true } } satisfies WorkerToHost);
        break;
      }
      default:
        throw new Error(`unknown fault mode ${String(mode)}`);
    }
  });
}

start();
