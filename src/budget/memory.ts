/**
 * Memory of a model: the peak resident set of a fresh Node process that loads the model and runs it a
 * few times (`onnx-lean profile` in a child process). The profiler's own `peakRssBytes` is the
 * high-water mark of whichever process ran it (in the language server: the server and everything it
 * ran before), so a budget needs a process of its own. The figure includes Node and onnxruntime
 * themselves (about 60-80 MB), which a deployment in Node pays too.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CancelledError, UserError } from '../core/errors';
import type { ProfileReport } from '../core/reports';
import type { MeasureSettings } from './types';

/** dist/cli.js beside the running bundle, or the built CLI when running from sources (tests). */
function cliScript(): string {
  const candidates = [path.join(__dirname, 'cli.js'), path.resolve(__dirname, '../../dist/cli.js')];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) throw new UserError('measuring memory needs the built command line (dist/cli.js): run the build');
  return found;
}

function profileArgs(model: string, settings: MeasureSettings): string[] {
  const args = ['profile', model, '--json', '--runs', '3', '--warmup', '1', '--no-per-node', '--threads', String(settings.threads), '--provider', settings.provider];
  for (const [name, dims] of Object.entries(settings.shapes ?? {})) args.push('--shape', `${name}=${dims.join(',')}`);
  if (settings.dataDir) args.push('--data', settings.dataDir);
  return args;
}

export function measureMemory(model: string, settings: MeasureSettings, signal?: AbortSignal): Promise<number> {
  if (signal?.aborted) return Promise.reject(new CancelledError('memory measurement cancelled'));
  return new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [cliScript(), ...profileArgs(model, settings)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const onAbort = () => child.kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(err));
    child.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(new CancelledError('memory measurement cancelled'));
      if (code !== 0) return reject(new UserError(`measuring memory failed: ${stderr.trim().split('\n')[0] || `exit code ${code}`}`));
      try {
        resolve((JSON.parse(stdout) as ProfileReport).peakRssBytes);
      } catch {
        reject(new UserError('measuring memory failed: the profile printed no report'));
      }
    });
  });
}
