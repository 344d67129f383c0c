/** Condition waits for the end-to-end harness: every wait has a deadline and says what it waited for. */

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

export interface PollOptions {
  /** Give up after this many milliseconds. */
  timeoutMs: number;
  /** Pause between two checks (not a wait for the result: the check itself decides). */
  intervalMs?: number;
  /** What we were waiting for, for the error message. */
  what: string;
}

/**
 * Calls `check` until it returns something other than undefined/false, and returns that. A check that
 * throws counts as "not yet" (the last error is reported on timeout).
 */
export async function poll<T>(check: () => Promise<T | undefined | false> | T | undefined | false, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message.split('\n')[0]})` : '';
      throw new TimeoutError(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${cause}`);
    }
    await delay(Math.min(options.intervalMs ?? 250, Math.max(0, deadline - Date.now())));
  }
}

/** Rejects with a TimeoutError when `promise` does not settle in time. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Escapes a literal for use inside a RegExp. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
