/** Helpers for parsing pass options ("key=value" strings) with errors that name the pass and key. */
import { UserError } from '../core/errors';
import type { RawOptions } from './pass';

export class OptionReader {
  private readonly used = new Set<string>();

  constructor(
    private readonly pass: string,
    private readonly raw: RawOptions,
  ) {}

  private take(key: string): string | undefined {
    this.used.add(key);
    return this.raw[key];
  }

  number(key: string, fallback: number, range: { min?: number; max?: number; integer?: boolean; maxExclusive?: boolean } = {}): number {
    const text = this.take(key);
    if (text === undefined) return fallback;
    const n = Number(text);
    const { min = -Infinity, max = Infinity, integer = false, maxExclusive = false } = range;
    const tooBig = maxExclusive ? n >= max : n > max;
    if (text.trim() === '' || !Number.isFinite(n) || n < min || tooBig || (integer && !Number.isInteger(n))) {
      const bounds = `${integer ? 'an integer' : 'a number'}${Number.isFinite(min) ? ` >= ${min}` : ''}${Number.isFinite(max) ? ` and ${maxExclusive ? '<' : '<='} ${max}` : ''}`;
      throw new UserError(`${this.pass}: ${key} must be ${bounds} (got "${text}")`);
    }
    return n;
  }

  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const text = this.take(key);
    if (text === undefined) return fallback;
    if (!(choices as readonly string[]).includes(text)) throw new UserError(`${this.pass}: ${key} must be one of ${choices.join(', ')} (got "${text}")`);
    return text as T;
  }

  bool(key: string, fallback: boolean): boolean {
    const text = this.take(key);
    if (text === undefined) return fallback;
    if (['true', '1', 'yes', ''].includes(text)) return true;
    if (['false', '0', 'no'].includes(text)) return false;
    throw new UserError(`${this.pass}: ${key} must be true or false (got "${text}")`);
  }

  string(key: string, fallback?: string): string | undefined {
    return this.take(key) ?? fallback;
  }

  list(key: string): string[] {
    const text = this.take(key);
    return text === undefined || text === '' ? [] : text.split(/[;|]/).map((s) => s.trim());
  }

  /** Call last: an unknown key is an error, so typos do not silently do nothing. */
  done(): void {
    const unknown = Object.keys(this.raw).filter((k) => !this.used.has(k));
    if (unknown.length) throw new UserError(`${this.pass}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  }
}

/** "sparsity=0.5,block=32" -> { sparsity: "0.5", block: "32" }; a bare key means "true". */
export function parseRawOptions(text: string): RawOptions {
  const out: RawOptions = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq === 0) throw new UserError(`bad pass option "${part}"`);
    if (eq < 0) out[part] = 'true';
    else out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}
