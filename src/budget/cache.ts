/**
 * Measurements by key, in memory and on disk. Keys name everything a result depends on: the model's
 * content hash, the settings, the data folder's listing, the machine and this cache's format version
 * (see `measurementKey`). The disk copy is one JSON file per key (named by the key's sha256, with the
 * key inside to rule out collisions), written atomically, so a reopened budget file or a restarted
 * server gets its numbers without running anything.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MeasureSettings } from './types';

/** Bump when a cached value's shape or meaning changes. */
const FORMAT = 1;
const MEMORY_ENTRIES = 512;

export function defaultCacheDir(): string {
  return path.join(os.tmpdir(), 'onnx-lean-cache');
}

interface DiskRecord {
  key: string;
  savedAt: string;
  value: unknown;
}

export class MeasurementCache {
  private readonly memory = new Map<string, unknown>();

  /** `dir` null keeps results in memory only. */
  constructor(readonly dir: string | null = defaultCacheDir()) {}

  get<T>(key: string): T | undefined {
    if (this.memory.has(key)) return this.touch(key, this.memory.get(key)) as T;
    const record = this.readDisk(key);
    if (record === undefined) return undefined;
    return this.touch(key, record.value) as T;
  }

  set(key: string, value: unknown): void {
    this.touch(key, value);
    if (this.dir === null) return;
    const record: DiskRecord = { key, savedAt: new Date().toISOString(), value };
    const file = this.fileFor(key);
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      fs.writeFileSync(temp, JSON.stringify(record));
      fs.renameSync(temp, file);
    } catch {
      // A cache that cannot be written only costs time later.
      fs.rmSync(temp, { force: true });
    }
  }

  delete(key: string): void {
    this.memory.delete(key);
    if (this.dir !== null) fs.rmSync(this.fileFor(key), { force: true });
  }

  private touch(key: string, value: unknown): unknown {
    this.memory.delete(key);
    this.memory.set(key, value);
    if (this.memory.size > MEMORY_ENTRIES) this.memory.delete(this.memory.keys().next().value as string);
    return value;
  }

  private fileFor(key: string): string {
    return path.join(this.dir as string, `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  private readDisk(key: string): DiskRecord | undefined {
    if (this.dir === null) return undefined;
    try {
      const record = JSON.parse(fs.readFileSync(this.fileFor(key), 'utf8')) as DiskRecord;
      return record.key === key ? record : undefined;
    } catch {
      return undefined;
    }
  }
}

/** The machine a latency belongs to: numbers from another CPU are not this machine's. */
function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'cpu';
  return `${process.platform}-${process.arch}|${cpu}|${os.availableParallelism()} cores`;
}

/** Names, sizes and modification times of the data folder's files: new samples, new results. */
function dataStamp(dir: string | undefined): string {
  if (!dir) return '';
  try {
    return fs
      .readdirSync(dir)
      .sort()
      .map((name) => {
        const s = fs.statSync(path.join(dir, name));
        return `${name}:${s.size}:${s.mtimeMs}`;
      })
      .join(',');
  } catch {
    return 'unreadable';
  }
}

/** The cache key of one measured part ('latency', 'memory', 'fidelity') of a model under settings. */
export function measurementKey(part: string, modelHash: string, settings: MeasureSettings, extra = ''): string {
  const s = { threads: settings.threads, runs: settings.runs, provider: settings.provider, shapes: settings.shapes ?? null, data: settings.dataDir ?? null };
  return [`v${FORMAT}`, part, modelHash, JSON.stringify(s), dataStamp(settings.dataDir), machine(), extra].join('|');
}
