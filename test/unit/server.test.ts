/**
 * The built language server (dist/server.js) as the extension runs it: a child process speaking LSP
 * over stdio. Custom requests, work-done progress, real cancellation, workspace trust and error replies.
 * `npm test` builds first; run alone, the test rebuilds when dist/server.js is missing or stale.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CancellationTokenSource,
  ErrorCodes,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  LSPErrorCodes,
  LogMessageNotification,
  ResponseError,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  WorkDoneProgress,
  createProtocolConnection,
  type ProtocolConnection,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from 'vscode-languageserver-protocol/node';
import { DataType } from '../../src/onnx/dtypes';
import { floatTensor, graph, model, node, valueInfo } from '../../src/onnx/build';
import { saveModel } from '../../src/onnx/io';
import { Rng } from '../../src/core/random';
import { DidChangeTrustNotification, InspectRequest, OnnxLeanErrorCodes, ProfileRequest, type ProfileParams } from '../../src/shared/protocol';

const ROOT = path.resolve(__dirname, '../..');
const SERVER = path.join(ROOT, 'dist/server.js');

/** Rebuilds when a bundle the server needs is missing or older than the sources it is made of. */
function ensureBuilt(): void {
  const bundles = ['dist/server.js', 'dist/ortWorker.js', 'dist/extension.js'].map((f) => path.join(ROOT, f));
  const sources = ['src/server', 'src/shared', 'src/core', 'src/onnx', 'src/runtime', 'src/extension'].flatMap((d) => listTs(path.join(ROOT, d)));
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  if (bundles.every((b) => fs.existsSync(b) && fs.statSync(b).mtimeMs >= newest)) return;
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
}

function listTs(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
}

/** x[1,width] -> Gemm -> Relu -> Gemm -> y[1,10]: two dense layers with seeded weights. */
function writeMlp(file: string, width: number, hidden: number): void {
  const rng = new Rng(7);
  const weights = (name: string, dims: number[]) => floatTensor(name, dims, rng.normalArray(dims[0] * (dims[1] ?? 1)));
  const g = graph({
    name: 'mlp',
    input: [valueInfo('x', DataType.FLOAT, [1, width])],
    output: [valueInfo('y', DataType.FLOAT, [1, 10])],
    initializer: [weights('w1', [width, hidden]), weights('b1', [hidden]), weights('w2', [hidden, 10]), weights('b2', [10])],
    node: [node('Gemm', ['x', 'w1', 'b1'], ['h'], {}, 'fc1'), node('Relu', ['h'], ['r'], {}, 'relu1'), node('Gemm', ['r', 'w2', 'b2'], ['y'], {}, 'fc2')],
  });
  saveModel(model(g), file);
}

type Progress = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

class TestServer {
  readonly log: string[] = [];
  private tokens = 0;

  private constructor(
    readonly child: ChildProcess,
    readonly conn: ProtocolConnection,
  ) {
    conn.onNotification(LogMessageNotification.type, (m) => this.log.push(m.message));
  }

  static async start(trusted: boolean): Promise<TestServer> {
    const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.listen();
    const server = new TestServer(child, conn);
    const init = await conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { trusted } });
    assert.equal(init.serverInfo?.name, 'onnx-lean');
    await conn.sendNotification(InitializedNotification.type, {});
    return server;
  }

  /** Sends a profile request with a fresh work-done token, passing its progress values to `onProgress`. */
  profile(params: Omit<ProfileParams, 'workDoneToken'>, onProgress: (v: Progress) => void = () => undefined, token = new CancellationTokenSource().token) {
    const workDoneToken = `test-${++this.tokens}`;
    const listener = this.conn.onProgress(WorkDoneProgress.type, workDoneToken, onProgress);
    return this.conn.sendRequest(ProfileRequest.type, { ...params, workDoneToken }, token).finally(() => listener.dispose());
  }

  async stop(): Promise<void> {
    const exited = this.child.exitCode === null ? once(this.child, 'exit') : Promise.resolve();
    await this.conn.sendRequest(ShutdownRequest.type);
    await this.conn.sendNotification(ExitNotification.type);
    await exited;
    this.conn.dispose();
  }
}

async function errorReply(request: Promise<unknown>): Promise<ResponseError<unknown>> {
  try {
    await request;
  } catch (err) {
    assert.ok(err instanceof ResponseError, `expected an error reply, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n|\bat .+:\d+:\d+/, 'one line, no stack trace');
    return err;
  }
  return assert.fail('expected an error reply, got a result');
}

// node:test's describe/it return promises the runner itself awaits.
void describe('language server (dist/server.js)', () => {
  let dir: string;
  let small: string;
  let large: string;
  let server: TestServer;

  before(async () => {
    ensureBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-server-'));
    small = path.join(dir, 'mlp.onnx');
    large = path.join(dir, 'wide.onnx');
    writeMlp(small, 64, 128);
    writeMlp(large, 1024, 2048);
    server = await TestServer.start(true);
  });

  after(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  void it('answers onnxLean/inspect', async () => {
    const report = await server.conn.sendRequest(InspectRequest.type, { path: small });
    assert.equal(report.nodeCount, 3);
    assert.deepEqual(report.inputs.map((i) => i.name), ['x']);
    const byUri = await server.conn.sendRequest(InspectRequest.type, { uri: `file://${small}` });
    assert.equal(byUri.nodeCount, 3);
  });

  void it('answers onnxLean/profile with work-done progress', { timeout: 120_000 }, async () => {
    const seen: Progress[] = [];
    const report = await server.profile({ path: small, options: { runs: 20, warmup: 2 } }, (v) => seen.push(v));
    assert.equal(report.runs, 20);
    assert.ok(report.latencyMs.p50 <= report.latencyMs.p95, `p50 ${report.latencyMs.p50} > p95 ${report.latencyMs.p95}`);
    assert.ok(report.nodes.length > 0, 'per-node times');
    const begin = seen[0];
    assert.ok(begin?.kind === 'begin', 'progress starts with begin');
    assert.match(begin.title, /Profiling mlp\.onnx/);
    assert.ok(seen.some((v) => v.kind === 'report' && v.message), 'at least one report with a message');
    assert.equal(seen.at(-1)?.kind, 'end');
  });

  void it('cancels a profile for real: prompt RequestCancelled reply, model free again', { timeout: 120_000 }, async () => {
    const cts = new CancellationTokenSource();
    let running = (): void => undefined;
    const measuring = new Promise<void>((resolve) => (running = resolve));
    // Cancel once the timed runs have started, i.e. while the worker is busy inside onnxruntime.
    const onProgress = (v: Progress) => v.kind === 'report' && /^run /.test(v.message ?? '') && running();
    const request = server.profile({ path: large, options: { runs: 1_000_000, warmup: 1 } }, onProgress, cts.token);
    await measuring;
    const cancelledAt = Date.now();
    cts.cancel();
    const err = await errorReply(request);
    const latency = Date.now() - cancelledAt;
    assert.equal(err.code, LSPErrorCodes.RequestCancelled, err.message);
    assert.ok(latency < 3000, `cancel reply took ${latency} ms`);
    // The worker is gone and the model's slot free: the same model profiles again at once.
    const again = await server.profile({ path: large, options: { runs: 2, warmup: 0, perNode: false } });
    assert.equal(again.runs, 2);
  });

  void it('refuses a second profile of a model that is already being profiled', { timeout: 120_000 }, async () => {
    const cts = new CancellationTokenSource();
    const first = server.profile({ path: large, options: { runs: 1_000_000, warmup: 0 } }, undefined, cts.token);
    const busy = await errorReply(server.profile({ path: large, options: { runs: 2 } }));
    assert.equal(busy.code, OnnxLeanErrorCodes.Busy);
    assert.match(busy.message, /wide\.onnx is already being profiled/);
    cts.cancel();
    assert.equal((await errorReply(first)).code, LSPErrorCodes.RequestCancelled);
  });

  void it('queues a job on another model until the running one ends', { timeout: 120_000 }, async () => {
    const cts = new CancellationTokenSource();
    let firstReport = (): void => undefined;
    const running = new Promise<void>((resolve) => (firstReport = resolve));
    const first = server.profile({ path: large, options: { runs: 1_000_000, warmup: 0 } }, (v) => v.kind === 'report' && firstReport(), cts.token);
    await running;
    let queuedReport = (): void => undefined;
    const queued = new Promise<void>((resolve) => (queuedReport = resolve));
    const second = server.profile({ path: small, options: { runs: 3, warmup: 0, perNode: false } }, (v) => {
      if (v.kind === 'report' && /waiting for another job/.test(v.message ?? '')) queuedReport();
    });
    await queued;
    cts.cancel();
    assert.equal((await errorReply(first)).code, LSPErrorCodes.RequestCancelled);
    assert.equal((await second).runs, 3);
  });

  void it('replies with a clear one-line error for a missing file or a bad request', async () => {
    const missing = path.join(dir, 'nope.onnx');
    const inspect = await errorReply(server.conn.sendRequest(InspectRequest.type, { path: missing }));
    assert.equal(inspect.code, OnnxLeanErrorCodes.JobFailed);
    assert.match(inspect.message, /no such file: .*nope\.onnx/);
    const profile = await errorReply(server.profile({ path: missing, options: {} }));
    assert.match(profile.message, /no such file: .*nope\.onnx/);
    const relative = await errorReply(server.conn.sendRequest(InspectRequest.type, { path: 'mlp.onnx' }));
    assert.equal(relative.code, ErrorCodes.InvalidParams);
    const notOnnx = path.join(dir, 'junk.onnx');
    fs.writeFileSync(notOnnx, 'this is not a model');
    const invalid = await errorReply(server.conn.sendRequest(InspectRequest.type, { path: notOnnx }));
    assert.equal(invalid.code, OnnxLeanErrorCodes.JobFailed, invalid.message);
  });

  void it('in an untrusted workspace refuses to profile but still inspects', { timeout: 120_000 }, async () => {
    const untrusted = await TestServer.start(false);
    try {
      const progress: Progress[] = [];
      const refused = await errorReply(untrusted.profile({ path: small, options: { runs: 2 } }, (v) => progress.push(v)));
      assert.deepEqual(progress, [], 'a refused request starts no progress');
      assert.equal(refused.code, OnnxLeanErrorCodes.Untrusted);
      assert.match(refused.message, /trusted workspace/);
      const report = await untrusted.conn.sendRequest(InspectRequest.type, { path: small });
      assert.equal(report.nodeCount, 3);
      await untrusted.conn.sendNotification(DidChangeTrustNotification.type, { trusted: true });
      const granted = await untrusted.profile({ path: small, options: { runs: 2, warmup: 0, perNode: false } });
      assert.equal(granted.runs, 2);
    } finally {
      await untrusted.stop();
    }
  });

  void it('keeps the engine out of the extension host bundle', () => {
    const bundle = fs.readFileSync(path.join(ROOT, 'dist/extension.js'), 'utf8');
    assert.doesNotMatch(bundle, /require\(["']onnxruntime/, 'dist/extension.js must not load onnxruntime-node');
    assert.doesNotMatch(bundle, /\/\/ src\/runtime\//, 'dist/extension.js must not bundle src/runtime');
  });
});
