/** Validation and defaults of sensitivity options: a bad value is one UserError naming it. */
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../core/errors';
import type { SensitivityKind, SensitivityOptions } from '../../core/reports';

export const SENSITIVITY_KINDS: readonly SensitivityKind[] = ['int8', 'prune', 'channels'];

export const SENSITIVITY_DEFAULTS = {
  levels: [0.25, 0.5, 0.75, 0.9],
  channelLevels: [0.25, 0.5],
  seed: 1,
  samples: 4,
  floor: 0.99,
} as const;

/** Most workers started by default: each holds its own sessions (memory), and cores are shared. */
const MAX_DEFAULT_WORKERS = 4;
const MAX_WORKERS = 64;

export class SensitivityOptionError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'SensitivityOptionError';
  }
}

export interface NormalizedSensitivityOptions {
  kinds: SensitivityKind[];
  levels: number[];
  channelLevels: number[];
  dataDir?: string;
  shapes?: Record<string, number[]>;
  seed: number;
  samples: number;
  workers: number;
  threads: number;
  floor: number;
  cacheDir: string | false;
  proxyOnly: boolean;
}

export function defaultCacheDir(): string {
  return path.join(os.tmpdir(), 'onnx-lean-cache');
}

function checkLevels(name: string, values: readonly number[]): number[] {
  const list: unknown = values;
  if (!Array.isArray(list) || values.length === 0) throw new SensitivityOptionError(`${name} must list at least one level`);
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) throw new SensitivityOptionError(`${name}: every level must be in [0, 1), got ${String(v)}`);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}

function checkKinds(kinds: readonly string[]): SensitivityKind[] {
  const list: unknown = kinds;
  if (!Array.isArray(list) || kinds.length === 0) throw new SensitivityOptionError(`kinds must list at least one of ${SENSITIVITY_KINDS.join(', ')}`);
  const unknown = kinds.filter((k) => !(SENSITIVITY_KINDS as readonly string[]).includes(k));
  if (unknown.length) throw new SensitivityOptionError(`unknown kind ${unknown.map((k) => `'${k}'`).join(', ')}: expected ${SENSITIVITY_KINDS.join(', ')}`);
  return SENSITIVITY_KINDS.filter((k) => kinds.includes(k));
}

function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new SensitivityOptionError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

export function normalizeSensitivityOptions(options: SensitivityOptions = {}): NormalizedSensitivityOptions {
  const cores = Math.max(1, os.availableParallelism());
  const workers = integer('workers', options.workers ?? Math.min(cores, MAX_DEFAULT_WORKERS), 1, MAX_WORKERS);
  const floor = options.floor ?? SENSITIVITY_DEFAULTS.floor;
  if (typeof floor !== 'number' || !(floor > 0 && floor <= 1)) throw new SensitivityOptionError(`floor must be a cosine in (0, 1], got ${String(floor)}`);
  return {
    kinds: checkKinds(options.kinds ?? SENSITIVITY_KINDS),
    levels: checkLevels('levels', options.levels ?? SENSITIVITY_DEFAULTS.levels),
    channelLevels: checkLevels('channel levels', options.channelLevels ?? SENSITIVITY_DEFAULTS.channelLevels),
    dataDir: options.dataDir,
    shapes: options.shapes,
    seed: integer('seed', options.seed ?? SENSITIVITY_DEFAULTS.seed, 0, 2 ** 31),
    samples: integer('samples', options.samples ?? SENSITIVITY_DEFAULTS.samples, 1, 10_000),
    workers,
    threads: integer('threads', options.threads ?? Math.max(1, Math.floor(cores / workers)), 1, 1024),
    floor,
    cacheDir: options.cacheDir === false ? false : (options.cacheDir ?? defaultCacheDir()),
    proxyOnly: options.proxyOnly ?? false,
  };
}
