/** Inputs for profiling: generated data (deterministic, by dtype), --shape resolution, and --data folders. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { floatTensor, graph, valueInfo } from '../../src/onnx/build';
import { DataType } from '../../src/onnx/dtypes';
import { float16ToNumber } from '../../src/onnx/tensor';
import type { GraphProto } from '../../src/onnx/types';
import { toFloat16Bits } from '../../src/runtime/float16';
import { buildInputs, generateInputs, loadInputSamples, modelInputSpecs, resolveInputShapes, type ModelInputSpec } from '../../src/runtime/inputs';
import { writeNpyFile, type NpyArray } from '../../src/runtime/npy';
import { writeNpzFile } from '../../src/runtime/npz';

/** A graph with the given inputs and no nodes: input specs only need the graph's declarations. */
function inputGraph(inputs: [string, number, (number | string | undefined)[] | undefined][], initializers: string[] = []): GraphProto {
  return graph({
    name: 'g',
    input: inputs.map(([name, type, shape]) => valueInfo(name, type, shape)),
    initializer: initializers.map((name) => floatTensor(name, [1], [0])),
  });
}

const imageModel = () => modelInputSpecs(inputGraph([['x', DataType.FLOAT, ['batch', 3, 224, 224]]]));

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-inputs-'));
  tempDirs.push(dir);
  return dir;
}
after(() => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const f32 = (shape: number[], fill = 0.5): NpyArray => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });

void describe('model input specs', () => {
  void it('excludes inputs that are initializers and reads dims', () => {
    const specs = modelInputSpecs(inputGraph([['x', DataType.FLOAT, ['n', 4]], ['w', DataType.FLOAT, [1]], ['m', DataType.BOOL, [undefined]]], ['w']));
    assert.deepEqual(specs, [
      { name: 'x', dtype: 'float32', dims: ['n', 4] },
      { name: 'm', dtype: 'bool', dims: [null] },
    ]);
  });

  void it('refuses dtypes that cannot be fed', () => {
    assert.throws(() => modelInputSpecs(inputGraph([['s', DataType.STRING, [1]]])), /input s has dtype string/);
    assert.throws(() => modelInputSpecs(inputGraph([['b', DataType.BFLOAT16, [1]]])), /input b has dtype bfloat16/);
  });
});

void describe('shape resolution', () => {
  void it('asks for --shape naming the input and the symbolic dim', () => {
    assert.throws(() => resolveInputShapes(imageModel()), (err: Error) => err.name === 'InputError' && err.message === "input x has symbolic dimension 'batch': pass --shape x=1,3,224,224");
  });

  void it('names unnamed dynamic dims and shapeless inputs', () => {
    const specs = modelInputSpecs(inputGraph([['a', DataType.FLOAT, [2, undefined]]]));
    assert.throws(() => resolveInputShapes(specs), /input a has an unnamed dynamic dimension at axis 1: pass --shape a=2,1/);
    const shapeless = modelInputSpecs(inputGraph([['b', DataType.FLOAT, undefined]]));
    assert.throws(() => resolveInputShapes(shapeless), /input b has no shape in the model/);
    assert.deepEqual(resolveInputShapes(shapeless, { b: [3, 3] }).get('b'), [3, 3]);
  });

  void it('binds symbolic dims shared with other inputs', () => {
    const specs = modelInputSpecs(inputGraph([['ids', DataType.INT64, ['batch', 'seq']], ['mask', DataType.INT64, ['batch', 'seq']]]));
    const shapes = resolveInputShapes(specs, { ids: [2, 16] });
    assert.deepEqual(shapes.get('mask'), [2, 16]);
  });

  void it('rejects user shapes of the wrong rank, fixed dims or input name', () => {
    assert.throws(() => resolveInputShapes(imageModel(), { x: [1, 3, 224] }), /--shape x=1,3,224 does not fit input x: the model expects rank 4/);
    assert.throws(() => resolveInputShapes(imageModel(), { x: [1, 1, 224, 224] }), /does not fit input x: the model fixes dimension 1 to 3/);
    assert.throws(() => resolveInputShapes(imageModel(), { y: [1] }), /--shape names y, which is not an input of the model \(inputs: x\)/);
    assert.throws(() => resolveInputShapes(imageModel(), { x: [1, 3, -2, 224] }), /must be non-negative integers/);
  });
});

void describe('generated inputs', () => {
  const specs: ModelInputSpec[] = [
    { name: 'f', dtype: 'float32', dims: [1000] },
    { name: 'h', dtype: 'float16', dims: [64] },
    { name: 'd', dtype: 'float64', dims: [8] },
    { name: 'i', dtype: 'int64', dims: [1000] },
    { name: 'u', dtype: 'uint8', dims: [1000] },
    { name: 'b', dtype: 'bool', dims: [1000] },
  ];

  void it('is deterministic for a seed and differs across seeds', () => {
    const a = generateInputs(specs, { seed: 7 }).samples[0];
    const b = generateInputs(specs, { seed: 7 }).samples[0];
    const c = generateInputs(specs, { seed: 8 }).samples[0];
    assert.deepEqual(a, b);
    assert.notDeepEqual(a[0].data, c[0].data);
  });

  void it('does not change one input when another input changes shape', () => {
    const a = generateInputs([specs[0], { name: 'z', dtype: 'float32', dims: [4] }], { seed: 1 }).samples[0];
    const b = generateInputs([specs[0], { name: 'z', dtype: 'float32', dims: [40] }], { seed: 1 }).samples[0];
    assert.deepEqual(a[0].data, b[0].data);
  });

  void it('draws floats from N(0,1), ints from [0,10) and fair bools', () => {
    const [f, h, d, i, u, b] = generateInputs(specs, { seed: 3 }).samples[0];
    const values = Array.from(f.data as Float32Array);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    assert.ok(Math.abs(mean) < 0.15 && Math.abs(std - 1) < 0.15, `mean ${mean} std ${std}`);
    assert.ok(h.data instanceof Uint16Array && d.data instanceof Float64Array);
    assert.ok(Array.from(i.data as BigInt64Array).every((v) => v >= 0n && v < 10n));
    assert.ok(Array.from(u.data as Uint8Array).every((v) => v >= 0 && v < 10));
    assert.equal(new Set(Array.from(u.data as Uint8Array)).size, 10);
    const ones = Array.from(b.data as Uint8Array).filter((v) => v === 1).length;
    assert.ok(ones > 400 && ones < 600 && Array.from(b.data as Uint8Array).every((v) => v === 0 || v === 1));
  });

  void it('reports where values came from', () => {
    const set = generateInputs(specs.slice(0, 1), { seed: 5 });
    assert.equal(set.sources.f, 'generated: normal(0,1), seed 5');
  });
});

void describe('float16 encoding', () => {
  void it('encodes exact values, limits and specials', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0, 0],
      [-0, 0x8000],
      [65504, 0x7bff],
      [65520, 0x7c00],
      [Infinity, 0x7c00],
      [2 ** -14, 0x0400],
      [2 ** -24, 0x0001],
      [2 ** -25, 0],
      [3 * 2 ** -25, 0x0002],
    ];
    for (const [value, bits] of cases) assert.equal(toFloat16Bits(value), bits, `${value}`);
    assert.ok(Number.isNaN(float16ToNumber(toFloat16Bits(NaN))));
  });

  void it('rounds to the nearest half', () => {
    for (const v of [0.1, -3.14159, 1234.5678, 1e-5]) {
      const back = float16ToNumber(toFloat16Bits(v));
      assert.ok(Math.abs(back - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `${v} -> ${back}`);
    }
    assert.equal(toFloat16Bits(1 + 2 ** -11), 0x3c00, 'a tie rounds to even');
    assert.equal(toFloat16Bits(1 + 3 * 2 ** -11), 0x3c02, 'a tie rounds to even (up)');
  });
});

void describe('--data folders', () => {
  const twoInputs = () => modelInputSpecs(inputGraph([['x', DataType.FLOAT, ['n', 4]], ['ids', DataType.INT64, ['n']]]));
  const ids = (n: number): NpyArray => ({ dtype: 'int64', shape: [n], data: new BigInt64Array(n) });

  void it('reads one sample per file in sorted order, keys as input names', () => {
    const dir = tempDir();
    writeNpzFile(path.join(dir, 'b.npz'), { x: f32([2, 4], 2), ids: ids(2) });
    writeNpzFile(path.join(dir, 'a.npz'), { x: f32([1, 4], 1), ids: ids(1) }, { compress: true });
    fs.writeFileSync(path.join(dir, 'README.txt'), 'ignored');
    const set = loadInputSamples(twoInputs(), dir);
    assert.equal(set.samples.length, 2);
    assert.deepEqual(set.samples.map((s) => s[0].shape), [[1, 4], [2, 4]]);
    assert.deepEqual(set.samples[0].map((t) => t.name), ['x', 'ids']);
    assert.match(set.sources.x, /\(2 files\)/);
  });

  void it('takes .npy files for single-input models', () => {
    const dir = tempDir();
    writeNpyFile(path.join(dir, '0.npy'), f32([1, 3, 224, 224]));
    const set = buildInputs(inputGraph([['x', DataType.FLOAT, ['batch', 3, 224, 224]]]), { dataDir: dir });
    assert.deepEqual(set.samples[0][0].shape, [1, 3, 224, 224]);
  });

  /** Each case writes one bad sample file into an empty folder. */
  const errorCases: [string, (dir: string) => void, RegExp][] = [
    ['.npy for a multi-input model', (dir) => writeNpyFile(path.join(dir, 's.npy'), f32([1, 4])), /s\.npy: a \.npy file holds one array but the model has 2 inputs \(x, ids\)/],
    ['a key that is no input', (dir) => writeNpzFile(path.join(dir, 's.npz'), { x: f32([1, 4]), ids: ids(1), extra: ids(1) }), /s\.npz: key 'extra' is not an input of the model/],
    ['a missing input', (dir) => writeNpzFile(path.join(dir, 's.npz'), { x: f32([1, 4]) }), /s\.npz: no array for input ids/],
    [
      'float64 for a float32 input',
      (dir) => writeNpzFile(path.join(dir, 's.npz'), { x: { dtype: 'float64', shape: [1, 4], data: new Float64Array(4) }, ids: ids(1) }),
      /s\.npz: input x expects float32, the array is float64/,
    ],
    ['a wrong rank', (dir) => writeNpzFile(path.join(dir, 's.npz'), { x: f32([4]), ids: ids(1) }), /s\.npz: input x: the model expects rank 2/],
    ['a wrong fixed dim', (dir) => writeNpzFile(path.join(dir, 's.npz'), { x: f32([1, 5]), ids: ids(1) }), /s\.npz: input x: the model fixes dimension 1 to 4/],
    ['a corrupt file', (dir) => fs.writeFileSync(path.join(dir, 's.npz'), 'PK garbage'), /s\.npz: cannot unzip/],
  ];
  for (const [label, writeBadSample, expected] of errorCases) {
    void it(`names file and input for ${label}`, () => {
      const dir = tempDir();
      writeBadSample(dir);
      assert.throws(() => loadInputSamples(twoInputs(), dir), (err: Error) => /Error$/.test(err.name) && expected.test(err.message));
    });
  }

  void it('checks data against --shape too', () => {
    const dir = tempDir();
    writeNpzFile(path.join(dir, 's.npz'), { x: f32([1, 4]), ids: ids(1) });
    assert.throws(() => loadInputSamples(twoInputs(), dir, { x: [2, 4] }), /s\.npz: input x has shape \[1,4\] but --shape says \[2,4\]/);
  });

  void it('explains empty and missing folders', () => {
    assert.throws(() => loadInputSamples(twoInputs(), tempDir()), /holds no \.npz or \.npy files/);
    assert.throws(() => loadInputSamples(twoInputs(), '/no/such/folder'), /--data folder not found: \/no\/such\/folder/);
  });
});
