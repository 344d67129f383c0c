/**
 * End-to-end harness: a real VS Code (code-server 4.100.3) with the extension installed, a fixture
 * workspace, and Debian's Chromium driven by playwright-core.
 *
 *   const e2e = await startE2E({ theme: 'Default Dark Modern' });
 *   try { await e2e.workbench.rightClickExplorerItem('cnn.onnx'); ... } finally { await e2e.close(); }
 *
 * Everything it starts is stopped by close(), and by a process 'exit' hook if the test process dies
 * first (see processes.ts). Artifacts (screenshots, code-server and browser logs) go to test-output/e2e.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CodeServer, ROOT, codeServerDirs, defaultSettings, ensureCodeServer, writeUserSettings, type CodeServerDirs, type ColorTheme } from './codeServer';
import { extensionSourceFromEnv, installExtension, type ExtensionSource } from './extension';
import { SESSION_ENV, stopSession } from './processes';
import { withTimeout } from './wait';
import { Workbench, type ThemeKind } from './workbench';
import { createWorkspace, type WorkspaceOptions } from './workspace';

export { extensionId, extensionSourceFromEnv, installFromVsix, packageVsix, type ExtensionSource } from './extension';
export type { ColorTheme } from './codeServer';
export { sha256, snapshot } from './workspace';
export { Workbench, type Notification, type Problem, type ThemeKind } from './workbench';

export const OUTPUT_DIR = path.join(ROOT, 'test-output/e2e');
const CHROMIUM = process.env.ONNX_LEAN_CHROMIUM ?? '/usr/bin/chromium';
/** Without the networking flags Chromium keeps trying outside hosts, which this machine refuses. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
/** A command of the extension: once the palette lists it, the extension's contributions are registered. */
const READY_COMMAND = 'ONNX Lean: Profile Model';
const THEME_KIND: Record<string, ThemeKind> = { 'Default Dark Modern': 'dark', 'Default Light Modern': 'light' };

export interface E2EOptions {
  /** Names the session's logs in test-output/e2e. Default "e2e". */
  name?: string;
  theme?: ColorTheme;
  /** How the extension gets into code-server; default from the environment (see extension.ts), else a link. */
  extension?: ExtensionSource;
  workspace?: WorkspaceOptions;
  /** User settings on top of defaultSettings(). */
  settings?: Record<string, unknown>;
  /** The session is ready once the palette lists this command; null to skip (e.g. extension not installed). */
  readyCommand?: string | null;
  viewport?: { width: number; height: number };
}

/** Teardown steps, run last-in first-out; each runs even if an earlier one failed. */
class Cleanup {
  private readonly steps: { what: string; run: () => Promise<void> | void }[] = [];

  add(what: string, run: () => Promise<void> | void): void {
    this.steps.push({ what, run });
  }

  async run(): Promise<void> {
    const errors: string[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await withTimeout(Promise.resolve(step.run()), 30_000, step.what);
      } catch (err) {
        errors.push(`${step.what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (errors.length > 0) throw new Error(`e2e teardown: ${errors.join('; ')}`);
  }
}

export class E2ESession {
  private closed = false;

  constructor(
    readonly workbench: Workbench,
    readonly page: Page,
    /** Absolute path of the workspace folder the workbench has open. */
    readonly workspace: string,
    readonly dirs: CodeServerDirs,
    private settings: Record<string, unknown>,
    private readonly readyCommand: string | null,
    private readonly cleanup: Cleanup,
  ) {}

  /** Absolute path of a workspace file. */
  file(relative: string): string {
    return path.join(this.workspace, relative);
  }

  /**
   * Changes user settings and reloads the window: code-server's workbench does not notice edits of
   * the settings file made behind its back (workspace files, on the other hand, are watched).
   */
  async updateSettings(changes: Record<string, unknown>): Promise<void> {
    this.settings = { ...this.settings, ...changes };
    writeUserSettings(this.dirs, this.settings);
    await this.reload();
  }

  /** Reloads the window and waits until the workbench and the extension are ready again. */
  async reload(): Promise<void> {
    await this.page.reload({ timeout: 60_000 });
    await waitUntilReady(this.workbench, this.readyCommand, this.settings['workbench.colorTheme']);
  }

  /** Switches the color theme with the Color Theme picker and waits until the workbench shows it. */
  async setColorTheme(theme: ColorTheme): Promise<void> {
    await this.workbench.pickColorTheme(theme);
    this.settings = { ...this.settings, 'workbench.colorTheme': theme };
    const kind = THEME_KIND[theme];
    if (kind) await this.workbench.waitForThemeKind(kind);
  }

  /**
   * Runs `body`; if it throws, saves a screenshot `failure-<name>.png` first. Use it around scenarios so
   * that a failing CI run shows what the window looked like.
   */
  async step<T>(name: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      await this.workbench.screenshot(`failure-${name}`).catch(() => undefined);
      throw err;
    }
  }

  /** Closes the browser, stops code-server and everything it started, removes the temp folders. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.cleanup.run();
  }
}

/** Installs what is missing, starts code-server and Chromium, and waits until the extension is ready. */
export async function startE2E(options: E2EOptions = {}): Promise<E2ESession> {
  const name = options.name ?? 'e2e';
  const session = randomUUID();
  const cleanup = new Cleanup();
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-e2e-'));
  if (process.env.ONNX_LEAN_E2E_KEEP !== '1') {
    const removeTemp = () => fs.rmSync(temp, { recursive: true, force: true, maxRetries: 3 });
    process.once('exit', removeTemp); // also after a fatal signal (see CodeServer)
    cleanup.add('remove temp folder', () => {
      process.removeListener('exit', removeTemp);
      removeTemp();
    });
  }
  // Belt and braces: whatever close() missed, kill anything tagged with this session.
  cleanup.add('stop leftover processes', () => stopSession(session, undefined, 2000));
  try {
    const entry = await ensureCodeServer();
    const dirs = codeServerDirs(path.join(temp, 'code-server'));
    const workspace = await createWorkspace(path.join(temp, 'workspace'), options.workspace);
    await installExtension(options.extension ?? extensionSourceFromEnv(), entry, dirs, temp);
    const theme = options.theme ?? 'Default Dark Modern';
    const settings = { ...defaultSettings(theme), ...options.settings };
    writeUserSettings(dirs, settings);

    const logFile = path.join(OUTPUT_DIR, `code-server-${name}.log`);
    fs.writeFileSync(logFile, '');
    const server = await CodeServer.start({ entry, dirs, workspace, session, logFile });
    cleanup.add('stop code-server', () => server.stop());

    const browser = await launchBrowser(session);
    cleanup.add('close the browser', () => closeBrowser(browser));
    const page = await browser.newPage({ viewport: options.viewport ?? { width: 1280, height: 800 } });
    recordBrowserLog(page, path.join(OUTPUT_DIR, `browser-${name}.log`));

    const workbench = new Workbench(page, OUTPUT_DIR);
    const readyCommand = options.readyCommand === undefined ? READY_COMMAND : options.readyCommand;
    const e2e = new E2ESession(workbench, page, workspace, dirs, settings, readyCommand, cleanup);
    await page.goto(server.url(workspace), { timeout: 60_000 });
    await e2e.step(`${name}-startup`, () => waitUntilReady(workbench, readyCommand, theme));
    return e2e;
  } catch (err) {
    await cleanup.run().catch((e: unknown) => console.error(e instanceof Error ? e.message : e));
    throw err;
  }
}

/** Workbench shown, workspace listed, extension registered, user's theme applied. */
async function waitUntilReady(workbench: Workbench, readyCommand: string | null, theme: unknown): Promise<void> {
  await workbench.waitForWorkbench();
  if (readyCommand !== null) await workbench.waitForCommand(readyCommand);
  // The workbench paints with a default theme first and applies the user's theme a moment later.
  const kind = typeof theme === 'string' ? THEME_KIND[theme] : undefined;
  if (kind) await workbench.waitForThemeKind(kind);
}

async function launchBrowser(session: string): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/install-code-server.sh (it installs Debian's chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    env: { ...process.env, [SESSION_ENV]: session },
    timeout: 60_000,
  });
}

async function closeBrowser(browser: Browser): Promise<void> {
  await withTimeout(browser.close(), 15_000, 'Chromium to close').catch(() => undefined); // the session sweep kills it otherwise
}

/** Console errors and page crashes of the workbench, for debugging a failed run. */
function recordBrowserLog(page: Page, file: string): void {
  fs.writeFileSync(file, '');
  const write = (line: string) => fs.appendFileSync(file, `[${new Date().toISOString()}] ${line}\n`);
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') write(`${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => write(`pageerror: ${err.message}`));
  page.on('crash', () => write('page crashed'));
}
