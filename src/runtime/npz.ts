/**
 * NumPy's .npz archives: a zip of .npy files (stored by `np.savez`, deflated by `np.savez_compressed`).
 * Keys are the entry names without the ".npy" suffix, as `np.load(...)[key]` sees them.
 */
import * as fs from 'node:fs';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { encodeNpy, NpyFormatError, parseNpy, readBytes, type NpyArray } from './npy';

const ZIP_MAGIC = [0x50, 0x4b]; // "PK"

/** Parses .npz bytes into arrays by key; `label` (usually the file name) starts every error message. */
export function parseNpz(bytes: Uint8Array, label = 'npz'): Map<string, NpyArray> {
  if (bytes.length < 4 || bytes[0] !== ZIP_MAGIC[0] || bytes[1] !== ZIP_MAGIC[1]) throw new NpyFormatError(`${label}: not a .npz file (not a zip archive)`);
  const entries = unzipEntries(bytes, label);
  const arrays = new Map<string, NpyArray>();
  for (const [entryName, content] of Object.entries(entries)) {
    if (entryName.endsWith('/')) continue; // folder entries carry no data
    if (!entryName.endsWith('.npy')) throw new NpyFormatError(`${label}: entry '${entryName}' is not a .npy array`);
    const key = entryName.slice(0, -'.npy'.length);
    arrays.set(key, parseNpy(content, `${label} [${key}]`));
  }
  return arrays;
}

function unzipEntries(bytes: Uint8Array, label: string): Record<string, Uint8Array> {
  try {
    return unzipSync(bytes);
  } catch (err) {
    throw new NpyFormatError(`${label}: cannot unzip: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export interface NpzWriteOptions {
  /** Deflate entries like np.savez_compressed (default false: stored, like np.savez). */
  compress?: boolean;
}

/** Encodes arrays as a .npz archive that np.load reads. */
export function encodeNpz(arrays: Record<string, NpyArray> | Map<string, NpyArray>, options: NpzWriteOptions = {}): Uint8Array {
  const files: Zippable = {};
  const entries = arrays instanceof Map ? [...arrays] : Object.entries(arrays);
  for (const [key, array] of entries) files[`${key}.npy`] = encodeNpy(array);
  return zipSync(files, { level: options.compress ? 6 : 0 });
}

export function readNpzFile(file: string): Map<string, NpyArray> {
  return parseNpz(readBytes(file), file);
}

export function writeNpzFile(file: string, arrays: Record<string, NpyArray> | Map<string, NpyArray>, options: NpzWriteOptions = {}): void {
  fs.writeFileSync(file, encodeNpz(arrays, options));
}
