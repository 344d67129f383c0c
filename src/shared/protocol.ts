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
import { NotificationType, RequestType, type WorkDoneProgressParams } from 'vscode-languageserver-protocol';
import type { InspectReport, ProfileOptions, ProfileReport } from '../core/reports';

export type { InspectReport, ProfileOptions, ProfileReport };

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
