/**
 * Schema-driven protobuf decoder for ONNX. Bytes fields (raw_data above all) are zero-copy views of the
 * input buffer; packed float/double/int32 data becomes typed arrays; fields this schema does not know
 * are kept as raw bytes so that encoding gives them back.
 */
import { SCHEMA, type FieldSpec } from './schema';
import type { ModelProto } from './types';
import { OnnxFormatError, Reader, WireType } from './wire';

/** Graphs nest through attributes; a hostile file could nest them until the stack overflows. */
const MAX_DEPTH = 100;

interface CompiledMessage {
  readonly byNo: (FieldSpec | undefined)[];
  readonly repeated: readonly FieldSpec[];
  readonly typed: readonly FieldSpec[];
}

const compiled = new Map<string, CompiledMessage>();

export function compiledSpec(name: string): CompiledMessage {
  let c = compiled.get(name);
  if (!c) {
    const fields = SCHEMA[name];
    if (!fields) throw new Error(`schema has no message ${name}`);
    const byNo: (FieldSpec | undefined)[] = [];
    for (const f of fields) byNo[f.no] = f;
    c = { byNo, repeated: fields.filter((f) => f.card !== 'one'), typed: fields.filter((f) => f.typed) };
    compiled.set(name, c);
  }
  return c;
}

type Obj = Record<string, unknown>;

function expectedWireType(f: FieldSpec): number {
  switch (f.kind) {
    case 'float':
      return WireType.Fixed32;
    case 'double':
      return WireType.Fixed64;
    case 'string':
    case 'bytes':
    case 'message':
      return WireType.Bytes;
    default:
      return WireType.Varint;
  }
}

function readScalar(r: Reader, f: FieldSpec): unknown {
  switch (f.kind) {
    case 'int64':
      return r.int64();
    case 'uint64':
      return r.uint64();
    case 'int32':
      return r.int32();
    case 'float':
      return r.float();
    case 'double':
      return r.double();
    case 'string':
      return r.string();
    case 'bytes':
      return r.bytes();
    default:
      throw new Error(`not a scalar: ${f.kind}`);
  }
}

const TYPED_CTOR = { f32: Float32Array, f64: Float64Array, i32: Int32Array } as const;

/** A packed block of fixed-width values, copied into a typed array (the file gives no alignment). */
function readFixedBlock(r: Reader, f: FieldSpec): number[] | Float32Array | Float64Array {
  const [s, e] = r.span();
  const width = f.kind === 'float' ? 4 : 8;
  if ((e - s) % width !== 0) r.fail(`packed ${f.name} length ${e - s} is not a multiple of ${width}`, s);
  const Ctor = f.kind === 'float' ? Float32Array : Float64Array;
  const out = new Ctor((e - s) / width);
  new Uint8Array(out.buffer).set(r.buf.subarray(s, e));
  return f.typed ? out : Array.from(out);
}

function readPackedVarints(r: Reader, f: FieldSpec, into: unknown[]): void {
  const [s, e] = r.span();
  const inner = new Reader(r.buf, s, e);
  while (inner.pos < e) into.push(readScalar(inner, f));
}

/** The field's values as a plain array (a previous packed block may have made it a typed array). */
function plainList(obj: Obj, name: string): unknown[] {
  const v = obj[name];
  if (Array.isArray(v)) return v as unknown[];
  const list = Array.from(v as ArrayLike<number>);
  obj[name] = list;
  return list;
}

function appendValues(obj: Obj, name: string, values: ArrayLike<number>): void {
  const list = plainList(obj, name);
  for (let i = 0; i < values.length; i++) list.push(values[i]);
}

function readRepeated(r: Reader, f: FieldSpec, wireType: number, obj: Obj, depth: number): void {
  const list = plainList(obj, f.name);
  if (wireType === WireType.Bytes && f.kind !== 'string' && f.kind !== 'bytes' && f.kind !== 'message') {
    if (f.kind === 'float' || f.kind === 'double') {
      const block = readFixedBlock(r, f);
      if (list.length === 0 && !Array.isArray(block)) obj[f.name] = block;
      else appendValues(obj, f.name, block);
    } else readPackedVarints(r, f, list);
    return;
  }
  if (f.kind === 'message') list.push(readSubMessage(r, f, depth));
  else list.push(readScalar(r, f));
}

function readSubMessage(r: Reader, f: FieldSpec, depth: number): Obj {
  const [s, e] = r.span();
  return decodeMessage(r.buf, f.type as string, s, e, depth + 1);
}

/**
 * Protobuf merges a singular message field that occurs twice (onnxruntime's parser does), so a crafted
 * file cannot show us one graph and onnxruntime another.
 */
function setOrMerge(obj: Obj, f: FieldSpec, value: Obj): void {
  const existing = obj[f.name] as Obj | undefined;
  if (existing) mergeMessage(existing, value, f.type as string);
  else obj[f.name] = value;
}

function mergeMessage(target: Obj, source: Obj, type: string): void {
  for (const f of SCHEMA[type]) {
    const v = source[f.name];
    if (f.card !== 'one') {
      const list = Array.from(v as ArrayLike<unknown>);
      if (list.length) target[f.name] = [...Array.from(target[f.name] as ArrayLike<unknown>), ...list];
    } else if (v !== undefined) {
      if (f.kind === 'message' && target[f.name]) mergeMessage(target[f.name] as Obj, v as Obj, f.type as string);
      else target[f.name] = v;
    }
  }
  if (source.$unknown) target.$unknown = [...((target.$unknown as Uint8Array[]) ?? []), ...(source.$unknown as Uint8Array[])];
  settleTyped(target, compiledSpec(type));
}

/** Typed fields may have arrived unpacked or in several blocks; settle them on one typed array. */
function settleTyped(obj: Obj, spec: CompiledMessage): void {
  for (const f of spec.typed) {
    const v = obj[f.name];
    if (Array.isArray(v)) obj[f.name] = TYPED_CTOR[f.typed as 'f32'].from(v as number[]);
  }
}

function fieldAccepts(f: FieldSpec, wireType: number): boolean {
  const expected = expectedWireType(f);
  if (wireType === expected) return true;
  // Repeated numeric fields may be packed (length-delimited) whatever the schema says.
  return f.card !== 'one' && wireType === WireType.Bytes && expected !== WireType.Bytes;
}

export function decodeMessage(buf: Buffer, name: string, start: number, end: number, depth = 0): Obj {
  if (depth > MAX_DEPTH) throw new OnnxFormatError(`corrupt ONNX file: messages nested deeper than ${MAX_DEPTH} at byte ${start}`);
  const spec = compiledSpec(name);
  const obj: Obj = {};
  for (const f of spec.repeated) obj[f.name] = [];
  const r = new Reader(buf, start, end);
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.uint32();
    const no = tag >>> 3;
    const wireType = tag & 7;
    if (no === 0) r.fail('field number 0', tagAt);
    const f = spec.byNo[no];
    if (!f || !fieldAccepts(f, wireType)) {
      r.skip(wireType);
      ((obj.$unknown ??= []) as Uint8Array[]).push(buf.subarray(tagAt, r.pos));
    } else if (f.card !== 'one') readRepeated(r, f, wireType, obj, depth);
    else if (f.kind === 'message') setOrMerge(obj, f, readSubMessage(r, f, depth));
    else obj[f.name] = readScalar(r, f);
  }
  settleTyped(obj, spec);
  return obj;
}

/** Decodes a serialized ModelProto. The returned tensors' raw_data are views of `buf`: keep it alive. */
export function decodeModel(buf: Buffer): ModelProto {
  if (buf.length === 0) throw new OnnxFormatError('not an ONNX model: the file is empty');
  return decodeMessage(buf, 'ModelProto', 0, buf.length) as unknown as ModelProto;
}
