/**
 * `npm start`: a real VS Code (code-server 4.100.3, installed offline on first use) on localhost with
 * this extension and a workspace of generated sample models. Prints the URL; Ctrl+C stops everything.
 * Port: $PORT or one the OS picks.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CodeServer, ROOT, codeServerDirs, defaultSettings, ensureCodeServer, writeUserSettings } from '../test/e2e/codeServer';
import { linkExtension } from '../test/e2e/extension';

const WORKSPACE = path.join(ROOT, 'samples');

function prepareWorkspace(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'sample', WORKSPACE], { stdio: 'inherit' });
}

async function main(): Promise<void> {
  console.log('Installing code-server if needed (about a minute the first time)...');
  const entry = await ensureCodeServer();
  prepareWorkspace();
  const home = path.join(os.homedir(), '.cache', 'onnx-lean', 'start');
  const dirs = codeServerDirs(home);
  fs.mkdirSync(dirs.extensionsDir, { recursive: true });
  writeUserSettings(dirs, { ...defaultSettings('Default Dark Modern'), 'security.workspace.trust.enabled': true });
  linkExtension(dirs.extensionsDir);
  const server = await CodeServer.start({ entry, dirs, workspace: WORKSPACE, session: `start-${process.pid}`, logFile: path.join(home, 'code-server.log') });
  console.log(`\nONNX Lean in VS Code: ${server.url(WORKSPACE)}\n`);
  console.log('Right-click a .onnx file: Optimize Model…, Profile Model, Open Layer Report. Ctrl+C stops.');
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await server.stop();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
