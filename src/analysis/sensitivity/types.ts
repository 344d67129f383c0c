/**
 * Messages between the sensitivity host (index.ts) and its pool of 'sensitivity' worker jobs
 * (src/runtime/sensitivityJob.ts). Pure data: structured-clonable, no model types.
 */
import type { SensitivityKind } from '../../core/reports';

/** One model variant: one layer (or one channel group) changed one way. */
export interface VariantSpec {
  kind: SensitivityKind;
  /** Index of the layer in findLayers order (for 'channels': the group's first producer layer). */
  layer: number;
  /** Sparsity for 'prune' and 'channels'; 0 for 'int8'. */
  level: number;
  /** Channel group id (channelGroups order) and name, for 'channels'. */
  group?: { id: number; name: string };
}

export type SensitivityMethod = 'end-to-end' | 'proxy';

/** Parameters of the 'sensitivity' job; every worker of the pool gets the same ones but `worker`. */
export interface SensitivityJobParams {
  path: string;
  method: SensitivityMethod;
  /** Layer names the host found, in order: the worker checks it finds the same. */
  layerNames: string[];
  variants: VariantSpec[];
  shapes?: Record<string, number[]>;
  dataDir?: string;
  seed: number;
  samples: number;
  /** Intra-op threads of each session. */
  threads: number;
  /** Fake-quantize the layer's input activation too in int8 variants (static, calibrated range). */
  activationQuant: boolean;
  /**
   * Shared counters (an Int32Array over a SharedArrayBuffer): [0] next work item to claim, [1] variants
   * finished across the pool. Workers claim work with Atomics.add, so faster workers take more.
   */
  counters: Int32Array;
  /** Position in the pool; worker 0 also checks the rewritten model against the original one. */
  worker: number;
}

export interface VariantResult {
  /** Index into SensitivityJobParams.variants. */
  variant: number;
  cosine: number;
  /** null: identical to the baseline. */
  sqnrDb: number | null;
  top1Agreement?: number;
}

export interface SensitivityJobResult {
  results: VariantResult[];
  /** Where the inputs came from, for the report. */
  inputs: string;
  samples: number;
  /** Samples ran as one batch (concatenated along axis 0) rather than one by one. */
  batched: boolean;
  /** Layers whose int8 variant also fake-quantized the input activation. */
  activationQuantLayers: number[];
  /** Worker 0 only: the weights-as-inputs model fed the original weights vs the original model. */
  rewriteCheck?: { cosine: number; maxAbsError: number };
  warnings: string[];
}

/** Work items of the proxy method: layers are claimed in chunks, one capture run per chunk. */
export const PROXY_CHUNK = 8;
