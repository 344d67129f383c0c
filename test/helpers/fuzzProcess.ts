/**
 * Child processes for the fuzz and fault suites: the built CLI (dist/cli.js) with a per-case
 * deadline, and the built language server (dist/server.js) over stdio. Every wait has a deadline;
 * nothing sleeps for a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';

export const ROOT = path.resolve(__dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli.js');
export const SERVER = path.join(ROOT, 'dist/server.js');

export interface CliRun {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface CliOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called once the child is running (to signal it, watch its files, ...). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs `node dist/cli.js ...args`; a child past its deadline is SIGKILLed and marked timedOut. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);
  options.onSpawn?.(child);
  return new Promise((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close', not 'exit': the pipes are drained by then.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ args, code, signal, stdout, stderr, timedOut, ms: performance.now() - started });
    });
  });
}

/**
 * What is wrong with how a CLI run ended, or undefined when it ended well: exit 0, or exit 1 with
 * exactly one line on stderr ("onnx-lean: ..."), no stack trace, and not an internal error.
 */
export function cliProblem(r: CliRun): string | undefined {
  if (r.timedOut) return `hung: killed after ${Math.round(r.ms)} ms`;
  if (r.signal) return `died of ${r.signal}`;
  if (r.code === 0) return undefined;
  if (r.code !== 1) return `exit code ${r.code} (expected 0 or 1); stderr: ${r.stderr.slice(0, 300)}`;
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) return `stderr is ${lines.length} lines, expected one:\n${r.stderr.slice(0, 1000)}`;
  if (!/^onnx-lean: \S/.test(lines[0])) return `stderr does not start with "onnx-lean: ": ${lines[0]}`;
  if (/\bat .+:\d+:\d+/.test(r.stderr)) return `stack trace on stderr: ${lines[0]}`;
  if (/internal error/.test(lines[0])) return `internal error (a bug, not a message for the user): ${lines[0]}`;
  return undefined;
}

/** Files in `dir` (recursively, relative paths), for "nothing left behind" checks. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

/** Resolves when `condition()` holds; rejects after `timeoutMs`. Polls every `everyMs`. */
export async function waitFor<T>(what: string, condition: () => T | undefined | false, timeoutMs: number, everyMs = 10): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = condition();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Rejects with `what` timed out when `promise` takes longer than `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The built language server over stdio, as the extension runs it. */
export class ServerProcess {
  readonly log: string[] = [];
  closed = false;
  private readonly closedPromise: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly conn: ProtocolConnection,
  ) {
    this.closedPromise = new Promise((resolve) =>
      conn.onClose(() => {
        this.closed = true;
        resolve();
      }),
    );
  }

  static async start(options: { trusted?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<ServerProcess> {
    const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    if (!child.stdout || !child.stdin || !child.stderr) throw new Error('the server has no stdio pipes');
    const server = new ServerProcess(child, createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => server.log.push(d));
    // A write to a killed server fails with EPIPE; the connection reports it, the test must not crash on it.
    child.stdin.on('error', () => undefined);
    server.conn.listen();
    await withDeadline(
      server.conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { trusted: options.trusted ?? true } }),
      30_000,
      'initialize',
    );
    await server.conn.sendNotification(InitializedNotification.type, {});
    return server;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when the client side has seen the connection close. */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  async stop(): Promise<void> {
    if (!this.alive) {
      this.conn.dispose();
      return;
    }
    const exited = once(this.child, 'exit');
    await withDeadline(this.conn.sendRequest(ShutdownRequest.type), 15_000, 'shutdown');
    await this.conn.sendNotification(ExitNotification.type);
    await withDeadline(exited, 15_000, 'server exit');
    this.conn.dispose();
  }

  /** Last resort for a test that failed half-way: never leave a server behind. */
  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
    this.conn.dispose();
  }
}
