/**
 * Model files on disk: load (with external data resolved next to the model) and save (atomically,
 * streamed in chunks, optionally moving weights to a 4096-aligned external data file).
 *
 * In memory every tensor's data is resident in raw_data (or the typed fields): loading external data
 * clears data_location, and saving decides afresh where each tensor goes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants as bufferConstants } from 'node:buffer';
import { decodeModel } from './decode';
import { encodeMessageTo, BufferSink, messageSize } from './encode';
import type { ModelProto, StringStringEntryProto, TensorProto } from './types';
import { dtypeBits, rawByteLength } from './dtypes';
import { elementCount } from './tensor';
import { forEachTensor } from './walk';
import { OnnxFormatError } from './wire';

/** protobuf refuses messages of 2 GiB or more; so does onnxruntime. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
const ALIGN = 4096;
const IO_CHUNK = 1 << 30;

export class ModelFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFileError';
  }
}

export interface LoadedModel {
  model: ModelProto;
  path: string;
  /** Size of the .onnx file itself. */
  fileBytes: number;
  /** External data files read, relative to the model's folder. */
  externalFiles: string[];
  /** Bytes read from external data files. */
  externalBytes: number;
}

export function readFileChunked(file: string, size?: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const total = size ?? fs.fstatSync(fd).size;
    if (total > bufferConstants.MAX_LENGTH) throw new ModelFileError(`${file} is too large to read at once (${total} bytes)`);
    const buf = Buffer.allocUnsafe(total);
    readInto(fd, buf, 0);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

function readInto(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, Math.min(IO_CHUNK, buf.length - done), position + done);
    if (n === 0) throw new ModelFileError('file ended early while reading');
    done += n;
  }
}

function describeMissing(file: string, err: unknown): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') throw new ModelFileError(`no such file: ${file}`);
  if (code === 'EISDIR') throw new ModelFileError(`${file} is a folder, not a model file`);
  if (code === 'EACCES') throw new ModelFileError(`cannot read ${file}: permission denied`);
  throw err;
}

/** Loads a model file and any external data it references. */
export function loadModel(file: string): LoadedModel {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    describeMissing(file, err);
  }
  if (stat.isDirectory()) throw new ModelFileError(`${file} is a folder, not a model file`);
  if (stat.size > PROTOBUF_LIMIT) throw new ModelFileError(`${file} is ${stat.size} bytes: larger than protobuf's 2 GiB limit, so it cannot be a valid ONNX file`);
  const buf = readFileChunked(file, stat.size);
  const model = decodeBuffer(buf, file);
  const ext = resolveExternalData(model, path.dirname(path.resolve(file)));
  return { model, path: file, fileBytes: stat.size, ...ext };
}

/** Decodes bytes that should be a model, with a sanity check that catches non-ONNX files early. */
export function decodeBuffer(buf: Buffer, label = 'input'): ModelProto {
  let model: ModelProto;
  try {
    model = decodeModel(buf);
  } catch (err) {
    if (err instanceof OnnxFormatError) throw new OnnxFormatError(`${label}: ${err.message}`);
    throw err;
  }
  if (!model.graph) throw new OnnxFormatError(`${label}: not an ONNX model (no graph found)`);
  if (model.ir_version === undefined && model.opset_import.length === 0) throw new OnnxFormatError(`${label}: not an ONNX model (no IR version and no opset imports)`);
  return model;
}

function entry(t: TensorProto, key: string): string | undefined {
  return t.external_data.find((e) => e.key === key)?.value;
}

interface ExternalRef {
  tensor: TensorProto;
  offset: number;
  length: number | undefined;
}

function parseRef(t: TensorProto): { location: string; ref: ExternalRef } {
  const location = entry(t, 'location');
  const name = t.name ?? '(unnamed)';
  if (!location) throw new OnnxFormatError(`tensor ${name} says its data is external but gives no location`);
  const offset = parseDecimal(entry(t, 'offset') ?? '0', `tensor ${name}: bad external data offset`);
  const lengthText = entry(t, 'length');
  const length = lengthText === undefined ? undefined : parseDecimal(lengthText, `tensor ${name}: bad external data length`);
  return { location, ref: { tensor: t, offset, length } };
}

function parseDecimal(text: string, what: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new OnnxFormatError(`${what} "${text}"`);
  return n;
}

function escapes(baseDir: string, full: string): boolean {
  const rel = path.relative(baseDir, full);
  return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
}

/** External data paths are untrusted: they must stay inside the model's folder, symlinks included. */
function safeDataPath(baseDir: string, location: string): string {
  if (location.includes('\0')) throw new OnnxFormatError(`external data location contains a NUL byte: ${JSON.stringify(location)}`);
  if (path.isAbsolute(location)) throw new OnnxFormatError(`external data location must be relative to the model: ${location}`);
  const full = path.resolve(baseDir, location);
  if (escapes(baseDir, full)) throw new OnnxFormatError(`external data location escapes the model's folder: ${location}`);
  return full;
}

/** The real path of an existing data file must also stay inside the (real) model folder. */
function assertInsideAfterLinks(baseDir: string, file: string, location: string): void {
  if (escapes(fs.realpathSync(baseDir), fs.realpathSync(file))) throw new OnnxFormatError(`external data location links outside the model's folder: ${location}`);
}

function resolveExternalData(model: ModelProto, baseDir: string): { externalFiles: string[]; externalBytes: number } {
  const byFile = new Map<string, ExternalRef[]>();
  forEachTensor(model, ({ tensor }) => {
    if (tensor.data_location !== 1) return;
    const { location, ref } = parseRef(tensor);
    const list = byFile.get(location) ?? [];
    list.push(ref);
    byFile.set(location, list);
  });
  let externalBytes = 0;
  for (const [location, refs] of byFile) externalBytes += readExternalFile(baseDir, location, refs);
  return { externalFiles: [...byFile.keys()], externalBytes };
}

function openDataFile(baseDir: string, location: string): number {
  const file = safeDataPath(baseDir, location);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelFileError(`missing external data file ${location} (expected at ${file})`);
    describeMissing(file, err);
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new ModelFileError(`external data location ${location} is not a file`);
  }
  try {
    assertInsideAfterLinks(baseDir, file, location);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/** Settles each tensor's byte range and checks it against the file and the tensor's dims. */
function checkRanges(refs: ExternalRef[], size: number, location: string): void {
  for (const ref of refs) {
    const name = ref.tensor.name ?? '(unnamed)';
    if (ref.offset > size) throw new ModelFileError(`tensor ${name}: external data offset ${ref.offset} is past the end of ${location} (${size} bytes)`);
    const length = ref.length ?? size - ref.offset;
    if (ref.offset + length > size) {
      throw new ModelFileError(`tensor ${name}: external data ${location} is ${size} bytes, but the tensor needs bytes ${ref.offset}..${ref.offset + length}`);
    }
    const expected = expectedBytes(ref.tensor);
    if (expected !== undefined && expected !== length) {
      throw new ModelFileError(`tensor ${name}: external data holds ${length} bytes but its dims and dtype need ${expected}`);
    }
    ref.length = length;
  }
}

function expectedBytes(t: TensorProto): number | undefined {
  const bits = dtypeBits(t.data_type);
  return bits === 0 ? undefined : rawByteLength(t.data_type, elementCount(t.dims));
}

function readExternalFile(baseDir: string, location: string, refs: ExternalRef[]): number {
  const fd = openDataFile(baseDir, location);
  try {
    const size = fs.fstatSync(fd).size;
    checkRanges(refs, size, location);
    // One buffer per file when it fits, so tensors are views of it; otherwise one buffer per tensor.
    const whole = size <= bufferConstants.MAX_LENGTH ? Buffer.allocUnsafe(size) : undefined;
    if (whole) readInto(fd, whole, 0);
    let bytes = 0;
    for (const ref of refs) {
      const length = ref.length as number;
      let data: Buffer;
      if (whole) data = whole.subarray(ref.offset, ref.offset + length);
      else {
        data = Buffer.allocUnsafe(length);
        readInto(fd, data, ref.offset);
      }
      attachData(ref.tensor, data);
      bytes += length;
    }
    return bytes;
  } finally {
    fs.closeSync(fd);
  }
}

function attachData(t: TensorProto, data: Uint8Array): void {
  t.raw_data = data;
  t.data_location = undefined;
  t.external_data = [];
}

export interface SaveOptions {
  /** Move tensors of at least `threshold` bytes (default 1024) into `location` (default "<model file>.data"). */
  externalData?: { location?: string; threshold?: number };
}

export interface SaveResult {
  path: string;
  sizeBytes: number;
  dataPath?: string;
  dataBytes: number;
  externalTensors: number;
}

/** Writes through a staging buffer; large views go straight to the file, in chunks under 1 GiB. */
class FileSink extends BufferSink {
  written = 0;
  constructor(private readonly fd: number) {
    super(Buffer.allocUnsafe(4 << 20));
  }
  protected ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.flush();
  }
  override bytes(value: Uint8Array): void {
    if (value.length <= 1 << 16) return super.bytes(value);
    this.flush();
    writeAll(this.fd, value);
    this.written += value.length;
  }
  override string(value: string, byteLength: number): void {
    if (byteLength <= 1 << 16) return super.string(value, byteLength);
    this.bytes(Buffer.from(value, 'utf8'));
  }
  flush(): void {
    writeAll(this.fd, this.buf.subarray(0, this.pos));
    this.written += this.pos;
    this.pos = 0;
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let done = 0; done < data.length; ) done += fs.writeSync(fd, data, done, Math.min(IO_CHUNK, data.length - done));
}

function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now().toString(36)}.tmp`);
}

/** Writes `produce`'s output to a temp file beside `target`, then renames it into place. */
function writeAtomically(target: string, produce: (fd: number) => void): string {
  const tmp = tempPathFor(target);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    produce(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    return tmp;
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    removeQuietly(tmp);
    throw explainWriteError(target, err);
  }
}

/** Best-effort cleanup: its own failure (ENOTDIR when the folder is a file) must not hide the write error. */
function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // Nothing was created there.
  }
}

function explainWriteError(target: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const reason: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOSPC: 'the disk is full',
    ENOENT: 'the folder does not exist',
    ENOTDIR: 'a folder on its path is a file',
    EDQUOT: 'the disk quota is exceeded',
  };
  // ENOENT in a folder that exists: a file system that refuses new files (/proc, /sys).
  if (code === 'ENOENT' && fs.existsSync(path.dirname(target))) return new ModelFileError(`cannot write ${target}: cannot create files in ${path.dirname(target)}`);
  if (code && reason[code]) return new ModelFileError(`cannot write ${target}: ${reason[code]}`);
  return err instanceof Error ? err : new Error(String(err));
}

interface Placement {
  tensor: TensorProto;
  data: Uint8Array;
  offset: number;
}

function planExternal(model: ModelProto, threshold: number): { placements: Placement[]; total: number } {
  const placements: Placement[] = [];
  let offset = 0;
  forEachTensor(model, ({ tensor }) => {
    const data = tensor.raw_data;
    if (!data || data.length < threshold) return;
    placements.push({ tensor, data, offset });
    offset = Math.ceil((offset + data.length) / ALIGN) * ALIGN;
  });
  const last = placements.at(-1);
  return { placements, total: last ? last.offset + last.data.length : 0 };
}

function writeDataFile(fd: number, placements: Placement[]): void {
  const pad = Buffer.alloc(ALIGN);
  let pos = 0;
  for (const p of placements) {
    if (p.offset > pos) writeAll(fd, pad.subarray(0, p.offset - pos));
    writeAll(fd, p.data);
    pos = p.offset + p.data.length;
  }
}

/** Points tensors at the external file for the duration of `fn`, then restores them. */
function withExternalRefs<T>(placements: Placement[], location: string, fn: () => T): T {
  const saved = placements.map((p) => ({ raw: p.tensor.raw_data, loc: p.tensor.data_location, ext: p.tensor.external_data }));
  try {
    for (const p of placements) {
      const refs: StringStringEntryProto[] = [
        { key: 'location', value: location },
        { key: 'offset', value: String(p.offset) },
        { key: 'length', value: String(p.data.length) },
      ];
      p.tensor.raw_data = undefined;
      p.tensor.data_location = 1;
      p.tensor.external_data = refs;
    }
    return fn();
  } finally {
    placements.forEach((p, i) => {
      p.tensor.raw_data = saved[i].raw;
      p.tensor.data_location = saved[i].loc;
      p.tensor.external_data = saved[i].ext;
    });
  }
}

function checkProtobufLimit(model: ModelProto): void {
  const size = messageSize(model, 'ModelProto');
  if (size > PROTOBUF_LIMIT) {
    throw new ModelFileError(`the model would be ${size} bytes, over protobuf's 2 GiB limit: save it with external data`);
  }
}

/** Saves a model atomically: no partial file is ever left at `file`, and the model is not modified. */
export function saveModel(model: ModelProto, file: string, options: SaveOptions = {}): SaveResult {
  const ext = options.externalData;
  if (!ext) {
    checkProtobufLimit(model);
    const tmp = writeAtomically(file, (fd) => writeModel(model, fd));
    return finish([[tmp, file]], { path: file, dataBytes: 0, externalTensors: 0 });
  }
  const location = ext.location ?? `${path.basename(file)}.data`;
  const dataPath = safeDataPath(path.dirname(path.resolve(file)), location);
  const { placements, total } = planExternal(model, ext.threshold ?? 1024);
  return withExternalRefs(placements, location, () => {
    checkProtobufLimit(model);
    const dataTmp = writeAtomically(dataPath, (fd) => writeDataFile(fd, placements));
    let modelTmp: string;
    try {
      modelTmp = writeAtomically(file, (fd) => writeModel(model, fd));
    } catch (err) {
      fs.rmSync(dataTmp, { force: true });
      throw err;
    }
    return finish([[dataTmp, dataPath], [modelTmp, file]], { path: file, dataPath, dataBytes: total, externalTensors: placements.length });
  });
}

function writeModel(model: ModelProto, fd: number): void {
  let sink: FileSink | undefined;
  encodeMessageTo(model, 'ModelProto', () => (sink = new FileSink(fd)));
  sink?.flush();
}

function finish(renames: [string, string][], result: Omit<SaveResult, 'sizeBytes'>): SaveResult {
  try {
    for (const [from, to] of renames) fs.renameSync(from, to);
  } catch (err) {
    for (const [from] of renames) fs.rmSync(from, { force: true });
    throw explainWriteError(renames.at(-1)?.[1] ?? '', err);
  }
  return { ...result, sizeBytes: fs.statSync(result.path).size };
}
