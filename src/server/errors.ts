/** Turns whatever a job threw into a one-line ResponseError; stacks go to the log, never to the user. */
import { ErrorCodes, LSPErrorCodes, ResponseError } from 'vscode-languageserver/node';
import { CancelledError, isUserFacing } from '../core/errors';
import { OnnxLeanErrorCodes } from '../shared/protocol';

/** A refusal with its own protocol error code (untrusted workspace, busy model, bad params). */
export class RequestRefused extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RequestRefused';
  }
}

/** Runtime errors whose message is for the user too (until src/core/errors.ts lists them itself). */
const USER_FACING_NAMES = new Set(['ProfileOptionError', 'InputError']);

export function isCancellation(err: unknown): boolean {
  return err instanceof CancelledError || (err instanceof Error && (err.name === 'AbortError' || err.name === 'CancelledError'));
}

export function cancelledReply(what: string): ResponseError<void> {
  return new ResponseError(LSPErrorCodes.RequestCancelled, `${what} cancelled`);
}

/** The reply for a failed job; `log` receives the full error when it is not the user's to fix. */
export function toResponseError(err: unknown, what: string, log: (text: string) => void): ResponseError<void> {
  if (err instanceof ResponseError) return err as ResponseError<void>;
  if (err instanceof RequestRefused) return new ResponseError(err.code, err.message);
  if (isCancellation(err)) return cancelledReply(what);
  if (isUserFacing(err) || (err instanceof Error && USER_FACING_NAMES.has(err.name))) return new ResponseError(OnnxLeanErrorCodes.JobFailed, firstLine(err.message));
  log(`${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  const message = err instanceof Error ? firstLine(err.message) : String(err);
  return new ResponseError(ErrorCodes.InternalError, `internal error: ${message} (details in the ONNX Lean output)`);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}
