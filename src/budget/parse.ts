/**
 * Parses `onnx-budget.json` (JSON with comments and trailing commas) into entries with their text
 * spans, and reports every problem with the span it is about: syntax errors, unknown keys, bad units,
 * bad settings. Pure: reads no file (whether models exist is checked when measuring).
 *
 * { "$schema"?, "defaults"?: Settings & Limits, "models": { "<path relative to this file>": Settings & Limits & { reference? } } }
 */
import * as path from 'node:path';
import { getNodeValue, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser/lib/esm/main.js';
import type { BudgetEntry, BudgetProblem, LimitName, Limits, MeasureSettings, ParsedBudget, TextSpan } from './types';
import { parseBytes, parseDuration, parseFraction, type Parsed } from './units';

export const BUDGET_FILE_NAME = 'onnx-budget.json';

const TOP_KEYS = ['$schema', 'defaults', 'models'];
const SETTING_KEYS = ['latency', 'size', 'memory', 'fidelity', 'threads', 'runs', 'shapes', 'data', 'provider'];
const ENTRY_KEYS = [...SETTING_KEYS, 'reference'];
const LATENCY_KEYS = ['p50', 'p95', 'p99'] as const;
const FIDELITY_KEYS = ['cosine', 'top1'] as const;
/** Keys whose errors only drop a limit; errors in any other key make the entry unmeasurable. */
const LIMIT_KEYS = ['latency', 'fidelity', 'size', 'memory'];

export const SETTING_DEFAULTS: Omit<MeasureSettings, 'shapes' | 'dataDir'> = { threads: 0, runs: 50, provider: 'cpu' };

/** What one object (defaults or an entry) says, before defaults are applied. */
interface Layer {
  limits: Limits;
  threads?: number;
  runs?: number;
  provider?: string;
  shapes?: Record<string, number[]>;
  dataDir?: string;
  reference?: string;
  keySpans: Record<string, TextSpan>;
  /** A setting was invalid: measuring would not measure what the user asked for. */
  invalid: boolean;
}

class Reader {
  constructor(
    readonly dir: string,
    readonly problems: BudgetProblem[] = [],
    private readonly entry?: string,
  ) {}

  forEntry(key: string): Reader {
    return new Reader(this.dir, this.problems, key);
  }

  error(node: Node, message: string): void {
    this.problems.push({ severity: 'error', message, span: spanOf(node), entry: this.entry });
  }

  warning(node: Node, message: string): void {
    this.problems.push({ severity: 'warning', message, span: spanOf(node), entry: this.entry });
  }
}

export function spanOf(node: Node): TextSpan {
  return { offset: node.offset, length: node.length };
}

/** The properties of an object node as [key node, value node] pairs. */
function properties(node: Node): [Node, Node | undefined][] {
  return (node.children ?? []).filter((p) => p.type === 'property' && p.children?.[0]).map((p) => [p.children![0], p.children![1]]);
}

function keyOf(keyNode: Node): string {
  return String(keyNode.value);
}

function expectObject(r: Reader, node: Node | undefined, at: Node, what: string): node is Node {
  if (node?.type === 'object') return true;
  r.error(node ?? at, `${what} must be an object`);
  return false;
}

function unknownKey(r: Reader, keyNode: Node, allowed: readonly string[], where: string): void {
  const key = keyOf(keyNode);
  const near = allowed.find((k) => k.toLowerCase() === key.toLowerCase());
  r.error(keyNode, `unknown key "${key}" in ${where}${near ? ` (did you mean "${near}"?)` : ''}; expected one of ${allowed.join(', ')}`);
}

function readLimit(r: Reader, node: Node, name: LimitName, parse: (v: unknown) => Parsed, limits: Limits): void {
  const parsed = parse(getNodeValue(node));
  if (parsed.ok) limits[name] = parsed.value;
  else r.error(node, `${name}: ${parsed.error}`);
}

function readGroup(r: Reader, node: Node | undefined, keyNode: Node, group: 'latency' | 'fidelity', limits: Limits): void {
  if (!expectObject(r, node, keyNode, `"${group}"`)) return;
  const keys: readonly LimitName[] = group === 'latency' ? LATENCY_KEYS : FIDELITY_KEYS;
  for (const [k, v] of properties(node)) {
    const name = keyOf(k) as LimitName;
    if (!keys.includes(name)) unknownKey(r, k, keys, `"${group}"`);
    else readLimit(r, v ?? k, name, group === 'latency' ? parseDuration : parseFraction, limits);
  }
}

function readInteger(r: Reader, node: Node | undefined, name: string, min: number): number | undefined {
  const v: unknown = node ? getNodeValue(node) : undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min) return v;
  r.error(node!, `"${name}" must be an integer >= ${min}`);
  return undefined;
}

function readString(r: Reader, node: Node | undefined, name: string): string | undefined {
  const v: unknown = node ? getNodeValue(node) : undefined;
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  r.error(node!, `"${name}" must be a non-empty string`);
  return undefined;
}

function readShapes(r: Reader, node: Node | undefined, keyNode: Node): Record<string, number[]> | undefined {
  if (!expectObject(r, node, keyNode, '"shapes"')) return undefined;
  const shapes: Record<string, number[]> = {};
  let ok = true;
  for (const [k, v] of properties(node)) {
    const dims: unknown = v ? getNodeValue(v) : undefined;
    if (Array.isArray(dims) && dims.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 1)) shapes[keyOf(k)] = dims as number[];
    else {
      r.error(v ?? k, `shape of "${keyOf(k)}" must be an array of positive integers, e.g. [1, 3, 224, 224]`);
      ok = false;
    }
  }
  return ok ? shapes : undefined;
}

/** One object's keys: limits and settings (and `reference` for entries). */
function readLayer(r: Reader, node: Node, allowed: readonly string[], where: string): Layer {
  const layer: Layer = { limits: {}, keySpans: {}, invalid: false };
  let settingErrors = 0;
  for (const [k, v] of properties(node)) {
    const key = keyOf(k);
    layer.keySpans[key] = spanOf(k);
    const mark = r.problems.length;
    switch (allowed.includes(key) ? key : '') {
      case 'latency':
      case 'fidelity':
        readGroup(r, v, k, key as 'latency' | 'fidelity', layer.limits);
        break;
      case 'size':
      case 'memory':
        readLimit(r, v ?? k, key as LimitName, parseBytes, layer.limits);
        break;
      case 'threads':
        layer.threads = readInteger(r, v ?? k, key, 0);
        break;
      case 'runs':
        layer.runs = readInteger(r, v ?? k, key, 1);
        break;
      case 'provider':
        layer.provider = readString(r, v ?? k, key)?.toLowerCase();
        break;
      case 'data': {
        const data = readString(r, v ?? k, key);
        if (data !== undefined) layer.dataDir = path.resolve(r.dir, data);
        break;
      }
      case 'reference': {
        const ref = readString(r, v ?? k, key);
        if (ref !== undefined) layer.reference = path.resolve(r.dir, ref);
        break;
      }
      case 'shapes':
        layer.shapes = readShapes(r, v, k);
        break;
      default:
        unknownKey(r, k, allowed, where);
    }
    if (r.problems.length > mark && allowed.includes(key) && !LIMIT_KEYS.includes(key)) settingErrors++;
  }
  layer.invalid = settingErrors > 0;
  return layer;
}

function merge(defaults: Layer | undefined, layer: Layer): { limits: Limits; settings: MeasureSettings } {
  const d = defaults ?? { limits: {}, keySpans: {}, invalid: false };
  const shapes = d.shapes || layer.shapes ? { ...d.shapes, ...layer.shapes } : undefined;
  const dataDir = layer.dataDir ?? d.dataDir;
  return {
    limits: { ...d.limits, ...layer.limits },
    settings: {
      threads: layer.threads ?? d.threads ?? SETTING_DEFAULTS.threads,
      runs: layer.runs ?? d.runs ?? SETTING_DEFAULTS.runs,
      provider: layer.provider ?? d.provider ?? SETTING_DEFAULTS.provider,
      ...(shapes ? { shapes } : {}),
      ...(dataDir ? { dataDir } : {}),
    },
  };
}

function syntaxProblems(errors: ParseError[]): BudgetProblem[] {
  return errors.map((e) => ({ severity: 'error', message: `invalid JSON: ${describeParseError(printParseErrorCode(e.error))}`, span: { offset: e.offset, length: Math.max(1, e.length) } }));
}

/** "PropertyNameExpected" -> "property name expected". */
function describeParseError(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

function readEntries(r: Reader, models: Node, defaults: Layer | undefined): BudgetEntry[] {
  const entries: BudgetEntry[] = [];
  const seen = new Map<string, string>();
  for (const prop of (models.children ?? []).filter((p) => p.type === 'property')) {
    const [k, v] = [prop.children![0], prop.children?.[1]];
    const key = keyOf(k);
    const er = r.forEntry(key);
    const model = path.resolve(r.dir, key);
    if (key.trim() === '') {
      er.error(k, 'a model key must be a path to a .onnx file, relative to the budget file');
      continue;
    }
    if (seen.has(model)) er.error(k, `${key} is budgeted twice (also as "${seen.get(model)}"); the last entry wins in JSON`);
    seen.set(model, key);
    if (!expectObject(er, v, k, `the budget of "${key}"`)) continue;
    const layer = readLayer(er, v, ENTRY_KEYS, `the budget of "${key}"`);
    const { limits, settings } = merge(defaults, layer);
    const written = [layer, defaults].some((l) => l && LIMIT_KEYS.some((name) => l.keySpans[name]));
    if (!written) er.warning(k, `no limits for ${key}: add "latency", "size", "memory" or "fidelity"`);
    entries.push({
      key,
      keySpan: spanOf(k),
      span: spanOf(prop),
      model,
      ...(layer.reference ? { reference: layer.reference } : {}),
      limits,
      settings,
      keySpans: layer.keySpans,
      measurable: !layer.invalid && !(defaults?.invalid ?? false),
    });
  }
  return entries;
}

/** Parses the text of the budget file at `file` (absolute; model paths are relative to its folder). */
export function parseBudget(text: string, file: string): ParsedBudget {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  const r = new Reader(path.dirname(file));
  r.problems.push(...syntaxProblems(errors));
  if (!root || root.type !== 'object') {
    if (errors.length === 0) r.problems.push({ severity: 'error', message: 'a budget file is an object: { "models": { "model.onnx": { … } } }', span: root ? spanOf(root) : { offset: 0, length: 0 } });
    return { file, entries: [], problems: r.problems };
  }
  let defaults: Layer | undefined;
  let models: Node | undefined;
  for (const [k, v] of properties(root)) {
    const key = keyOf(k);
    if (!TOP_KEYS.includes(key)) unknownKey(r, k, TOP_KEYS, 'the budget file');
    else if (key === 'defaults' && expectObject(r, v, k, '"defaults"')) defaults = readLayer(r, v, SETTING_KEYS, '"defaults"');
    else if (key === 'models' && expectObject(r, v, k, '"models"')) models = v;
  }
  if (!models) {
    if (!properties(root).some(([k]) => keyOf(k) === 'models')) r.error(root, 'the budget file has no "models" object');
    return { file, entries: [], problems: r.problems };
  }
  return { file, entries: readEntries(r, models, defaults), problems: r.problems };
}

/** The entry whose key, or whose whole property, contains `offset`. */
export function entryAt(budget: ParsedBudget, offset: number): BudgetEntry | undefined {
  return budget.entries.find((e) => offset >= e.span.offset && offset <= e.span.offset + e.span.length);
}
