/**
 * code-server 4.100.3 (VS Code 1.100.3 in the browser, extension host in Node 20): installed once into a
 * cache folder by scripts/install-code-server.sh, started per test file on a port the OS picks.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SESSION_ENV, killSessionNow, stopSession } from './processes';
import { poll, withTimeout } from './wait';

const execFileAsync = promisify(execFile);

export const ROOT = path.resolve(__dirname, '../..');
const INSTALL_SCRIPT = path.join(ROOT, 'scripts/install-code-server.sh');

/** Cold installs take about a minute here (more on an empty npm cache); a warm check returns at once. */
const INSTALL_TIMEOUT_MS = 15 * 60 * 1000;
const START_TIMEOUT_MS = 60_000;

export type ColorTheme = 'Default Dark Modern' | 'Default Light Modern' | (string & {});

/** Runs the install script (idempotent) and returns code-server's entry point (a Node script). */
export async function ensureCodeServer(): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bash', [INSTALL_SCRIPT], { timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 << 20 });
    const entry = stdout.trim().split('\n').pop() ?? '';
    if (!fs.existsSync(entry)) throw new Error(`the install script printed '${entry}', which does not exist`);
    return entry;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`could not install code-server with ${INSTALL_SCRIPT}: ${(err as Error).message}\n${stderr.slice(-4000)}`);
  }
}

/** The user settings every e2e session starts with: no welcome pages, no trust prompts, no network. */
export function defaultSettings(theme: ColorTheme): Record<string, unknown> {
  return {
    'workbench.colorTheme': theme,
    'workbench.startupEditor': 'none',
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'git.enabled': false,
    'files.simpleDialog.enable': true,
    'editor.minimap.enabled': false,
  };
}

export interface CodeServerDirs {
  /** Where code-server's config.yaml, user data and extensions live. */
  extensionsDir: string;
  userDataDir: string;
  configFile: string;
}

export function codeServerDirs(root: string): CodeServerDirs {
  return {
    extensionsDir: path.join(root, 'extensions'),
    userDataDir: path.join(root, 'user-data'),
    configFile: path.join(root, 'config.yaml'),
  };
}

/** Writes (replaces) the user settings; a running workbench picks the change up by itself. */
export function writeUserSettings(dirs: CodeServerDirs, settings: Record<string, unknown>): void {
  const file = path.join(dirs.userDataDir, 'User/settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(settings, null, 2));
}

/** code-server's own CLI, run to completion (e.g. --install-extension). */
export async function codeServerCli(entry: string, dirs: CodeServerDirs, args: string[], timeoutMs = 120_000): Promise<string> {
  const base = ['--extensions-dir', dirs.extensionsDir, '--user-data-dir', dirs.userDataDir, '--config', dirs.configFile];
  const { stdout, stderr } = await execFileAsync(process.execPath, [entry, ...base, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
  return stdout + stderr;
}

export interface StartOptions {
  entry: string;
  dirs: CodeServerDirs;
  /** Folder opened when the browser asks for none. */
  workspace: string;
  /** Session tag put in the environment of code-server and all its children (see processes.ts). */
  session: string;
  /** code-server's output (and that of the extension host, which it relays) is appended here. */
  logFile: string;
}

/** Signals that end a test run early (Ctrl+C, a CI timeout, a closed terminal). */
const FATAL_SIGNALS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

export class CodeServer {
  private exited = false;
  private readonly onExit = () => killSessionNow(this.session, this.child.pid);
  /** Killed by a signal, Node runs no 'exit' handlers: stop everything, then die as the signal asked. */
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.onExit();
    process.exit(128 + (FATAL_SIGNALS[signal] ?? 0));
  };

  private constructor(
    private readonly child: ChildProcess,
    private readonly session: string,
    readonly port: number,
    readonly logFile: string,
  ) {
    child.once('exit', () => (this.exited = true));
    process.once('exit', this.onExit);
    for (const signal of Object.keys(FATAL_SIGNALS)) process.once(signal, this.onSignal);
  }

  /** Starts code-server on 127.0.0.1 with a port the OS picks, and waits until /healthz answers. */
  static async start(options: StartOptions): Promise<CodeServer> {
    fs.mkdirSync(options.dirs.extensionsDir, { recursive: true });
    fs.mkdirSync(options.dirs.userDataDir, { recursive: true });
    const log = fs.openSync(options.logFile, 'a');
    const args = [
      options.entry,
      ...['--auth', 'none', '--bind-addr', '127.0.0.1:0', '--config', options.dirs.configFile],
      ...['--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override'],
      ...['--extensions-dir', options.dirs.extensionsDir, '--user-data-dir', options.dirs.userDataDir],
      options.workspace,
    ];
    const env = {
      ...process.env,
      [SESSION_ENV]: options.session,
      // No marketplace: nothing to reach offline, and no lookups of outside hosts.
      EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: '' }),
    };
    // detached: its own process group, so that teardown can signal code-server and its children at once.
    const child = spawn(process.execPath, args, { env, detached: true, stdio: ['ignore', 'pipe', log] });
    fs.closeSync(log);
    try {
      const port = await withTimeout(listeningPort(child, options.logFile), START_TIMEOUT_MS, 'code-server to listen');
      const server = new CodeServer(child, options.session, port, options.logFile);
      await poll(() => server.healthy(), { timeoutMs: START_TIMEOUT_MS, intervalMs: 200, what: `code-server /healthz on port ${port}` });
      return server;
    } catch (err) {
      await stopSession(options.session, child.pid).catch(() => undefined);
      throw new Error(`${(err as Error).message}\n--- code-server log (${options.logFile}) ---\n${tail(options.logFile)}`);
    }
  }

  url(folder: string): string {
    return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(folder)}`;
  }

  private async healthy(): Promise<boolean> {
    if (this.exited) throw new Error('code-server exited');
    const res = await fetch(`http://127.0.0.1:${this.port}/healthz`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  }

  /** Stops code-server and every process it started; safe to call twice. */
  async stop(): Promise<void> {
    process.removeListener('exit', this.onExit);
    for (const signal of Object.keys(FATAL_SIGNALS)) process.removeListener(signal, this.onSignal);
    await stopSession(this.session, this.child.pid);
  }
}

/** Reads code-server's stdout (copying it to the log) until it says which port it listens on. */
function listeningPort(child: ChildProcess, logFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let found = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      fs.appendFileSync(logFile, chunk);
      if (found) return;
      seen += chunk.toString();
      const match = /HTTP server listening on https?:\/\/[^\s]*:(\d+)\//.exec(seen);
      if (match) {
        found = true;
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code, sig) => reject(new Error(`code-server exited (code ${code}, signal ${sig}) before listening`)));
    child.once('error', reject);
  });
}

function tail(file: string, chars = 4000): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '(no log)';
  }
}
