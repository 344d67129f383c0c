/**
 * Faults from outside the model: workers that die or hang mid-job, a language server killed
 * mid-request, Ctrl-C while `optimize` writes its output, outputs that cannot be written (read-only,
 * a file where a folder should be, a full disk), and a model over protobuf's 2 GiB limit.
 * Every case must end in a clear one-line error (or a clean success), promptly, with nothing left
 * behind and the input untouched. Every wait has a deadline; nothing sleeps for a fixed time.
 *
 * Mounts: the read-only and full-disk cases mount small tmpfs folders. As root (CI) that is `mount`
 * directly; otherwise the CLI runs inside `unshare --user --map-root-user --mount`; where neither is
 * possible the same faults are injected in-process (fs.openSync / fs.writeSync failing with EROFS /
 * ENOSPC) around saveModel. The diagnostic line says which one ran; none of them is a skip.
 * ONNX_LEAN_FAULTS_MOUNT=unshare|inject forces a fallback.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Worker, WorkerOptions } from 'node:worker_threads';
import {
  CancellationTokenSource,
  ErrorCodes,
  ResponseError,
  WorkDoneProgress,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from 'vscode-languageserver-protocol/node';
import { ModelFileError, saveModel } from '../../src/onnx/io';
import { GuardState } from '../../src/runtime/nativeGuard';
import { profileModel } from '../../src/runtime/profiler';
import type { ProfileJobParams } from '../../src/runtime/protocol';
import { runWorkerJob } from '../../src/runtime/workerHost';
import { resolveWorkerScript } from '../../src/runtime/workerScript';
import { floatTensor, graph, int64Tensor, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { SAMPLES } from '../../src/samples';
import { InspectRequest, ProfileRequest } from '../../src/shared/protocol';
import { bigMlp, hugeGatherModel } from '../helpers/fuzzBigModels';
import type { FaultMode } from '../helpers/fuzzFaultWorker';
import { CLS_MODEL } from '../helpers/fuzz';
import { CLI, ServerProcess, cliProblem, listFiles, runCli, waitFor, withDeadline, type CliRun } from '../helpers/fuzzProcess';

const GiB = 2 ** 30;

let scratch = '';
before(() => {
  assert.ok(fs.existsSync(CLI), 'dist/ is missing: run npm run build');
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-faults-'));
});
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function folder(name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** A CLI run that must fail with exactly one line matching `pattern`. */
function assertOneLineError(r: CliRun, pattern: RegExp, code = 1): void {
  assert.equal(r.code, code, `exit ${r.code ?? r.signal}: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\bat .+:\d+:\d+/, 'no stack trace');
  assert.doesNotMatch(lines[0], /internal error/, 'a fault the user can act on is not an internal error');
  assert.match(lines[0], pattern);
}

function oneLine(err: unknown): Error {
  assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
  assert.doesNotMatch(err.message, /\n/, `one line: ${err.message}`);
  return err;
}

/** The settled outcome of a promise and how long it took from `since`. */
async function outcome<T>(p: Promise<T>, since = performance.now()): Promise<{ ok: boolean; value?: T; error?: Error; ms: number }> {
  try {
    const value = await p;
    return { ok: true, value, ms: performance.now() - since };
  } catch (err) {
    return { ok: false, error: err as Error, ms: performance.now() - since };
  }
}

/** x[1, 512] -> MatMul+Relu (to 1024) -> MatMul+Relu (to 512): about 1 ms per run, so a million-run profile stays "mid-job". */
function writeMidModel(file: string): void {
  saveModel(bigMlp(2, 512, 1024), file);
}

/**
 * Our scratch entries in a TMPDIR ("onnx-lean-*"). Others write there too and are not ours to judge:
 * onnxruntime's native library leaves mat-debug-<pid>.log and .ses, tsx its compile cache.
 */
function ourScratch(tmp: string): string[] {
  return fs.readdirSync(tmp).filter((name) => name.startsWith('onnx-lean-'));
}

/** Runs fn with os.tmpdir() pointing at a private folder, so "nothing left behind" can be checked exactly. */
async function withPrivateTmp<T>(name: string, fn: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = folder(name);
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    return await fn(tmp);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

// ---------------------------------------------------------------------------------------------------
// (a) workers

/**
 * Watches worker construction (workerHost.ts does `new Worker(...)` through the module object, so a
 * subclass installed on it is seen) to reach the real onnxruntime worker and its native-call guard.
 */
function spyOnWorkers(): { last(): { worker: Worker; guard: Int32Array } | undefined; restore(): void } {
  const wt = createRequire(__filename)('node:worker_threads') as typeof import('node:worker_threads');
  const Original = wt.Worker;
  let seen: { worker: Worker; guard: Int32Array } | undefined;
  wt.Worker = class extends Original {
    constructor(filename: string | URL, options?: WorkerOptions) {
      super(filename, options);
      const guard = (options?.workerData as { guardState?: Int32Array } | undefined)?.guardState;
      if (guard) seen = { worker: this, guard };
    }
  };
  return { last: () => seen, restore: () => void (wt.Worker = Original) };
}

/** A profile promise and a promise for the moment its timed runs have started. */
function profileUntilLatency(file: string, signal?: AbortSignal) {
  let latency = (): void => undefined;
  const started = new Promise<void>((resolve) => (latency = resolve));
  const job = profileModel(file, { runs: 1_000_000, warmup: 0, threads: 1 }, { signal, onProgress: (p) => p.phase === 'latency' && latency() });
  // Observed by the test through outcome(); this only keeps an early rejection from being unhandled.
  job.catch(() => undefined);
  return { job, started: Promise.race([started, job.then(() => undefined)]) };
}

void describe('(a) a worker that fails mid-job', () => {
  let mid = '';
  before(() => {
    mid = path.join(folder('workers'), 'mid.onnx');
    writeMidModel(mid);
  });

  void it('cancelling a million-run profile through its AbortSignal ends it within a run, leaving no temp folder', { timeout: 60_000 }, async (t) => {
    await withPrivateTmp('tmp-abort', async (tmp) => {
      const abort = new AbortController();
      const { job, started } = profileUntilLatency(mid, abort.signal);
      await withDeadline(started, 30_000, 'the timed runs to start');
      const since = performance.now();
      abort.abort();
      const r = await withDeadline(outcome(job, since), 10_000, 'the cancelled profile to settle');
      assert.equal(r.ok, false, 'a cancelled profile must not resolve');
      assert.equal(oneLine(r.error).name, 'AbortError', r.error?.message);
      assert.ok(r.ms < 3_000, `cancellation took ${Math.round(r.ms)} ms`);
      assert.deepEqual(ourScratch(tmp), [], 'the profile temp folder is removed once the worker is gone');
      t.diagnostic(`AbortError ${Math.round(r.ms)} ms after abort: ${r.error?.message}`);
    });
  });

  void it('the real onnxruntime worker terminated from outside mid-run: a clear error, no hang, and the next profile works', { timeout: 90_000 }, async (t) => {
    const spy = spyOnWorkers();
    try {
      await withPrivateTmp('tmp-kill', async (tmp) => {
        const { job, started } = profileUntilLatency(mid);
        await withDeadline(started, 30_000, 'the timed runs to start');
        const target = spy.last();
        assert.ok(target, 'the profile worker was not seen');
        // Kill it the way a crash would, but only between two runs: terminating a thread inside
        // onnxruntime aborts the whole process (see nativeGuard.ts), which would take the test runner
        // with it. Claiming the guard word (JS -> STOP) keeps the worker out of native code from now on.
        const claimDeadline = performance.now() + 10_000;
        while (Atomics.compareExchange(target.guard, 0, GuardState.JS, GuardState.STOP) !== GuardState.JS) {
          assert.ok(performance.now() < claimDeadline, 'the worker never left onnxruntime between runs');
        }
        const since = performance.now();
        void target.worker.terminate();
        const r = await withDeadline(outcome(job, since), 10_000, 'the profile of a killed worker to settle');
        assert.equal(r.ok, false, 'a killed worker cannot produce a report');
        const err = oneLine(r.error);
        // Usually the exit is seen first; a worker that noticed the claimed guard first ends with AbortError.
        assert.match(err.message, /the profile worker exited unexpectedly \(exit code \d+\) without answering|cancelled/);
        assert.ok(r.ms < 5_000, `the host noticed the dead worker after ${Math.round(r.ms)} ms`);
        assert.deepEqual(ourScratch(tmp), [], 'the profile temp folder is removed once the worker is gone');
        t.diagnostic(`${err.name} ${Math.round(r.ms)} ms after terminate(): ${err.message}`);
      });
    } finally {
      spy.restore();
    }
    const again = await profileModel(mid, { runs: 2, warmup: 0, perNode: false, threads: 1 });
    assert.equal(again.runs, 2);
  });

  void it('onnxruntime throwing mid-job (a Reshape that only fails at run time) is one clear line', { timeout: 60_000 }, async () => {
    // x[n] -> Reshape to [2, -1]: valid for even n, an ORT error at run time for odd n.
    const file = path.join(folder('workers'), 'reshape.onnx');
    const g = graph({
      name: 'reshape',
      input: [valueInfo('x', DataType.FLOAT, ['n'])],
      output: [valueInfo('y', DataType.FLOAT, [2, 'm'])],
      initializer: [int64Tensor('shape', [2], [2, -1]), floatTensor('one', [1], [1])],
      node: [node('Add', ['x', 'one'], ['x1'], {}, 'add'), node('Reshape', ['x1', 'shape'], ['y'], {}, 'reshape')],
    });
    saveModel(model(g), file);
    const ok = await profileModel(file, { runs: 2, warmup: 0, perNode: false, shapes: { x: [6] } });
    assert.equal(ok.runs, 2, 'the model itself is fine for even sizes');
    const r = await withDeadline(outcome(profileModel(file, { runs: 5, warmup: 1, shapes: { x: [5] } })), 30_000, 'the failing profile');
    assert.equal(r.ok, false);
    const err = oneLine(r.error);
    assert.equal(err.name, 'OrtError', err.message);
    assert.match(err.message, /onnxruntime failed to run the model: .*reshape/i);
    assert.doesNotMatch(err.message, /\.cc:\d+|onnxruntime::/, 'ORT source locations are stripped');
  });

  void describe('host side of a worker that crashes or hangs (a stand-in worker speaking the real protocol)', () => {
    const script = resolveWorkerScript('fuzzFaultWorker', path.resolve(__dirname, '../helpers'));

    function run(mode: FaultMode, hooks: { signal?: AbortSignal; stopGraceMs?: number } = {}) {
      let exited = (): void => undefined;
      const workerGone = new Promise<void>((resolve) => (exited = resolve));
      let progressed = (): void => undefined;
      const progress = new Promise<void>((resolve) => (progressed = resolve));
      const params = { path: mode, options: {}, tempDir: '' } as unknown as ProfileJobParams;
      const job = runWorkerJob(script, 'profile', params, { ...hooks, onProgress: () => progressed(), onWorkerExit: () => exited() });
      job.catch(() => undefined);
      return { job, workerGone, progress };
    }

    const crashes: [FaultMode, RegExp][] = [
      ['exit', /^the profile worker exited unexpectedly \(exit code 7\) without answering$/],
      ['throw', /^the profile worker failed: deliberate failure inside the worker$/],
      ['silent', /^the profile worker exited unexpectedly \(exit code 0\) without answering$/],
    ];
    for (const [mode, message] of crashes) {
      void it(`a worker that ${mode === 'throw' ? 'throws an uncaught error' : mode === 'exit' ? 'exits mid-job' : 'exits without answering'}: rejected with one line, promptly`, { timeout: 30_000 }, async () => {
        const { job, workerGone, progress } = run(mode);
        const r = await withDeadline(outcome(job), 15_000, `the ${mode} job`);
        await withDeadline(progress, 1_000, 'progress before the crash');
        assert.equal(r.ok, false);
        assert.match(oneLine(r.error).message, message);
        await withDeadline(workerGone, 5_000, 'onWorkerExit');
      });
    }

    void it('a worker stuck in JavaScript is terminated at once on abort', { timeout: 30_000 }, async () => {
      const abort = new AbortController();
      const { job, workerGone, progress } = run('js-hang', { signal: abort.signal });
      await withDeadline(progress, 15_000, 'the worker to start its job');
      const since = performance.now();
      abort.abort();
      const r = await withDeadline(outcome(job, since), 5_000, 'the aborted job');
      assert.equal(oneLine(r.error).name, 'AbortError');
      assert.ok(r.ms < 2_000, `abort took ${Math.round(r.ms)} ms`);
      await withDeadline(workerGone, 5_000, 'the terminated worker to exit');
    });

    void it('a worker stuck inside a native call is not terminated (that would abort the process): the job rejects after the grace period, the worker ends when the call returns', { timeout: 30_000 }, async () => {
      const abort = new AbortController();
      const { job, workerGone, progress } = run('native-hang', { signal: abort.signal, stopGraceMs: 300 });
      await withDeadline(progress, 15_000, 'the worker to start its job');
      const since = performance.now();
      abort.abort();
      const r = await withDeadline(outcome(job, since), 5_000, 'the aborted job');
      assert.equal(oneLine(r.error).name, 'AbortError');
      assert.ok(r.ms >= 250 && r.ms < 1_400, `rejected after ${Math.round(r.ms)} ms: expected the 300 ms grace period, before the 1.5 s "native call" ends`);
      await withDeadline(workerGone, 10_000, 'the worker to leave its native call and exit');
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// (b) the language server process killed mid-request

type Progress = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

void describe('(b) the language server killed mid-request', () => {
  void it('SIGKILL during a profile: the client sees the connection close, the pending request fails, a fresh server works', { timeout: 120_000 }, async (t) => {
    const dir = folder('server');
    const tmp = folder('server-tmp');
    const file = path.join(dir, 'mid.onnx');
    writeMidModel(file);
    const env = { ...process.env, TMPDIR: tmp };
    const first = await ServerProcess.start({ trusted: true, env });
    let pending: Promise<unknown> | undefined;
    try {
      let running = (): void => undefined;
      const measuring = new Promise<void>((resolve) => (running = resolve));
      first.conn.onProgress(WorkDoneProgress.type, 'kill-me', (v: Progress) => v.kind === 'report' && /^run /.test(v.message ?? '') && running());
      pending = first.conn.sendRequest(ProfileRequest.type, { path: file, options: { runs: 1_000_000, warmup: 0, threads: 1 }, workDoneToken: 'kill-me' }, new CancellationTokenSource().token);
      pending.catch(() => undefined);
      await withDeadline(measuring, 30_000, 'the timed runs to start');

      const killedAt = performance.now();
      const exited = once(first.child, 'exit');
      first.child.kill('SIGKILL');
      await withDeadline(first.whenClosed(), 5_000, 'the client to see the connection close');
      const closeMs = performance.now() - killedAt;
      // vscode-jsonrpc keeps pending requests until the connection is disposed, which is what
      // vscode-languageclient does when it sees the close: do the same and expect the request to fail.
      first.conn.dispose();
      const r = await withDeadline(outcome(pending, killedAt), 5_000, 'the pending profile request to fail');
      assert.equal(r.ok, false, 'a killed server cannot answer');
      assert.ok(r.error instanceof ResponseError, `expected a ResponseError, got ${String(r.error)}`);
      assert.equal(r.error.code, ErrorCodes.PendingResponseRejected, r.error.message);
      const [code, signal] = (await withDeadline(exited, 5_000, 'the server process to exit')) as [number | null, NodeJS.Signals | null];
      assert.deepEqual([code, signal], [null, 'SIGKILL']);
      assert.throws(() => first.conn.sendRequest(InspectRequest.type, { path: file }), /disposed|closed/i, 'a request on the dead connection fails at once');
      t.diagnostic(`connection closed ${Math.round(closeMs)} ms after SIGKILL; pending request: ${r.error.message}`);
    } finally {
      first.kill();
    }

    const second = await ServerProcess.start({ trusted: true, env });
    try {
      const report = await withDeadline(second.conn.sendRequest(InspectRequest.type, { path: file }), 30_000, 'inspect on the fresh server');
      assert.equal(report.nodeCount, 4);
      // The killed server's job is gone with it: the same model is not "already being profiled".
      const profile = await withDeadline(second.conn.sendRequest(ProfileRequest.type, { path: file, options: { runs: 3, warmup: 0, perNode: false } }), 60_000, 'profile on the fresh server');
      assert.equal(profile.runs, 3);
    } finally {
      await second.stop().catch(() => second.kill());
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// (c) Ctrl-C while optimize saves and compares

void describe('(c) Ctrl-C while optimize writes its output', () => {
  let big = '';
  let bigHash = '';
  before(() => {
    const dir = folder('interrupt-src');
    big = path.join(dir, 'big.onnx');
    saveModel(bigMlp(), big);
    assert.ok(fs.statSync(big).size > 100e6, 'the model should be over 100 MB');
    bigHash = sha256(big);
  });

  /**
   * Starts optimize --preset fp16 (a 50 MB output) into an empty folder and sends SIGINT at the first
   * file event in that folder for which `when` says so.
   */
  async function interruptWhen(name: string, when: (file: string) => boolean) {
    const out = folder(`interrupt-${name}`);
    const tmp = folder(`interrupt-${name}-tmp`);
    const target = path.join(out, 'big.fp16.onnx');
    let sentAt: string[] | undefined;
    let watcher: fs.FSWatcher | undefined;
    const interrupt = (child: ChildProcess) => {
      if (sentAt) return;
      const now = fs.readdirSync(out);
      if (!now.some(when)) return;
      sentAt = now;
      child.kill('SIGINT');
    };
    const r = await runCli(['optimize', big, '--preset', 'fp16', '-o', target, '--samples', '2', '--runs', '3', '--threads', '1'], {
      timeoutMs: 120_000,
      env: { ...process.env, TMPDIR: tmp },
      onSpawn: (child) => {
        watcher = fs.watch(out, () => interrupt(child));
        // fs.watch can coalesce events: a poll with the same check backs it up until the child ends.
        const ended = () => child.exitCode !== null || child.signalCode !== null;
        void waitFor('the child to end', () => {
          if (!ended()) interrupt(child);
          return ended();
        }, 120_000, 5).catch(() => undefined);
      },
    });
    watcher?.close();
    return { r, out, tmp, sentAt };
  }

  function assertInterruptedCleanly(c: { r: CliRun; out: string; tmp: string; sentAt?: string[] }): void {
    assert.ok(c.sentAt, `the phase never came: ${c.r.stderr}`);
    assertOneLineError(c.r, /cancelled/, 130);
    assert.deepEqual(listFiles(c.out), [], 'no output and no temp file beside it');
    assert.deepEqual(ourScratch(c.tmp), [], 'no scratch folder left in TMPDIR');
    assert.deepEqual(fs.readdirSync(path.dirname(big)), ['big.onnx'], 'nothing written beside the input');
    assert.equal(sha256(big), bigHash, 'the input is byte for byte unchanged');
  }

  void it('SIGINT while the output is being saved: exit 130, no partial output, no temp file, input unchanged', { timeout: 150_000 }, async (t) => {
    const c = await interruptWhen('save', (f) => f.endsWith('.tmp'));
    t.diagnostic(`SIGINT sent when the folder held [${c.sentAt?.join(', ')}]; exit ${c.r.code} after ${Math.round(c.r.ms)} ms: ${c.r.stderr.trim()}`);
    assertInterruptedCleanly(c);
  });

  void it('SIGINT during the comparison after the save: exit 130 and the saved output is removed again', { timeout: 150_000 }, async (t) => {
    const c = await interruptWhen('compare', (f) => f === 'big.fp16.onnx');
    t.diagnostic(`SIGINT sent when the folder held [${c.sentAt?.join(', ')}]; exit ${c.r.code} after ${Math.round(c.r.ms)} ms: ${c.r.stderr.trim()}`);
    assertInterruptedCleanly(c);
  });
});

// ---------------------------------------------------------------------------------------------------
// (d) outputs that cannot be written

type MountWay = 'mount' | 'unshare' | 'inject';

function canMount(dir: string): boolean {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return false;
  spawnSync('umount', [dir]);
  return true;
}

function canUnshare(dir: string): boolean {
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0"', dir], { encoding: 'utf8' });
  return r.status === 0;
}

/** How this machine can give the CLI a read-only or full folder (forced by ONNX_LEAN_FAULTS_MOUNT). */
function mountWay(probe: string): MountWay {
  const forced = process.env.ONNX_LEAN_FAULTS_MOUNT as MountWay | undefined;
  if (forced) return forced;
  if (canMount(probe)) return 'mount';
  if (canUnshare(probe)) return 'unshare';
  return 'inject';
}

/**
 * Runs the CLI with a tmpfs mounted on `dir` (options e.g. "ro" or "size=32k"); returns the run and
 * what the folder held afterwards (listed before unmounting, or inside the namespace).
 */
async function cliOnMount(way: 'mount' | 'unshare', dir: string, options: string, args: string[]): Promise<{ r: CliRun; left: string[] }> {
  if (way === 'mount') {
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
    assert.equal(m.status, 0, `mount failed: ${m.stderr}`);
    try {
      const r = await runCli(args, { timeoutMs: 60_000 });
      return { r, left: listFiles(dir) };
    } finally {
      const u = spawnSync('umount', [dir], { encoding: 'utf8' });
      assert.equal(u.status, 0, `umount failed: ${u.stderr}`);
    }
  }
  const listing = `${dir}.listing`;
  // sh -c SCRIPT sh DIR OPTIONS LISTING node cli.js ...: mount, run, list what is left, keep the exit code.
  const script = 'd="$1"; o="$2"; l="$3"; shift 3; mount -t tmpfs -o "$o" tmpfs "$d" || exit 99; "$@"; rc=$?; ls -A "$d" > "$l"; exit $rc';
  const r = await runCliVia(['unshare', '--user', '--map-root-user', '--mount', 'sh', '-c', script, 'sh', dir, options, listing, process.execPath, CLI, ...args]);
  assert.notEqual(r.code, 99, `mount inside the namespace failed: ${r.stderr}`);
  const left = fs.existsSync(listing) ? fs.readFileSync(listing, 'utf8').split('\n').filter(Boolean) : ['(no listing)'];
  return { r, left };
}

/** runCli's result shape for a command that is not `node dist/cli.js` itself. */
function runCliVia(argv: string[]): Promise<CliRun> {
  const started = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  return Promise.resolve({ args: argv, code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, timedOut: r.error !== undefined, ms: performance.now() - started });
}

/** The same fault in-process: `fs[method]` fails with `code` for paths under `dir` while saveModel runs. */
function saveWithInjectedFault(dir: string, method: 'openSync' | 'writeSync', code: string, save: () => void): Error {
  const nodeFs = createRequire(__filename)('node:fs') as typeof fs;
  const original = nodeFs[method] as (...args: unknown[]) => unknown;
  const fdsUnder = new Set<number>();
  const realOpen = nodeFs.openSync;
  const fail = () => Object.assign(new Error(`${code}: injected`), { code });
  const patchedOpen = (...args: unknown[]) => {
    if (method === 'openSync' && String(args[0]).startsWith(dir)) throw fail();
    const fd = (realOpen as (...a: unknown[]) => number)(...args);
    if (String(args[0]).startsWith(dir)) fdsUnder.add(fd);
    return fd;
  };
  const patchedWrite = (...args: unknown[]) => {
    if (fdsUnder.has(args[0] as number)) throw fail();
    return original(...args);
  };
  Object.assign(nodeFs, { openSync: patchedOpen, ...(method === 'writeSync' ? { writeSync: patchedWrite } : {}) });
  try {
    save();
  } catch (err) {
    return err as Error;
  } finally {
    Object.assign(nodeFs, { openSync: realOpen, ...(method === 'writeSync' ? { writeSync: original } : {}) });
  }
  return assert.fail('the save should have failed');
}

void describe('(d) outputs that cannot be written', () => {
  let mlp = '';
  let way: MountWay = 'inject';
  let permissionsApply = false;
  before(() => {
    const dir = folder('unwritable');
    mlp = path.join(dir, 'mlp.onnx');
    saveModel(SAMPLES.mlp.build(), mlp);
    way = mountWay(folder('mount-probe'));
    // As root, mode 0555 does not stop writes: detect it instead of assuming.
    const probe = folder('perm-probe');
    fs.chmodSync(probe, 0o555);
    try {
      fs.writeFileSync(path.join(probe, 'x'), 'x');
    } catch {
      permissionsApply = true;
    }
  });

  void it('a read-only output folder: one line naming the reason, nothing written', { timeout: 60_000 }, async (t) => {
    const dir = folder('ro');
    if (permissionsApply) {
      fs.chmodSync(dir, 0o555);
      const r = await runCli(['convert', mlp, '-o', path.join(dir, 'out.onnx')]);
      fs.chmodSync(dir, 0o755);
      assertOneLineError(r, /cannot write .*out\.onnx: permission denied/);
      assert.deepEqual(listFiles(dir), []);
      t.diagnostic('chmod 0555 folder: permission denied');
    } else t.diagnostic(`running as uid ${process.getuid?.()}: mode 0555 does not stop writes here, so the read-only case is a read-only file system (${way})`);
    if (way === 'inject') {
      const err = saveWithInjectedFault(dir, 'openSync', 'EROFS', () => saveModel(SAMPLES.mlp.build(), path.join(dir, 'out.onnx')));
      assert.ok(err instanceof ModelFileError, String(err));
      assert.match(err.message, /cannot write .*out\.onnx: the file system is read-only/);
      assert.deepEqual(listFiles(dir), []);
      return;
    }
    const { r, left } = await cliOnMount(way, dir, 'ro,size=64k', ['convert', mlp, '-o', path.join(dir, 'out.onnx')]);
    assertOneLineError(r, /cannot write .*out\.onnx: the file system is read-only/);
    assert.deepEqual(left, []);
    t.diagnostic(`read-only tmpfs via ${way}: ${r.stderr.trim()}`);
  });

  void it('an output path whose parent is a file, and one under /proc: one line, nothing created', { timeout: 60_000 }, async () => {
    const dir = folder('not-a-folder');
    const file = path.join(dir, 'plain-file');
    fs.writeFileSync(file, 'not a folder');
    const r = await runCli(['convert', mlp, '-o', path.join(file, 'out.onnx')]);
    assertOneLineError(r, /cannot write .*plain-file\/out\.onnx: a folder on its path is a file/);
    assert.deepEqual(listFiles(dir), ['plain-file']);
    const proc = await runCli(['convert', mlp, '-o', `/proc/onnx-lean-fault-${process.pid}.onnx`]);
    assertOneLineError(proc, /cannot write \/proc\/onnx-lean-fault-\d+\.onnx: cannot create files in \/proc$/);
    assert.ok(!fs.existsSync(`/proc/onnx-lean-fault-${process.pid}.onnx`));
  });

  void it('a full disk during convert, convert --external-data and optimize: one line "the disk is full", nothing left', { timeout: 120_000 }, async (t) => {
    const dir = folder('full');
    const cases: [string, string[]][] = [
      ['convert', ['convert', CLS_MODEL, '-o', path.join(dir, 'cls.onnx')]],
      ['convert --external-data', ['convert', CLS_MODEL, '-o', path.join(dir, 'cls.onnx'), '--external-data', '--threshold', '0']],
      ['optimize', ['optimize', CLS_MODEL, '--preset', 'fp16', '--shape', 'x=1,3,48,192', '-o', path.join(dir, 'cls.fp16.onnx'), '--no-compare']],
    ];
    if (way === 'inject') {
      const cnn = SAMPLES.cnn.build();
      for (const externalData of [undefined, {}]) {
        const err = saveWithInjectedFault(dir, 'writeSync', 'ENOSPC', () => saveModel(cnn, path.join(dir, 'cnn.onnx'), externalData ? { externalData } : {}));
        assert.ok(err instanceof ModelFileError, String(err));
        assert.match(err.message, /cannot write .*: the disk is full/);
        assert.deepEqual(listFiles(dir), []);
      }
      t.diagnostic('no mount possible: ENOSPC injected into fs.writeSync around saveModel');
      return;
    }
    for (const [label, args] of cases) {
      // 32 KiB: the cls model (565 KB) and its fp16 copy cannot fit; its 4-byte metadata files can.
      const { r, left } = await cliOnMount(way, dir, 'size=32k', args);
      assertOneLineError(r, /cannot write .*: the disk is full/);
      assert.deepEqual(left, [], `${label} left files on the full disk`);
      t.diagnostic(`${label} on a 32 KiB tmpfs via ${way}: ${r.stderr.trim()}`);
    }
  });

  void it('an output that is a symlink to /dev/full is replaced by the model (atomic rename), so /dev/full cannot stand in for a full disk', { timeout: 30_000 }, async () => {
    const dir = folder('devfull');
    const link = path.join(dir, 'out.onnx');
    fs.symlinkSync('/dev/full', link);
    assertOneLineError(await runCli(['convert', mlp, '-o', link]), /already exists \(pass --force/);
    const r = await runCli(['convert', mlp, '-o', link, '--force']);
    assert.equal(cliProblem(r), undefined);
    assert.ok(fs.lstatSync(link).isFile(), 'the link was replaced by a regular file');
    assert.deepEqual(listFiles(dir), ['out.onnx']);
  });
});

// ---------------------------------------------------------------------------------------------------
// (e) over 2 GiB

void describe('(e) a model over 2 GiB with external data', () => {
  void it('inspect, convert --external-data and onnxruntime handle it; saving it inline is refused', { timeout: 400_000 }, async (t) => {
    const dir = folder('huge');
    const stat = fs.statfsSync(dir);
    const free = stat.bavail * stat.bsize;
    if (free < 8 * GiB) {
      t.skip(`only ${(free / GiB).toFixed(1)} GiB free under ${dir}; the 2 GiB case needs 8 GiB (a model and its converted copy)`);
      return;
    }
    const timings: string[] = [];
    const timed = async <T>(label: string, fn: () => T | Promise<T>): Promise<T> => {
      const started = performance.now();
      const value = await fn();
      timings.push(`${label} ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return value;
    };
    // 5 x 410 MiB as views of one buffer: 2,149,580,800 bytes of weights in 410 MiB of memory.
    const huge = hugeGatherModel();
    assert.ok(huge.weightBytes > 2 ** 31, `${huge.weightBytes} bytes is not over 2 GiB`);

    const inline = path.join(dir, 'inline.onnx');
    assert.throws(() => saveModel(huge.model, inline), (err: unknown) => err instanceof ModelFileError && /over protobuf's 2 GiB limit: save it with external data/.test(err.message));
    assert.deepEqual(listFiles(dir), [], 'a refused inline save writes nothing');

    const file = path.join(dir, 'huge.onnx');
    const saved = await timed('save', () => saveModel(huge.model, file, { externalData: {} }));
    assert.equal(saved.externalTensors, 5);
    assert.ok(fs.statSync(`${file}.data`).size >= huge.weightBytes);

    const conv = folder('huge-conv');
    const converted = path.join(conv, 'huge.ext.onnx');
    // Each CLI run below holds the 2 GiB of weights; two run side by side when memory allows.
    const sideBySide = os.freemem() > 8 * GiB;
    const both = async (a: () => Promise<CliRun>, b: () => Promise<CliRun>): Promise<[CliRun, CliRun]> => (sideBySide ? Promise.all([a(), b()]) : [await a(), await b()]);
    const [inspect, convert] = await timed('inspect + convert --external-data', () =>
      both(
        () => runCli(['inspect', file, '--json'], { timeoutMs: 300_000 }),
        () => runCli(['convert', file, '-o', converted, '--external-data', '--json'], { timeoutMs: 300_000 }),
      ),
    );
    assert.equal(cliProblem(inspect), undefined, inspect.stderr);
    const report = JSON.parse(inspect.stdout) as { paramCount: number; externalDataBytes: number; paramBytes: Record<string, number> };
    assert.equal(report.paramCount, huge.params);
    assert.equal(report.externalDataBytes, huge.weightBytes);
    assert.equal(report.paramBytes.float32, huge.weightBytes);
    assert.equal(cliProblem(convert), undefined, convert.stderr);
    const conversion = JSON.parse(convert.stdout) as { externalData: { bytes: number; tensors: number } | null };
    assert.equal(conversion.externalData?.tensors, 5);
    assert.ok((conversion.externalData?.bytes ?? 0) >= huge.weightBytes);

    // onnxruntime loads all 2 GiB (from the converted copy) and Gathers one row of each weight.
    const [profile, refused] = await timed('profile + inline convert', () =>
      both(
        () => runCli(['profile', converted, '--runs', '1', '--warmup', '0', '--no-per-node', '--json'], { timeoutMs: 300_000 }),
        () => runCli(['convert', file, '-o', inline], { timeoutMs: 300_000 }),
      ),
    );
    assert.equal(cliProblem(profile), undefined, profile.stderr);
    const measured = JSON.parse(profile.stdout) as { runs: number; inputs: { name: string; shape: number[] }[] };
    assert.equal(measured.runs, 1);
    assert.deepEqual(measured.inputs.map((i) => [i.name, i.shape]), [['idx', [1]]]);
    assertOneLineError(refused, /the model would be \d+ bytes, over protobuf's 2 GiB limit: save it with external data/);
    assert.deepEqual(listFiles(dir), ['huge.onnx', 'huge.onnx.data'], 'the refused CLI save left nothing');
    t.diagnostic(`${huge.weightBytes} bytes of weights (2^31 is ${2 ** 31}); ${timings.join(', ')}${sideBySide ? '' : ' (one at a time: little free memory)'}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(conv, { recursive: true, force: true });
  });
});
