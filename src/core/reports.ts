/**
 * The result shapes of the core's jobs, shared by the CLI (--json), the language server and the
 * extension. Keep field names stable: they are the CLI's documented JSON output.
 */

export interface TensorSummary {
  name: string;
  dtype: string;
  /** Dimensions: numbers, symbolic names, or null when unknown. */
  shape: (number | string | null)[] | null;
}

export interface LayerInfo {
  /** Display name (the node's name, or "<OpType>_<index>"); subgraph nodes are prefixed "If_0/then_branch/". */
  name: string;
  opType: string;
  domain: string;
  /** Elements of this node's constant weight inputs (initializers or Constant outputs). */
  params: number;
  /** Bytes of those weights, by dtype name. */
  paramBytes: Record<string, number>;
  /** Fraction of exact zeros among the floating-point weights (0 when it has none). */
  sparsity: number;
  /** Multiply-accumulates for Conv/ConvTranspose/Gemm/MatMul when shapes are known, else null. */
  macs: number | null;
  /** Output shapes as far as they could be inferred. */
  outputShapes: ((number | string | null)[] | null)[];
  /** Dtype names of the weights feeding this node. */
  weightDtypes: string[];
}

export interface InspectReport {
  path: string;
  sizeBytes: number;
  /** Bytes held in external data files. */
  externalDataBytes: number;
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  nodeCount: number;
  /** Elements of all floating-point weight tensors, wherever they live, each counted once. */
  paramCount: number;
  paramBytes: Record<string, number>;
  /** Fraction of exact zeros among all floating-point weights. */
  sparsity: number;
  /** Sum of the layers' MACs that are known. */
  macs: number;
  /** Number of Conv/ConvTranspose/Gemm/MatMul layers whose MACs could not be computed. */
  macsUnknown: number;
  opCounts: Record<string, number>;
  subgraphs: number;
  layers: LayerInfo[];
  /** Input shapes used to resolve symbolic dimensions. */
  resolvedShapes: Record<string, number[]>;
  warnings: string[];
}

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'layout' | 'all';

export interface ProfileOptions {
  runs?: number;
  warmup?: number;
  /** Intra-op threads; 0 lets onnxruntime choose. */
  threads?: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  executionProvider?: string;
  /** Shapes for inputs with symbolic dimensions. */
  shapes?: Record<string, number[]>;
  /** Folder of .npz/.npy samples; otherwise inputs are generated from `seed`. */
  dataDir?: string;
  seed?: number;
  /** Collect per-node times from ORT's profiler (default true). */
  perNode?: boolean;
}

export interface NodeTime {
  /** The model's node name (display name) the time maps to, or ORT's own name for nodes ORT inserted. */
  name: string;
  opType: string;
  /** Mean microseconds per run. */
  meanUs: number;
  /** Fraction of the total kernel time. Shares sum to at most 1. */
  share: number;
  /** ORT kernel names aggregated into this entry (differs from `name` where ORT renamed or fused). */
  ortNames: string[];
  /** True when the name does not exist in the model (a node ORT added, e.g. a layout reorder). */
  inserted: boolean;
}

export interface LatencyStats {
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  stdev: number;
}

export interface ProfileReport {
  path: string;
  sessionCreateMs: number;
  latencyMs: LatencyStats;
  /** Runs per second at the mean latency. */
  throughput: number;
  runs: number;
  warmup: number;
  threads: number;
  graphOptimizationLevel: GraphOptimizationLevel;
  executionProvider: string;
  /** Peak resident set size of the process that ran the session. */
  peakRssBytes: number;
  inputs: { name: string; dtype: string; shape: number[]; source: string }[];
  /** Per-node times from a separate profiled run (profiling adds overhead, so latency excludes it). */
  nodes: NodeTime[];
  profiledRuns: number;
  warnings: string[];
}

export interface LatencySummary {
  mean: number;
  p50: number;
  p95: number;
}

/**
 * Fidelity of one model output against the reference (see src/analysis/fidelity.ts OutputFidelity).
 * In JSON, an SQNR of null means the outputs were identical (infinite SQNR).
 */
export interface OutputComparison {
  output: string;
  samples: number;
  elements: number;
  cosineMean: number;
  cosineMin: number;
  sqnrDb: number | null;
  sqnrDbMin: number | null;
  maxAbsError: number;
  meanAbsError: number;
  /** Present when the output looks like class scores. */
  top1Agreement?: number;
  top5Overlap?: number;
  warnings: string[];
}

export interface CompareOptions {
  shapes?: Record<string, number[]>;
  dataDir?: string;
  seed?: number;
  /** Generated samples when no dataDir (default 8). */
  samples?: number;
  /** Timed runs of each model, interleaved (default 20). */
  runs?: number;
  threads?: number;
}

export interface CompareReport {
  reference: string;
  candidate: string;
  samples: number;
  inputs: string;
  outputs: OutputComparison[];
  latencyMs: { reference: LatencySummary; candidate: LatencySummary; ratioP50: number; ratioP95: number };
  sizeBytes: { reference: number; candidate: number; ratio: number };
  warnings: string[];
}

/** What ORT did with a model: fused quantized ops, and quantization ops it left unfused. */
export interface FusionSummary {
  fused: Record<string, number>;
  unfused: Record<string, number>;
  warnings: string[];
}

export interface PassSummary {
  pass: string;
  options: Record<string, unknown>;
  changed: { name: string; opType: string; action: string }[];
  skipped: { name: string; opType: string; reason: string }[];
  warnings: string[];
  stats: Record<string, number>;
  timeMs: number;
  /** What ORT fused in the model right after this pass (verification). */
  fusions: FusionSummary;
}

export interface OptimizeReport {
  input: string;
  output: string;
  preset?: string;
  /** Input shapes the job ran with (for symbolic dimensions). */
  shapes?: Record<string, number[]>;
  sizeBytes: { before: number; after: number; ratio: number };
  timingsMs: { load: number; calibration: number; passes: number; save: number; verify: number; compare: number };
  passes: PassSummary[];
  /** Fusions in the final model. */
  fusions: FusionSummary;
  calibration?: { method: string; samples: number; source: string };
  fidelity: OutputComparison[];
  latencyMs: { before: LatencySummary; after: LatencySummary; ratioP50: number; ratioP95: number } | null;
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------------
// Sensitivity analysis (src/analysis/sensitivity): `onnx-lean sensitivity --json` prints a
// SensitivityReport.

/** What a variant does to one layer: int8 weights (and input), magnitude pruning, channel pruning. */
export type SensitivityKind = 'int8' | 'prune' | 'channels';

export interface SensitivityOptions {
  /** Default: every kind. */
  kinds?: SensitivityKind[];
  /** Magnitude-pruning sparsities in [0, 1) (default 0.25, 0.5, 0.75, 0.9). */
  levels?: number[];
  /** Channel-pruning fractions in [0, 1) (default 0.25, 0.5). */
  channelLevels?: number[];
  /** Folder of .npz/.npy samples; otherwise `samples` inputs are generated from `seed`. */
  dataDir?: string;
  shapes?: Record<string, number[]>;
  seed?: number;
  samples?: number;
  /** Worker threads, one onnxruntime session set each (default: the cores, at most 4). */
  workers?: number;
  /** Intra-op threads per session (default: cores / workers, at least 1). */
  threads?: number;
  /** Cosine floor for the recommendation (default 0.99). */
  floor?: number;
  /** Cache folder (default os.tmpdir()/onnx-lean-cache); false disables the cache. */
  cacheDir?: string | false;
  /** Only the layer-local proxy (each layer's own output), for models too big for the end-to-end loop. */
  proxyOnly?: boolean;
}

export interface SensitivityMetrics {
  /** Cosine similarity with the unchanged model's outputs (the worst output, mean over samples). */
  cosine: number;
  /** SQNR in dB (the worst output); null when identical to the baseline. */
  sqnrDb: number | null;
  /** Fraction of rows whose argmax is unchanged, when an output looks like class scores. */
  top1Agreement?: number;
}

export interface SensitivityLevel extends SensitivityMetrics {
  level: number;
}

export interface LayerSensitivity {
  name: string;
  opType: string;
  /** Elements of the analysed weight. */
  params: number;
  /** null when int8 was not asked for. */
  int8: SensitivityMetrics | null;
  prune: SensitivityLevel[];
  /** Channel pruning of the coupled group the layer produces channels for (empty when none). */
  channels: SensitivityLevel[];
  notes: string[];
}

export interface LayerRecommendation {
  name: string;
  opType: string;
  params: number;
  /** Highest magnitude-pruning level whose cosine stays >= the floor (0 when none does). */
  sparsity: number;
  precision: 'int8' | 'float32';
  /** Predicted loss of this layer's settings: sum of (1 - cosine) of the chosen variants. */
  deficit: number;
}

export interface SensitivityRecommendation {
  floor: number;
  layers: LayerRecommendation[];
  /** 1 - the summed deficits of all recommended settings (see `heuristic`). */
  predictedCosine: number;
  /** Settings the greedy check stepped back to keep predictedCosine >= floor, in order. */
  backedOff: { name: string; from: string; to: string; deficit: number }[];
  heuristic: string;
}

export interface SensitivityReport {
  path: string;
  method: 'end-to-end' | 'proxy';
  kinds: SensitivityKind[];
  levels: number[];
  channelLevels: number[];
  samples: number;
  inputs: string;
  /** Samples ran as one batch along axis 0. */
  batched: boolean;
  workers: number;
  layers: LayerSensitivity[];
  /** Conv/Gemm/MatMul nodes left out, with why. */
  skipped: { name: string; opType: string; reason: string }[];
  recommendation: SensitivityRecommendation;
  /** Weights-as-inputs model fed the original weights vs the original model; null when not measured. */
  rewriteCheck: { cosine: number; maxAbsError: number } | null;
  /** True when the numbers came from the cache. */
  cached: boolean;
  cacheKey: string;
  /** Wall time of this call (small when cached). */
  wallMs: number;
  /** Wall time of the analysis that produced the numbers (the original run's when cached). */
  computeMs: number;
  warnings: string[];
}
