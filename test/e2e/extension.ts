/**
 * Puts the extension under test into code-server's --extensions-dir, one of three ways:
 * - `link` (default): a symlink named `publisher.name-version` to the repository (its dist/ must be built);
 * - `vsix`: a packaged .vsix, installed with `code-server --install-extension` (what users get);
 * - `package`: package the repository with vsce first, then install that .vsix.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, codeServerCli, type CodeServerDirs } from './codeServer';

const execFileAsync = promisify(execFile);

/** vsce 3.9.x is the newest that runs on Node 20 (4.x needs Node 22). */
export const VSCE = '@vscode/vsce@3.9.2';

export type ExtensionSource = { kind: 'link' } | { kind: 'vsix'; path: string } | { kind: 'package'; target?: string };

interface Manifest {
  publisher: string;
  name: string;
  version: string;
  main?: string;
}

function manifest(): Manifest {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
}

/** `publisher.name`, as VS Code identifies the extension (and as a webview's extensionId). */
export function extensionId(): string {
  const m = manifest();
  return `${m.publisher}.${m.name}`;
}

/** The extension source from the environment: ONNX_LEAN_E2E_VSIX=path, or ONNX_LEAN_E2E_PACKAGE=1. */
export function extensionSourceFromEnv(): ExtensionSource {
  const vsix = process.env.ONNX_LEAN_E2E_VSIX;
  if (vsix) return { kind: 'vsix', path: path.resolve(vsix) };
  if (process.env.ONNX_LEAN_E2E_PACKAGE === '1') return { kind: 'package' };
  return { kind: 'link' };
}

/** Installs the extension into `dirs.extensionsDir`; `workDir` receives a packaged .vsix. */
export async function installExtension(source: ExtensionSource, entry: string, dirs: CodeServerDirs, workDir: string): Promise<void> {
  switch (source.kind) {
    case 'link':
      return linkExtension(dirs.extensionsDir);
    case 'vsix':
      return installFromVsix(entry, dirs, source.path);
    case 'package':
      return installFromVsix(entry, dirs, await packageVsix(workDir, source.target));
  }
}

/** Links the repository into the extensions folder under the name VS Code scans for. */
export function linkExtension(extensionsDir: string): void {
  const m = manifest();
  const main = path.join(ROOT, m.main ?? 'dist/extension.js');
  if (!fs.existsSync(main.endsWith('.js') ? main : `${main}.js`)) throw new Error(`${main} is missing: run npm run build first`);
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.symlinkSync(ROOT, path.join(extensionsDir, `${m.publisher}.${m.name}-${m.version}`), 'dir');
}

/** `code-server --install-extension file.vsix` into the session's extensions folder. */
export async function installFromVsix(entry: string, dirs: CodeServerDirs, vsixPath: string): Promise<void> {
  if (!fs.existsSync(vsixPath)) throw new Error(`no VSIX at ${vsixPath}`);
  const output = await codeServerCli(entry, dirs, ['--force', '--install-extension', vsixPath]);
  if (!/successfully installed/i.test(output)) throw new Error(`installing ${vsixPath} failed:\n${output}`);
}

/**
 * Packages the repository with vsce (works offline: it only reads the repository and `npm list`).
 * Uses the project's own vsce when installed, else fetches VSCE from the npm registry with npx.
 */
export async function packageVsix(outDir: string, target = `${process.platform}-${process.arch}`): Promise<string> {
  const m = manifest();
  const out = path.join(outDir, `${m.name}-${m.version}-${target}.vsix`);
  const local = path.join(ROOT, 'node_modules/.bin/vsce');
  const [cmd, pre] = fs.existsSync(local) ? [local, []] : ['npx', ['--yes', VSCE]];
  const args = [...pre, 'package', '--target', target, '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links', '-o', out];
  try {
    const run = execFileAsync(cmd, args, { cwd: ROOT, timeout: 10 * 60_000, maxBuffer: 64 << 20 });
    run.child.stdin?.end(); // a prompt (missing LICENSE, ...) fails at once instead of waiting for input
    await run;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`vsce package failed: ${e.message}\n${(e.stdout ?? '').slice(-2000)}${(e.stderr ?? '').slice(-2000)}`);
  }
  return out;
}
