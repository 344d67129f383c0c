/**
 * The `layers=name:value;name:value` option the pruning passes share, and the check that every
 * named layer exists (a typo must not silently prune nothing).
 */
import { UserError } from '../../core/errors';

export interface FractionRange {
  /** Largest allowed value; excluded unless `inclusive`. */
  max: number;
  inclusive?: boolean;
}

function parseFraction(pass: string, key: string, entry: string, text: string, range: FractionRange): number {
  const value = Number(text);
  const tooBig = range.inclusive ? value > range.max : value >= range.max;
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || tooBig) {
    throw new UserError(`${pass}: ${key} entry "${entry}" needs a value in [0, ${range.max}${range.inclusive ? ']' : ')'}`);
  }
  return value;
}

/** "conv1:0.3" entries -> layer name -> value. The name is everything before the last ':'. */
export function parseLayerValues(pass: string, key: string, entries: readonly string[], range: FractionRange): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of entries.filter(Boolean)) {
    const colon = entry.lastIndexOf(':');
    if (colon <= 0) throw new UserError(`${pass}: ${key} entry "${entry}" must look like name:value`);
    out.set(entry.slice(0, colon).trim(), parseFraction(pass, key, entry, entry.slice(colon + 1), range));
  }
  return out;
}

/** Throws a UserError naming every requested layer that is not among `known`, with some that are. */
export function checkLayerNames(pass: string, requested: Iterable<string>, known: ReadonlySet<string>, what: string): void {
  const unknown = [...requested].filter((name) => !known.has(name));
  if (!unknown.length) return;
  const examples = [...known].slice(0, 8).join(', ');
  const more = known.size > 8 ? ', ...' : '';
  throw new UserError(`${pass}: unknown ${what} ${unknown.join(', ')} (${what}s: ${examples || 'none'}${more})`);
}
