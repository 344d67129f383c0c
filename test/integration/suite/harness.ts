/**
 * A tiny test runner for the extension host, where node:test is unavailable and mocha is not a
 * dependency: register async tests with `test()`, run them in order with `runAll()`.
 */
export type TestFn = () => Promise<void> | void;

interface TestCase {
  name: string;
  fn: TestFn;
  timeoutMs: number;
}

const tests: TestCase[] = [];

export function test(name: string, fn: TestFn, timeoutMs = 120_000): void {
  tests.push({ name, fn, timeoutMs });
}

/** Runs every registered test; rejects with a summary when any failed. */
export async function runAll(log: (line: string) => void = (line) => console.log(line)): Promise<void> {
  const failures: string[] = [];
  for (const t of tests) {
    const started = Date.now();
    try {
      await withTimeout(Promise.resolve().then(t.fn), t.timeoutMs);
      log(`  ok   ${t.name} (${Date.now() - started} ms)`);
    } catch (err) {
      failures.push(t.name);
      log(`  FAIL ${t.name}\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  log(`${tests.length - failures.length} passed, ${failures.length} failed`);
  if (failures.length > 0) throw new Error(`${failures.length} of ${tests.length} tests failed: ${failures.join('; ')}`);
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
