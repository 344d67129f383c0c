/**
 * Runs the integration suite inside a real VS Code (the minimum version the extension supports and the
 * current stable one), downloaded by @vscode/test-electron. Needs internet, so it is not part of
 * `npm test`; run it with `npm run build && node --import tsx test/integration/runTest.ts`.
 * (On an offline machine see ENVIRONMENT.md: code-server is the way to get a real VS Code.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { runTests } from '@vscode/test-electron';

const ROOT = path.resolve(__dirname, '../..');
const SUITE = path.join(ROOT, 'out/integration/suite.js');
const VERSIONS = ['1.90.0', 'stable'];

/** VS Code loads the suite as plain JavaScript: bundle it (the extension itself is dist/extension.js). */
async function bundleSuite(): Promise<void> {
  await build({
    entryPoints: [path.join(__dirname, 'suite/index.ts')],
    outfile: SUITE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    external: ['vscode', 'onnxruntime-node'],
    logLevel: 'warning',
  });
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(ROOT, 'dist/extension.js'))) throw new Error('dist/extension.js is missing: run npm run build first');
  await bundleSuite();
  for (const version of VERSIONS) {
    const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lean-it-'));
    try {
      await runTests({
        version,
        extensionDevelopmentPath: ROOT,
        extensionTestsPath: SUITE,
        extensionTestsEnv: { ONNX_LEAN_TEST_WORKSPACE: workspace },
        launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
      });
    } finally {
      fs.rmSync(workspace, { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
