import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../src/core/random';
import { UserError } from '../../src/core/errors';
import { floatTensor, graph, model as makeModel, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { encodeModel } from '../../src/onnx/encode';
import { attrInt } from '../../src/onnx/graph';
import type { ModelProto, NodeProto, TensorProto } from '../../src/onnx/types';
import { excludeMatcher } from '../../src/passes/exclude';
import type { PassReport, RawOptions } from '../../src/passes/pass';
import { int4WeightsPass } from '../../src/passes/quant/int4';
import { dequantizeInt4Blockwise } from '../../src/passes/quant/math';
import { float32Values } from '../../src/passes/quant/weights';
import { seededInputs } from '../helpers/ort';
import { compareModels, copyModel, ifModel, IF_FEATURES, mlpModel, MLP_FEATURES, nothingToQuantizeModel, optimizedOpCounts, sharedWeightModel } from '../helpers/ortCheck';

/** Cosine similarity of the outputs the int4 model must keep with the fp32 model (random weights). */
const MIN_COSINE = 0.98;

async function quantize(model: ModelProto, raw: RawOptions = {}, exclude: string[] = []): Promise<PassReport> {
  return int4WeightsPass.run({ model, isExcluded: excludeMatcher(exclude) }, int4WeightsPass.parseOptions(raw));
}

async function assertFused(model: ModelProto, layers: number): Promise<Record<string, number>> {
  const counts = await optimizedOpCounts(encodeModel(model), 'all');
  assert.equal(counts.MatMulNBits, layers, `optimized graph: ${JSON.stringify(counts)}`);
  return counts;
}

/**
 * The quantized MLP with each MatMulNBits replaced by a plain MatMul over the weight our own
 * dequantizer reconstructs from B, scales and zero_points. If onnxruntime reads the layout the way we
 * wrote it, both models compute the same thing.
 */
function withDequantizedWeights(quantized: ModelProto): ModelProto {
  const m = copyModel(quantized);
  const g = m.graph as NonNullable<ModelProto['graph']>;
  const byName = new Map(g.initializer.map((t) => [t.name, t]));
  const bytes = (name: string) => (byName.get(name) as TensorProto).raw_data as Uint8Array;
  g.node = g.node.map((n: NodeProto) => {
    if (n.op_type !== 'MatMulNBits') return n;
    const [K, N, block] = [attrInt(n, 'K', 0), attrInt(n, 'N', 0), attrInt(n, 'block_size', 0)];
    const q = {
      packed: bytes(n.input[1]),
      scales: float32Values(byName.get(n.input[2]) as TensorProto) as Float32Array,
      zeroPoints: n.input[3] ? bytes(n.input[3]) : undefined,
      blocksPerColumn: Math.ceil(K / block),
    };
    const name = `${n.output[0]}_dequantized`;
    g.initializer.push(floatTensor(name, [K, N], dequantizeInt4Blockwise(q, K, N, block)));
    return node('MatMul', [n.input[0], name], n.output, {}, n.name);
  });
  return m;
}

/** x [batch, 64] -> MatMul [64, 8] -> y: too narrow for 4-bit blocks. */
function narrowModel(): ModelProto {
  const w = floatTensor('narrow.weight', [64, 8], new Rng(3).normalArray(64 * 8, 0.1));
  const g = graph({
    name: 'narrow',
    node: [node('MatMul', ['x', 'narrow.weight'], ['y'], {}, 'narrow')],
    initializer: [w],
    input: [valueInfo('x', DataType.FLOAT, ['batch', 64])],
    output: [valueInfo('y', DataType.FLOAT, ['batch', 8])],
  });
  return makeModel(g, 17);
}

void describe('int4-weights pass', () => {
  void test('MLP: every layer becomes MatMulNBits with the documented layout; outputs close to fp32', async (t) => {
    const original = mlpModel();
    const model = copyModel(original);
    const report = await quantize(model);
    assert.deepEqual(
      report.changed.map((c) => c.name),
      ['fc1', 'fc2', 'y'],
    );
    assert.deepEqual(report.options, { block: 128, symmetric: true, accuracy_level: 4 });
    assert.ok(model.opset_import.some((o) => o.domain === 'com.microsoft' && Number(o.version) === 1));
    const fc1 = model.graph?.node.find((n) => n.op_type === 'MatMulNBits' && n.output[0] === 'fc1_product');
    assert.ok(fc1, 'Gemm became MatMulNBits + Add');
    assert.deepEqual([attrInt(fc1, 'K', 0), attrInt(fc1, 'N', 0), attrInt(fc1, 'bits', 0), attrInt(fc1, 'block_size', 0), attrInt(fc1, 'accuracy_level', -1)], [MLP_FEATURES, 256, 4, 128, 4]);
    assert.equal(fc1.input.length, 3, 'symmetric: no zero points');
    const packed = model.graph?.initializer.find((i) => i.name === fc1.input[1]);
    assert.deepEqual(packed?.dims, [256, 1, 64], 'B is [N, ceil(K / block), block / 2], K=96 padded to 128');
    assert.equal(packed?.data_type, DataType.UINT8);
    assert.deepEqual(model.graph?.initializer.find((i) => i.name === fc1.input[2])?.dims, [256]);
    assert.equal(report.stats.weightsQuantized, 3);
    assert.ok(report.stats.weightBytesAfter < report.stats.weightBytesBefore / 6);

    const optimized = await assertFused(model, 3);
    t.diagnostic(`ORT optimized graph: ${JSON.stringify(optimized)}`);
    const diff = await compareModels(encodeModel(original), encodeModel(model), seededInputs({ x: [16, MLP_FEATURES] }, 3));
    t.diagnostic(`y: cosine ${diff.y.cosine.toFixed(6)}, max |diff| ${diff.y.maxAbs.toFixed(4)} (${(diff.y.relative * 100).toFixed(1)} % of max |y|)`);
    assert.ok(diff.y.cosine >= MIN_COSINE, `cosine ${diff.y.cosine}`);
    assert.equal(diff.gram.maxAbs, 0);
  });

  for (const options of [
    { block: '128', symmetric: 'true' },
    { block: '64', symmetric: 'false' },
    { block: '32', symmetric: 'false' },
    { block: '16', symmetric: 'true' },
  ]) {
    void test(`ORT reads B, scales and zero points as we wrote them (${JSON.stringify(options)})`, async (t) => {
      const model = copyModel(mlpModel());
      // accuracy_level 1: fp32 compute, so the only difference left is float summation order.
      await quantize(model, { ...options, accuracy_level: '1' });
      const diff = await compareModels(encodeModel(withDequantizedWeights(model)), encodeModel(model), seededInputs({ x: [4, MLP_FEATURES] }, 8));
      t.diagnostic(`vs dequantized fp32: cosine ${diff.y.cosine.toFixed(9)}, relative max |diff| ${diff.y.relative.toExponential(2)}`);
      assert.ok(diff.y.relative < 1e-4, `relative difference ${diff.y.relative}`);
    });
  }

  void test('weights in Constant nodes', async () => {
    const original = mlpModel('constant');
    const model = copyModel(original);
    assert.equal((await quantize(model)).changed.length, 3);
    assert.ok(!(model.graph?.node ?? []).some((n) => n.op_type === 'Constant' && n.output[0].endsWith('.weight')));
    await assertFused(model, 3);
    const diff = await compareModels(encodeModel(original), encodeModel(model), seededInputs({ x: [8, MLP_FEATURES] }, 4));
    assert.ok(diff.y.cosine >= MIN_COSINE, `cosine ${diff.y.cosine}`);
  });

  void test('MatMuls inside If branches (local and outer-scope weights)', async (t) => {
    const original = ifModel();
    const model = copyModel(original);
    assert.equal((await quantize(model)).changed.length, 2);
    await assertFused(model, 2);
    for (const sign of [1, -1]) {
      const feeds = seededInputs({ x: [6, IF_FEATURES] }, 5);
      feeds.x.data = feeds.x.data.map((v) => sign * Math.abs(v));
      const diff = await compareModels(encodeModel(original), encodeModel(model), feeds);
      t.diagnostic(`${sign > 0 ? 'then' : 'else'} branch: cosine ${diff.y.cosine.toFixed(6)}`);
      assert.ok(diff.y.cosine >= MIN_COSINE, `cosine ${diff.y.cosine}`);
    }
  });

  void test('a shared weight is quantized once', async () => {
    const model = copyModel(sharedWeightModel());
    const report = await quantize(model, { block: '32' });
    assert.equal(report.stats.layersQuantized, 2);
    assert.equal(report.stats.weightsQuantized, 1);
    await assertFused(model, 2);
  });

  void test('too-small layers and excluded nodes are skipped with reasons', async () => {
    const narrow = copyModel(narrowModel());
    const report = await quantize(narrow);
    assert.deepEqual(report.changed, []);
    assert.match(report.skipped[0].reason, /too small/);
    assert.equal(report.warnings.length, 1);
    assert.ok(!narrow.opset_import.some((o) => o.domain === 'com.microsoft'), 'no com.microsoft import when nothing changed');

    const model = copyModel(mlpModel());
    const excluded = await quantize(model, {}, ['MatMul']);
    assert.deepEqual(
      excluded.changed.map((c) => c.name),
      ['fc1', 'y'],
    );
    assert.equal(model.graph?.node.find((n) => n.name === 'fc2')?.op_type, 'MatMul');
    await assertFused(model, 2);
  });

  void test('bad options are UserErrors naming the key', () => {
    const throwsNaming = (raw: RawOptions, key: string) =>
      assert.throws(
        () => int4WeightsPass.parseOptions(raw),
        (err: unknown) => err instanceof UserError && err.message.includes(key),
      );
    throwsNaming({ block: '48' }, 'block');
    throwsNaming({ block: 'big' }, 'block');
    throwsNaming({ accuracy_level: '5' }, 'accuracy_level');
    throwsNaming({ symmetric: 'perhaps' }, 'symmetric');
    throwsNaming({ bits: '4' }, 'bits');
  });

  void test('a model with nothing to quantize gives a warning and no change', async () => {
    const original = nothingToQuantizeModel();
    const model = copyModel(original);
    const report = await quantize(model);
    assert.deepEqual(report.changed, []);
    assert.equal(report.warnings.length, 1);
    assert.ok(encodeModel(model).equals(encodeModel(original)));
  });
});
