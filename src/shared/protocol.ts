/**
 * The custom LSP messages between the extension (client) and the language server, declared once and
 * imported by both sides (the vscode-eslint convention: one namespace per message with its `method` and
 * typed `type`). Every message here is documented in docs/protocol.md: change both together.
 *
 * The extension host imports this file, so it must stay free of runtime dependencies on the engine:
 * only `vscode-languageserver-protocol` (which both vscode-languageclient and vscode-languageserver
 * depend on) and type-only imports from the core.
 */
/* eslint-disable @typescript-eslint/no-namespace -- the LSP libraries' own convention for message declarations */
import { NotificationType, RequestType, type WorkDoneProgressParams, type WorkspaceEdit } from 'vscode-languageserver-protocol';
import type { PlanReport } from '../budget/types';
import type { PrunePreview, WeightHistogram } from '../core/magnitude';
import type { CompareOptions, CompareReport, InspectReport, OptimizeReport, ProfileOptions, ProfileReport, SensitivityReport } from '../core/reports';

export type { CompareOptions, CompareReport, InspectReport, OptimizeReport, ProfileOptions, ProfileReport, SensitivityReport, PrunePreview, WeightHistogram };

/** What the client sends as `initializationOptions` in `initialize`. */
export interface InitializationOptions {
  /** Whether the workspace is trusted. Absent or false: the server refuses to execute models. */
  trusted?: boolean;
}

/** A model file on the server's machine: a `file:` URI or an absolute path (one of them). */
export interface ModelLocation {
  uri?: string;
  path?: string;
}

export interface InspectParams extends ModelLocation {
  /** Shapes for inputs with symbolic dimensions, used to infer output shapes and MACs. */
  shapes?: Record<string, number[]>;
}

/** Decodes a model and summarises it (never executes it, so it works in untrusted workspaces). */
export namespace InspectRequest {
  export const method = 'onnxLean/inspect';
  export const type = new RequestType<InspectParams, InspectReport, void>(method);
}

export interface ProfileParams extends WorkDoneProgressParams {
  /** Absolute path of the model file. */
  path: string;
  options?: ProfileOptions;
}

/**
 * Runs the model with onnxruntime and measures it. Needs a trusted workspace. Reports work-done progress
 * on `workDoneToken`; `$/cancelRequest` terminates the worker and the reply is a RequestCancelled error.
 */
export namespace ProfileRequest {
  export const method = 'onnxLean/profile';
  export const type = new RequestType<ProfileParams, ProfileReport, void>(method);
}

export interface WeightHistogramParams {
  /** Absolute path of the model file. */
  path: string;
  /** The layer's name as in `InspectReport.layers[].name`. */
  layer: string;
  /** Number of equal bins over [0, absMax]: an integer from 1 to 1024, default 64. */
  bins?: number;
}

/**
 * The histogram of weight magnitudes |w| of one layer's prunable weights (floating-point constant
 * inputs with at least two dimensions). Reads the model, never executes it: works without trust.
 */
export namespace WeightHistogramRequest {
  export const method = 'onnxLean/weightHistogram';
  export const type = new RequestType<WeightHistogramParams, WeightHistogram, void>(method);
}

export interface PrunePreviewParams {
  /** Absolute path of the model file. */
  path: string;
  /** Layer names as in `InspectReport.layers[].name`; each is pruned to `sparsity` on its own. */
  layers: string[];
  /** Target fraction of zeros per layer, from 0 to 1. */
  sparsity: number;
}

/**
 * What magnitude pruning of the layers to `sparsity` would give: the exact threshold per layer, the
 * weights kept and the bytes. Computes from the weights, changes nothing; works without trust.
 */
export namespace PrunePreviewRequest {
  export const method = 'onnxLean/prunePreview';
  export const type = new RequestType<PrunePreviewParams, PrunePreview, void>(method);
}

export interface OptimizeParams extends WorkDoneProgressParams {
  /** Absolute path of the model file (never modified). */
  path: string;
  /** A preset (int8, fp16, int4, cleanup, ...) or `passes`, not both. */
  preset?: string;
  /** Passes in order, with their options as "key": "value" strings. */
  passes?: { name: string; options?: Record<string, string> }[];
  /** Absolute output path; default beside the input, "<model>.<preset>.onnx". */
  output?: string;
  /** Replace an existing output file. */
  force?: boolean;
  dataDir?: string;
  exclude?: string[];
  shapes?: Record<string, number[]>;
  threads?: number;
}

/**
 * Optimizes a model into a new file beside it, verifies it in onnxruntime and compares it with the
 * input. Needs a trusted workspace; progress on `workDoneToken`; cancellation leaves no output file.
 */
export namespace OptimizeRequest {
  export const method = 'onnxLean/optimize';
  export const type = new RequestType<OptimizeParams, OptimizeReport, void>(method);
}

export interface CompareParams extends WorkDoneProgressParams {
  /** Absolute paths. */
  reference: string;
  candidate: string;
  options?: CompareOptions;
}

/** Runs both models on the same inputs: fidelity per output, latency and size. Needs trust. */
export namespace CompareRequest {
  export const method = 'onnxLean/compare';
  export const type = new RequestType<CompareParams, CompareReport, void>(method);
}

export interface SensitivityParams extends WorkDoneProgressParams {
  /** Absolute path of the model file. */
  path: string;
  /** Shapes for symbolic inputs; default: symbolic batch dimensions become 1. */
  shapes?: Record<string, number[]>;
  /** Pruning levels (default 0.25, 0.5, 0.75, 0.9). */
  levels?: number[];
}

/**
 * Per-layer sensitivity: end-to-end fidelity when only that layer is INT8-quantized or pruned (see
 * SensitivityReport). SQNR values are finite in replies (identical outputs: 200 dB). Needs trust;
 * progress and cancellation like onnxLean/profile; results are cached by model hash and options.
 */
export namespace SensitivityRequest {
  export const method = 'onnxLean/sensitivity';
  export const type = new RequestType<SensitivityParams, SensitivityReport, void>(method);
}

export interface DidChangeTrustParams {
  trusted: boolean;
}

/** Client to server: the workspace's trust changed (VS Code only ever grants it during a session). */
export namespace DidChangeTrustNotification {
  export const method = 'onnxLean/didChangeTrust';
  export const type = new NotificationType<DidChangeTrustParams>(method);
}

/**
 * Error codes of ONNX Lean's replies, outside the ranges JSON-RPC and LSP reserve. Cancellation uses
 * LSP's own `RequestCancelled` (-32800); malformed params use JSON-RPC's `InvalidParams` (-32602);
 * bugs use `InternalError` (-32603).
 */
export namespace OnnxLeanErrorCodes {
  /** The job failed for a reason the message explains (missing file, invalid model, bad options). */
  export const JobFailed = 1000;
  /** The workspace is not trusted and the request would execute the model. */
  export const Untrusted = 1001;
  /** This model is already being profiled. */
  export const Busy = 1002;
}

// ---------------------------------------------------------------------------------------------------
// Latency budgets (onnx-budget.json): diagnostics, hover, code lenses and code actions use standard
// LSP; these messages carry what LSP has no message for. Shapes in src/budget/types.ts.

/** Extra `initializationOptions` fields for budgets (merged with InitializationOptions by the client). */
export interface BudgetInitializationOptions {
  /** Folder of the on-disk measurement cache; default `<os.tmpdir()>/onnx-lean-cache`. */
  budgetCacheDir?: string;
}

export interface BudgetDocumentStatus {
  uri: string;
  /** The document version the diagnostics last published for it belong to. */
  version: number;
  /** Entries of that document still queued or being measured. */
  pending: number;
}

export interface BudgetStatusParams {
  state: 'idle' | 'measuring';
  /** e.g. "measuring encoder.onnx: run 12/50 (2 more queued)"; empty when idle. */
  message: string;
  /** Measurements queued or running, over all documents. */
  pending: number;
  /** Parts (latency, memory, fidelity) actually measured since the server started. */
  measured: number;
  /** Parts served from the cache since the server started. */
  cacheHits: number;
  /** Every open budget document. */
  documents: BudgetDocumentStatus[];
}

/** Server to client: budget measuring progress, sent on every change and at most 4 times a second within one. */
export namespace BudgetStatusNotification {
  export const method = 'onnxLean/status';
  export const type = new NotificationType<BudgetStatusParams>(method);
}

export interface RemeasureParams {
  /** URI of an open budget document. */
  uri: string;
  /** The entry's key as written; absent: every entry of the document. */
  key?: string;
}

/** Drops the entries' cached measurements and measures them again. Result: how many entries were scheduled. */
export namespace RemeasureRequest {
  export const method = 'onnxLean/remeasure';
  export const type = new RequestType<RemeasureParams, { scheduled: number }, void>(method);
}

export interface PlanBudgetParams extends WorkDoneProgressParams {
  /** URI of the budget document (open, or read from disk). */
  uri: string;
  /** The entry's key as written. */
  key: string;
}

/**
 * Searches optimization configurations until one meets every limit of the entry, writes it beside the
 * original as `<stem>.budget.onnx` and reports every candidate measured (`PlanReport`). Needs trust;
 * runs in the one-job-at-a-time queue; work-done progress and cancellation as `onnxLean/profile`.
 */
export namespace PlanBudgetRequest {
  export const method = 'onnxLean/planBudget';
  export const type = new RequestType<PlanBudgetParams, PlanReport, void>(method);
}

export interface RetargetBudgetParams {
  uri: string;
  key: string;
  /** Absolute path of the model the entry should budget from now on. */
  model: string;
}

/**
 * The edit that points an entry at another model: its key becomes the new model's path (relative to
 * the budget file) and, unless the entry has one, `"reference"` keeps the old model for fidelity.
 */
export namespace RetargetBudgetRequest {
  export const method = 'onnxLean/retargetBudget';
  export const type = new RequestType<RetargetBudgetParams, WorkspaceEdit, void>(method);
}

/** VS Code command ids the server puts in code lenses and code actions; the extension implements them. */
export namespace BudgetCommands {
  /** Args: [uri: string, key?: string]. */
  export const remeasure = 'onnxLean.budget.remeasure';
  /** Args: [uri: string, key: string]. */
  export const optimize = 'onnxLean.budget.optimize';
  /** Args: [uri: string, key: string, model: string]. */
  export const useModel = 'onnxLean.budget.useModel';
}
