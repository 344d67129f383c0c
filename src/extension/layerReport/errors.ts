/** Turns whatever a request handler threw into the one-line `WebviewError` the panel shows. */
import * as vscode from 'vscode';
import { ErrorCodes, LSPErrorCodes, ResponseError } from 'vscode-languageclient/node';
import { OnnxLeanErrorCodes } from '../../shared/protocol';
import type { ErrorKind, WebviewError } from '../../shared/webviewProtocol';

/** A failure whose kind and message are already meant for the user. */
export class PanelError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'PanelError';
  }
}

const BY_CODE: Partial<Record<number, ErrorKind>> = {
  [LSPErrorCodes.RequestCancelled]: 'cancelled',
  [OnnxLeanErrorCodes.Untrusted]: 'untrusted',
  [OnnxLeanErrorCodes.Busy]: 'busy',
  [ErrorCodes.MethodNotFound]: 'unavailable',
};

const ENGINE_STOPPED = 'the ONNX Lean engine stopped; try again once it has restarted';

export function toWebviewError(err: unknown, timedOut: boolean): WebviewError {
  if (timedOut) return { kind: 'timeout', message: 'no answer in time: the request was cancelled' };
  if (err instanceof PanelError) return { kind: err.kind, message: firstLine(err.message) };
  if (err instanceof vscode.CancellationError) return { kind: 'cancelled', message: 'cancelled' };
  if (err instanceof ResponseError) {
    if (err.code === ErrorCodes.PendingResponseRejected || err.code === ErrorCodes.ConnectionInactive) return { kind: 'failed', message: ENGINE_STOPPED };
    return { kind: BY_CODE[err.code] ?? 'failed', message: firstLine(err.message) };
  }
  return { kind: 'failed', message: firstLine(err instanceof Error ? err.message : String(err)) };
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}
