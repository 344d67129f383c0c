import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { UserError } from '../../src/core/errors';
import { Rng } from '../../src/core/random';
import { model } from '../../src/onnx/build';
import { encodeModel } from '../../src/onnx/encode';
import { decodeBuffer } from '../../src/onnx/io';
import type { ModelProto, TensorProto } from '../../src/onnx/types';
import { distillPass } from '../../src/passes/distill';
import { pruneMagnitudePass } from '../../src/passes/prune';
import type { PassContext, PassReport, RawOptions } from '../../src/passes/pass';
import { float32Values } from '../../src/passes/quant/weights';
import { captureActivations } from '../../src/runtime/activations';
import { writeNpyFile } from '../../src/runtime/npy';
import { floatInfo, gemmLayer, GraphBuilder, matMulLayer } from '../../src/samples/builder';
import { seededInputs } from '../helpers/ort';
import { compareModels } from '../helpers/ortCheck';

const BATCH = 16;

/** x [batch, 32] -> Gemm+Relu (gemm_0) -> MatMul+Add+Relu (matmul_0, add_0) -> Gemm (y). */
function mlpTeacher(): ModelProto {
  const b = new GraphBuilder(new Rng(3));
  const h1 = b.op('Relu', [gemmLayer(b, 'x', 32, 64, 'fc1')]);
  const h2 = b.op('Relu', [matMulLayer(b, h1, 64, 48, 'fc2')]);
  gemmLayer(b, h2, 48, 10, 'fc3', 'y');
  return model(b.build('mlp', [floatInfo('x', ['batch', 32])], [floatInfo('y', ['batch', 10])]));
}

/**
 * Convolutions of every kind the im2col rows must get right: padded 3x3, strided, grouped, dilated,
 * auto_pad SAME_UPPER, depthwise, 1x1 without bias, then pooling and a Gemm.
 */
function cnnTeacher(): ModelProto {
  const b = new GraphBuilder(new Rng(5));
  const conv = (input: string, name: string, cin: number, cout: number, k: number, attrs: Record<string, number | number[] | string>, bias = true) => {
    const group = typeof attrs.group === 'number' ? attrs.group : 1;
    const inputs = [input, b.heWeight(`${name}.weight`, [cout, cin / group, k, k], (cin / group) * k * k)];
    if (bias) inputs.push(b.around(`${name}.bias`, [cout], 0, 0.1));
    return b.op('Relu', [b.op('Conv', inputs, { kernel_shape: [k, k], ...attrs }, name)]);
  };
  let t = conv('x', 'c1', 3, 8, 3, { pads: [1, 1, 1, 1] });
  t = conv(t, 'c2', 8, 8, 3, { pads: [0, 1, 1, 0], strides: [2, 1], group: 2 });
  t = conv(t, 'c3', 8, 12, 3, { pads: [2, 2, 2, 2], dilations: [2, 2] });
  t = conv(t, 'c4', 12, 12, 3, { auto_pad: 'SAME_UPPER', strides: [2, 2], group: 12 });
  t = conv(t, 'c5', 12, 16, 1, {}, false);
  const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [t])], { axis: 1 });
  gemmLayer(b, pooled, 16, 5, 'fc', 'y');
  return model(b.build('cnn', [floatInfo('x', [2, 3, 12, 10])], [floatInfo('y', [2, 5])]));
}

function copy(m: ModelProto): ModelProto {
  return decodeBuffer(encodeModel(m), 'copy');
}

function initializer(m: ModelProto, name: string): TensorProto {
  const t = m.graph?.initializer.find((i) => i.name === name);
  assert.ok(t, `no initializer ${name}`);
  return t;
}

function values(m: ModelProto, name: string): Float32Array {
  return float32Values(initializer(m, name)) as Float32Array;
}

function setValues(m: ModelProto, name: string, v: Float32Array, dims?: number[]): void {
  const t = initializer(m, name);
  t.raw_data = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  t.float_data = [];
  if (dims) t.dims = dims;
}

function perturb(m: ModelProto, names: string[], scale: number, seed: number): void {
  const rng = new Rng(seed);
  for (const name of names) setValues(m, name, values(m, name).map((v) => v + scale * rng.normal()));
}

/** Zeroes the smallest |w| (fraction of the tensor), as magnitude pruning does. */
function magnitudePrune(m: ModelProto, name: string, fraction: number): void {
  const v = Float32Array.from(values(m, name));
  const threshold = Float32Array.from(v, Math.abs).sort()[Math.floor(v.length * fraction)];
  setValues(m, name, v.map((x) => (Math.abs(x) < threshold ? 0 : x)));
}

/** 2:4 along the input axis of a [K, N] weight: the 2 smallest of every 4 consecutive inputs become zero. */
function prune24(m: ModelProto, name: string, K: number, N: number): void {
  const v = Float32Array.from(values(m, name));
  for (let j = 0; j < N; j++) {
    for (let k0 = 0; k0 < K; k0 += 4) {
      const idx = [0, 1, 2, 3].map((d) => (k0 + d) * N + j).sort((a, b) => Math.abs(v[a]) - Math.abs(v[b]));
      v[idx[0]] = 0;
      v[idx[1]] = 0;
    }
  }
  setValues(m, name, v);
}

function context(student: ModelProto, teacher: ModelProto, extra: Partial<NonNullable<PassContext['teacher']>> = {}): PassContext {
  return { model: student, isExcluded: () => false, teacher: { model: teacher, shapes: { x: [BATCH, 32] }, ...extra } };
}

async function distill(student: ModelProto, teacher: ModelProto, raw: RawOptions = {}, extra: Partial<NonNullable<PassContext['teacher']>> = {}): Promise<PassReport> {
  return distillPass.run(context(student, teacher, extra), distillPass.parseOptions(raw));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function zeroPositions(v: Float32Array): number[] {
  const out: number[] = [];
  v.forEach((x, i) => x === 0 && out.push(i));
  return out;
}

const MLP_WEIGHTS = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias'];

void describe('distill pass', () => {
  void test('least squares recovers an exactly representable student exactly', async () => {
    const teacher = mlpTeacher();
    const student = copy(teacher);
    perturb(student, MLP_WEIGHTS, 0.05, 9);
    const report = await distill(student, teacher, { ridge: '0', samples: '8' });
    assert.deepEqual(
      report.changed.map((c) => c.name),
      ['gemm_0', 'matmul_0', 'y'],
    );
    for (const name of MLP_WEIGHTS) assert.ok(maxAbsDiff(values(student, name), values(teacher, name)) < 2e-5, `${name} differs by ${maxAbsDiff(values(student, name), values(teacher, name))}`);
    assert.ok(report.stats.cosineBefore < 0.99, `cosine before ${report.stats.cosineBefore}`);
    assert.ok(report.stats.cosineAfter > 0.999999, `cosine after ${report.stats.cosineAfter}`);
    assert.ok(report.stats.sqnrDbAfter > 100, `SQNR after ${report.stats.sqnrDbAfter}`);
    const diff = await compareModels(encodeModel(teacher), encodeModel(student), seededInputs({ x: [4, 32] }, 77));
    assert.ok(diff.y.maxAbs < 1e-4, `outputs differ by ${diff.y.maxAbs}`);
  });

  void test('the default ridge still lands close to the teacher', async () => {
    const teacher = mlpTeacher();
    const student = copy(teacher);
    perturb(student, MLP_WEIGHTS, 0.05, 10);
    const report = await distill(student, teacher, { samples: '8' });
    assert.equal(report.changed.length, 3);
    assert.ok(report.stats.sqnrDbAfter > report.stats.sqnrDbBefore + 30, `${report.stats.sqnrDbBefore} -> ${report.stats.sqnrDbAfter} dB`);
  });

  void test('convolutions (padded, strided, grouped, dilated, SAME_UPPER, depthwise, 1x1) are recovered exactly', async () => {
    const teacher = cnnTeacher();
    const student = copy(teacher);
    const weights = (student.graph?.initializer ?? []).map((t) => t.name as string);
    perturb(student, weights, 0.05, 4);
    const report = await distill(student, teacher, { ridge: '0', samples: '24', max_rows: '4096' }, { shapes: undefined });
    assert.deepEqual(
      report.changed.map((c) => c.name),
      ['c1', 'c2', 'c3', 'c4', 'c5', 'y'],
    );
    // c5 had no bias: refitting added one (bias correction).
    assert.ok(student.graph?.node.find((n) => n.name === 'c5')?.input[2]);
    for (const name of weights) assert.ok(maxAbsDiff(values(student, name), values(teacher, name)) < 1e-4, `${name} differs by ${maxAbsDiff(values(student, name), values(teacher, name))}`);
    assert.ok(report.stats.sqnrDbAfter > 80, `SQNR ${report.stats.sqnrDbBefore} -> ${report.stats.sqnrDbAfter}`);
  });

  void test('masked fit keeps unstructured and 2:4 zeros and improves over the plain pruned student', async () => {
    const teacher = mlpTeacher();
    const student = copy(teacher);
    magnitudePrune(student, 'fc2.weight', 0.5);
    prune24(student, 'fc3.weight', 48, 10);
    const zeros2 = zeroPositions(values(student, 'fc2.weight'));
    const zeros3 = zeroPositions(values(student, 'fc3.weight'));
    const report = await distill(student, teacher, { samples: '16' });
    assert.deepEqual(zeroPositions(values(student, 'fc2.weight')), zeros2, 'fc2 keeps exactly its zeros');
    assert.deepEqual(zeroPositions(values(student, 'fc3.weight')), zeros3, 'fc3 keeps exactly its zeros');
    assert.ok(zeros2.length >= (64 * 48) / 2 - 1 && zeros3.length === (48 * 10) / 2);
    // gemm_0 was not pruned and has the teacher's inputs: nothing to fit there.
    assert.match(report.skipped.find((s) => s.name === 'gemm_0')?.reason ?? '', /already equals/);
    for (const name of ['matmul_0', 'y']) {
      const change = report.changed.find((c) => c.name === name);
      assert.ok(change, `${name} refitted`);
      assert.match(change.action, /zeros kept/);
      const [before, after] = (/error ([\d.e-]+) -> ([\d.e-]+)/.exec(change.action) ?? []).slice(1).map(Number);
      assert.ok(after < before, `${name}: ${change.action}`);
    }
    assert.ok(report.stats.cosineAfter > report.stats.cosineBefore, `cosine ${report.stats.cosineBefore} -> ${report.stats.cosineAfter}`);
    assert.ok(report.stats.sqnrDbAfter > report.stats.sqnrDbBefore + 3, `SQNR ${report.stats.sqnrDbBefore} -> ${report.stats.sqnrDbAfter}`);
  });

  void test('a student from prune-magnitude at 50 % improves end-to-end, on fresh inputs too', async () => {
    const teacher = mlpTeacher();
    const student = copy(teacher);
    const pruned = await pruneMagnitudePass.run({ model: student, isExcluded: () => false }, pruneMagnitudePass.parseOptions({ sparsity: '0.5' }));
    assert.equal(pruned.changed.length, 3);
    const plain = copy(student);
    const zeros = zeroPositions(values(student, 'fc2.weight'));
    const report = await distill(student, teacher, { samples: '16' });
    assert.ok(report.stats.cosineAfter > report.stats.cosineBefore, `cosine ${report.stats.cosineBefore} -> ${report.stats.cosineAfter}`);
    assert.deepEqual(zeroPositions(values(student, 'fc2.weight')), zeros);
    const feeds = seededInputs({ x: [64, 32] }, 123);
    const [before, after] = [await compareModels(encodeModel(teacher), encodeModel(plain), feeds), await compareModels(encodeModel(teacher), encodeModel(student), feeds)];
    assert.ok(after.y.cosine > before.y.cosine, `fresh inputs: ${before.y.cosine} -> ${after.y.cosine}`);
  });

  void test('removed hidden units: kept channels are identified by their weights and the next layer is refitted', async () => {
    const teacher = mlpTeacher();
    const student = copy(teacher);
    // Keep every other hidden unit of fc1 (Gemm, weight [64, 32] with transB): rows of fc1, bias, rows of fc2 [64, 48].
    const keep = Array.from({ length: 32 }, (_, i) => 2 * i + 1);
    const w1 = values(teacher, 'fc1.weight');
    const w2 = values(teacher, 'fc2.weight');
    setValues(student, 'fc1.weight', Float32Array.from(keep.flatMap((r) => [...w1.subarray(r * 32, r * 32 + 32)])), [32, 32]);
    setValues(student, 'fc1.bias', Float32Array.from(keep.map((r) => values(teacher, 'fc1.bias')[r])), [32]);
    setValues(student, 'fc2.weight', Float32Array.from(keep.flatMap((r) => [...w2.subarray(r * 48, r * 48 + 48)])), [32, 48]);
    const report = await distill(student, teacher, { samples: '16' });
    assert.match(report.skipped.find((s) => s.name === 'gemm_0')?.reason ?? '', /already equals/, 'fc1 matches the teacher on its kept units');
    assert.ok(report.changed.some((c) => c.name === 'matmul_0'));
    assert.equal(values(student, 'fc2.weight').length, 32 * 48);
    assert.ok(report.stats.sqnrDbAfter > report.stats.sqnrDbBefore, `SQNR ${report.stats.sqnrDbBefore} -> ${report.stats.sqnrDbAfter}`);
  });

  void test('width=0.5 narrows the hidden layers with prune-channels, then fits the narrow student', async () => {
    const teacher = mlpTeacher();
    const student = copy(teacher);
    const report = await distill(student, teacher, { width: '0.5', samples: '16' });
    assert.equal(values(student, 'fc1.weight').length, 32 * 32);
    assert.equal(values(student, 'fc3.weight').length, 10 * 24);
    assert.ok(report.changed.some((c) => c.action.startsWith('width 0.5: removed')));
    assert.ok(report.changed.some((c) => c.name === 'y' && c.action.startsWith('refit')));
    assert.ok(report.stats.sqnrDbAfter > report.stats.sqnrDbBefore, `SQNR ${report.stats.sqnrDbBefore} -> ${report.stats.sqnrDbAfter}`);
    // The teacher itself is untouched.
    assert.equal(values(teacher, 'fc1.weight').length, 64 * 32);
  });

  void test('width=0.5 on a CNN: kept channels are traced through a depthwise conv to the layer after it', async () => {
    const teacher = cnnTeacher();
    const student = copy(teacher);
    const report = await distill(student, teacher, { width: '0.5', samples: '16' }, { shapes: undefined });
    // prune-channels narrowed c3 (with the depthwise c4 and c5's inputs) and c5.
    assert.equal(values(student, 'c3.weight').length, 6 * 8 * 9);
    assert.equal(values(student, 'c5.weight').length, 8 * 6);
    // c3 and c4 are the teacher's filters on the kept channels: matched exactly, nothing to fit.
    for (const name of ['c3', 'c4']) assert.match(report.skipped.find((s) => s.name === name && !s.reason.startsWith('width'))?.reason ?? '', /already equals/, name);
    // c5 lost input and output channels: its kept outputs were found through c4 back to c3.
    assert.match(report.changed.find((c) => c.name === 'c5' && c.action.startsWith('refit'))?.action ?? '', /error/);
    assert.ok(report.stats.sqnrDbAfter > report.stats.sqnrDbBefore + 3, `SQNR ${report.stats.sqnrDbBefore} -> ${report.stats.sqnrDbAfter}`);
  });

  void test('a layer whose refit would worsen its own held-out error is left alone and reported', async () => {
    // y = x · W, W [2, 1]. The fitting samples only excite input 0, so the fit corrects w0 alone;
    // the held-out sample x = (1, -0.9) relied on w0's and w1's errors cancelling.
    const b = new GraphBuilder(new Rng(1));
    b.floats('w', [2, 1], [0.5, -0.25]);
    b.op('MatMul', ['x', 'w'], {}, 'y');
    const teacher = model(b.build('one', [floatInfo('x', [1, 2])], [floatInfo('y', [1, 1])]));
    const student = copy(teacher);
    setValues(student, 'w', Float32Array.of(1.5, 0.75));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-data-'));
    try {
      const rows = [[1, 0], [2, 0], [-1, 0], [1, -0.9]];
      rows.forEach((x, i) => writeNpyFile(path.join(dir, `s${i}.npy`), { dtype: 'float32', shape: [1, 2], data: Float32Array.from(x) }));
      const report = await distill(student, teacher, { ridge: '1e-6' }, { dataDir: dir, shapes: undefined });
      assert.equal(report.changed.length, 0);
      assert.match(report.skipped[0].reason, /would not reduce the layer's own output error \(held-out relative error ([\d.e-]+) -> ([\d.e-]+)\); original weights kept/);
      assert.equal(report.stats.layersKept, 1);
      assert.deepEqual([...values(student, 'w')], [1.5, 0.75]);
      assert.equal(report.stats.samplesFit, 3);
      assert.equal(report.stats.samplesHeldOut, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('refits that bring a layer closer but the model further from the teacher are reverted', async () => {
    // y = (x·w1)·w2. The student scaled hidden units by 2 in w1 and by ~1/2 in w2: its hidden layer is
    // far from the teacher's, its output close. Refitting only the hidden layer undoes the scaling there,
    // which w2 no longer matches.
    const b = new GraphBuilder(new Rng(8));
    b.heWeight('w1', [8, 6], 8);
    b.heWeight('w2', [6, 3], 6);
    b.op('MatMul', [b.op('MatMul', ['x', 'w1'], {}, 'h'), 'w2'], {}, 'y');
    const teacher = model(b.build('two', [floatInfo('x', [16, 8])], [floatInfo('y', [16, 3])]));
    const student = copy(teacher);
    setValues(student, 'w1', values(teacher, 'w1').map((v) => 2 * v));
    setValues(student, 'w2', values(teacher, 'w2').map((v) => 0.505 * v));
    const w1 = Float32Array.from(values(student, 'w1'));
    const report = await distill(student, teacher, { layers: 'h', samples: '8' }, { shapes: undefined });
    assert.deepEqual(report.changed, []);
    assert.match(report.skipped.find((s) => s.name === 'h')?.reason ?? '', /^refit reverted \(held-out relative error 1\.00 -> [\d.e-]+\): end-to-end fidelity got worse/);
    assert.match(report.warnings.join('\n'), /got worse .* every original weight was restored/);
    assert.deepEqual([...values(student, 'w1')], [...w1]);
    assert.equal(report.stats.sqnrDbAfter, report.stats.sqnrDbBefore);
  });

  void test('bad options, a missing teacher and unknown layers are UserErrors', async () => {
    const bad: RawOptions[] = [{ samples: '0' }, { ridge: '-1' }, { max_rows: 'many' }, { width: '0' }, { width: '1.5' }, { holdout: '2.5' }, { typo: '1' }];
    for (const raw of bad) {
      assert.throws(() => distillPass.parseOptions(raw), UserError, JSON.stringify(raw));
    }
    const teacher = mlpTeacher();
    await assert.rejects(async () => distillPass.run({ model: copy(teacher), isExcluded: () => false }, distillPass.parseOptions({})), (err: Error) => err instanceof UserError && /needs the teacher/.test(err.message));
    await assert.rejects(distill(copy(teacher), teacher, { layers: 'gemm_0;nope' }), (err: Error) => err instanceof UserError && /unknown layer nope/.test(err.message));
  });
});

void describe('activation capture', () => {
  void test('captures intermediate tensors and graph inputs per sample', async () => {
    const teacher = mlpTeacher();
    const acts = await captureActivations(encodeModel(teacher), ['x', 'gemm_0', 'y'], { seed: 3, samples: 2, shapes: { x: [4, 32] } });
    assert.deepEqual(acts.get('gemm_0')?.dims, [4, 64]);
    assert.equal(acts.get('y')?.data.length, 2);
    assert.deepEqual(acts.get('x')?.sampleDims, [
      [4, 32],
      [4, 32],
    ]);
    await assert.rejects(captureActivations(encodeModel(teacher), ['fc1.weight'], { seed: 1, samples: 1, shapes: { x: [1, 32] } }), /is a constant/);
    await assert.rejects(captureActivations(encodeModel(teacher), ['gemm_0'], { seed: 1, samples: 4, shapes: { x: [4, 32] }, maxBytes: 1000 }), (err: Error) => err.name === 'ActivationBudgetError');
  });

  void test('a long capture is cancelled promptly', async () => {
    // Two 3x3 convs at 64 channels on 64x64: ~150 M MACs a run, hundreds of runs if not cancelled.
    const b = new GraphBuilder(new Rng(2));
    const c1 = b.op('Conv', ['x', b.heWeight('c1.weight', [64, 3, 3, 3], 27)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    const c2 = b.op('Conv', [c1, b.heWeight('c2.weight', [64, 64, 3, 3], 576)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    b.op('GlobalAveragePool', [c2], {}, 'y');
    const heavy = model(b.build('heavy', [floatInfo('x', [1, 3, 64, 64])], [floatInfo('y', [1, 64, 1, 1])]));
    const controller = new AbortController();
    let abortedAt = 0;
    const capture = captureActivations(encodeModel(heavy), ['y'], { seed: 1, samples: 500 }, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'capture' && !abortedAt) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    await assert.rejects(capture, (err: Error) => err.name === 'AbortError');
    assert.ok(abortedAt > 0, 'aborted during the capture');
    assert.ok(performance.now() - abortedAt < 10_000, `stopped ${(performance.now() - abortedAt).toFixed(0)} ms after the abort`);
  });

  void test('distill stops with AbortError when cancelled', async () => {
    const teacher = mlpTeacher();
    const student = copy(teacher);
    perturb(student, MLP_WEIGHTS, 0.05, 3);
    const controller = new AbortController();
    const run = distill(student, teacher, { samples: '8' }, { signal: controller.signal, onProgress: () => controller.abort() });
    await assert.rejects(run, (err: Error) => err.name === 'AbortError');
  });
});
