/**
 * Judges measured numbers against a budget's limits: met, near (within 10 % of the limit) or exceeded,
 * each with a one-line message that gives the measured value, the limit and the margin.
 *
 * Upper limits (latency, size, memory): near when the value is at least 90 % of the limit.
 * Floors (cosine, top1): judged on the error they allow, 1 − floor; near when the error is at least
 * 90 % of it (a cosine floor of 0.99 allows 0.01; 0.991 uses 90 % of that).
 */
import * as path from 'node:path';
import type { Limits, LimitName, Measurement, Unchecked, Verdict, VerdictStatus } from './types';
import { LIMIT_NAMES } from './types';
import { formatBytes, formatFraction, formatMs, formatPercent } from './units';

export const NEAR_FRACTION = 0.1;

export type Metrics = Partial<Record<LimitName, number>>;

/** Details that make a message checkable: how the numbers were measured. */
export interface MetricContext {
  runs?: number;
  threads?: number;
  samples?: number;
  reference?: string;
}

const isFloor = (limit: LimitName): boolean => limit === 'cosine' || limit === 'top1';

function format(limit: LimitName, value: number): string {
  if (limit === 'size' || limit === 'memory') return formatBytes(value);
  if (isFloor(limit)) return formatFraction(value);
  return formatMs(value);
}

/** Measured relative to the bound: > 0 over budget (see Verdict.excess). */
export function excessOf(limit: LimitName, measured: number, bound: number): number {
  if (!isFloor(limit)) return measured / bound - 1;
  const allowed = 1 - bound;
  const error = 1 - measured;
  if (allowed <= 0) return error <= 0 ? -1 : Infinity;
  return error / allowed - 1;
}

function statusOf(limit: LimitName, measured: number, bound: number, excess: number): VerdictStatus {
  const over = isFloor(limit) ? measured < bound : measured > bound;
  if (over) return 'exceeded';
  return excess >= -NEAR_FRACTION ? 'near' : 'met';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function detail(limit: LimitName, ctx: MetricContext): string {
  if (limit === 'p50' || limit === 'p95' || limit === 'p99') {
    const parts = [ctx.runs !== undefined ? plural(ctx.runs, 'run') : '', ctx.threads !== undefined ? plural(ctx.threads, 'thread') : ''].filter(Boolean);
    return parts.join(', ');
  }
  if (isFloor(limit)) {
    const against = ctx.reference ? `against ${path.basename(ctx.reference)}` : '';
    return [ctx.samples !== undefined ? plural(ctx.samples, 'sample') : '', against].filter(Boolean).join(' ');
  }
  return limit === 'memory' ? 'peak resident set of a fresh process' : '';
}

function message(limit: LimitName, measured: number, bound: number, status: VerdictStatus, excess: number, ctx: MetricContext): string {
  const [value, limitText, d] = [format(limit, measured), format(limit, bound), detail(limit, ctx)];
  const paren = (extra: string) => (extra && d ? ` (${extra}; ${d})` : extra ? ` (${extra})` : d ? ` (${d})` : '');
  if (isFloor(limit)) {
    if (status === 'exceeded') return `${limit} ${value} is below the ${limitText} floor by ${formatFraction(bound - measured)}${paren('')}`;
    if (status === 'near') return `${limit} ${value} is within 10 % of the ${limitText} floor${paren(`uses ${formatPercent(excess + 1)} of the error it allows`)}`;
    return `${limit} ${value} meets the ${limitText} floor${paren('')}`;
  }
  if (status === 'exceeded') return `${limit} ${value} exceeds the ${limitText} budget by ${formatPercent(excess)}${paren('')}`;
  if (status === 'near') return `${limit} ${value} is within 10 % of the ${limitText} budget${paren(`${formatPercent(-excess)} headroom`)}`;
  return `${limit} ${value} meets the ${limitText} budget${paren(`${formatPercent(-excess)} headroom`)}`;
}

/** One verdict per limit that has a measured value, in display order. */
export function judge(limits: Limits, metrics: Metrics, ctx: MetricContext = {}): Verdict[] {
  const verdicts: Verdict[] = [];
  for (const limit of LIMIT_NAMES) {
    const bound = limits[limit];
    const measured = metrics[limit];
    if (bound === undefined || measured === undefined) continue;
    const excess = excessOf(limit, measured, bound);
    const status = statusOf(limit, measured, bound, excess);
    verdicts.push({ limit, measured, bound, status, excess, message: message(limit, measured, bound, status, excess, ctx) });
  }
  return verdicts;
}

export function metricsOf(m: Measurement): Metrics {
  const metrics: Metrics = { size: m.sizeBytes };
  if (m.latency) Object.assign(metrics, { p50: m.latency.p50, p95: m.latency.p95, p99: m.latency.p99 });
  if (m.memoryBytes !== undefined) metrics.memory = m.memoryBytes;
  if (m.fidelity) {
    metrics.cosine = m.fidelity.cosine;
    if (m.fidelity.top1 !== undefined) metrics.top1 = m.fidelity.top1;
  }
  return metrics;
}

export function contextOf(m: Measurement): MetricContext {
  return { runs: m.latency?.runs, threads: m.latency?.threads, samples: m.fidelity?.samples, reference: m.fidelity?.reference };
}

/** Limits that have a bound but no measured value, with the reason given by `why`. */
export function uncheckedLimits(limits: Limits, metrics: Metrics, why: (limit: LimitName) => string): Unchecked[] {
  return LIMIT_NAMES.filter((l) => limits[l] !== undefined && metrics[l] === undefined).map((limit) => ({ limit, reason: why(limit) }));
}

/** "p95 12.3 ms / 15 ms ✓" for lenses and tables. */
export function shortVerdict(v: Verdict): string {
  const mark = v.status === 'exceeded' ? '✗' : v.status === 'near' ? '⚠' : '✓';
  const name = v.limit === 'size' || v.limit === 'memory' ? '' : `${v.limit} `;
  return `${name}${format(v.limit, v.measured)} / ${format(v.limit, v.bound)} ${mark}`;
}

export { format as formatMetric };
