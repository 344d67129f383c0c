/**
 * onnxLean/weightHistogram and onnxLean/prunePreview against the built language server (dist/server.js),
 * as the Layer Report calls them: exact figures on hand-made weights, layers inside subgraphs and in
 * Constant nodes, a 5000-node model, error replies, untrusted workspaces and a model rewritten on disk.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ErrorCodes,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  ResponseError,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import { floatTensor, graph, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { saveModel } from '../../src/onnx/io';
import { SAMPLES } from '../../src/samples';
import { InspectRequest, OnnxLeanErrorCodes, PrunePreviewRequest, WeightHistogramRequest } from '../../src/shared/protocol';
import { writeWideModel } from '../helpers/wideModel';

const ROOT = path.resolve(__dirname, '../..');
const SERVER = path.join(ROOT, 'dist/server.js');

function ensureBuilt(): void {
  const sources = ['src/server', 'src/shared', 'src/core', 'src/onnx'].flatMap((d) =>
    fs.readdirSync(path.join(ROOT, d), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(ROOT, d, f)),
  );
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(SERVER) && fs.statSync(SERVER).mtimeMs >= newest) return;
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
}

async function startServer(trusted: boolean): Promise<{ child: ChildProcess; conn: ProtocolConnection }> {
  const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();
  await conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { trusted } });
  await conn.sendNotification(InitializedNotification.type, {});
  return { child, conn };
}

async function stopServer({ child, conn }: { child: ChildProcess; conn: ProtocolConnection }): Promise<void> {
  const exited = child.exitCode === null ? once(child, 'exit') : Promise.resolve();
  await conn.sendRequest(ShutdownRequest.type);
  await conn.sendNotification(ExitNotification.type);
  await exited;
  conn.dispose();
}

async function errorReply(request: Promise<unknown>): Promise<ResponseError<unknown>> {
  try {
    await request;
  } catch (err) {
    assert.ok(err instanceof ResponseError, `expected an error reply, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n/, 'one line');
    return err;
  }
  return assert.fail('expected an error reply, got a result');
}

/** x[1,4] -> Gemm(w [4,2] = -4..3 as given, bias [2]) -> y: magnitudes known in advance. */
function writeKnownGemm(file: string, weights: number[]): void {
  const g = graph({
    name: 'known',
    input: [valueInfo('x', DataType.FLOAT, [1, 4])],
    output: [valueInfo('y', DataType.FLOAT, [1, 2])],
    initializer: [floatTensor('w', [4, 2], weights), floatTensor('b', [2], [100, -100])],
    node: [node('Gemm', ['x', 'w', 'b'], ['y'], {}, 'fc')],
  });
  saveModel(model(g), file);
}

void describe('weight requests of the language server (dist/server.js)', () => {
  let dir: string;
  let known: string;
  let server: Awaited<ReturnType<typeof startServer>>;

  before(async () => {
    ensureBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-weights-'));
    known = path.join(dir, 'known.onnx');
    writeKnownGemm(known, [-4, -3, -2, -1, 0, 1, 2, 3]);
    server = await startServer(true);
  });

  after(async () => {
    await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  void it('histograms the magnitudes of a layer’s 2-D weights, leaving the bias out', async () => {
    const h = await server.conn.sendRequest(WeightHistogramRequest.type, { path: known, layer: 'fc', bins: 4 });
    assert.deepEqual(h.tensors, ['w']);
    assert.equal(h.count, 8);
    assert.deepEqual([h.min, h.max, h.absMax, h.zeros], [-4, 3, 4, 1]);
    // |w| = 4 3 2 1 0 1 2 3 over [0,4) in 4 bins: {0}, {1,1}, {2,2}, {3,3,4 (last bin includes absMax)}
    assert.deepEqual(h.counts, [1, 2, 2, 3]);
  });

  void it('previews magnitude pruning with the exact threshold and counts ties', async () => {
    const half = await server.conn.sendRequest(PrunePreviewRequest.type, { path: known, layers: ['fc'], sparsity: 0.5 });
    const fc = half.layers[0];
    // k = 4 smallest of 0 1 1 2 2 3 3 4: threshold 2, and the tie at 2 prunes five weights.
    assert.deepEqual([fc.threshold, fc.params, fc.zeros, fc.kept], [2, 8, 1, 3]);
    assert.equal(fc.sparsity, 5 / 8);
    assert.equal(fc.bytes, 32);
    assert.equal(fc.sparseBytes, 3 * 12);
    assert.deepEqual([half.params, half.kept, half.bytes], [8, 3, 32]);
    const none = await server.conn.sendRequest(PrunePreviewRequest.type, { path: known, layers: ['fc'], sparsity: 0 });
    assert.deepEqual([none.layers[0].threshold, none.kept], [0, 7], 'sparsity 0 keeps every non-zero weight');
    const all = await server.conn.sendRequest(PrunePreviewRequest.type, { path: known, layers: ['fc', 'fc'], sparsity: 1 });
    assert.equal(all.layers.length, 1, 'duplicate layer names count once');
    assert.deepEqual([all.layers[0].threshold, all.kept, all.sparsityAfter], [4, 0, 1]);
  });

  void it('finds layers by their inspect names, in subgraphs and in Constant-node models', async () => {
    for (const name of ['ifModel', 'constants', 'cnn']) {
      const file = path.join(dir, `${name}.onnx`);
      saveModel(SAMPLES[name].build(), file);
      const report = await server.conn.sendRequest(InspectRequest.type, { path: file });
      const weighted = report.layers.filter((l) => l.params > 0 && ['MatMul', 'Gemm', 'Conv'].includes(l.opType));
      assert.ok(weighted.length > 0, `${name} has weighted layers`);
      for (const layer of weighted) {
        const h = await server.conn.sendRequest(WeightHistogramRequest.type, { path: file, layer: layer.name });
        assert.ok(h.count > 0 && h.count <= layer.params, `${name} ${layer.name}: ${h.count} of ${layer.params}`);
        assert.equal(h.counts.length, 64, 'default bins');
        assert.equal(h.counts.reduce((a, b) => a + b, 0), h.count);
      }
      if (name === 'ifModel') assert.ok(weighted.some((l) => l.name.includes('/then_branch/')), 'a layer inside a branch');
    }
  });

  void it('answers for a 5000-node model in well under a second per request', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'wide.onnx');
    writeWideModel(file, 2500);
    const report = await server.conn.sendRequest(InspectRequest.type, { path: file });
    assert.equal(report.layers.length, 5000);
    await server.conn.sendRequest(WeightHistogramRequest.type, { path: file, layer: 'block0/matmul' });
    const started = Date.now();
    const h = await server.conn.sendRequest(WeightHistogramRequest.type, { path: file, layer: 'block2499/matmul', bins: 32 });
    const all = report.layers.filter((l) => l.opType === 'MatMul').map((l) => l.name);
    const preview = await server.conn.sendRequest(PrunePreviewRequest.type, { path: file, layers: all, sparsity: 0.75 });
    const elapsed = Date.now() - started;
    assert.equal(h.count, 256);
    assert.equal(preview.layers.length, 2500);
    assert.equal(preview.params, 2500 * 256);
    assert.ok(Math.abs(preview.sparsityAfter - 0.75) < 0.01, `sparsity after ${preview.sparsityAfter}`);
    assert.ok(elapsed < 1000, `histogram + preview of 2500 layers took ${elapsed} ms`);
  });

  void it('replies with one-line errors for unknown layers and bad params', async () => {
    const unknown = await errorReply(server.conn.sendRequest(WeightHistogramRequest.type, { path: known, layer: 'nope' }));
    assert.equal(unknown.code, OnnxLeanErrorCodes.JobFailed);
    assert.match(unknown.message, /no layer named "nope"/);
    const bins = await errorReply(server.conn.sendRequest(WeightHistogramRequest.type, { path: known, layer: 'fc', bins: 0 }));
    assert.equal(bins.code, ErrorCodes.InvalidParams);
    const sparsity = await errorReply(server.conn.sendRequest(PrunePreviewRequest.type, { path: known, layers: ['fc'], sparsity: 1.5 }));
    assert.equal(sparsity.code, ErrorCodes.InvalidParams);
    const missing = await errorReply(server.conn.sendRequest(PrunePreviewRequest.type, { path: path.join(dir, 'gone.onnx'), layers: ['fc'], sparsity: 0.5 }));
    assert.match(missing.message, /no such file/);
  });

  void it('rereads a model rewritten on disk', async () => {
    const file = path.join(dir, 'rewritten.onnx');
    writeKnownGemm(file, [1, 1, 1, 1, 1, 1, 1, 1]);
    assert.equal((await server.conn.sendRequest(WeightHistogramRequest.type, { path: file, layer: 'fc' })).absMax, 1);
    writeKnownGemm(file, [8, 1, 1, 1, 1, 1, 1, 1]);
    const stat = fs.statSync(file);
    fs.utimesSync(file, stat.atime, new Date(stat.mtimeMs + 5000));
    assert.equal((await server.conn.sendRequest(WeightHistogramRequest.type, { path: file, layer: 'fc' })).absMax, 8);
  });

  void it('answers in an untrusted workspace: reading weights executes nothing', async () => {
    const untrusted = await startServer(false);
    try {
      const h = await untrusted.conn.sendRequest(WeightHistogramRequest.type, { path: known, layer: 'fc', bins: 2 });
      assert.equal(h.count, 8);
      const p = await untrusted.conn.sendRequest(PrunePreviewRequest.type, { path: known, layers: ['fc'], sparsity: 0.25 });
      assert.equal(p.layers[0].threshold, 1);
    } finally {
      await stopServer(untrusted);
    }
  });
});
