/**
 * Where a worker's script is and how to start it, in both ways this code runs:
 * - bundled (dist/cli.js, dist/server.js): esbuild writes each worker as dist/<name>.js next to the
 *   bundle that starts it, and __dirname is dist/;
 * - from sources under tsx (tests, bench): __dirname is src/runtime/ and the worker is a .ts file.
 *   Node 20 does not apply `--import tsx` to a worker's entry module (the ESM loader rejects the .ts
 *   extension before tsx's hooks see it), but `--require tsx/cjs` registers tsx's CommonJS hook first,
 *   and our sources compile to CommonJS, so that is what the worker gets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface WorkerScript {
  filename: string;
  execArgv: string[];
}

/** Resolves worker `baseName` (e.g. 'ortWorker') in `dir`, which defaults to this module's folder. */
export function resolveWorkerScript(baseName: string, dir: string = __dirname): WorkerScript {
  const bundled = path.join(dir, `${baseName}.js`);
  // An explicit empty execArgv: inheriting the host's flags (--inspect, --test, ...) can break a worker.
  if (fs.existsSync(bundled)) return { filename: bundled, execArgv: [] };
  const source = path.join(dir, `${baseName}.ts`);
  if (fs.existsSync(source)) return { filename: source, execArgv: ['--require', tsxCommonJsHook()] };
  throw new Error(`worker script not found: expected ${bundled} (run the build) or ${source}`);
}

function tsxCommonJsHook(): string {
  try {
    return require.resolve('tsx/cjs');
  } catch {
    throw new Error('running workers from TypeScript sources needs the tsx package (a dev dependency)');
  }
}
