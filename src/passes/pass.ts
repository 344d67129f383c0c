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
}

export interface CalibrationData {
  /** Ranges chosen by the calibration method (MinMax, Percentile, Entropy) for each activation tensor. */
  ranges: Map<string, { min: number; max: number }>;
  /** Raw statistics, for passes that need more than a range. */
  stats: Map<string, TensorStats>;
  method: string;
  samples: number;
}

export interface PassContext {
  /** The working model; passes mutate it in place. */
  readonly model: ModelProto;
  /** True for nodes the user excluded (--exclude by node name or op type). */
  readonly isExcluded: (node: NodeProto, displayName: string) => boolean;
  /** Present when the pipeline calibrated (static quantization, bias correction). */
  readonly calibration?: CalibrationData;
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
