/**
 * Headless check of a whole budget file (the CLI's `onnx-lean check`): parse, then measure and judge
 * every entry in order. Passing means no problem of severity error, no entry error and no limit
 * exceeded; warnings (within 10 % of a limit) pass.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../core/errors';
import type { MeasurementCache } from './cache';
import { checkEntry, type MeasureHooks } from './measure';
import { BUDGET_FILE_NAME, parseBudget } from './parse';
import type { BudgetEntry, BudgetProblem, EntryResult, ParsedBudget } from './types';

export interface CheckReport {
  file: string;
  passed: boolean;
  entries: EntryResult[];
  /** Problems in the file itself, with 1-based line and column. */
  problems: (Omit<BudgetProblem, 'span'> & { line: number; column: number })[];
  counts: { met: number; near: number; exceeded: number; errors: number };
}

/** `file`, or `onnx-budget.json` inside it when it is a folder; absolute. */
export function resolveBudgetFile(file = BUDGET_FILE_NAME): string {
  const abs = path.resolve(file);
  try {
    return fs.statSync(abs).isDirectory() ? path.join(abs, BUDGET_FILE_NAME) : abs;
  } catch {
    return abs;
  }
}

export function readBudget(file: string): ParsedBudget {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`no budget file at ${file}`);
  }
  return parseBudget(text, file);
}

/** 1-based line and column of a UTF-16 offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

export interface CheckOptions {
  cache?: MeasurementCache;
  signal?: AbortSignal;
  onEntry?(entry: BudgetEntry, index: number, total: number): void;
  onProgress?: MeasureHooks['onProgress'];
}

export async function checkBudgetFile(file: string, options: CheckOptions = {}): Promise<CheckReport> {
  const budget = readBudget(file);
  const text = fs.readFileSync(file, 'utf8');
  const entries: EntryResult[] = [];
  for (const [i, entry] of budget.entries.entries()) {
    options.onEntry?.(entry, i, budget.entries.length);
    if (!entry.measurable) {
      entries.push({ key: entry.key, model: entry.model, verdicts: [], unchecked: [], error: { message: 'not measured: fix the settings marked in the file first' } });
      continue;
    }
    entries.push(await checkEntry(entry, { cache: options.cache, signal: options.signal, onProgress: options.onProgress }));
  }
  const verdicts = entries.flatMap((e) => e.verdicts);
  const problems = budget.problems.map(({ span, ...p }) => ({ ...p, ...lineColumn(text, span.offset) }));
  const counts = {
    met: verdicts.filter((v) => v.status === 'met').length,
    near: verdicts.filter((v) => v.status === 'near').length,
    exceeded: verdicts.filter((v) => v.status === 'exceeded').length,
    errors: entries.filter((e) => e.error).length + problems.filter((p) => p.severity === 'error').length,
  };
  return { file, passed: counts.exceeded === 0 && counts.errors === 0, entries, problems, counts };
}
