/**
 * Schema-driven protobuf encoder for ONNX, in two passes: sizes first (memoised per message), then a
 * stream of bytes into a sink. Large bytes fields (weights) are handed to the sink as the views they
 * already are, so writing a model to disk never builds a second copy of its weights in memory.
 */
import { compiledSpec } from './decode';
import { SCHEMA, type FieldSpec } from './schema';
import type { Int64, ModelProto } from './types';
import { varintSize, WireType } from './wire';

type Obj = Record<string, unknown>;

/** Where encoded bytes go: a file in chunks, or one exactly sized buffer. */
export interface ByteSink {
  varint(value: Int64): void;
  float(value: number): void;
  double(value: number): void;
  bytes(value: Uint8Array): void;
  string(value: string, byteLength: number): void;
}

const TWO_32 = 4294967296;
const PROTOBUF_MAX = 2 ** 31 - 1;

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || ((Array.isArray(v) || ArrayBuffer.isView(v)) && (v as ArrayLike<unknown>).length === 0);
}

function wireTypeOf(f: FieldSpec, packed: boolean): number {
  if (packed || f.kind === 'string' || f.kind === 'bytes' || f.kind === 'message') return WireType.Bytes;
  if (f.kind === 'float') return WireType.Fixed32;
  if (f.kind === 'double') return WireType.Fixed64;
  return WireType.Varint;
}

/** Encodes values the way the field's kind puts them on the wire (int32 negatives sign-extend to 64 bits). */
function toVarint(f: FieldSpec, v: unknown): Int64 {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'number' && typeof v !== 'bigint') throw new TypeError(`${f.name}: expected a number, got ${typeof v}`);
  return v;
}

class SizeCache {
  private readonly sizes = new Map<object, number>();
  private readonly strings = new Map<string, number>();

  stringSize(s: string): number {
    if (s.length < 64) {
      // ASCII fast path; fall through for anything else.
      let ascii = true;
      for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) ascii = false;
      if (ascii) return s.length;
    }
    let n = this.strings.get(s);
    if (n === undefined) {
      n = Buffer.byteLength(s, 'utf8');
      this.strings.set(s, n);
    }
    return n;
  }

  scalarSize(f: FieldSpec, v: unknown): number {
    switch (f.kind) {
      case 'float':
        return 4;
      case 'double':
        return 8;
      case 'string': {
        const n = this.stringSize(v as string);
        return varintSize(n) + n;
      }
      case 'bytes': {
        const n = (v as Uint8Array).length;
        return varintSize(n) + n;
      }
      case 'message': {
        const n = this.messageSize(v as Obj, f.type as string);
        return varintSize(n) + n;
      }
      default:
        return varintSize(toVarint(f, v));
    }
  }

  packedContentSize(f: FieldSpec, values: ArrayLike<unknown>): number {
    if (f.kind === 'float') return values.length * 4;
    if (f.kind === 'double') return values.length * 8;
    let n = 0;
    for (let i = 0; i < values.length; i++) n += varintSize(toVarint(f, values[i]));
    return n;
  }

  fieldSize(f: FieldSpec, v: unknown): number {
    const tag = varintSize(f.no << 3);
    if (f.card === 'one') return tag + this.scalarSize(f, v);
    const values = v as ArrayLike<unknown>;
    if (f.card === 'packed') {
      const n = this.packedContentSize(f, values);
      return tag + varintSize(n) + n;
    }
    let n = 0;
    for (let i = 0; i < values.length; i++) n += tag + this.scalarSize(f, values[i]);
    return n;
  }

  messageSize(obj: Obj, type: string): number {
    const cached = this.sizes.get(obj);
    if (cached !== undefined) return cached;
    let n = 0;
    for (const f of SCHEMA[type]) {
      const v = obj[f.name];
      if (!isEmpty(v)) n += this.fieldSize(f, v);
    }
    for (const raw of (obj.$unknown as Uint8Array[] | undefined) ?? []) n += raw.length;
    this.sizes.set(obj, n);
    return n;
  }
}

class Emitter {
  constructor(
    private readonly sizes: SizeCache,
    private readonly sink: ByteSink,
  ) {}

  private tag(f: FieldSpec, wireType: number): void {
    this.sink.varint((f.no << 3) | wireType);
  }

  private scalar(f: FieldSpec, v: unknown): void {
    const sink = this.sink;
    switch (f.kind) {
      case 'float':
        return sink.float(v as number);
      case 'double':
        return sink.double(v as number);
      case 'string': {
        const n = this.sizes.stringSize(v as string);
        sink.varint(n);
        return sink.string(v as string, n);
      }
      case 'bytes':
        sink.varint((v as Uint8Array).length);
        return sink.bytes(v as Uint8Array);
      case 'message':
        sink.varint(this.sizes.messageSize(v as Obj, f.type as string));
        return this.message(v as Obj, f.type as string);
      default:
        return sink.varint(toVarint(f, v));
    }
  }

  private packed(f: FieldSpec, values: ArrayLike<unknown>): void {
    this.tag(f, WireType.Bytes);
    this.sink.varint(this.sizes.packedContentSize(f, values));
    if (f.kind === 'float' && values instanceof Float32Array) return this.sink.bytes(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    if (f.kind === 'double' && values instanceof Float64Array) return this.sink.bytes(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    for (let i = 0; i < values.length; i++) {
      if (f.kind === 'float') this.sink.float(values[i] as number);
      else if (f.kind === 'double') this.sink.double(values[i] as number);
      else this.sink.varint(toVarint(f, values[i]));
    }
  }

  message(obj: Obj, type: string): void {
    for (const f of SCHEMA[type]) {
      const v = obj[f.name];
      if (isEmpty(v)) continue;
      if (f.card === 'packed') this.packed(f, v as ArrayLike<unknown>);
      else if (f.card === 'many') {
        const values = v as ArrayLike<unknown>;
        for (let i = 0; i < values.length; i++) {
          this.tag(f, wireTypeOf(f, false));
          this.scalar(f, values[i]);
        }
      } else {
        this.tag(f, wireTypeOf(f, false));
        this.scalar(f, v);
      }
    }
    for (const raw of (obj.$unknown as Uint8Array[] | undefined) ?? []) this.sink.bytes(raw);
  }
}

/** Writes into a fixed buffer; subclasses decide what happens when it fills. */
export abstract class BufferSink implements ByteSink {
  protected pos = 0;
  constructor(protected buf: Buffer) {}

  protected abstract ensure(n: number): void;

  varint(value: Int64): void {
    this.ensure(10);
    const buf = this.buf;
    if (typeof value === 'number' && value >= 0 && value < 0x80000000) {
      let v = value;
      while (v >= 0x80) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    if (typeof value === 'number' && value >= 0 && Number.isSafeInteger(value)) {
      let lo = value % TWO_32;
      let hi = Math.floor(value / TWO_32);
      while (hi > 0 || lo >= 0x80) {
        buf[this.pos++] = (lo & 0x7f) | 0x80;
        lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
        hi = Math.floor(hi / 128);
      }
      buf[this.pos++] = lo;
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    buf[this.pos++] = Number(v);
  }

  float(value: number): void {
    this.ensure(4);
    this.pos = this.buf.writeFloatLE(value, this.pos);
  }

  double(value: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(value, this.pos);
  }

  bytes(value: Uint8Array): void {
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  string(value: string, byteLength: number): void {
    this.ensure(byteLength);
    this.pos += this.buf.write(value, this.pos, byteLength, 'utf8');
  }
}

/** Encodes into one buffer; a few spare bytes let varint writes skip a bounds check per byte. */
class ExactSink extends BufferSink {
  static readonly SLACK = 16;
  protected ensure(n: number): void {
    if (this.pos + n > this.buf.length && n > 10) throw new Error('encoder size mismatch: message larger than computed');
  }
  get written(): number {
    return this.pos;
  }
  get buffer(): Buffer {
    return this.buf;
  }
}

export function messageSize(obj: object, type: string): number {
  return new SizeCache().messageSize(obj as Obj, type);
}

/** Encodes a message of any schema type through the given sink; returns its size. */
export function encodeMessageTo(obj: object, type: string, makeSink: (size: number) => ByteSink): number {
  compiledSpec(type); // validates the type name
  const sizes = new SizeCache();
  const size = sizes.messageSize(obj as Obj, type);
  new Emitter(sizes, makeSink(size)).message(obj as Obj, type);
  return size;
}

/** Encodes a model into a new buffer of exactly its serialized size. */
export function encodeModel(model: ModelProto): Buffer {
  let sink: ExactSink | undefined;
  const size = encodeMessageTo(model, 'ModelProto', (n) => {
    if (n > PROTOBUF_MAX) throw new RangeError(`the model would be ${n} bytes, over protobuf's 2 GiB limit: save it with external data`);
    return (sink = new ExactSink(Buffer.allocUnsafe(n + ExactSink.SLACK)));
  });
  const done = sink as ExactSink;
  if (done.written !== size) throw new Error(`encoder size mismatch: wrote ${done.written} of ${size} bytes`);
  return done.buffer.subarray(0, size);
}
