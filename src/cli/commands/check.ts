/**
 * `onnx-lean check [onnx-budget.json]`: measures every budgeted model and prints a pass/fail table;
 * exits 1 when a limit is exceeded or an entry cannot be measured (for CI).
 * Also the budget planner behind `onnx-lean optimize <model> --budget <file>`.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { MeasurementCache, defaultCacheDir } from '../../budget/cache';
import { checkBudgetFile, readBudget, resolveBudgetFile, type CheckReport } from '../../budget/check';
import { formatMetric } from '../../budget/evaluate';
import { planBudget } from '../../budget/planner';
import type { EntryResult, PlanCandidate, PlanReport } from '../../budget/types';
import { formatPercent } from '../../budget/units';
import { UserError } from '../../core/errors';
import { table } from '../format';
import { printJson, printText, progressLine } from '../output';

interface CheckFlags {
  json?: boolean;
  cache?: string | boolean;
}

interface Row {
  model: string;
  limit: string;
  measured: string;
  budget: string;
  status: string;
}

function statusText(status: string, excess: number): string {
  if (status === 'exceeded') return `✗ over by ${formatPercent(excess)}`;
  if (status === 'near') return `⚠ ${formatPercent(-excess)} headroom`;
  return '✓';
}

function rowsOf(e: EntryResult): Row[] {
  if (e.error) return [{ model: e.key, limit: '-', measured: '-', budget: '-', status: `✗ ${e.error.message}` }];
  const rows: Row[] = e.verdicts.map((v) => ({ model: '', limit: v.limit, measured: formatMetric(v.limit, v.measured), budget: formatMetric(v.limit, v.bound), status: statusText(v.status, v.excess) }));
  rows.push(...e.unchecked.map((u) => ({ model: '', limit: u.limit, measured: '-', budget: '-', status: `not checked: ${u.reason}` })));
  if (rows.length === 0) rows.push({ model: '', limit: '-', measured: '-', budget: '-', status: 'no limits' });
  rows[0].model = e.key;
  return rows;
}

export function renderCheck(r: CheckReport): string {
  const rows = r.entries.flatMap(rowsOf);
  const parts = [`${r.file}: ${r.entries.length} model${r.entries.length === 1 ? '' : 's'}`, ''];
  if (rows.length) {
    parts.push(
      table(rows, [
        { header: 'model', value: (x) => x.model },
        { header: 'limit', value: (x) => x.limit },
        { header: 'measured', value: (x) => x.measured, align: 'right' },
        { header: 'budget', value: (x) => x.budget, align: 'right' },
        { header: 'status', value: (x) => x.status },
      ], 90),
      '',
    );
  }
  const name = path.basename(r.file);
  parts.push(...r.problems.map((p) => `${name}:${p.line}:${p.column}: ${p.severity}: ${p.message}`));
  const c = r.counts;
  parts.push(`${r.passed ? 'PASS' : 'FAIL'}: ${c.exceeded} exceeded, ${c.near} within 10 %, ${c.met} met, ${c.errors} error${c.errors === 1 ? '' : 's'}`);
  return parts.join('\n');
}

function cacheFrom(flag: string | boolean | undefined): MeasurementCache {
  if (flag === undefined || flag === false) return new MeasurementCache(null);
  return new MeasurementCache(typeof flag === 'string' ? path.resolve(flag) : defaultCacheDir());
}

export function registerCheck(program: Command, signal: AbortSignal): void {
  program
    .command('check')
    .description('measure every model of a budget file against its limits; exit 1 when any limit is exceeded')
    .argument('[budget]', 'the budget file, or a folder holding onnx-budget.json', 'onnx-budget.json')
    .option('--cache [dir]', `reuse measurements of unchanged models (default folder ${defaultCacheDir()})`)
    .option('--json', 'print one JSON document')
    .action(async (budget: string, flags: CheckFlags) => {
      const progress = progressLine();
      try {
        const report = await checkBudgetFile(resolveBudgetFile(budget), {
          signal,
          cache: cacheFrom(flags.cache),
          onEntry: (e, i, n) => progress.update(`${i + 1}/${n} ${e.key}`),
          onProgress: (p) => progress.update(`${p.phase} ${p.done}/${p.total}`),
        });
        progress.done();
        if (flags.json) printJson(report);
        else printText(renderCheck(report));
        if (!report.passed) throw new UserError(`budget check failed: ${report.counts.exceeded} limit${report.counts.exceeded === 1 ? '' : 's'} exceeded, ${report.counts.errors} error${report.counts.errors === 1 ? '' : 's'}`);
      } finally {
        progress.done();
      }
    });
}

// ---------------------------------------------------------------------------------------------------
// optimize --budget

function candidateRow(c: PlanCandidate): Record<string, string> {
  const metrics = c.verdicts.map((v) => `${v.limit} ${formatMetric(v.limit, v.measured)}${v.status === 'exceeded' ? ' ✗' : ''}`).join(', ');
  return { label: c.label, status: c.status, detail: c.reason ?? metrics };
}

export function renderPlan(r: PlanReport): string {
  const rows = r.candidates.map(candidateRow);
  const parts = [
    `${r.source}: searching for a configuration that meets the budget${r.defaultFidelity ? ' (no fidelity floor given: cosine 0.99)' : ''}`,
    '',
    table(rows, [
      { header: 'candidate', value: (x) => x.label },
      { header: 'status', value: (x) => x.status },
      { header: 'measured', value: (x) => x.detail },
    ], 100),
    '',
  ];
  if (!r.met && r.pareto.length) parts.push(`closest (Pareto): ${r.pareto.slice(0, 3).map((c) => c.label).join('; ')}`);
  parts.push(r.summary);
  return parts.join('\n');
}

export interface BudgetPlanFlags {
  data?: string;
  json?: boolean;
}

/** Plans the entry of `model` in `budgetFile` (matched by path, or by `reference`); exit 1 when infeasible. */
export async function runBudgetPlan(model: string, budgetFile: string, flags: BudgetPlanFlags, signal: AbortSignal): Promise<void> {
  const budget = readBudget(resolveBudgetFile(budgetFile));
  const target = path.resolve(model);
  const entry = budget.entries.find((e) => e.model === target) ?? budget.entries.find((e) => e.reference === target);
  if (!entry) throw new UserError(`${budget.file} has no entry for ${model} (entries: ${budget.entries.map((e) => e.key).join(', ') || 'none'})`);
  const errors = budget.problems.filter((p) => p.severity === 'error' && p.entry === entry.key);
  if (!entry.measurable || errors.length) throw new UserError(`the budget of ${entry.key} is invalid: ${errors[0]?.message ?? 'fix its settings'}`);
  if (flags.data) entry.settings = { ...entry.settings, dataDir: path.resolve(flags.data) };
  const progress = progressLine();
  try {
    const report = await planBudget(entry, { signal, onProgress: (p) => progress.update(`${p.phase} ${p.done}/${p.total}`) });
    progress.done();
    if (flags.json) printJson(report);
    else printText(renderPlan(report));
    if (!report.met) throw new UserError(report.summary);
  } finally {
    progress.done();
  }
}
