/**
 * Units of a budget file and how budget numbers are shown.
 * - Durations: a number is milliseconds; strings "15ms", "1.5 s", "800us" / "800µs".
 * - Sizes: a number is bytes; strings "20MB", "512 KiB", "1.5GB". KB/MB/GB are decimal (1000²
 *   bytes in a MB), KiB/MiB/GiB binary (1024²), as on disks and in file managers.
 * - Fractions (fidelity floors): a number from 0 to 1, or a percentage string "99%".
 * Parsers return a number or an error message that names what was expected.
 */

export type Parsed = { ok: true; value: number } | { ok: false; error: string };

const ok = (value: number): Parsed => ({ ok: true, value });
const fail = (error: string): Parsed => ({ ok: false, error });

const DURATION_UNITS: Record<string, number> = { us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000 };

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const QUANTITY = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Zµμ]*)\s*$/;

function positive(value: number, what: string): Parsed {
  return Number.isFinite(value) && value > 0 ? ok(value) : fail(`${what} must be greater than 0`);
}

/** Milliseconds from 15, "15ms", "1.5s" or "800us". */
export function parseDuration(value: unknown): Parsed {
  if (typeof value === 'number') return positive(value, 'a duration');
  if (typeof value !== 'string') return fail('expected milliseconds as a number (15) or a string with a unit ("15ms", "1.5s", "800us")');
  const m = QUANTITY.exec(value);
  const unit = m?.[2].toLowerCase() ?? '';
  const scale = DURATION_UNITS[unit === '' ? 'ms' : unit];
  if (!m || scale === undefined) return fail(`"${value}" is not a duration: use a number of milliseconds or a unit among ms, s, us`);
  return positive(Number(m[1]) * scale, 'a duration');
}

/** Bytes from 20000000, "20MB", "512KiB". */
export function parseBytes(value: unknown): Parsed {
  if (typeof value === 'number') return positive(value, 'a size');
  if (typeof value !== 'string') return fail('expected bytes as a number or a string with a unit ("20MB", "512KiB")');
  const m = QUANTITY.exec(value);
  const scale = SIZE_UNITS[(m?.[2] ?? '').toLowerCase() || 'b'];
  if (!m || scale === undefined) return fail(`"${value}" is not a size: use a unit among B, KB, MB, GB, KiB, MiB, GiB`);
  return positive(Number(m[1]) * scale, 'a size');
}

/** A fraction in [0, 1] from 0.99 or "99%". */
export function parseFraction(value: unknown): Parsed {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*%\s*$/.test(value)) n = Number(value.replace('%', '').trim()) / 100;
  else return fail('expected a fraction from 0 to 1 (0.99) or a percentage ("99%")');
  return n >= 0 && n <= 1 ? ok(n) : fail(`a fraction must be from 0 to 1 (got ${typeof value === 'string' ? value : n})`);
}

/** "0.42 ms", "12.3 ms", "150 ms", "2.5 s". */
export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${trim((ms / 1000).toFixed(1))} s`;
  const digits = ms >= 100 ? 0 : ms >= 10 ? 1 : ms >= 1 ? 2 : ms >= 0.01 ? 3 : 4;
  return `${trim(ms.toFixed(digits))} ms`;
}

/** Decimal units, matching how budgets are written: "4.1 MB", "820 KB", "12 B". */
export function formatBytes(bytes: number): string {
  const units: [number, string][] = [
    [1e12, 'TB'],
    [1e9, 'GB'],
    [1e6, 'MB'],
    [1e3, 'KB'],
  ];
  for (const [scale, unit] of units) {
    if (bytes >= scale) {
      const v = bytes / scale;
      return `${trim(v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2))} ${unit}`;
    }
  }
  return `${Math.round(bytes)} B`;
}

/** 0.98765 -> "0.9877", 0.99999994 -> "0.99999994": enough digits to tell a fidelity from 1 and its floor. */
export function formatFraction(value: number): string {
  const gap = 1 - value;
  const digits = gap > 0 && gap < 1e-3 ? Math.min(8, Math.ceil(-Math.log10(gap)) + 1) : 4;
  return trim(value.toFixed(digits));
}

/** 0.543 -> "54 %", 0.004 -> "0.4 %". */
export function formatPercent(fraction: number): string {
  const pct = Math.abs(fraction * 100);
  return `${trim(pct.toFixed(pct >= 10 ? 0 : 1))} %`;
}

function trim(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}
