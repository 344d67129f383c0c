/**
 * NumPy's .npy format (versions 1, 2 and 3), little-endian numeric dtypes only, C order only: enough to
 * feed models with arrays saved by `np.save`, and to write arrays that NumPy reads back.
 *
 * dtype names are onnxruntime's tensor type names, so an array maps onto a feed without a lookup table.
 * float16 data is kept as its raw IEEE half bits (Uint16Array), as onnxruntime-node expects.
 */
import * as fs from 'node:fs';
import { UserError } from '../core/errors';

export type NpyDType = 'float32' | 'float64' | 'float16' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

export type NpyData = Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  /** Elements in C order; bool is a Uint8Array of 0/1, float16 a Uint16Array of half bits. */
  data: NpyData;
}

export class NpyFormatError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'NpyFormatError';
  }
}

interface DTypeCodec {
  /** NumPy's type code without byte order, e.g. "f4". */
  code: string;
  bytes: number;
  make(buffer: ArrayBuffer, count: number): NpyData;
}

const CODECS: Readonly<Record<NpyDType, DTypeCodec>> = {
  float32: { code: 'f4', bytes: 4, make: (b, n) => new Float32Array(b, 0, n) },
  float64: { code: 'f8', bytes: 8, make: (b, n) => new Float64Array(b, 0, n) },
  float16: { code: 'f2', bytes: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  int8: { code: 'i1', bytes: 1, make: (b, n) => new Int8Array(b, 0, n) },
  uint8: { code: 'u1', bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  int16: { code: 'i2', bytes: 2, make: (b, n) => new Int16Array(b, 0, n) },
  uint16: { code: 'u2', bytes: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  int32: { code: 'i4', bytes: 4, make: (b, n) => new Int32Array(b, 0, n) },
  uint32: { code: 'u4', bytes: 4, make: (b, n) => new Uint32Array(b, 0, n) },
  int64: { code: 'i8', bytes: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
  uint64: { code: 'u8', bytes: 8, make: (b, n) => new BigUint64Array(b, 0, n) },
  bool: { code: 'b1', bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
};

const BY_CODE = new Map<string, NpyDType>(Object.entries(CODECS).map(([name, c]) => [c.code, name as NpyDType]));

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"

export function npyItemSize(dtype: NpyDType): number {
  return CODECS[dtype].bytes;
}

export function elementCountOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

// ---------------------------------------------------------------------------------------------------
// Reading

interface Header {
  dtype: NpyDType;
  shape: number[];
  dataOffset: number;
}

/** Parses .npy bytes; `label` (usually the file name) starts every error message. */
export function parseNpy(bytes: Uint8Array, label = 'npy'): NpyArray {
  const header = readHeader(bytes, label);
  const codec = CODECS[header.dtype];
  const count = elementCountOf(header.shape);
  const needed = count * codec.bytes;
  const available = bytes.length - header.dataOffset;
  if (available < needed) {
    throw new NpyFormatError(`${label}: truncated: shape [${header.shape.join(', ')}] of ${header.dtype} needs ${needed} bytes of data, the file has ${available}`);
  }
  // Copy into a fresh buffer: the data offset is rarely aligned for the typed array inside a zip entry.
  const copy = new Uint8Array(needed);
  copy.set(bytes.subarray(header.dataOffset, header.dataOffset + needed));
  return { dtype: header.dtype, shape: header.shape, data: codec.make(copy.buffer, count) };
}

function readHeader(bytes: Uint8Array, label: string): Header {
  if (bytes.length < 10 || !MAGIC.equals(bytes.subarray(0, 6))) throw new NpyFormatError(`${label}: not a .npy file (missing the \\x93NUMPY magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) [headerLength, headerStart] = [view.getUint16(8, true), 10];
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyFormatError(`${label}: truncated header`);
    [headerLength, headerStart] = [view.getUint32(8, true), 12];
  } else throw new NpyFormatError(`${label}: unsupported .npy format version ${major}.${bytes[7]} (1, 2 and 3 are supported)`);
  const dataOffset = headerStart + headerLength;
  if (dataOffset > bytes.length) throw new NpyFormatError(`${label}: truncated header (declares ${headerLength} bytes, the file has ${bytes.length - headerStart})`);
  // Versions 1 and 2 store the header in latin1, version 3 in UTF-8; the fields we read are ASCII.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + headerStart, headerLength).toString(major === 3 ? 'utf8' : 'latin1');
  return { ...parseHeaderDict(text, label), dataOffset };
}

/** Reads the Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } */
function parseHeaderDict(text: string, label: string): { dtype: NpyDType; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(text)?.[2];
  if (descr === undefined) {
    const structured = /['"]descr['"]\s*:\s*\[/.test(text);
    throw new NpyFormatError(`${label}: ${structured ? 'structured (record) arrays are not supported' : 'header has no dtype (descr)'}`);
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  if (fortran === undefined) throw new NpyFormatError(`${label}: header has no fortran_order`);
  if (fortran === 'True') throw new NpyFormatError(`${label}: Fortran-ordered arrays are not supported (save with np.ascontiguousarray first)`);
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (shapeText === undefined) throw new NpyFormatError(`${label}: header has no shape`);
  return { dtype: parseDescr(descr, label), shape: parseShape(shapeText, label) };
}

function parseDescr(descr: string, label: string): NpyDType {
  const order = descr[0];
  const code = descr.slice(1);
  const dtype = BY_CODE.get(code);
  if (!dtype || !'<>|='.includes(order)) throw new NpyFormatError(`${label}: unsupported dtype '${descr}' (supported: ${[...BY_CODE.keys()].join(', ')}, little-endian)`);
  // '=' is native order, which is little-endian on every platform onnxruntime-node ships for.
  if (order === '>' && CODECS[dtype].bytes > 1) throw new NpyFormatError(`${label}: big-endian dtype '${descr}' is not supported (use arr.astype(arr.dtype.newbyteorder('<')))`);
  return dtype;
}

function parseShape(text: string, label: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return parts.map((p) => {
    // Python 2 era files may write longs as "3L".
    const n = Number(p.replace(/L$/, ''));
    if (!Number.isSafeInteger(n) || n < 0) throw new NpyFormatError(`${label}: bad dimension '${p}' in shape (${text})`);
    return n;
  });
}

// ---------------------------------------------------------------------------------------------------
// Writing

/** Encodes an array as a version 1.0 .npy file (version 2.0 if the header would not fit). */
export function encodeNpy(array: NpyArray): Uint8Array {
  checkArray(array);
  const codec = CODECS[array.dtype];
  const order = codec.bytes === 1 ? '|' : '<';
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  const dict = `{'descr': '${order}${codec.code}', 'fortran_order': False, 'shape': ${shape}, }`;
  const header = paddedHeader(dict);
  const data = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** Magic, version and header padded with spaces and a newline so the data starts 64-byte aligned. */
function paddedHeader(dict: string): Uint8Array {
  const version = dict.length + 1 + 10 <= 0xffff ? 1 : 2;
  const prefix = version === 1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const text = dict.padEnd(total - prefix - 1, ' ') + '\n';
  const out = new Uint8Array(total);
  out.set(MAGIC);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(Buffer.from(text, 'latin1'), prefix);
  return out;
}

function checkArray(array: NpyArray): void {
  const count = elementCountOf(array.shape);
  if (array.data.length !== count) throw new NpyFormatError(`array of shape [${array.shape.join(', ')}] needs ${count} elements, got ${array.data.length}`);
  if (array.data.BYTES_PER_ELEMENT !== CODECS[array.dtype].bytes) throw new NpyFormatError(`${array.dtype} data must have ${CODECS[array.dtype].bytes}-byte elements`);
}

// ---------------------------------------------------------------------------------------------------
// Files

export function readNpyFile(file: string): NpyArray {
  return parseNpy(readBytes(file), file);
}

export function writeNpyFile(file: string, array: NpyArray): void {
  fs.writeFileSync(file, encodeNpy(array));
}

/** Reads a file, turning the usual errno failures into one line naming the file. */
export function readBytes(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NpyFormatError(`no such file: ${file}`);
    if (code === 'EISDIR') throw new NpyFormatError(`${file} is a folder, not an array file`);
    throw err;
  }
}
