/**
 * Feeds for a model's graph inputs: generated from a seed, or read from a folder of .npz/.npy samples.
 * Both paths check shapes and dtypes against the model before onnxruntime sees them, so a mistake is one
 * clear line naming the input (and the file), not an ORT status message.
 *
 * Generated data by dtype:
 * - float32/float64/float16: standard normal N(0, 1) (float16 rounded to nearest even);
 * - integer types: uniform in [0, 10). Small and non-negative so that token ids, Gather indices and
 *   one-hot positions are valid whenever the indexed axis has at least 10 entries; models that need
 *   other ranges (e.g. a vocabulary offset, a boolean-like mask of 0/1) want real data via --data;
 * - bool: fair coin.
 * Each input draws from its own generator seeded by (seed, input name), so changing one input's shape
 * does not change the values of the others.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../core/errors';
import { Rng } from '../core/random';
import { dtypeName, ORT_TYPE } from '../onnx/dtypes';
import { GraphIndex } from '../onnx/graph';
import type { GraphProto, ValueInfoProto } from '../onnx/types';
import { toFloat16Bits } from './float16';
import { elementCountOf, readNpyFile, type NpyArray, type NpyData, type NpyDType } from './npy';
import { readNpzFile } from './npz';

export class InputError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** A dimension as the model declares it: fixed, symbolic (dim_param), or null when neither is given. */
export type ModelDim = number | string | null;

export interface ModelInputSpec {
  name: string;
  dtype: NpyDType;
  /** null when the model gives no shape at all (not even the rank). */
  dims: ModelDim[] | null;
}

/** One tensor to feed; same layout as an NpyArray, plus its input name. */
export interface InputTensor extends NpyArray {
  name: string;
}

/** One feed: a tensor for every model input, in the model's input order. */
export type InputSample = InputTensor[];

export interface InputSet {
  samples: InputSample[];
  /** Per input, where its values came from (for the report). */
  sources: Record<string, string>;
}

export interface InputOptions {
  /** User shapes by input name; they also bind symbolic dims shared with other inputs. */
  shapes?: Record<string, number[]>;
  seed?: number;
  /** Folder of .npz/.npy files, one sample per file, read in sorted order. */
  dataDir?: string;
}

const FEEDABLE = new Set<string>(['float32', 'float64', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool']);

// ---------------------------------------------------------------------------------------------------
// What the model expects

/** The graph's real inputs (initializers excluded) with the dtype and dims the model declares. */
export function modelInputSpecs(graph: GraphProto): ModelInputSpec[] {
  return new GraphIndex(graph).graphInputs.map(specOf);
}

function specOf(input: ValueInfoProto): ModelInputSpec {
  const name = input.name ?? '';
  const tensorType = input.type?.tensor_type;
  if (!tensorType) throw new InputError(`input ${name} is not a tensor (sequences, maps and optionals cannot be fed)`);
  const ortType = ORT_TYPE[tensorType.elem_type ?? 0];
  if (!ortType || !FEEDABLE.has(ortType)) throw new InputError(`input ${name} has dtype ${dtypeName(tensorType.elem_type)}, which cannot be fed from here`);
  const dims = tensorType.shape ? tensorType.shape.dim.map(modelDim) : null;
  return { name, dtype: ortType as NpyDType, dims };
}

function modelDim(d: { dim_value?: number | bigint; dim_param?: string }): ModelDim {
  if (d.dim_value !== undefined) return Number(d.dim_value);
  return d.dim_param ? d.dim_param : null;
}

export function formatDims(dims: readonly ModelDim[] | null): string {
  return dims ? `[${dims.map((d) => (d === null ? '?' : String(d))).join(',')}]` : '(unknown rank)';
}

/** A --shape example: the model's fixed dims, 1 for the rest. */
function shapeHint(spec: ModelInputSpec): string {
  const dims = spec.dims ?? [1];
  return `--shape ${spec.name}=${dims.map((d) => (typeof d === 'number' ? d : 1)).join(',')}`;
}

// ---------------------------------------------------------------------------------------------------
// Shapes

/** Why `shape` does not fit what the model declares for `spec`, or undefined when it fits. */
export function shapeMismatch(spec: ModelInputSpec, shape: readonly number[]): string | undefined {
  if (!spec.dims) return undefined;
  if (shape.length !== spec.dims.length) return `the model expects rank ${spec.dims.length} ${formatDims(spec.dims)}, got rank ${shape.length} [${shape.join(',')}]`;
  const axis = spec.dims.findIndex((d, i) => typeof d === 'number' && d !== shape[i]);
  if (axis >= 0) return `the model fixes dimension ${axis} to ${spec.dims[axis]} ${formatDims(spec.dims)}, got [${shape.join(',')}]`;
  return undefined;
}

function checkUserShapes(specs: ModelInputSpec[], shapes: Record<string, number[]>): void {
  const names = new Set(specs.map((s) => s.name));
  for (const [name, shape] of Object.entries(shapes)) {
    if (!names.has(name)) throw new InputError(`--shape names ${name}, which is not an input of the model (inputs: ${[...names].join(', ')})`);
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new InputError(`--shape ${name}=${shape.join(',')}: dimensions must be non-negative integers`);
    const spec = specs.find((s) => s.name === name) as ModelInputSpec;
    const problem = shapeMismatch(spec, shape);
    if (problem) throw new InputError(`--shape ${name}=${shape.join(',')} does not fit input ${name}: ${problem}`);
  }
}

/** Values of symbolic dims as the user's shapes fix them (first binding wins). */
function bindSymbols(specs: ModelInputSpec[], shapes: Record<string, number[]>): Map<string, number> {
  const bound = new Map<string, number>();
  for (const spec of specs) {
    const shape = shapes[spec.name];
    if (!shape || !spec.dims) continue;
    spec.dims.forEach((d, i) => typeof d === 'string' && !bound.has(d) && bound.set(d, shape[i]));
  }
  return bound;
}

function resolveOne(spec: ModelInputSpec, bound: Map<string, number>): number[] {
  if (!spec.dims) throw new InputError(`input ${spec.name} has no shape in the model: pass ${shapeHint(spec)} (with its real rank)`);
  return spec.dims.map((d, axis) => {
    if (typeof d === 'number') return d;
    if (d !== null && bound.has(d)) return bound.get(d) as number;
    const what = d === null ? `an unnamed dynamic dimension at axis ${axis}` : `symbolic dimension '${d}'`;
    throw new InputError(`input ${spec.name} has ${what}: pass ${shapeHint(spec)}`);
  });
}

/** Concrete shapes for every input: the user's where given, else the model's with symbols resolved. */
export function resolveInputShapes(specs: ModelInputSpec[], shapes: Record<string, number[]> = {}): Map<string, number[]> {
  checkUserShapes(specs, shapes);
  const bound = bindSymbols(specs, shapes);
  return new Map(specs.map((spec) => [spec.name, shapes[spec.name] ?? resolveOne(spec, bound)]));
}

// ---------------------------------------------------------------------------------------------------
// Generated data

/** FNV-1a, to give every input name its own deterministic stream. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function randomData(dtype: NpyDType, count: number, rng: Rng): NpyData {
  switch (dtype) {
    case 'float32':
      return rng.normalArray(count);
    case 'float64':
      return Float64Array.from({ length: count }, () => rng.normal());
    case 'float16':
      return Uint16Array.from({ length: count }, () => toFloat16Bits(rng.normal()));
    case 'bool':
      return Uint8Array.from({ length: count }, () => (rng.next() < 0.5 ? 1 : 0));
    case 'int64':
      return BigInt64Array.from({ length: count }, () => BigInt(rng.int(0, 9)));
    case 'uint64':
      return BigUint64Array.from({ length: count }, () => BigInt(rng.int(0, 9)));
    default:
      return smallIntegers(dtype, count, rng);
  }
}

function smallIntegers(dtype: NpyDType, count: number, rng: Rng): NpyData {
  const Ctor = { int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array }[dtype as string];
  if (!Ctor) throw new InputError(`cannot generate ${dtype} data`);
  const out = new Ctor(count);
  for (let i = 0; i < count; i++) out[i] = rng.int(0, 9);
  return out;
}

function generatedSource(dtype: NpyDType, seed: number): string {
  if (dtype.startsWith('float')) return `generated: normal(0,1), seed ${seed}`;
  if (dtype === 'bool') return `generated: random bool, seed ${seed}`;
  return `generated: integers in [0,10), seed ${seed}`;
}

/**
 * Data for one input, refusing shapes no typed array can hold with a clear line instead of the
 * RangeError allocating them throws: a negative fixed dim in the model (user shapes are checked
 * earlier), or more elements than an array can have (a fixed dim of 2^40, --shape x=100000000,64).
 */
function generatedData(spec: ModelInputSpec, shape: number[], rng: Rng): NpyData {
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new InputError(`input ${spec.name} has an invalid shape in the model ${formatDims(spec.dims)}: dimensions must be non-negative integers`);
  }
  try {
    return randomData(spec.dtype, elementCountOf(shape), rng);
  } catch (err) {
    if (err instanceof RangeError) throw new InputError(`input ${spec.name} of shape [${shape.join(',')}] has ${elementCountOf(shape)} elements: too many to generate`);
    throw err;
  }
}

/** One sample of deterministic random data for every input. */
export function generateInputs(specs: ModelInputSpec[], options: { shapes?: Record<string, number[]>; seed?: number } = {}): InputSet {
  const seed = options.seed ?? 1;
  const shapes = resolveInputShapes(specs, options.shapes);
  const sample = specs.map((spec): InputTensor => {
    const shape = shapes.get(spec.name) as number[];
    const rng = new Rng((seed ^ hashName(spec.name)) >>> 0);
    return { name: spec.name, dtype: spec.dtype, shape, data: generatedData(spec, shape, rng) };
  });
  return { samples: [sample], sources: Object.fromEntries(specs.map((s) => [s.name, generatedSource(s.dtype, seed)])) };
}

// ---------------------------------------------------------------------------------------------------
// Data from files

/** The .npz/.npy files of a folder, in sorted order. */
export function listSampleFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) throw new InputError(`--data ${dir} is not a folder`);
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(`--data folder not found: ${dir}`);
    throw err;
  }
  const files = names.filter((n) => /\.(npz|npy)$/i.test(n)).sort();
  if (files.length === 0) throw new InputError(`--data ${dir} holds no .npz or .npy files`);
  return files.map((n) => path.join(dir, n));
}

function arraysOfFile(file: string, specs: ModelInputSpec[]): Map<string, NpyArray> {
  if (/\.npz$/i.test(file)) return readNpzFile(file);
  if (specs.length !== 1) {
    throw new InputError(`${file}: a .npy file holds one array but the model has ${specs.length} inputs (${specs.map((s) => s.name).join(', ')}); use .npz files with one key per input`);
  }
  return new Map([[specs[0].name, readNpyFile(file)]]);
}

function checkArray(file: string, spec: ModelInputSpec, array: NpyArray, userShape: number[] | undefined): void {
  if (array.dtype !== spec.dtype) throw new InputError(`${file}: input ${spec.name} expects ${spec.dtype}, the array is ${array.dtype}`);
  const problem = shapeMismatch(spec, array.shape);
  if (problem) throw new InputError(`${file}: input ${spec.name}: ${problem}`);
  if (userShape && userShape.join(',') !== array.shape.join(',')) {
    throw new InputError(`${file}: input ${spec.name} has shape [${array.shape.join(',')}] but --shape says [${userShape.join(',')}]`);
  }
}

/** One sample from one file, checked against the model. */
export function readSample(file: string, specs: ModelInputSpec[], shapes: Record<string, number[]> = {}): InputSample {
  const arrays = arraysOfFile(file, specs);
  const names = new Set(specs.map((s) => s.name));
  for (const key of arrays.keys()) {
    if (!names.has(key)) throw new InputError(`${file}: key '${key}' is not an input of the model (inputs: ${[...names].join(', ')})`);
  }
  return specs.map((spec) => {
    const array = arrays.get(spec.name);
    if (!array) throw new InputError(`${file}: no array for input ${spec.name}`);
    checkArray(file, spec, array, shapes[spec.name]);
    return { name: spec.name, ...array };
  });
}

/** Every file of the folder as one sample. */
export function loadInputSamples(specs: ModelInputSpec[], dataDir: string, shapes: Record<string, number[]> = {}): InputSet {
  checkUserShapes(specs, shapes);
  const files = listSampleFiles(dataDir);
  const samples = files.map((file) => readSample(file, specs, shapes));
  const source = `data: ${dataDir} (${files.length} file${files.length === 1 ? '' : 's'})`;
  return { samples, sources: Object.fromEntries(specs.map((s) => [s.name, source])) };
}

/** Inputs for a graph: from `dataDir` when given, else generated. */
export function buildInputs(graph: GraphProto, options: InputOptions = {}): InputSet {
  const specs = modelInputSpecs(graph);
  return options.dataDir ? loadInputSamples(specs, options.dataDir, options.shapes) : generateInputs(specs, options);
}
