/** The folder the workbench opens: the CLI's sample models, plus any files a scenario adds. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './codeServer';

const execFileAsync = promisify(execFile);

export interface WorkspaceOptions {
  /** Write the CLI's sample models (mlp.onnx with a symbolic batch, cnn.onnx, ...). Default true. */
  samples?: boolean;
  /** Extra files, relative path -> content. */
  files?: Record<string, string | Buffer>;
}

/** Creates `dir` with the fixtures; returns its absolute path. */
export async function createWorkspace(dir: string, options: WorkspaceOptions = {}): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  if (options.samples ?? true) {
    const cli = path.join(ROOT, 'dist/cli.js');
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
    await execFileAsync(process.execPath, [cli, 'sample', dir], { timeout: 60_000 });
  }
  for (const [name, content] of Object.entries(options.files ?? {})) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return dir;
}

/** Content hash, to check that a command left a model untouched. */
export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every file of `dir` (recursively) with its hash: compare before/after to see what a command wrote. */
export function snapshot(dir: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    result.set(path.relative(dir, file), sha256(file));
  }
  return result;
}
