/**
 * On-disk cache of sensitivity results: one JSON file per key, the key a SHA-256 of the model's bytes
 * (its external data files included), the input data's bytes, and every option that changes the
 * numbers (not the floor, the worker count or the threads). Writes are atomic (temp file + rename);
 * an unreadable or mismatched entry is a miss, and a failure to write only costs the next run time.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SensitivityReport } from '../../core/reports';
import type { LoadedModel } from '../../onnx/io';
import { listSampleFiles } from '../../runtime/inputs';
import type { NormalizedSensitivityOptions } from './options';

/** Bump when the numbers or the report shape change, so old entries stop matching. */
const CACHE_VERSION = 'sensitivity-1';
const CHUNK = 1 << 20;

function hashFile(hash: Hash, file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let n; (n = fs.readSync(fd, buf, 0, CHUNK, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

function sortedShapes(shapes: Record<string, number[]> | undefined): [string, number[]][] {
  return Object.entries(shapes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The cache key of a run: content hashes and result-changing options. */
export function cacheKey(loaded: LoadedModel, o: NormalizedSensitivityOptions, activationQuant: boolean): string {
  const hash = createHash('sha256');
  hash.update(`${CACHE_VERSION}\0`);
  hashFile(hash, loaded.path);
  const dir = path.dirname(path.resolve(loaded.path));
  for (const ext of loaded.externalFiles) {
    hash.update(`\0external:${ext}\0`);
    hashFile(hash, path.resolve(dir, ext));
  }
  if (o.dataDir) {
    for (const file of listSampleFiles(o.dataDir)) {
      hash.update(`\0data:${path.basename(file)}\0`);
      hashFile(hash, file);
    }
  }
  const settings = {
    method: o.proxyOnly ? 'proxy' : 'end-to-end',
    kinds: o.kinds,
    levels: o.levels,
    channelLevels: o.channelLevels,
    samples: o.dataDir ? null : o.samples,
    seed: o.dataDir ? null : o.seed,
    shapes: sortedShapes(o.shapes),
    activationQuant,
  };
  hash.update(`\0${JSON.stringify(settings)}`);
  return hash.digest('hex');
}

function entryPath(dir: string, key: string): string {
  return path.join(dir, `sensitivity-${key.slice(0, 32)}.json`);
}

/** The cached report for `key`, or undefined. */
export function readCache(dir: string | false, key: string): SensitivityReport | undefined {
  if (!dir) return undefined;
  try {
    const entry = JSON.parse(fs.readFileSync(entryPath(dir, key), 'utf8')) as { key?: unknown; report?: SensitivityReport };
    if (entry.key !== key || !entry.report || !Array.isArray(entry.report.layers)) return undefined;
    return entry.report;
  } catch {
    return undefined;
  }
}

/** Stores the report; returns a warning instead of throwing when the folder is not writable. */
export function writeCache(dir: string | false, key: string, report: SensitivityReport): string | undefined {
  if (!dir) return undefined;
  const file = entryPath(dir, key);
  const tmp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify({ key, report }));
    fs.renameSync(tmp, file);
    return undefined;
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    return `could not write the sensitivity cache in ${dir}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
