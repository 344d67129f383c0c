/** Options of the `distill` pass. */
import { UserError } from '../../core/errors';
import { OptionReader } from '../options';
import type { RawOptions } from '../pass';

export const PASS = 'distill';

export interface DistillOptions {
  /** Generated fitting samples (with --data every file is used instead). */
  samples: number;
  /** Generated held-out samples (other seeds) for the per-layer check and end-to-end fidelity. */
  holdout: number;
  /** λ relative to trace(XᵀX)/K. */
  ridge: number;
  /** Only these layers (node names); empty: every layer. */
  layers: string[];
  /** Rows per layer for fitting (held-out rows: a quarter of it, at least 256). */
  maxRows: number;
  /** Narrow every prunable channel group to this fraction first (prune-channels), then fit. */
  width?: number;
  /** First seed of generated samples and of row subsampling. */
  seed: number;
}

export function parseDistillOptions(raw: RawOptions): DistillOptions {
  const r = new OptionReader(PASS, raw);
  const samples = r.number('samples', 32, { min: 1, max: 100_000, integer: true });
  const holdout = r.number('holdout', Math.max(4, Math.ceil(samples / 4)), { min: 1, max: 100_000, integer: true });
  const ridge = r.number('ridge', 1e-3, { min: 0, max: 1e6 });
  const layers = r.list('layers').filter(Boolean);
  const maxRows = r.number('max_rows', 8192, { min: 16, max: 1_000_000, integer: true });
  const width = raw.width === undefined ? undefined : r.number('width', 1, { min: 0, max: 1 });
  if (width !== undefined && !(width > 0)) throw new UserError(`${PASS}: width must be a number > 0 and <= 1 (got "${raw.width}")`);
  const seed = r.number('seed', 1, { min: 0, max: 2 ** 31 - 1, integer: true });
  r.done();
  return { samples, holdout, ridge, layers, maxRows, width, seed };
}
