/**
 * Shape inference against hand-computed shapes (the arithmetic is in the comments), then a zoo of ops
 * checked tensor by tensor against what onnxruntime actually produces.
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { floatTensor, graph, int64Tensor, model, node, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { encodeModel } from '../../src/onnx/encode';
import type { NodeProto, TensorProto, ValueInfoProto } from '../../src/onnx/types';
import { OnnxFormatError } from '../../src/onnx/wire';
import { applyUserShape, inferModelShapes, reshapeDims, type GraphShapes, type Shape } from '../../src/core/shapes';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

interface Case {
  inputs?: Record<string, Shape>;
  inits?: TensorProto[];
  opset?: number;
  shapes?: Record<string, number[]>;
  valueInfo?: ValueInfoProto[];
}

function vi(name: string, shape: Shape | undefined): ValueInfoProto {
  return valueInfo(name, DataType.FLOAT, shape?.map((d) => d ?? undefined));
}

function buildModel(nodes: NodeProto[], c: Case = {}) {
  const input = Object.entries(c.inputs ?? {}).map(([name, s]) => vi(name, s));
  const g = graph({ name: 't', node: nodes, input, initializer: c.inits ?? [], output: [], value_info: c.valueInfo ?? [] });
  return model(g, c.opset ?? 17);
}

function infer(nodes: NodeProto[], c: Case = {}): GraphShapes {
  return inferModelShapes(buildModel(nodes, c), c.shapes ?? {}).main;
}

const zeros = (n: number) => new Array<number>(n).fill(0);
const w = (name: string, dims: number[]) => floatTensor(name, dims, zeros(dims.reduce((a, b) => a * b, 1)));
const ints = (name: string, values: (number | bigint)[]) => int64Tensor(name, [values.length], values);
const scalar = (name: string, value: number) => int64Tensor(name, [], [value]);

void describe('convolution and pooling', () => {
  const x = { x: [1, 3, 32, 32] };
  void test('Conv: pads, strides, dilations, auto_pad', () => {
    const s = infer(
      [
        node('Conv', ['x', 'W'], ['same'], { pads: [1, 1, 1, 1] }), // (32 + 2 - 3)/1 + 1 = 32
        node('Conv', ['x', 'W'], ['stride2'], { pads: [1, 1, 1, 1], strides: [2, 2] }), // floor((32 + 2 - 3)/2) + 1 = 16
        node('Conv', ['x', 'W'], ['dilated'], { dilations: [2, 2] }), // span (3-1)*2+1 = 5: (32 - 5)/1 + 1 = 28
        node('Conv', ['x', 'W'], ['upper'], { auto_pad: 'SAME_UPPER', strides: [2, 2] }), // ceil(32/2) = 16
        node('Conv', ['x', 'W'], ['valid'], { auto_pad: 'VALID', strides: [2, 2] }), // floor((32 - 3)/2) + 1 = 15
        node('Conv', ['x', 'W'], ['asym'], { pads: [0, 1, 2, 0], kernel_shape: [3, 3] }), // H: 32+0+2-3+1 = 32, W: 32+1+0-3+1 = 31
      ],
      { inputs: x, inits: [w('W', [16, 3, 3, 3])] },
    );
    assert.deepEqual(s.shape('same'), [1, 16, 32, 32]);
    assert.deepEqual(s.shape('stride2'), [1, 16, 16, 16]);
    assert.deepEqual(s.shape('dilated'), [1, 16, 28, 28]);
    assert.deepEqual(s.shape('upper'), [1, 16, 16, 16]);
    assert.deepEqual(s.shape('valid'), [1, 16, 15, 15]);
    assert.deepEqual(s.shape('asym'), [1, 16, 32, 31]);
  });

  void test('Conv keeps a symbolic batch, and a 1x1 conv keeps symbolic spatial dims', () => {
    const s = infer([node('Conv', ['x', 'W'], ['y'])], { inputs: { x: ['N', 8, 'H', 'W'] }, inits: [w('W', [4, 8, 1, 1])] });
    assert.deepEqual(s.shape('y'), ['N', 4, 'H', 'W']);
  });

  void test('ConvTranspose: strides, pads, output_padding, group, output_shape, auto_pad', () => {
    const s = infer(
      [
        node('ConvTranspose', ['x', 'W'], ['a'], { strides: [2, 2], pads: [1, 1, 1, 1] }), // 2*(16-1) + 4 - 2 = 32
        node('ConvTranspose', ['x', 'W3'], ['b'], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }), // 2*15 + 1 + 3 - 2 = 32
        node('ConvTranspose', ['x', 'G'], ['c'], { group: 2 }), // Cout = 2*2 = 4; 1*15 + 3 = 18
        node('ConvTranspose', ['x', 'W3'], ['d'], { strides: [2, 2], output_shape: [33, 33] }),
        node('ConvTranspose', ['x', 'W3'], ['e'], { strides: [2, 2], auto_pad: 'SAME_UPPER' }), // 16*2 = 32
      ],
      { inputs: { x: [1, 8, 16, 16] }, inits: [w('W', [8, 4, 4, 4]), w('W3', [8, 4, 3, 3]), w('G', [8, 2, 3, 3])] },
    );
    assert.deepEqual(s.shape('a'), [1, 4, 32, 32]);
    assert.deepEqual(s.shape('b'), [1, 4, 32, 32]);
    assert.deepEqual(s.shape('c'), [1, 4, 18, 18]);
    assert.deepEqual(s.shape('d'), [1, 4, 33, 33]);
    assert.deepEqual(s.shape('e'), [1, 4, 32, 32]);
  });

  void test('pools, ceil_mode and global pools', () => {
    const s = infer(
      [
        node('MaxPool', ['x'], ['m', 'idx'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), // floor((32+2-3)/2)+1 = 16
        node('AveragePool', ['x7'], ['c7'], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }), // ceil((7-3)/2)+1 = 3
        node('AveragePool', ['x7'], ['f7'], { kernel_shape: [2, 2], strides: [2, 2] }), // floor((7-2)/2)+1 = 3
        node('MaxPool', ['x7'], ['c7b'], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }), // ceil(5/2)+1 = 4
        node('GlobalAveragePool', ['x'], ['g']),
        node('GlobalMaxPool', ['x'], ['gm']),
      ],
      { inputs: { ...x, x7: [1, 2, 7, 7] } },
    );
    assert.deepEqual(s.shape('m'), [1, 3, 16, 16]);
    assert.deepEqual(s.shape('idx'), [1, 3, 16, 16]);
    assert.deepEqual(s.shape('c7'), [1, 2, 3, 3]);
    assert.deepEqual(s.shape('f7'), [1, 2, 3, 3]);
    assert.deepEqual(s.shape('c7b'), [1, 2, 4, 4]);
    assert.deepEqual(s.shape('g'), [1, 3, 1, 1]);
    assert.deepEqual(s.shape('gm'), [1, 3, 1, 1]);
  });

  void test('BatchNormalization, InstanceNormalization, LayerNormalization keep the input shape', () => {
    const c = [w('s', [3]), w('b', [3])];
    const s = infer(
      [
        node('BatchNormalization', ['x', 's', 'b', 's', 'b'], ['bn']),
        node('InstanceNormalization', ['x', 's', 'b'], ['in']),
        node('LayerNormalization', ['x', 's', 'b'], ['ln', 'mean'], { axis: -1 }),
      ],
      { inputs: x, inits: c },
    );
    assert.deepEqual(s.shape('bn'), [1, 3, 32, 32]);
    assert.deepEqual(s.shape('in'), [1, 3, 32, 32]);
    assert.deepEqual(s.shape('ln'), [1, 3, 32, 32]);
    assert.deepEqual(s.shape('mean'), [1, 3, 32, 1]);
  });
});

void describe('matrix products and broadcasting', () => {
  void test('Gemm with transA / transB', () => {
    const s = infer([node('Gemm', ['a', 'B'], ['y'], { transB: 1 }), node('Gemm', ['at', 'B2'], ['z'], { transA: 1 })], {
      inputs: { a: [4, 8], at: [8, 4] },
      inits: [w('B', [16, 8]), w('B2', [8, 16])],
    });
    assert.deepEqual(s.shape('y'), [4, 16]); // [4,8] x [16,8]^T
    assert.deepEqual(s.shape('z'), [4, 16]); // [8,4]^T x [8,16]
  });

  void test('MatMul: batched, broadcast batch, 1-D operands', () => {
    const s = infer(
      [
        node('MatMul', ['a', 'b'], ['batched']), // [2,3,4,5] x [5,6] -> [2,3,4,6]
        node('MatMul', ['v', 'c'], ['vec']), // [5] x [2,5,6] -> [2,6]
        node('MatMul', ['d', 'c3'], ['bcast']), // [2,1,4,5] x [3,5,6] -> [2,3,4,6]
        node('MatMul', ['m', 'v'], ['mv']), // [4,5] x [5] -> [4]
        node('MatMul', ['v', 'v'], ['dot']), // [5] x [5] -> []
      ],
      { inputs: { a: [2, 3, 4, 5], b: [5, 6], v: [5], c: [2, 5, 6], d: [2, 1, 4, 5], c3: [3, 5, 6], m: [4, 5] } },
    );
    assert.deepEqual(s.shape('batched'), [2, 3, 4, 6]);
    assert.deepEqual(s.shape('vec'), [2, 6]);
    assert.deepEqual(s.shape('bcast'), [2, 3, 4, 6]);
    assert.deepEqual(s.shape('mv'), [4]);
    assert.deepEqual(s.shape('dot'), []);
  });

  void test('element-wise ops broadcast numpy-style and keep symbols', () => {
    const s = infer(
      [
        node('Add', ['a', 'b'], ['sum']), // [1,3,1] + [4,1,5] -> [4,3,5]
        node('Where', ['cond', 'c', 'd'], ['where']), // [5], [2,1], [1] -> [2,5]
        node('Mul', ['n', 'one'], ['sym']), // [N,3] * [1] -> [N,3]
        node('Relu', ['n'], ['relu']),
        node('Clip', ['n'], ['clip']),
        node('Equal', ['a', 'b'], ['eq']),
      ],
      { inputs: { a: [1, 3, 1], b: [4, 1, 5], cond: [5], c: [2, 1], d: [1], n: ['N', 3], one: [1] } },
    );
    assert.deepEqual(s.shape('sum'), [4, 3, 5]);
    assert.deepEqual(s.shape('where'), [2, 5]);
    assert.deepEqual(s.shape('sym'), ['N', 3]);
    assert.deepEqual(s.shape('relu'), ['N', 3]);
    assert.deepEqual(s.shape('clip'), ['N', 3]);
    assert.deepEqual(s.shape('eq'), [4, 3, 5]);
  });
});

void describe('reshaping ops', () => {
  void test('Reshape with 0 and -1', () => {
    const s = infer(
      [
        node('Reshape', ['x', 'keep0'], ['a']), // [0,-1]: [2, 3*4] = [2,12]
        node('Reshape', ['x', 'last4'], ['b']), // [-1,4]: [24/4, 4] = [6,4]
        node('Reshape', ['z', 'keep0'], ['c'], { allowzero: 1 }), // allowzero: 0 stays 0; -1 = 0 elements / 0 -> unknown
      ],
      { inputs: { x: [2, 3, 4], z: [0, 3] }, inits: [ints('keep0', [0, -1]), ints('last4', [-1, 4])] },
    );
    assert.deepEqual(s.shape('a'), [2, 12]);
    assert.deepEqual(s.shape('b'), [6, 4]);
    assert.deepEqual(s.shape('c'), [0, null]);
    assert.deepEqual(reshapeDims(['N', 3, 4], ['N', -1], false), ['N', 12]); // symbols cancel: N*12 / N = 12
    assert.deepEqual(reshapeDims(['N', 3, 4], [-1, 12], false), ['N', 12]); // N*12 / 12 = N
    assert.deepEqual(reshapeDims([2, 3], [-1, -1], false), [null, null]);
  });

  const shapeChain = [
    node('Shape', ['x'], ['s']),
    node('Gather', ['s', 'zero'], ['batch'], { axis: 0 }),
    node('Unsqueeze', ['batch', 'axes0'], ['batch1']),
    node('Concat', ['batch1', 'minus1'], ['target'], { axis: 0 }),
    node('Reshape', ['x', 'target'], ['flat']),
  ];
  const chainInits = [scalar('zero', 0), ints('axes0', [0]), ints('minus1', [-1])];

  void test('Reshape from a Shape -> Gather -> Unsqueeze -> Concat chain (torch export pattern)', () => {
    const symbolic = infer(shapeChain, { inputs: { x: ['batch', 3, 4, 5] }, inits: chainInits });
    assert.deepEqual(symbolic.value('target')?.data, ['batch', -1]);
    assert.deepEqual(symbolic.shape('flat'), ['batch', 60]); // 3*4*5 = 60
    const given = infer(shapeChain, { inputs: { x: ['batch', 3, 4, 5] }, inits: chainInits, shapes: { x: [7, 3, 4, 5] } });
    assert.deepEqual(given.shape('flat'), [7, 60]);
  });

  void test('shape arithmetic: Cast, Slice, Mul, Div on shape values (paddle export pattern)', () => {
    const s = infer(
      [
        node('Shape', ['x'], ['s']),
        node('Cast', ['s'], ['s32'], { to: DataType.INT32 }),
        node('Slice', ['s32', 'two', 'end'], ['hw']), // dims 2.. -> [H, W] = [6, 10]
        node('ReduceProd', ['hw'], ['hwp'], { keepdims: 1 }),
        node('Gather', ['s', 'idx2'], ['h']),
        node('Gather', ['s', 'idx3'], ['w']),
        node('Mul', ['h', 'w'], ['hw2']), // 6*10 = 60
        node('Div', ['hw2', 'four'], ['q']), // 60/4 = 15
        node('Cast', ['q'], ['q64'], { to: DataType.INT64 }),
        node('Unsqueeze', ['q64'], ['q1'], { axes: [0] }),
        node('Concat', ['zero1', 'q1', 'minus1'], ['t'], { axis: 0 }),
        node('Reshape', ['x', 't'], ['y']), // [0, 15, -1] on [2,3,6,10]: 0 copies 2; -1 = 2*3*6*10 / (2*15) = 12
      ],
      {
        opset: 11,
        inputs: { x: [2, 3, 6, 10] },
        inits: [ints('two', [2]), ints('end', [INT64_MAX]), scalar('idx2', 2), scalar('idx3', 3), scalar('four', 4), ints('zero1', [0]), ints('minus1', [-1])],
      },
    );
    assert.deepEqual(s.value('hw')?.data, [6, 10]);
    assert.deepEqual(s.value('q')?.data, [15]);
    assert.deepEqual(s.value('hwp')?.data, [60]);
    assert.deepEqual(s.shape('y'), [2, 15, 12]); // 2*3*6*10 = 360 elements; 360 / (2*15) = 12
  });

  void test('Flatten, Transpose, Concat', () => {
    const s = infer(
      [
        node('Flatten', ['x'], ['f2'], { axis: 2 }), // [2*3, 4*5] = [6,20]
        node('Flatten', ['x'], ['f0'], { axis: 0 }), // [1, 120]
        node('Flatten', ['x'], ['fneg'], { axis: -1 }), // [2*3*4, 5] = [24,5]
        node('Transpose', ['x'], ['t'], { perm: [0, 2, 3, 1] }),
        node('Transpose', ['x'], ['rev']),
        node('Concat', ['x', 'x2'], ['cat'], { axis: 1 }), // 3 + 7 = 10
      ],
      { inputs: { x: [2, 3, 4, 5], x2: [2, 7, 4, 5] } },
    );
    assert.deepEqual(s.shape('f2'), [6, 20]);
    assert.deepEqual(s.shape('f0'), [1, 120]);
    assert.deepEqual(s.shape('fneg'), [24, 5]);
    assert.deepEqual(s.shape('t'), [2, 4, 5, 3]);
    assert.deepEqual(s.shape('rev'), [5, 4, 3, 2]);
    assert.deepEqual(s.shape('cat'), [2, 10, 4, 5]);
  });

  void test('Split: split input, split attribute, num_outputs, equal split', () => {
    const x = { x: [1, 10] };
    const v13 = infer([node('Split', ['x', 'sizes'], ['a', 'b'], { axis: 1 })], { inputs: x, inits: [ints('sizes', [3, 7])], opset: 13 });
    assert.deepEqual([v13.shape('a'), v13.shape('b')], [[1, 3], [1, 7]]);
    const v11 = infer([node('Split', ['x'], ['a', 'b'], { axis: 1, split: [4, 6] })], { inputs: x, opset: 11 });
    assert.deepEqual([v11.shape('a'), v11.shape('b')], [[1, 4], [1, 6]]);
    const v18 = infer([node('Split', ['x'], ['a', 'b', 'c'], { axis: 1, num_outputs: 3 })], { inputs: x, opset: 18 });
    assert.deepEqual([v18.shape('a'), v18.shape('b'), v18.shape('c')], [[1, 4], [1, 4], [1, 2]]); // ceil(10/3) = 4, 4, 10-8 = 2
    const even = infer([node('Split', ['x'], ['a', 'b'], { axis: -1 })], { inputs: x });
    assert.deepEqual([even.shape('a'), even.shape('b')], [[1, 5], [1, 5]]);
  });

  void test('Slice: INT64_MAX ends given as bigint, negative bounds, reverse, old attribute form', () => {
    const s = infer(
      [
        node('Slice', ['x', 'one', 'max', 'ax1', 'two'], ['a']), // axis 1: [1, 20) step 2 -> ceil(19/2) = 10
        node('Slice', ['x', 'm3', 'm1', 'ax1'], ['b']), // axis 1: [17, 19) -> 2
        node('Slice', ['x', 'm1', 'min', 'ax1', 'm1'], ['c']), // reversed whole axis -> 20
        node('Slice', ['x', 'zero', 'max'], ['d']), // axis 0 whole -> 10
        node('Slice', ['sym', 'zero', 'max'], ['e']), // whole symbolic axis stays N
        node('Slice', ['x', 'five', 'min', 'ax1', 'm1'], ['f']), // axis 1 from 5 down to 0 -> 6
      ],
      {
        inputs: { x: [10, 20], sym: ['N', 4] },
        inits: [ints('one', [1]), ints('max', [INT64_MAX]), ints('ax1', [1]), ints('two', [2]), ints('m3', [-3]), ints('m1', [-1]), ints('min', [INT64_MIN]), ints('zero', [0]), ints('five', [5])],
      },
    );
    assert.deepEqual(s.shape('a'), [10, 10]);
    assert.deepEqual(s.shape('b'), [10, 2]);
    assert.deepEqual(s.shape('c'), [10, 20]);
    assert.deepEqual(s.shape('d'), [10, 20]);
    assert.deepEqual(s.shape('e'), ['N', 4]);
    assert.deepEqual(s.shape('f'), [10, 6]);
    const old = infer([node('Slice', ['x'], ['y'], { starts: [2], ends: [100], axes: [0] })], { inputs: { x: [10, 20] }, opset: 9 });
    assert.deepEqual(old.shape('y'), [8, 20]); // [2, min(100,10)) -> 8
  });

  void test('Squeeze / Unsqueeze: attribute axes (opset 11) and input axes (opset 13)', () => {
    const v11 = infer(
      [node('Squeeze', ['x'], ['sq'], { axes: [0, -1] }), node('Unsqueeze', ['y'], ['un'], { axes: [0, -1] }), node('Squeeze', ['x'], ['all'])],
      { inputs: { x: [1, 3, 1], y: [3, 4] }, opset: 11 },
    );
    assert.deepEqual(v11.shape('sq'), [3]);
    assert.deepEqual(v11.shape('un'), [1, 3, 4, 1]); // output rank 4: axes 0 and 3
    assert.deepEqual(v11.shape('all'), [3]);
    const v13 = infer([node('Squeeze', ['x', 'a'], ['sq']), node('Unsqueeze', ['y', 'b'], ['un'])], {
      inputs: { x: [1, 3, 1], y: [3, 4] },
      inits: [ints('a', [2]), ints('b', [1])],
      opset: 13,
    });
    assert.deepEqual(v13.shape('sq'), [1, 3]);
    assert.deepEqual(v13.shape('un'), [3, 1, 4]);
  });

  void test('Gather, Shape with start/end, Expand, Tile, Pad', () => {
    const s = infer(
      [
        node('Gather', ['x', 'idx'], ['g'], { axis: 1 }), // [5, (2,3), 7]
        node('Gather', ['x', 'one'], ['g0'], { axis: 1 }), // scalar index drops the axis
        node('Shape', ['x'], ['sh'], { start: 1, end: -1 }),
        node('Expand', ['e', 'eshape'], ['ex']), // [3,1] to [2,3,4]
        node('Tile', ['t', 'reps'], ['ti']), // [2*2, 3*3]
        node('Pad', ['x', 'pads'], ['p']), // [5, 6+1+2, 7]
      ],
      {
        opset: 15,
        inputs: { x: [5, 6, 7], e: [3, 1], t: [2, 3] },
        inits: [int64Tensor('idx', [2, 3], [0, 1, 2, 3, 4, 5]), scalar('one', 1), ints('eshape', [2, 3, 4]), ints('reps', [2, 3]), ints('pads', [0, 1, 0, 0, 2, 0])],
      },
    );
    assert.deepEqual(s.shape('g'), [5, 2, 3, 7]);
    assert.deepEqual(s.shape('g0'), [5, 7]);
    assert.deepEqual(s.value('sh')?.data, [6]);
    assert.deepEqual(s.shape('ex'), [2, 3, 4]);
    assert.deepEqual(s.shape('ti'), [4, 9]);
    assert.deepEqual(s.shape('p'), [5, 9, 7]);
  });
});

void describe('resampling, reductions and generators', () => {
  void test('Resize by scales or sizes, Upsample', () => {
    const s = infer(
      [
        node('Resize', ['x', '', 'sc'], ['up']), // 10*2 = 20
        node('Resize', ['x', '', '', 'sz'], ['sized']),
        node('Upsample', ['x', 'sc'], ['ups']),
        node('Resize', ['x', '', 'half'], ['down']), // floor(10*0.5) = 5, floor(10*0.3) = 3
      ],
      { inputs: { x: [1, 3, 10, 10] }, inits: [floatTensor('sc', [4], [1, 1, 2, 2]), ints('sz', [1, 3, 7, 9]), floatTensor('half', [4], [1, 1, 0.5, 0.3])], opset: 13 },
    );
    assert.deepEqual(s.shape('up'), [1, 3, 20, 20]);
    assert.deepEqual(s.shape('sized'), [1, 3, 7, 9]);
    assert.deepEqual(s.shape('ups'), [1, 3, 20, 20]);
    assert.deepEqual(s.shape('down'), [1, 3, 5, 3]);
  });

  void test('reductions: axes attribute or input, keepdims, ArgMax', () => {
    const s = infer(
      [
        node('ReduceMean', ['x'], ['mean'], { axes: [-1] }),
        node('ReduceMax', ['x'], ['max'], { axes: [1], keepdims: 0 }),
        node('ReduceSum', ['x', 'ax'], ['sum'], { keepdims: 0 }),
        node('ReduceSum', ['x'], ['all']),
        node('ArgMax', ['x'], ['arg'], { axis: 1, keepdims: 0 }),
      ],
      { inputs: { x: [2, 3, 4] }, inits: [ints('ax', [0, 2])], opset: 13 },
    );
    assert.deepEqual(s.shape('mean'), [2, 3, 1]);
    assert.deepEqual(s.shape('max'), [2, 4]);
    assert.deepEqual(s.shape('sum'), [3]);
    assert.deepEqual(s.shape('all'), [1, 1, 1]);
    assert.deepEqual(s.shape('arg'), [2, 4]);
  });

  void test('ConstantOfShape, Range, TopK', () => {
    const s = infer(
      [
        node('Shape', ['x'], ['s']),
        node('ConstantOfShape', ['s'], ['c']),
        node('Range', ['start', 'limit', 'delta'], ['r']), // ceil((10-0)/3) = 4
        node('TopK', ['x', 'k'], ['vals', 'inds'], { axis: -1 }),
        node('Range', ['start', 'hundred', 'one'], ['r100']),
      ],
      { inputs: { x: [2, 8] }, inits: [scalar('start', 0), scalar('limit', 10), scalar('delta', 3), ints('k', [5]), scalar('hundred', 100), scalar('one', 1)] },
    );
    assert.equal(s.value('r100')?.data.length, 100);
    assert.equal(s.value('r100')?.data[99], 99);
    assert.deepEqual(s.shape('c'), [2, 8]);
    assert.deepEqual(s.shape('r'), [4]);
    assert.deepEqual(s.value('r')?.data, [0, 3, 6, 9]);
    assert.deepEqual(s.shape('vals'), [2, 5]);
    assert.deepEqual(s.shape('inds'), [2, 5]);
  });
});

void describe('subgraphs, value_info and user shapes', () => {
  function branch(name: string, out: string, nodes: NodeProto[]) {
    return graph({ name, node: nodes, output: [vi(out, undefined)] });
  }

  void test('If: output shape where the branches agree, outer-scope tensors visible inside', () => {
    const thenG = branch('then', 't', [node('MatMul', ['x', 'W'], ['t'])]); // [N,8] x [8,4]
    const elseG = branch('else', 'e', [node('Slice', ['x', 'zero', 'four', 'one'], ['e'])]); // [N, 4]
    const otherG = branch('other', 'o', [node('Identity', ['x'], ['o'])]); // [N, 8]
    const s = infer([node('If', ['cond'], ['y'], { then_branch: thenG, else_branch: elseG }), node('If', ['cond'], ['z'], { then_branch: thenG, else_branch: otherG })], {
      inputs: { x: ['N', 8], cond: [] },
      inits: [w('W', [8, 4]), ints('zero', [0]), ints('four', [4]), ints('one', [1])],
    });
    assert.deepEqual(s.shape('y'), ['N', 4]);
    assert.deepEqual(s.shape('z'), ['N', null]);
  });

  void test('an unknown op gives an unknown shape; value_info fills in', () => {
    const s = infer([node('Mystery', ['x'], ['m'], {}, 'm', 'custom.domain'), node('Relu', ['m'], ['r']), node('Mystery', ['x'], ['n'], {}, 'n', 'custom.domain')], {
      inputs: { x: [2, 3] },
      valueInfo: [vi('n', [4, 'K'])],
    });
    assert.equal(s.shape('m'), null);
    assert.equal(s.shape('r'), null);
    assert.deepEqual(s.shape('n'), [4, 'K']);
  });

  void test('an initializer that is also a graph input is a constant only before IR 4 (as in onnxruntime)', () => {
    const nodes = [node('Reshape', ['x', 'target'], ['y'])];
    const m = buildModel(nodes, { inputs: { x: [2, 6] }, inits: [ints('target', [3, 4])] });
    m.graph?.input.push(valueInfo('target', DataType.INT64, [2]));
    assert.deepEqual(inferModelShapes(m).main.shape('y'), [null, null]); // IR 8: the target may be overridden
    m.ir_version = 3;
    assert.deepEqual(inferModelShapes(m).main.shape('y'), [3, 4]);
  });

  void test('user shapes replace symbolic dims only, with warnings for the rest', () => {
    const warnings: string[] = [];
    assert.deepEqual(applyUserShape('x', ['N', 3, 'H'], [2, 3, 5], warnings), [2, 3, 5]);
    assert.deepEqual(applyUserShape('x', ['N', 3], [2, 4], warnings), [2, 3]);
    assert.deepEqual(applyUserShape('x', ['N', 3], [2], warnings), ['N', 3]);
    assert.deepEqual(applyUserShape('x', ['N'], [-1], warnings), ['N']);
    assert.equal(warnings.length, 3);
    const shapes = inferModelShapes(buildModel([node('Relu', ['x'], ['y'])], { inputs: { x: ['N', 3] } }), { y: [1], x: [4, 3] });
    assert.deepEqual(shapes.main.shape('y'), [4, 3]);
    assert.match(shapes.warnings.join('\n'), /no input of that name/);
  });
});

void describe('hostile graphs', () => {
  void test('absurd values give unknown shapes, never exceptions', () => {
    const big = int64Tensor('big', [5000], new Array<number>(5000).fill(1));
    const s = infer(
      [
        node('Reshape', ['x', 'big'], ['r']),
        node('Unsqueeze', ['x'], ['u'], { axes: Array.from({ length: 100 }, (_, i) => i) }),
        node('Transpose', ['x'], ['t'], { perm: [0, 0] }),
        node('Conv', ['x', 'W'], ['c'], { strides: [0, 0] }),
        node('Split', ['x'], ['s1', 's2'], { axis: 7 }),
        node('Gather', ['x', 'neg'], ['g'], { axis: -9 }),
        node('Slice', ['x', 'zero', 'zero', 'zero', 'zero'], ['sl']),
        node('Range', ['zero', 'huge', 'tiny'], ['rg']),
        node('ConstantOfShape', ['negshape'], ['cs']),
        node('Add', ['x', 'y'], ['bad']),
        node('MaxPool', ['x'], ['mp']),
        node('Conv', [], ['empty']),
      ],
      {
        opset: 11,
        inputs: { x: [2, -5, 8, 8], y: [3, 4] },
        inits: [big, w('W', [1, 1, 3, 3]), scalar('neg', -1), ints('zero', [0]), floatTensor('huge', [], [1e300]), floatTensor('tiny', [], [1e-300]), ints('negshape', [-3, 2])],
      },
    );
    assert.deepEqual(s.shape('x'), [2, null, 8, 8]); // a negative declared dim is unknown
    for (const name of ['r', 'u', 't', 's1', 'g', 'sl', 'mp', 'empty']) assert.equal(s.shape(name), null, name);
    assert.deepEqual(s.shape('c'), [2, 1, null, null]); // stride 0: spatial dims unknown
    assert.deepEqual(s.shape('bad'), [2, null, null, null]); // 8 vs 3 and 8 vs 4 cannot broadcast: unknown, not an exception
    assert.deepEqual(s.shape('rg'), [null]);
    assert.deepEqual(s.shape('cs'), [null, 2]);
  });

  void test('a cycle is reported as an OnnxFormatError', () => {
    assert.throws(() => infer([node('Relu', ['b'], ['a']), node('Relu', ['a'], ['b'])]), OnnxFormatError);
  });
});

/** Every tensor a model computes, as onnxruntime sees it: each node output becomes a graph output. */
async function ortShapes(nodes: NodeProto[], c: Case, feeds: Record<string, number[]>, opset: number): Promise<Record<string, readonly number[]>> {
  const m = buildModel(nodes, { ...c, opset });
  const g = m.graph;
  if (!g) throw new Error('no graph');
  g.output = nodes.flatMap((n) => n.output).map((name) => ({ name, metadata_props: [] }));
  const session = await ort.InferenceSession.create(encodeModel(m), { logSeverityLevel: 3 });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, dims] of Object.entries(feeds)) inputs[name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.5), dims);
    const out = await session.run(inputs);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.dims]));
  } finally {
    await session.release();
  }
}

void describe('agreement with onnxruntime', () => {
  const zoo = (opset: number): NodeProto[] => [
    node('Conv', ['x', 'W'], ['conv'], { strides: [2, 2], pads: [1, 0, 2, 1], dilations: [1, 2] }),
    node('ConvTranspose', ['conv', 'WT'], ['convt'], { strides: [3, 2], pads: [1, 0, 0, 1], output_padding: [1, 0], group: 2 }),
    node('MaxPool', ['x'], ['pool'], { kernel_shape: [3, 2], strides: [2, 3], ceil_mode: 1, pads: [0, 1, 1, 0] }),
    node('AveragePool', ['x'], ['avg'], { kernel_shape: [2, 2], strides: [2, 2], auto_pad: 'SAME_UPPER' }),
    node('Shape', ['conv'], ['shape']),
    node('Gather', ['shape', 'zero'], ['batch']),
    node('Slice', ['shape', 'two', 'max'], ['hw']),
    node('ReduceProd', ['hw'], ['hwp'], { keepdims: 1 }),
    node('Concat', ['one1', 'minus1', 'hwp'], ['target'], { axis: 0 }),
    node('Reshape', ['conv', 'target'], ['flat']),
    node('Transpose', ['flat'], ['tr'], { perm: [0, 2, 1] }),
    node('MatMul', ['tr', 'M'], ['mm']), // [1,12,12] x [12,5]
    node('Flatten', ['mm'], ['fl'], { axis: 2 }),
    node('Resize', ['x', 'roi', 'scales'], ['rs'], { mode: 'nearest' }),
    node('Pad', ['x', 'pads'], ['pad']),
    node('ReduceMean', ['x'], ['rm'], { axes: [1, -1], keepdims: 0 }),
    node('TopK', ['x', 'k'], ['tv', 'ti'], { axis: 2 }),
    node('Split', ['x', ...(opset >= 13 ? ['sizes'] : [])], ['s1', 's2'], { axis: 3, ...(opset < 13 ? { split: [2, 5] } : {}) }),
    node('Unsqueeze', ['s1', ...(opset >= 13 ? ['axes'] : [])], ['us'], opset < 13 ? { axes: [0, 3] } : {}),
    node('Squeeze', ['us', ...(opset >= 13 ? ['axes'] : [])], ['sq'], opset < 13 ? { axes: [0, 3] } : {}),
    node('Expand', ['col', 'shape'], ['ex']),
    node('Tile', ['x', 'reps'], ['tile']),
    node('Gemm', ['g', 'G'], ['gemm'], { transB: 1 }),
    node('Slice', ['x', 'm1', 'minint', 'ax2', 'm2'], ['rev']),
    node('GlobalAveragePool', ['x'], ['gap']),
  ];
  const inits = [
    w('W', [6, 3, 3, 3]),
    w('WT', [6, 2, 2, 3]),
    scalar('zero', 0),
    ints('two', [2]),
    ints('max', [INT64_MAX]),
    ints('one1', [1]),
    ints('minus1', [-1]),
    w('M', [12, 5]),
    floatTensor('scales', [4], [1, 1, 1.5, 0.5]),
    floatTensor('roi', [0], []),
    ints('pads', [0, 1, 2, 0, 0, 3, 0, 1]),
    ints('k', [3]),
    ints('sizes', [2, 5]),
    ints('axes', [0, 3]),
    ints('reps', [1, 2, 1, 3]),
    w('G', [4, 7]),
    ints('m1', [-1]),
    ints('minint', [INT64_MIN]),
    ints('ax2', [2]),
    ints('m2', [-2]),
  ];
  void test('opset 18 forms: num_outputs, axes inputs, Resize axes and keep_aspect_ratio_policy', async () => {
    const nodes = [
      node('Split', ['x'], ['p1', 'p2', 'p3'], { axis: 2, num_outputs: 3 }),
      node('ReduceMean', ['x', 'ax'], ['rm']),
      node('ReduceSum', ['x', 'empty'], ['rs'], { noop_with_empty_axes: 1 }),
      node('Pad', ['x', 'pads', '', 'ax'], ['pad']),
      node('Resize', ['x', '', '', 'sizes'], ['fit'], { axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' }),
      node('Resize', ['x', '', '', 'sizes'], ['fill'], { axes: [2, 3], keep_aspect_ratio_policy: 'not_smaller' }),
      node('Shape', ['x'], ['sh'], { start: -2 }),
      node('LayerNormalization', ['x', 'scale'], ['ln'], { axis: 1 }),
      node('Range', ['rstart', 'rlimit', 'rdelta'], ['range']),
      node('ConstantOfShape', ['sh'], ['cos']),
    ];
    const c: Case = {
      inputs: { x: [2, 3, 'H', 'W'] },
      inits: [ints('ax', [1, 3]), ints('empty', []), ints('pads', [1, 2, 3, 4]), ints('sizes', [20, 20]), w('scale', [3, 11, 7]), floatTensor('rstart', [], [1]), floatTensor('rlimit', [], [2]), floatTensor('rdelta', [], [0.3])],
    };
    const feeds = { x: [2, 3, 11, 7] };
    const want = await ortShapes(nodes, c, feeds, 18);
    const got = inferModelShapes(buildModel(nodes, { ...c, opset: 18 }), feeds).main;
    for (const [name, dims] of Object.entries(want)) assert.deepEqual(got.shape(name), [...dims], name);
  });

  for (const opset of [11, 13, 17]) {
    void test(`every tensor of an op zoo, opset ${opset}`, async () => {
      const nodes = zoo(opset);
      const c: Case = { inputs: { x: ['N', 3, 'H', 7], col: [1, 6, 1, 1], g: [2, 7] }, inits };
      const feeds = { x: [2, 3, 11, 7], col: [1, 6, 1, 1], g: [2, 7] };
      const want = await ortShapes(nodes, c, feeds, opset);
      const got = inferModelShapes(buildModel(nodes, { ...c, opset }), { x: feeds.x }).main;
      for (const [name, dims] of Object.entries(want)) assert.deepEqual(got.shape(name), [...dims], `${name} (opset ${opset})`);
    });
  }
});
