/** Number formatting for the Layer Report: compact, unit-suffixed, and "—" for unknown values. */

export const DASH = '—';

/** 1234 -> "1.23 K", 5.6e9 -> "5.60 G"; integers below 1000 as they are. */
export function compact(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  const abs = Math.abs(n);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [scale, unit] of units) if (abs >= scale) return `${threeDigits(n / scale)} ${unit}`;
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** Three significant digits without exponent: 1.23, 12.3, 123. */
function threeDigits(v: number): string {
  const abs = Math.abs(v);
  return v.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = n;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[i]}`;
}

export function percent(fraction: number | null | undefined, digits = 1): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return DASH;
  return `${(100 * fraction).toFixed(digits)}%`;
}

export function micros(us: number | null | undefined): string {
  if (us === null || us === undefined || !Number.isFinite(us)) return DASH;
  if (us >= 1000) return `${(us / 1000).toFixed(us >= 10_000 ? 1 : 2)} ms`;
  return `${us.toFixed(us >= 100 ? 0 : 1)} µs`;
}

export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

export function decibels(db: number | null | undefined): string {
  if (db === null || db === undefined || !Number.isFinite(db)) return DASH;
  return `${db.toFixed(1)} dB`;
}

/** A magnitude threshold with enough significant digits to tell close values apart. */
export function magnitude(v: number): string {
  if (v === 0) return '0';
  return Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? v.toPrecision(3) : v.toExponential(2);
}

/** "float32[1, 3, 224, 224]", with "?" for unknown and names for symbolic dims. */
export function tensorLabel(dtype: string, shape: readonly (number | string | null)[] | null): string {
  if (shape === null) return `${dtype}[?]`;
  return `${dtype}[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}
