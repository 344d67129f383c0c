// Builds every bundle of the project in one place and exits non-zero on any failure.
// Usage: node esbuild.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import { chmodSync, existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

/** Native or host-provided modules stay outside the bundles. */
const nodeExternals = ['vscode', 'onnxruntime-node'];

const nodeBundle = (entry, outfile, extra = {}) => ({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external: nodeExternals,
  logLevel: 'warning',
  ...extra,
});

/** The Layer Report webview: a browser bundle with its UI components and charts inside, nothing loaded from node_modules at run time. */
const webviewBundle = (entry, outfile) => ({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'browser',
  target: 'chrome120',
  format: 'iife',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
});

const bundles = [
  nodeBundle('src/extension/extension.ts', 'dist/extension.js'),
  webviewBundle('webview/main.ts', 'dist/webview/main.js'),
  nodeBundle('src/server/server.ts', 'dist/server.js'),
  nodeBundle('src/cli/main.ts', 'dist/cli.js', { banner: { js: '#!/usr/bin/env node' } }),
  nodeBundle('src/runtime/ortWorker.ts', 'dist/ortWorker.js'),
].filter((b) => existsSync(b.entryPoints[0]));

async function main() {
  if (watch) {
    const contexts = await Promise.all(bundles.map((b) => esbuild.context(b)));
    await Promise.all(contexts.map((c) => c.watch()));
    console.log(`esbuild: watching ${bundles.length} bundles`);
    return;
  }
  await Promise.all(bundles.map((b) => esbuild.build(b)));
  if (existsSync('dist/cli.js')) chmodSync('dist/cli.js', 0o755);
  console.log(`esbuild: built ${bundles.length} bundles`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
