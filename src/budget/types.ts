/**
 * The shapes of latency budgets (`onnx-budget.json`), their measurements and verdicts, shared by the
 * CLI (`onnx-lean check`, `--json`), the language server and the extension (type-only there).
 */

export type LatencyLimit = 'p50' | 'p95' | 'p99';
export type LimitName = LatencyLimit | 'size' | 'memory' | 'cosine' | 'top1';

export const LATENCY_LIMITS: readonly LatencyLimit[] = ['p50', 'p95', 'p99'];
/** Every limit in display order. */
export const LIMIT_NAMES: readonly LimitName[] = ['p50', 'p95', 'p99', 'size', 'memory', 'cosine', 'top1'];

/** Limits in base units: milliseconds, bytes, fractions (floors for cosine and top1). */
export type Limits = Partial<Record<LimitName, number>>;

/** How a model is measured; part of the cache key. */
export interface MeasureSettings {
  /** Intra-op threads; 0 lets onnxruntime choose. */
  threads: number;
  /** Timed runs for the latency percentiles. */
  runs: number;
  provider: string;
  shapes?: Record<string, number[]>;
  /** Absolute folder of .npz/.npy samples (profiling, comparison, calibration). */
  dataDir?: string;
}

/** A stretch of the budget file's text (UTF-16 offsets). */
export interface TextSpan {
  offset: number;
  length: number;
}

export interface BudgetEntry {
  /** The key as written, e.g. "models/encoder.onnx". */
  key: string;
  /** The key's span, quotes included: where the entry's diagnostics, hover and lens go. */
  keySpan: TextSpan;
  /** The whole property, key and value. */
  span: TextSpan;
  /** Absolute path of the model. */
  model: string;
  /** Absolute path of the model fidelity is measured against (the original of an optimized model). */
  reference?: string;
  limits: Limits;
  settings: MeasureSettings;
  /** Spans of the entry's own keys (e.g. "shapes"), for diagnostics about them. */
  keySpans: Record<string, TextSpan>;
  /** False when a setting is invalid: the entry is then not measured. */
  measurable: boolean;
}

export interface BudgetProblem {
  severity: 'error' | 'warning';
  message: string;
  span: TextSpan;
  /** Key of the entry the problem belongs to, if any. */
  entry?: string;
}

export interface ParsedBudget {
  /** Absolute path of the budget file. */
  file: string;
  entries: BudgetEntry[];
  problems: BudgetProblem[];
}

export interface LayerTime {
  name: string;
  opType: string;
  meanUs: number;
  share: number;
}

/** Latency of one model under one set of settings (the expensive part, cached). */
export interface LatencyMeasurement {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  runs: number;
  /** Threads onnxruntime used (the setting, or the machine's cores for 0). */
  threads: number;
  provider: string;
  /** Slowest layers first. */
  topLayers: LayerTime[];
  warnings: string[];
}

export interface FidelityMeasurement {
  /** Smallest mean cosine similarity over the model's outputs. */
  cosine: number;
  /** Smallest top-1 agreement over outputs that look like class scores; absent when none does. */
  top1?: number;
  samples: number;
  reference: string;
}

export interface Measurement {
  model: string;
  /** sha256 of the model's bytes and external data. */
  hash: string;
  sizeBytes: number;
  latency?: LatencyMeasurement;
  /** Peak resident set of a fresh process that loaded and ran the model. */
  memoryBytes?: number;
  fidelity?: FidelityMeasurement;
  /** Parts served from the cache, e.g. ['latency']. */
  cached: string[];
}

export type VerdictStatus = 'met' | 'near' | 'exceeded';

export interface Verdict {
  limit: LimitName;
  measured: number;
  bound: number;
  status: VerdictStatus;
  /**
   * For upper limits measured/bound − 1 (positive: over budget); for floors the share of the allowed
   * error (1 − bound) that is used, minus 1.
   */
  excess: number;
  /** One line, e.g. "p95 23.1 ms exceeds the 15 ms budget by 54 % (50 runs, 2 threads)". */
  message: string;
}

/** A limit that could not be checked, and why (no reference model, no class-score output, untrusted). */
export interface Unchecked {
  limit: LimitName;
  reason: string;
}

export interface EntryResult {
  key: string;
  model: string;
  measurement?: Measurement;
  verdicts: Verdict[];
  unchecked: Unchecked[];
  /** Why the entry could not be measured (missing model, shapes the model rejects, onnxruntime error). */
  error?: { message: string; setting?: string };
}

/** One configuration the planner tried. */
export interface PlanCandidate {
  /** e.g. "int8-dynamic", "int8-dynamic + fp32 fc3". */
  label: string;
  /** Passes in order, with their options ("ort-optimize:level=extended"). */
  passes: string[];
  /** Layers kept in fp32 (greedy fallback of the most sensitive ones). */
  fp32Layers: string[];
  /** meets: every limit holds; fails: measured, some limit exceeded; skipped: not applicable; failed: an error. */
  status: 'meets' | 'fails' | 'skipped' | 'failed';
  reason?: string;
  metrics: Partial<Record<LimitName, number>>;
  verdicts: Verdict[];
}

export interface PlanReport {
  /** The budget entry's model. */
  model: string;
  /** The model optimized (the entry's `reference` when set, else the model itself). */
  source: string;
  limits: Limits;
  /** True when the entry set no fidelity floor and the planner used cosine 0.99. */
  defaultFidelity: boolean;
  met: boolean;
  /** The model written beside the source, when a candidate other than the source itself met the budget. */
  output?: string;
  chosen?: PlanCandidate;
  candidates: PlanCandidate[];
  /** When nothing met the budget: the measured candidates no other beats on every limit, closest first. */
  pareto: PlanCandidate[];
  /** When nothing met the budget: the limit that stands in the way. */
  binding?: { limit: LimitName; message: string };
  /** One line for people. */
  summary: string;
  timeMs: number;
}
