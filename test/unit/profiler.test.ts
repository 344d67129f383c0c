/**
 * profileModel end to end on small generated models (onnxruntime-node in a worker thread), plus the
 * worker plumbing: crashes, cancellation, progress throttling, ORT error cleanup, script resolution.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isUserFacing } from '../../src/core/errors';
import { Rng } from '../../src/core/random';
import type { ProfileReport } from '../../src/core/reports';
import { floatTensor, graph, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { saveModel } from '../../src/onnx/io';
import type { NodeProto } from '../../src/onnx/types';
import { ProgressReporter } from '../../src/runtime/jobContext';
import { writeNpzFile } from '../../src/runtime/npz';
import { cleanOrtMessage } from '../../src/runtime/ortErrors';
import { normalizeProfileOptions, profileModel } from '../../src/runtime/profiler';
import type { Progress } from '../../src/runtime/protocol';
import { runWorkerJob } from '../../src/runtime/workerHost';
import { resolveWorkerScript } from '../../src/runtime/workerScript';

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-profiler-test-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * A `layers`-deep MLP of Gemm -> Relu blocks, input [batch, width]. The second Gemm (node index 2) has
 * no name, so reports must call it "Gemm_2".
 */
function writeMlp(file: string, width: number, layers = 3, externalData = false): NodeProto[] {
  const rng = new Rng(42);
  const nodes: NodeProto[] = [];
  const weights = [];
  let x = 'x';
  for (let i = 0; i < layers; i++) {
    weights.push(floatTensor(`w${i}`, [width, width], rng.normalArray(width * width, 1 / Math.sqrt(width))), floatTensor(`b${i}`, [width], rng.normalArray(width, 0.1)));
    nodes.push(node('Gemm', [x, `w${i}`, `b${i}`], [`fc${i}`], {}, i === 1 ? '' : `fc${i}`));
    nodes.push(node('Relu', [`fc${i}`], [`act${i}`], {}, `relu${i}`));
    x = `act${i}`;
  }
  const g = graph({ name: 'mlp', node: nodes, initializer: weights, input: [valueInfo('x', DataType.FLOAT, ['batch', width])], output: [valueInfo(x, DataType.FLOAT, ['batch', width])] });
  saveModel(model(g), file, externalData ? { externalData: { threshold: 0 } } : {});
  return nodes;
}

function checkReportInvariants(report: ProfileReport): void {
  const l = report.latencyMs;
  assert.ok(l.p50 <= l.p95 && l.p95 <= l.p99, `percentiles ${l.p50} ${l.p95} ${l.p99}`);
  assert.ok(l.min <= l.mean && l.mean <= l.max, `min ${l.min} mean ${l.mean} max ${l.max}`);
  assert.ok(l.min > 0 && l.stdev >= 0);
  assert.ok(Math.abs(report.throughput - 1000 / l.mean) < 1e-9);
  assert.ok(report.sessionCreateMs > 0);
  assert.ok(report.peakRssBytes > 10 * 1024 * 1024);
  const shares = report.nodes.map((n) => n.share);
  assert.ok(shares.every((s) => s >= 0 && s <= 1));
  assert.ok(shares.reduce((a, b) => a + b, 0) <= 1 + 1e-9);
}

void describe('profileModel', () => {
  const mlp = () => path.join(dir, 'mlp.onnx');
  before(() => writeMlp(mlp(), 64));

  void it('measures latency and maps per-node times to model names (fusions on)', async () => {
    const phases = new Set<string>();
    const report = await profileModel(mlp(), { shapes: { x: [8, 64] }, runs: 20, warmup: 2, threads: 1 }, { onProgress: (p) => phases.add(p.phase) });
    checkReportInvariants(report);
    assert.equal(report.runs, 20);
    assert.equal(report.threads, 1);
    assert.equal(report.graphOptimizationLevel, 'all');
    assert.equal(report.profiledRuns, 10);
    assert.deepEqual(report.inputs, [{ name: 'x', dtype: 'float32', shape: [8, 64], source: 'generated: normal(0,1), seed 1' }]);
    // ORT fuses Gemm+Relu into FusedGemm named "fused <gemm>": the time belongs to the Gemm.
    const names = report.nodes.map((n) => n.name).sort();
    assert.deepEqual(names, ['Gemm_2', 'fc0', 'fc2']);
    assert.ok(report.nodes.every((n) => !n.inserted && n.opType === 'Gemm' && n.meanUs > 0));
    assert.deepEqual(report.nodes.find((n) => n.name === 'Gemm_2')?.ortNames, ['fused Gemm_2']);
    assert.ok(['load', 'session', 'latency', 'profile'].every((p) => phases.has(p)), [...phases].join());
  });

  void it('reports every node by its model name without fusions', async () => {
    const report = await profileModel(mlp(), { shapes: { x: [4, 64] }, runs: 5, warmup: 1, graphOptimizationLevel: 'disabled' });
    checkReportInvariants(report);
    assert.deepEqual(report.nodes.map((n) => n.name).sort(), ['Gemm_2', 'fc0', 'fc1', 'fc2', 'relu0', 'relu1', 'relu2'].filter((n) => n !== 'fc1'));
    assert.equal(report.profiledRuns, 5);
    assert.equal(report.threads, os.availableParallelism());
  });

  void it('skips the per-node profile when asked', async () => {
    const report = await profileModel(mlp(), { shapes: { x: [1, 64] }, runs: 3, warmup: 0, perNode: false });
    assert.deepEqual(report.nodes, []);
    assert.equal(report.profiledRuns, 0);
  });

  void it('feeds samples from a --data folder of .npz files', async () => {
    const data = path.join(dir, 'samples');
    fs.mkdirSync(data);
    const rng = new Rng(3);
    writeNpzFile(path.join(data, 'b.npz'), { x: { dtype: 'float32', shape: [2, 64], data: rng.normalArray(128) } });
    writeNpzFile(path.join(data, 'a.npz'), { x: { dtype: 'float32', shape: [3, 64], data: rng.normalArray(192) } }, { compress: true });
    const report = await profileModel(mlp(), { dataDir: data, runs: 4, warmup: 1 });
    checkReportInvariants(report);
    assert.deepEqual(report.inputs[0].shape, [3, 64]);
    assert.equal(report.inputs[0].source, `data: ${data} (2 files)`);
  });

  void it('loads models with external data from their file, keeping ORT names for unnamed nodes', async () => {
    const file = path.join(dir, 'external.onnx');
    writeMlp(file, 32, 3, true);
    assert.ok(fs.existsSync(`${file}.data`));
    const report = await profileModel(file, { shapes: { x: [2, 32] }, runs: 3, warmup: 0, graphOptimizationLevel: 'disabled' });
    assert.match(report.warnings[0], /external data/);
    // Unfused, ORT itself calls an unnamed node "<OpType>_<index>", which matches the display name.
    assert.ok(report.nodes.some((n) => n.name === 'Gemm_2' && !n.inserted));
  });
});

void describe('profileModel errors are one clear line', () => {
  const mlp = () => path.join(dir, 'mlp-errors.onnx');
  before(() => writeMlp(mlp(), 16, 2));

  async function failure(promise: Promise<unknown>): Promise<Error> {
    const err = await promise.then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error);
    assert.ok(isUserFacing(err), `${err.name}: ${err.message} should be user-facing`);
    assert.ok(!err.message.includes('\n'), err.message);
    return err;
  }

  void it('a missing shape names the input and the symbolic dim', async () => {
    const err = await failure(profileModel(mlp(), { runs: 1 }));
    assert.equal(err.name, 'InputError');
    assert.equal(err.message, "input x has symbolic dimension 'batch': pass --shape x=1,16");
  });

  void it('an unknown execution provider', async () => {
    const err = await failure(profileModel(mlp(), { shapes: { x: [1, 16] }, executionProvider: 'quantum' }));
    assert.equal(err.name, 'OrtError');
    assert.match(err.message, /^unknown execution provider 'quantum': this onnxruntime-node offers cpu/);
  });

  void it('a model ORT refuses', async () => {
    const file = path.join(dir, 'unknown-op.onnx');
    const g = graph({ name: 'g', node: [node('NoSuchOp', ['x'], ['y'], {}, 'weird')], input: [valueInfo('x', DataType.FLOAT, [1])], output: [valueInfo('y', DataType.FLOAT, [1])] });
    saveModel(model(g), file);
    const err = await failure(profileModel(file, { runs: 1 }));
    assert.match(err.message, /^onnxruntime cannot load .*unknown-op\.onnx: invalid model: node weird \(NoSuchOp\): No Op registered for NoSuchOp/);
  });

  void it('a run that fails inside ORT', async () => {
    const file = path.join(dir, 'bad-matmul.onnx');
    const g = graph({
      name: 'g',
      node: [node('MatMul', ['x', 'w'], ['y'], {}, 'mm')],
      initializer: [floatTensor('w', [4, 4], new Float32Array(16))],
      input: [valueInfo('x', DataType.FLOAT, ['a', 'b'])],
      output: [valueInfo('y', DataType.FLOAT, undefined)],
    });
    saveModel(model(g), file);
    const err = await failure(profileModel(file, { shapes: { x: [2, 3] }, runs: 1 }));
    assert.equal(err.message, 'onnxruntime failed to run the model: node mm (MatMul) failed: MatMul dimension mismatch');
  });

  void it('a file that is not a model, and a missing file', async () => {
    const file = path.join(dir, 'garbage.onnx');
    fs.writeFileSync(file, 'definitely not protobuf');
    await failure(profileModel(file, { runs: 1 }));
    const missing = await failure(profileModel(path.join(dir, 'nope.onnx'), { runs: 1 }));
    assert.match(missing.message, /no such file/);
  });

  void it('bad options, before any worker starts', async () => {
    await assert.rejects(profileModel(mlp(), { runs: 0 }), /runs must be an integer >= 1, got 0/);
    assert.throws(() => normalizeProfileOptions({ graphOptimizationLevel: 'max' as never }), /graph optimization level must be one of/);
    assert.deepEqual(normalizeProfileOptions({ runs: undefined }).runs, 50);
  });
});

void describe('cancellation', () => {
  const big = () => path.join(dir, 'big.onnx');
  // About 10-20 ms per run here: 100 000 runs would take half an hour if cancellation did nothing.
  before(() => writeMlp(big(), 1024, 3));

  void it('aborting mid-run rejects promptly with AbortError', async () => {
    const controller = new AbortController();
    let abortedAt = 0;
    const onProgress = (p: Progress) => {
      if (p.phase !== 'latency' || controller.signal.aborted) return;
      abortedAt = performance.now();
      controller.abort();
    };
    const err = await profileModel(big(), { shapes: { x: [64, 1024] }, runs: 100_000, warmup: 1 }, { onProgress, signal: controller.signal }).then(
      () => assert.fail('expected AbortError'),
      (e: unknown) => e as Error,
    );
    const elapsed = performance.now() - abortedAt;
    assert.equal(err.name, 'AbortError');
    assert.ok(abortedAt > 0 && elapsed < 5000, `took ${elapsed} ms after abort`);
  });

  void it('an already aborted signal rejects without starting a worker', async () => {
    await assert.rejects(profileModel(big(), { shapes: { x: [1, 1024] } }, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  void it('the worker is gone (and its temp folder can go) before the promise settles', async () => {
    const tempDir = fs.mkdtempSync(path.join(dir, 'job-'));
    const controller = new AbortController();
    let exited = false;
    const params = { path: big(), options: normalizeProfileOptions({ shapes: { x: [64, 1024] }, runs: 100_000 }), tempDir };
    const hooks = { signal: controller.signal, onProgress: (p: Progress) => p.phase === 'warmup' && controller.abort(), onWorkerExit: () => (exited = true) };
    await assert.rejects(runWorkerJob(resolveWorkerScript('ortWorker', path.join(__dirname, '../../src/runtime')), 'profile', params, hooks), { name: 'AbortError' });
    assert.ok(exited);
  });
});

void describe('worker plumbing', () => {
  function script(name: string, code: string) {
    const file = path.join(dir, `${name}.js`);
    fs.writeFileSync(file, code);
    return { filename: file, execArgv: [] };
  }
  const params = () => ({ path: 'x.onnx', options: normalizeProfileOptions(), tempDir: dir });

  void it('a worker that exits without answering is a clear error', async () => {
    const crash = script('crash', "require('node:worker_threads').parentPort.on('message', () => process.exit(3));");
    await assert.rejects(runWorkerJob(crash, 'profile', params()), /the profile worker exited unexpectedly \(exit code 3\) without answering/);
  });

  void it('an uncaught exception in the worker is reported', async () => {
    const thrower = script('thrower', "require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom'); });");
    await assert.rejects(runWorkerJob(thrower, 'profile', params()), /the profile worker failed: boom/);
  });

  void it('an internal error keeps its name and is not user-facing; a user error is', async () => {
    const reply = (error: object) => script(`reply${Math.random().toString(36).slice(2)}`, `const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage({ type: 'error', id: m.id, error: ${JSON.stringify(error)} }));`);
    const internal = await runWorkerJob(reply({ name: 'TypeError', message: 'x is undefined', userFacing: false }), 'profile', params()).catch((e: Error) => e);
    assert.equal((internal as Error).name, 'TypeError');
    assert.ok(!isUserFacing(internal));
    const user = await runWorkerJob(reply({ name: 'InputError', message: 'bad input', userFacing: true }), 'profile', params()).catch((e: Error) => e);
    assert.equal((user as Error).name, 'InputError');
    assert.ok(isUserFacing(user));
  });

  void it('progress is sent at phase changes and about once a second', () => {
    let now = 0;
    const sent: Progress[] = [];
    const reporter = new ProgressReporter((p) => sent.push(p), 1000, () => now);
    for (let i = 0; i < 30; i++, now += 100) reporter.report('latency', i, 30);
    reporter.report('profile', 0, 5);
    assert.deepEqual(
      sent.map((p) => `${p.phase}:${p.done}`),
      ['latency:0', 'latency:10', 'latency:20', 'profile:0'],
    );
  });

  void it('resolves the bundled worker next to the bundle, else the TypeScript source under tsx', () => {
    const fromSource = resolveWorkerScript('ortWorker', path.join(__dirname, '../../src/runtime'));
    assert.match(fromSource.filename, /ortWorker\.ts$/);
    assert.equal(fromSource.execArgv[0], '--require');
    const bundleDir = fs.mkdtempSync(path.join(dir, 'dist-'));
    fs.writeFileSync(path.join(bundleDir, 'ortWorker.js'), '');
    assert.deepEqual(resolveWorkerScript('ortWorker', bundleDir), { filename: path.join(bundleDir, 'ortWorker.js'), execArgv: [] });
    assert.throws(() => resolveWorkerScript('nothing', bundleDir), /worker script not found/);
  });
});

void describe('ORT error messages', () => {
  const cases: [string, string][] = [
    [
      "[ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while running Gemm node. Name:'g0' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/gemm_helper.h:14 onnxruntime::GemmHelper::GemmHelper(const onnxruntime::TensorShape&, bool, const onnxruntime::TensorShape&, bool, const onnxruntime::TensorShape&) left.NumDimensions() == 2 || left.NumDimensions() == 1 was false. \n\nStacktrace:\n#0 foo\n#1 bar",
      'node g0 (Gemm) failed: left.NumDimensions() == 2 || left.NumDimensions() == 1 was false.',
    ],
    [
      'This is an invalid model. In Node, ("n", FooBar, "com.acme", -1) : ("x": tensor(float),) -> ("y": tensor(float),) , Error No opset import for domain \'com.acme\'',
      "invalid model: node n (com.acme.FooBar): No opset import for domain 'com.acme'",
    ],
    [
      '/onnxruntime_src/onnxruntime/core/framework/op_kernel.cc:83 onnxruntime::common::Status onnxruntime::Gemm<float>::Compute(onnxruntime::OpKernelContext*) const Something bad',
      'Something bad',
    ],
    [
      '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:95 void onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuBufferCacheConfig&, int, bool)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters',
      'adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters',
    ],
    ['Failed to load model because protobuf parsing failed.', 'Failed to load model because protobuf parsing failed.'],
  ];
  for (const [raw, expected] of cases) {
    void it(expected, () => assert.equal(cleanOrtMessage(raw), expected));
  }
});
