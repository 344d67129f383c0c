/**
 * Protobuf wire primitives: a bounds-checked reader over an untrusted buffer and the varint size rules
 * the encoder needs. Every read checks its declared length against the end of the enclosing message, so
 * a corrupt file becomes an OnnxFormatError naming the byte offset instead of a RangeError or a hang.
 */
import type { Int64 } from './types';

export class OnnxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxFormatError';
  }
}

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

const TWO_32 = 4294967296;
/** The high 32-bit word of a varint whose value still fits a JS number exactly (|v| < 2^53). */
const SAFE_HIGH = 0x200000;

export class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  fail(what: string, at = this.pos): never {
    throw new OnnxFormatError(`corrupt ONNX file: ${what} at byte ${at}`);
  }

  /** Reads a varint as two unsigned 32-bit words. */
  private varintWords(): [number, number] {
    let lo = 0;
    let hi = 0;
    const buf = this.buf;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('varint runs past the end of its message', start);
      const b = buf[this.pos++];
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    return this.fail('varint longer than 10 bytes', start);
  }

  /** uint32 fast path: tags and lengths. */
  uint32(): number {
    const buf = this.buf;
    if (this.pos + 5 <= this.end) {
      let b = buf[this.pos++];
      let v = b & 0x7f;
      if (b < 0x80) return v;
      b = buf[this.pos++];
      v |= (b & 0x7f) << 7;
      if (b < 0x80) return v;
      b = buf[this.pos++];
      v |= (b & 0x7f) << 14;
      if (b < 0x80) return v;
      this.pos -= 3;
    }
    const [lo, hi] = this.varintWords();
    if (hi !== 0) this.fail('length or tag larger than 2^32');
    return lo;
  }

  int32(): number {
    return this.varintWords()[0] | 0;
  }

  /** Signed 64-bit: a number when exact, otherwise a bigint. */
  int64(): Int64 {
    const [lo, hi] = this.varintWords();
    const signedHi = hi | 0;
    if (signedHi >= -SAFE_HIGH && signedHi < SAFE_HIGH) return signedHi * TWO_32 + lo;
    return (BigInt(signedHi) << 32n) | BigInt(lo);
  }

  uint64(): Int64 {
    const [lo, hi] = this.varintWords();
    if (hi < SAFE_HIGH) return hi * TWO_32 + lo;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  float(): number {
    this.need(4);
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A length-delimited field's [start, end), checked against the enclosing message. */
  span(): [number, number] {
    const at = this.pos;
    const len = this.uint32();
    if (len > this.end - this.pos) this.fail(`field length ${len} runs past the end of its message`, at);
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  /** Zero-copy view of a bytes field. */
  bytes(): Uint8Array {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  string(): string {
    const [s, e] = this.span();
    return this.buf.toString('utf8', s, e);
  }

  need(n: number): void {
    if (this.pos + n > this.end) this.fail(`${n}-byte value runs past the end of its message`);
  }

  /** Skips one field of the given wire type (for fields this schema does not know). */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.Varint:
        this.varintWords();
        return;
      case WireType.Fixed64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.Bytes:
        this.span();
        return;
      case WireType.Fixed32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }
}

/** Bytes a varint takes for a value already reduced to unsigned 64-bit. */
export function varintSize(value: Int64): number {
  if (typeof value === 'number') {
    if (value < 0) return 10;
    if (value < 0x80) return 1;
    if (value < 0x4000) return 2;
    if (value < 0x200000) return 3;
    if (value < 0x10000000) return 4;
    let n = 4;
    let v = Math.floor(value / 0x10000000);
    while (v > 0) {
      n++;
      v = Math.floor(v / 128);
    }
    return n;
  }
  let v = BigInt.asUintN(64, value);
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}
