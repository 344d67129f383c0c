/**
 * Unstructured pruning (prune-magnitude, prune-nm), checked on the weights themselves: exact N:M
 * patterns, requested sparsities, the smallest weights going first, a global threshold emptying a
 * layer of tiny weights, Wanda choosing a different (predictable) set than magnitude, and the report.
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserError } from '../../src/core/errors';
import { Rng } from '../../src/core/random';
import { floatTensor, graph, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { encodeModel } from '../../src/onnx/encode';
import { tensorValues } from '../../src/onnx/tensor';
import type { ModelProto, TensorProto } from '../../src/onnx/types';
import { excludeMatcher } from '../../src/passes/exclude';
import type { CalibrationData, PassReport, RawOptions } from '../../src/passes/pass';
import { pruneMagnitudePass, pruneNmPass } from '../../src/passes/prune';
import { SAMPLES } from '../../src/samples';
import { seededInputs } from '../helpers/ort';
import { compareModels, copyModel } from '../helpers/ortCheck';

function weights(m: ModelProto): Map<string, TensorProto> {
  return new Map((m.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
}

function values(m: ModelProto, name: string): Float64Array {
  const t = weights(m).get(name);
  assert.ok(t, `weight ${name}`);
  return tensorValues(t) as Float64Array;
}

function zeros(v: Float64Array): number {
  return v.reduce((n, x) => n + (x === 0 ? 1 : 0), 0);
}

/** Nonzero random weights (|w| >= 0.05), so every zero after pruning was made by the pass. */
function nonzero(rng: Rng, count: number, scale = 1): Float32Array {
  return Float32Array.from({ length: count }, () => (0.05 + Math.abs(rng.normal())) * scale * (rng.next() < 0.5 ? -1 : 1));
}

/**
 * x [2, 11] -> fc Gemm(transB=1, W [8, 11]) -> mm MatMul(W [8, 12]) -> y [2, 12]; and
 * img [1, 8, 5, 5] -> conv (W [4, 8, 3, 3]) -> z. K = 11 leaves a tail of 3 for m = 4.
 */
function layersModel(): ModelProto {
  const rng = new Rng(5);
  const g = graph({
    name: 'layers',
    node: [node('Gemm', ['x', 'fc.w'], ['h'], { transB: 1 }, 'fc'), node('MatMul', ['h', 'mm.w'], ['y'], {}, 'mm'), node('Conv', ['img', 'conv.w'], ['z'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'conv')],
    initializer: [floatTensor('fc.w', [8, 11], nonzero(rng, 88)), floatTensor('mm.w', [8, 12], nonzero(rng, 96)), floatTensor('conv.w', [4, 8, 3, 3], nonzero(rng, 288))],
    input: [valueInfo('x', DataType.FLOAT, [2, 11]), valueInfo('img', DataType.FLOAT, [1, 8, 5, 5])],
    output: [valueInfo('y', DataType.FLOAT, [2, 12]), valueInfo('z', DataType.FLOAT, [1, 4, 5, 5])],
  });
  return model(g, 17);
}

async function magnitude(m: ModelProto, raw: RawOptions, calibration?: CalibrationData, exclude: string[] = []): Promise<PassReport> {
  return pruneMagnitudePass.run({ model: m, isExcluded: excludeMatcher(exclude), calibration }, pruneMagnitudePass.parseOptions(raw));
}

async function nm(m: ModelProto, raw: RawOptions): Promise<PassReport> {
  return pruneNmPass.run({ model: m, isExcluded: () => false }, pruneNmPass.parseOptions(raw));
}

/** Groups of (row, position) along the input features: storage indices, for each weight layout. */
function groupsOf(layout: 'rowsByK' | 'kByRows' | 'conv', dims: number[], m: number): number[][] {
  const out: number[][] = [];
  const [rows, k, positions] = layout === 'rowsByK' ? [dims[0], dims[1], 1] : layout === 'kByRows' ? [dims[1], dims[0], 1] : [dims[0], dims[1], dims[2] * dims[3]];
  const at = (r: number, f: number, p: number) => (layout === 'rowsByK' ? r * k + f : layout === 'kByRows' ? f * rows + r : (r * k + f) * positions + p);
  for (let r = 0; r < rows; r++) for (let p = 0; p < positions; p++) for (let s = 0; s < k; s += m) out.push(Array.from({ length: Math.min(m, k - s) }, (_, j) => at(r, s + j, p)));
  return out;
}

void describe('prune-nm', () => {
  void test('2:4 leaves exactly 2 zeros in every group of 4 input weights, the smallest ones; the tail of 3 loses 1', async () => {
    const original = layersModel();
    const m = copyModel(original);
    const report = await nm(m, {});
    assert.deepEqual(report.changed.map((c) => c.name), ['fc', 'mm', 'conv']);
    for (const [name, layout, dims] of [['fc.w', 'rowsByK', [8, 11]], ['mm.w', 'kByRows', [8, 12]], ['conv.w', 'conv', [4, 8, 3, 3]]] as const) {
      const [before, after] = [values(original, name), values(m, name)];
      for (const group of groupsOf(layout, [...dims], 4)) {
        const zeroed = group.filter((i) => after[i] === 0);
        assert.equal(zeroed.length, group.length === 4 ? 2 : Math.max(0, 2 - (4 - group.length)), `${name} group ${group.join(',')}`);
        const kept = group.filter((i) => after[i] !== 0);
        for (const i of kept) assert.equal(after[i], Math.fround(before[i]), 'kept weights unchanged');
        if (zeroed.length) assert.ok(Math.max(...zeroed.map((i) => Math.abs(before[i]))) <= Math.min(...kept.map((i) => Math.abs(before[i]))), `${name}: the smallest go`);
      }
    }
    assert.match(report.warnings.join('\n'), /not divisible by 4.*padded with zeros/);
    assert.equal(report.stats['sparsity.mm'], 0.5);
  });

  void test('1:3 on a conv keeps the pattern per kernel position', async () => {
    const m = layersModel();
    await nm(m, { n: '1', m: '3' });
    const after = values(m, 'conv.w');
    for (const group of groupsOf('conv', [4, 8, 3, 3], 3)) assert.equal(group.filter((i) => after[i] === 0).length, group.length === 3 ? 1 : 0);
  });

  void test('bad n/m are UserErrors naming them', () => {
    assert.throws(() => pruneNmPass.parseOptions({ n: '4', m: '4' }), (e: unknown) => e instanceof UserError && /m must be greater than n.*n=4, m=4/.test(e.message));
    assert.throws(() => pruneNmPass.parseOptions({ n: '0' }), (e: unknown) => e instanceof UserError && /\bn must be/.test(e.message));
    assert.throws(() => pruneNmPass.parseOptions({ n: '2', m: '3.5' }), UserError);
  });
});

void describe('prune-magnitude', () => {
  void test('scope=layer: every layer reaches the sparsity (within rounding) by zeroing its smallest weights', async () => {
    const original = layersModel();
    const m = copyModel(original);
    const report = await magnitude(m, { sparsity: '0.6' });
    for (const name of ['fc.w', 'mm.w', 'conv.w']) {
      const [before, after] = [values(original, name), values(m, name)];
      assert.equal(zeros(after), Math.round(0.6 * before.length), name);
      const zeroed = [...before].filter((_, i) => after[i] === 0).map(Math.abs);
      const kept = [...before].filter((_, i) => after[i] !== 0).map(Math.abs);
      assert.ok(Math.max(...zeroed) <= Math.min(...kept), `${name}: smallest zeroed`);
    }
    assert.ok(Math.abs(report.stats['sparsity.fc'] - 0.6) <= 1 / 88);
    assert.ok(Math.abs(report.stats.prunedLayersSparsity - 0.6) < 0.01);
    assert.ok(report.stats.modelSparsity > 0.55);
    assert.ok(report.stats.gzipBytesAfter < report.stats.gzipBytesBefore, `gzip ${report.stats.gzipBytesBefore} -> ${report.stats.gzipBytesAfter}`);
    assert.match(report.warnings.join('\n'), /does not run faster/);
  });

  void test('scope=global: a layer of tiny weights is pruned first; per-layer sparsities come from one threshold', async () => {
    const rng = new Rng(9);
    const g = graph({
      name: 'tiny',
      node: [node('MatMul', ['x', 'big.w'], ['h'], {}, 'big'), node('MatMul', ['h', 'tiny.w'], ['y'], {}, 'tiny')],
      initializer: [floatTensor('big.w', [64, 64], nonzero(rng, 4096)), floatTensor('tiny.w', [64, 4], nonzero(rng, 256, 0.001))],
      input: [valueInfo('x', DataType.FLOAT, ['batch', 64])],
      output: [valueInfo('y', DataType.FLOAT, ['batch', 4])],
    });
    const globalModel = model(g, 17);
    const layerModel = copyModel(globalModel);
    const report = await magnitude(globalModel, { sparsity: '0.3', scope: 'global' });
    assert.equal(report.stats['sparsity.tiny'], 1, 'every tiny weight is below the global threshold');
    assert.ok(report.stats['sparsity.big'] < 0.3);
    assert.equal(report.stats.weightsZeroed, Math.round(0.3 * (4096 + 256)));
    const perLayer = await magnitude(layerModel, { sparsity: '0.3', scope: 'layer' });
    assert.ok(Math.abs(perLayer.stats['sparsity.tiny'] - 0.3) < 0.01 && Math.abs(perLayer.stats['sparsity.big'] - 0.3) < 0.01);
  });

  void test('Wanda: with activation norms |W|·‖X‖ per output row prunes a different, predictable set', async () => {
    // Rows [1 2 3 4] and [4 3 2 1]; feature norms [10 1 1 0.1].
    const build = () => model(graph({ name: 'wanda', node: [node('Gemm', ['x', 'w'], ['y'], { transB: 1 }, 'fc')], initializer: [floatTensor('w', [2, 4], [1, 2, 3, 4, 4, 3, 2, 1])], input: [valueInfo('x', DataType.FLOAT, [1, 4])], output: [valueInfo('y', DataType.FLOAT, [1, 2])] }), 17);
    const plain = build();
    await magnitude(plain, { sparsity: '0.5' });
    assert.deepEqual([...values(plain, 'w')], [0, 0, 3, 4, 4, 3, 0, 0], 'magnitude: the four smallest |w|');
    const norms = Float64Array.from([10, 1, 1, 0.1]);
    const calibration: CalibrationData = { ranges: new Map(), stats: new Map([['x', { min: -1, max: 1, featureNorms: { axis: 1, norms } }]]), method: 'test', samples: 1 };
    const wanda = build();
    const report = await magnitude(wanda, { sparsity: '0.5' }, calibration);
    // Row 0 scores [10 2 3 0.4] -> drop features 1, 3; row 1 scores [40 3 2 0.1] -> drop 2, 3.
    assert.deepEqual([...values(wanda, 'w')], [1, 0, 3, 0, 4, 3, 0, 0]);
    assert.match(report.changed[0].action, /wanda/);
  });

  void test('layers= gives layers their own sparsity; excluded and unlisted layers stay untouched', async () => {
    const original = layersModel();
    const m = copyModel(original);
    const report = await magnitude(m, { layers: 'fc:0.25;conv:0.75' }, undefined, ['conv']);
    assert.equal(zeros(values(m, 'fc.w')), Math.round(0.25 * 88));
    assert.deepEqual(values(m, 'conv.w'), values(original, 'conv.w'), 'excluded');
    assert.deepEqual(values(m, 'mm.w'), values(original, 'mm.w'), 'not listed');
    assert.deepEqual(report.skipped.map((s) => [s.name, s.reason]).sort(), [['conv', 'excluded'], ['mm', 'not listed in layers=']]);
  });

  void test('bad options and unknown layer names are UserErrors naming them', async () => {
    for (const sparsity of ['1', '-0.1', 'half']) assert.throws(() => pruneMagnitudePass.parseOptions({ sparsity }), (e: unknown) => e instanceof UserError && /sparsity/.test(e.message));
    assert.throws(() => pruneMagnitudePass.parseOptions({ layers: 'fc:1.5' }), (e: unknown) => e instanceof UserError && /fc:1\.5/.test(e.message));
    assert.throws(() => pruneMagnitudePass.parseOptions({ scope: 'model' }), UserError);
    await assert.rejects(magnitude(layersModel(), { layers: 'fc:0.5;nope:0.3;zilch:0.1' }), (e: unknown) => e instanceof UserError && /unknown layer nope, zilch/.test(e.message));
  });

  void test('weights in Constant nodes are pruned in place and the model still runs', async () => {
    const original = SAMPLES.constants.build();
    const m = copyModel(original);
    const report = await magnitude(m, { sparsity: '0.5' });
    assert.equal(report.stats.layersPruned, 3);
    assert.ok(Math.abs(report.stats.prunedLayersSparsity - 0.5) < 0.01);
    const diff = await compareModels(encodeModel(original), encodeModel(m), seededInputs(SAMPLES.constants.inputShapes));
    assert.ok(diff.probs.cosine > 0.5, `cosine ${diff.probs.cosine}`);
  });
});
