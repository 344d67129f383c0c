/** Output-path rules shared by every front end: never overwrite the input, never clobber silently. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors';

export function assertWritableTarget(input: string, output: string, force: boolean): void {
  const resolvedIn = path.resolve(input);
  const resolvedOut = path.resolve(output);
  if (resolvedIn === resolvedOut) throw new UserError(`refusing to overwrite the input model ${input}: choose another output path`);
  if (sameFile(resolvedIn, resolvedOut)) throw new UserError(`${output} is the input model under another name: choose another output path`);
  if (!force && fs.existsSync(resolvedOut)) throw new UserError(`${output} already exists (pass --force to replace it)`);
  const dir = path.dirname(resolvedOut);
  if (!fs.existsSync(dir)) throw new UserError(`cannot write ${output}: folder ${dir} does not exist`);
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

/** "<stem>.<label>.onnx" beside the input, or "<stem>.<label>-2.onnx", ... when taken: never overwrites. */
export function freeSiblingPath(input: string, label: string): string {
  const stem = path.join(path.dirname(input), path.basename(input).replace(/\.onnx$/i, ''));
  for (let i = 1; ; i++) {
    const candidate = `${stem}.${label}${i === 1 ? '' : `-${i}`}.onnx`;
    if (!fs.existsSync(candidate) && !fs.existsSync(`${candidate}.data`)) return candidate;
  }
}
