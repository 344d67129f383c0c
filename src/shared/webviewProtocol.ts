/**
 * The messages between the Layer Report webview (`webview/`) and its panel in the extension host
 * (`src/extension/layerReport/`): one discriminated union per direction, one interface per message.
 * Runtime checks live in `webviewGuards.ts`; both sides validate what they receive.
 *
 * Handshake: the webview posts `ready` once its script runs (again after every hide/show, since the
 * panel does not retain its context); the extension answers `init` and only then sends anything else.
 * Requests carry a `requestId` chosen by the webview; every request gets exactly one `response`, with a
 * result or an error, within its timeout (`TIMEOUT_MS`, counted from the last `progress`).
 *
 * Type-only imports: the webview bundle must not pull in the LSP libraries.
 */
import type { InspectReport, ProfileReport, PrunePreview, WeightHistogram } from './protocol';

export type { InspectReport, ProfileReport, PrunePreview, WeightHistogram };

// ---------------------------------------------------------------------------------------------
// Shapes carried by the messages

/** Output fidelity of the model with one layer changed (cosine similarity and SQNR of the outputs). */
export interface Fidelity {
  cosine: number;
  sqnrDb: number;
}

/** Sensitivity of one layer: with only that layer quantized to int8, and pruned to each level. */
export interface SensitivityLayer {
  /** The layer's name as in `InspectReport.layers[].name`. */
  name: string;
  int8?: Fidelity;
  prune?: (Fidelity & { level: number })[];
}

export interface SensitivityResult {
  layers: SensitivityLayer[];
}

/** What the `onnxLean.pruneModel` command reports back; `applied` false says why nothing was written. */
export interface ApplyPruneResult {
  applied: boolean;
  message: string;
  /** The pruned model written beside the original, when applied. */
  outputPath?: string;
}

export type ErrorKind = 'cancelled' | 'timeout' | 'untrusted' | 'unavailable' | 'busy' | 'failed';

export interface WebviewError {
  kind: ErrorKind;
  /** One line for the user. */
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Webview -> extension

/** The webview's script runs and can receive messages. */
export interface ReadyMessage {
  type: 'ready';
}

/** Concrete dims for inputs with symbolic dimensions, by input name. */
export type InputShapes = Record<string, number[]>;

/** Inspect the model (decode and summarise; never executes it). Answered with an `InspectReport`. */
export interface InspectRequestMessage {
  type: 'inspect';
  requestId: number;
  /** Shapes for symbolic inputs, so output shapes and MACs can be inferred. */
  shapes?: InputShapes;
}

/** Weight-magnitude histogram of one layer. Answered with a `WeightHistogram`. */
export interface WeightHistogramRequestMessage {
  type: 'weightHistogram';
  requestId: number;
  layer: string;
  bins: number;
}

/** Exact pruning thresholds and sizes for the selected layers. Answered with a `PrunePreview`. */
export interface PrunePreviewRequestMessage {
  type: 'prunePreview';
  requestId: number;
  layers: string[];
  sparsity: number;
}

/** Profile the model (needs a trusted workspace). Progress arrives as `progress`; answered with a `ProfileReport`. */
export interface ProfileRequestMessage {
  type: 'profile';
  requestId: number;
  /** Shapes for symbolic inputs (the profiler needs every dimension). */
  shapes?: InputShapes;
}

/** Per-layer sensitivity analysis (needs trust and a server that supports it). Answered with a `SensitivityResult`. */
export interface AnalyzeSensitivityRequestMessage {
  type: 'analyzeSensitivity';
  requestId: number;
}

/** Prune the layers to the sparsity through the `onnxLean.pruneModel` command. Answered with an `ApplyPruneResult`. */
export interface ApplyPruneRequestMessage {
  type: 'applyPrune';
  requestId: number;
  layers: string[];
  sparsity: number;
}

/** Cancel a running request; it is then answered with a `cancelled` error. */
export interface CancelMessage {
  type: 'cancel';
  requestId: number;
}

/** Open VS Code's workspace trust editor. */
export interface ManageTrustMessage {
  type: 'manageTrust';
}

export type WebviewRequest =
  | InspectRequestMessage
  | WeightHistogramRequestMessage
  | PrunePreviewRequestMessage
  | ProfileRequestMessage
  | AnalyzeSensitivityRequestMessage
  | ApplyPruneRequestMessage;

export type RequestKind = WebviewRequest['type'];

export type ToExtension = ReadyMessage | WebviewRequest | CancelMessage | ManageTrustMessage;

/** The result each request is answered with. */
export interface ResultOf {
  inspect: InspectReport;
  weightHistogram: WeightHistogram;
  prunePreview: PrunePreview;
  profile: ProfileReport;
  analyzeSensitivity: SensitivityResult;
  applyPrune: ApplyPruneResult;
}

/** The parameters of a request: the message without its `type` and `requestId`. */
export type ParamsOf<K extends RequestKind> = Omit<Extract<WebviewRequest, { type: K }>, 'type' | 'requestId'>;

// ---------------------------------------------------------------------------------------------
// Extension -> webview

/** A job the extension is still running for this document (re-announced after a hide/show). */
export interface RunningJob {
  requestId: number;
  request: 'profile' | 'analyzeSensitivity';
  message?: string;
  percentage?: number;
}

/** The answer to `ready`: what the panel knows before any request. Holds no model data but results. */
export interface InitMessage {
  type: 'init';
  /** The model file's base name, for headings. */
  fileName: string;
  /** Whether the workspace is trusted: without trust, profiling and sensitivity are disabled. */
  trusted: boolean;
  /** The latest profile of this file in this session, if any. */
  profile?: ProfileReport;
  sensitivity?: SensitivityResult;
  running: RunningJob[];
}

/** The answer to a request: its result, or an error. */
export type ResponseMessage = { [K in RequestKind]: SuccessResponse<K> }[RequestKind] | ErrorResponse;

export interface SuccessResponse<K extends RequestKind> {
  type: 'response';
  requestId: number;
  request: K;
  ok: true;
  result: ResultOf[K];
}

export interface ErrorResponse {
  type: 'response';
  requestId: number;
  request: RequestKind;
  ok: false;
  error: WebviewError;
}

/** Progress of a long request (profile, sensitivity); also restarts its timeout. */
export interface ProgressMessage {
  type: 'progress';
  requestId: number;
  message: string;
  /** 0-100 within the current phase, when known. */
  percentage?: number;
}

/** Sensitivity results for the model, from this panel's request or from elsewhere. */
export interface SensitivityMessage {
  type: 'sensitivity';
  result: SensitivityResult;
}

/** The workspace's trust changed. */
export interface TrustMessage {
  type: 'trust';
  trusted: boolean;
}

/** The model file changed on disk: inspect it again. */
export interface ModelChangedMessage {
  type: 'modelChanged';
}

export type ToWebview = InitMessage | ResponseMessage | ProgressMessage | SensitivityMessage | TrustMessage | ModelChangedMessage;

// ---------------------------------------------------------------------------------------------
// Timeouts

/**
 * How long each request may go without an answer or progress. The extension enforces it (it cancels
 * the work and answers `timeout`); the webview waits `WEBVIEW_GRACE_MS` longer before giving up itself,
 * in case the extension host is gone.
 */
export const TIMEOUT_MS: Readonly<Record<RequestKind, number>> = {
  inspect: 60_000,
  weightHistogram: 30_000,
  prunePreview: 60_000,
  profile: 180_000,
  analyzeSensitivity: 300_000,
  applyPrune: 600_000,
};

export const WEBVIEW_GRACE_MS = 5_000;
