/**
 * The contract every optimization pass follows: a function over a working copy of the model, with
 * validated options and a report of what it changed, skipped and why. Passes never do I/O; the
 * pipeline (src/passes/pipeline.ts) loads, runs passes in order, verifies and saves.
 */
import type { ModelProto, NodeProto } from '../onnx/types';

/** Options as given on the command line ("sparsity=0.5,block=32"): strings until the pass parses them. */
export type RawOptions = Record<string, string>;

/** Per-tensor activation statistics from calibration, keyed by tensor name. */
export interface TensorStats {
  min: number;
  max: number;
  /** Absolute-value histogram over [0, absMax] (for Percentile and Entropy calibration). */
  histogram?: { counts: Float64Array; absMax: number };
  /** Mean over calibration samples of each channel along axis 1 (for bias correction), when collected. */
  channelMean?: Float64Array;
  /** The axis channelMean runs along when it is not 1 (e.g. -1: the last axis, for MatMul inputs). */
  channelAxis?: number;
  /**
   * Activation norm of each feature, ‖X_j‖₂ = sqrt(Σ x_j²) over every calibration sample and every
   * other position, for activation-aware pruning (Wanda in prune-magnitude/prune-nm, score=activation
   * in prune-channels). `axis` is the feature axis: 1 for NCHW tensors (Conv/ConvTranspose inputs)
   * and Gemm inputs, the last axis for MatMul inputs (-1 may be given for "the last axis"). `count`:
   * values summed per feature (samples × other positions); with channelMean it gives the centered
   * norm sqrt(Σx² − count·mean²), what a channel loses once its mean is compensated.
   */
  featureNorms?: { axis: number; norms: Float64Array; count?: number };
}

export interface CalibrationData {
  /** Ranges chosen by the calibration method (MinMax, Percentile, Entropy) for each activation tensor. */
  ranges: Map<string, { min: number; max: number }>;
  /** Raw statistics, for passes that need more than a range. */
  stats: Map<string, TensorStats>;
  method: string;
  samples: number;
  /** Things the user should know about how the statistics were gathered (e.g. generated inputs). */
  warnings?: string[];
  /** Groups of tensors the samples were run for, to stay within the memory budget (1 = one pass). */
  groups?: number;
}

export interface PassContext {
  /** The working model; passes mutate it in place. */
  readonly model: ModelProto;
  /** True for nodes the user excluded (--exclude by node name or op type). */
  readonly isExcluded: (node: NodeProto, displayName: string) => boolean;
  /** Present when the pipeline calibrated (static quantization, bias correction). */
  readonly calibration?: CalibrationData;
  /**
   * The teacher for distillation (the `distill` pass): the model as the pipeline loaded it, BEFORE the
   * preceding passes changed `model`, plus what running teacher and student needs (the request's
   * --data and --shape, cancellation, progress). The pipeline builds it from OptimizeRequest.input with
   * a fresh load (so it never aliases `model`; `model` may be a lazy getter) and from its hooks.
   * Passes must not modify it. Absent: passes that need a teacher refuse with a UserError.
   */
  readonly teacher?: {
    readonly model: ModelProto;
    /** The teacher's file, when it is the untouched input: workers load it instead of receiving bytes. */
    readonly path?: string;
    /** Samples for fitting (.npz/.npy folder); generated inputs otherwise. */
    readonly dataDir?: string;
    readonly shapes?: Record<string, number[]>;
    readonly signal?: AbortSignal;
    readonly onProgress?: (progress: { phase: string; done: number; total: number }) => void;
  };
}

export interface LayerChange {
  name: string;
  opType: string;
  /** What happened, e.g. "int8 per-channel weights", "folded into Conv_3". */
  action: string;
}

export interface LayerSkip {
  name: string;
  opType: string;
  reason: string;
}

export interface PassReport {
  pass: string;
  options: Record<string, unknown>;
  changed: LayerChange[];
  skipped: LayerSkip[];
  warnings: string[];
  /** Pass-specific numbers (e.g. weight bytes before/after, nodes removed). */
  stats: Record<string, number>;
}

export interface PassDefinition<O = unknown> {
  name: string;
  description: string;
  /** Whether the pipeline must calibrate before running this pass. */
  needsCalibration?: boolean;
  /** Validates raw options; throws UserError naming the bad key or value. */
  parseOptions(raw: RawOptions): O;
  run(ctx: PassContext, options: O): PassReport | Promise<PassReport>;
}

export function emptyReport(pass: string, options: Record<string, unknown>): PassReport {
  return { pass, options, changed: [], skipped: [], warnings: [], stats: {} };
}
