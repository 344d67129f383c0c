import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserError } from '../../src/core/errors';
import { DataType } from '../../src/onnx/dtypes';
import { encodeModel } from '../../src/onnx/encode';
import type { ModelProto } from '../../src/onnx/types';
import { excludeMatcher } from '../../src/passes/exclude';
import type { PassReport, RawOptions } from '../../src/passes/pass';
import { int8DynamicPass } from '../../src/passes/quant/dynamic';
import { seededInputs } from '../helpers/ort';
import { compareModels, copyModel, ifModel, IF_FEATURES, mlpModel, MLP_FEATURES, nothingToQuantizeModel, opCounts, optimizedOpCounts, sharedWeightModel } from '../helpers/ortCheck';

/** Cosine similarity of the outputs the int8 model must keep with the fp32 model. */
const MIN_COSINE = 0.99;

async function quantize(model: ModelProto, raw: RawOptions = {}, exclude: string[] = []): Promise<PassReport> {
  return int8DynamicPass.run({ model, isExcluded: excludeMatcher(exclude) }, int8DynamicPass.parseOptions(raw));
}

function initializerNames(model: ModelProto): string[] {
  return (model.graph?.initializer ?? []).map((t) => t.name ?? '');
}

/** What ORT runs: every rewritten layer fused into DynamicQuantizeMatMul, no unfused pieces left. */
async function assertFused(model: ModelProto, layers: number): Promise<Record<string, number>> {
  const counts = await optimizedOpCounts(encodeModel(model), 'all');
  assert.equal(counts.DynamicQuantizeMatMul, layers, `optimized graph: ${JSON.stringify(counts)}`);
  for (const op of ['MatMulInteger', 'MatMulIntegerToFloat', 'DynamicQuantizeLinear', 'Cast']) assert.equal(counts[op], undefined, `${op} left in ${JSON.stringify(counts)}`);
  return counts;
}

const MLP_WEIGHT_ELEMENTS = 256 * MLP_FEATURES + 256 * 128 + 128 * 64;
const MLP_CHANNELS = 256 + 128 + 64;

void describe('int8-dynamic pass', () => {
  void test('MLP with initializers: Gemm (transB, bias), MatMul+Add and Gemm (alpha, beta) fuse to DynamicQuantizeMatMul', async (t) => {
    const original = mlpModel();
    const model = copyModel(original);
    const report = await quantize(model);
    assert.deepEqual(
      report.changed.map((c) => c.name),
      ['fc1', 'fc2', 'y'],
    );
    assert.deepEqual(
      report.skipped.map((s) => s.name),
      ['gram'],
    );
    assert.match(report.skipped[0].reason, /not a constant/);
    assert.deepEqual(report.warnings, []);
    assert.deepEqual(report.stats, {
      layersQuantized: 3,
      weightsQuantized: 3,
      weightBytesBefore: MLP_WEIGHT_ELEMENTS * 4,
      weightBytesAfter: MLP_WEIGHT_ELEMENTS + MLP_CHANNELS * 5,
      tensorsRemoved: 4, // three weights and fc3.bias, replaced by beta * bias
      bytesRemoved: MLP_WEIGHT_ELEMENTS * 4 + 64 * 4,
    });
    const names = initializerNames(model);
    for (const gone of ['fc1.weight', 'fc2.weight', 'fc3.weight', 'fc3.bias']) assert.ok(!names.includes(gone), `${gone} removed`);
    const fc1 = model.graph?.initializer.find((i) => i.name === 'fc1.weight_quantized');
    assert.deepEqual(fc1?.dims, [MLP_FEATURES, 256], 'Gemm transB=1 weight stored as [K, N]');
    assert.equal(fc1?.data_type, DataType.INT8);
    assert.deepEqual(model.graph?.initializer.find((i) => i.name === 'fc1.weight_scale')?.dims, [256]);
    assert.ok(!model.opset_import.some((o) => o.domain === 'com.microsoft'), 'only standard ops emitted');

    const raw = opCounts(encodeModel(model));
    assert.equal(raw.DynamicQuantizeLinear, 3);
    assert.equal(raw.MatMulInteger, 3);
    const optimized = await assertFused(model, 3);
    t.diagnostic(`ORT optimized graph: ${JSON.stringify(optimized)}`);

    const diff = await compareModels(encodeModel(original), encodeModel(model), seededInputs({ x: [16, MLP_FEATURES] }, 3));
    t.diagnostic(`y: cosine ${diff.y.cosine.toFixed(6)}, max |diff| ${diff.y.maxAbs.toFixed(4)} (${(diff.y.relative * 100).toFixed(2)} % of max |y|)`);
    assert.ok(diff.y.cosine >= MIN_COSINE, `cosine ${diff.y.cosine}`);
    assert.equal(diff.gram.maxAbs, 0, 'the skipped MatMul is untouched');
  });

  void test('weights in Constant nodes are quantized and their Constant nodes removed', async () => {
    const original = mlpModel('constant');
    const model = copyModel(original);
    const report = await quantize(model);
    assert.equal(report.changed.length, 3);
    const constantOutputs = (model.graph?.node ?? []).filter((n) => n.op_type === 'Constant').map((n) => n.output[0]);
    assert.deepEqual(constantOutputs.sort(), ['fc1.bias', 'fc2.bias'], 'weight Constants and the beta-scaled bias removed');
    await assertFused(model, 3);
    const diff = await compareModels(encodeModel(original), encodeModel(model), seededInputs({ x: [8, MLP_FEATURES] }, 4));
    assert.ok(diff.y.cosine >= MIN_COSINE, `cosine ${diff.y.cosine}`);
  });

  void test('per_channel=false uses one scale per weight and still fuses', async (t) => {
    const original = mlpModel();
    const model = copyModel(original);
    const report = await quantize(model, { per_channel: 'false' });
    assert.deepEqual(report.options, { per_channel: false });
    assert.deepEqual(model.graph?.initializer.find((i) => i.name === 'fc2.weight_scale')?.dims, []);
    await assertFused(model, 3);
    const diff = await compareModels(encodeModel(original), encodeModel(model), seededInputs({ x: [16, MLP_FEATURES] }, 3));
    t.diagnostic(`per-tensor y cosine ${diff.y.cosine.toFixed(6)}`);
    assert.ok(diff.y.cosine >= MIN_COSINE, `cosine ${diff.y.cosine}`);
  });

  void test('MatMuls inside If branches: a local weight and an outer-scope weight', async (t) => {
    const original = ifModel();
    const model = copyModel(original);
    const report = await quantize(model);
    assert.deepEqual(
      report.changed.map((c) => c.name),
      ['choose/then_branch/then_branch_MatMul', 'choose/else_branch/else_branch_MatMul'],
    );
    const ifNode = model.graph?.node.find((n) => n.op_type === 'If');
    const thenBranch = ifNode?.attribute.find((a) => a.name === 'then_branch')?.g;
    assert.deepEqual(
      thenBranch?.initializer.map((i) => i.name),
      ['then.weight_quantized', 'then.weight_scale', 'then.weight_zero_point'],
    );
    assert.ok(initializerNames(model).includes('else.weight_quantized'), 'outer weight quantized where it lives');
    assert.ok(!initializerNames(model).includes('else.weight'));
    await assertFused(model, 2);
    // Feed x and -x so that both branches run.
    for (const sign of [1, -1]) {
      const feeds = seededInputs({ x: [6, IF_FEATURES] }, 5);
      feeds.x.data = feeds.x.data.map((v) => sign * Math.abs(v));
      const diff = await compareModels(encodeModel(original), encodeModel(model), feeds);
      t.diagnostic(`${sign > 0 ? 'then' : 'else'} branch: cosine ${diff.y.cosine.toFixed(6)}`);
      assert.ok(diff.y.cosine >= MIN_COSINE, `cosine ${diff.y.cosine}`);
    }
  });

  void test('a weight shared by two layers is quantized once; each layer still fuses', async () => {
    const original = sharedWeightModel();
    const model = copyModel(original);
    const report = await quantize(model);
    assert.equal(report.stats.layersQuantized, 2);
    assert.equal(report.stats.weightsQuantized, 1);
    assert.equal(model.graph?.initializer.filter((i) => i.data_type === DataType.INT8 && i.dims.length === 2).length, 1);
    await assertFused(model, 2);
    const diff = await compareModels(encodeModel(original), encodeModel(model), seededInputs({ x: [8, 64] }, 6));
    assert.ok(diff.y.cosine >= MIN_COSINE);
  });

  void test('excluded nodes are left untouched, with their weights', async () => {
    const model = copyModel(mlpModel());
    const report = await quantize(model, {}, ['fc2']);
    assert.deepEqual(
      report.changed.map((c) => c.name),
      ['fc1', 'y'],
    );
    assert.deepEqual(report.skipped.find((s) => s.name === 'fc2')?.reason, 'excluded');
    const fc2 = model.graph?.node.find((n) => n.name === 'fc2');
    assert.equal(fc2?.op_type, 'MatMul');
    assert.deepEqual(fc2?.input, ['relu1', 'fc2.weight']);
    assert.ok(initializerNames(model).includes('fc2.weight'));
    await assertFused(model, 2);
  });

  void test('bad options are UserErrors naming the key', () => {
    const throwsNaming = (raw: RawOptions, key: string) =>
      assert.throws(
        () => int8DynamicPass.parseOptions(raw),
        (err: unknown) => err instanceof UserError && err.message.includes(key),
      );
    throwsNaming({ per_chanel: 'true' }, 'per_chanel');
    throwsNaming({ per_channel: 'sometimes' }, 'per_channel');
  });

  void test('a model with nothing to quantize: no change, reasons and a warning', async () => {
    const original = nothingToQuantizeModel();
    const model = copyModel(original);
    const report = await quantize(model);
    assert.deepEqual(report.changed, []);
    assert.match(report.skipped[0].reason, /3-D/);
    assert.equal(report.warnings.length, 1);
    assert.equal(report.stats.layersQuantized, 0);
    assert.ok(encodeModel(model).equals(encodeModel(original)), 'model unchanged');
  });

  void test('models below opset 11 are left alone with a warning', async () => {
    const model = copyModel(mlpModel());
    model.opset_import = [{ domain: '', version: 10 }];
    const report = await quantize(model);
    assert.deepEqual(report.changed, []);
    assert.match(report.warnings[0], /opset 11/);
  });
});
