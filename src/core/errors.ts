/**
 * Errors the user can act on: bad input files, bad options, cancelled jobs. Front ends print their
 * message as one line; anything else is a bug and is reported as an internal error.
 */
import { ModelFileError, OnnxFormatError } from '../onnx';

/** A problem with what the user asked for (options, shapes, data files), not with our code. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

/** Whether the error's message alone tells the user what went wrong. */
export function isUserFacing(err: unknown): err is Error {
  if (err instanceof UserError || err instanceof OnnxFormatError || err instanceof ModelFileError || err instanceof CancelledError) return true;
  return err instanceof Error && ['UserError', 'OnnxFormatError', 'ModelFileError', 'CancelledError', 'AbortError', 'OrtError'].includes(err.name);
}

/** One line for the user, whatever was thrown. */
export function describeError(err: unknown): string {
  if (isUserFacing(err)) return firstLine(err.message);
  if (err instanceof Error) return `internal error: ${firstLine(err.message)} (set ONNX_LEAN_DEBUG=1 for details)`;
  return `internal error: ${String(err)}`;
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}
