/**
 * The `onnx-lean` command line: the headless front door to the core, for CI and scripts.
 * Exit codes: 0 success, 1 error (one line on stderr), 2 usage error, 130 interrupted.
 */
import { Command, CommanderError } from 'commander';
import { describeError } from '../core/errors';
import { registerCheck } from './commands/check';
import { registerCompare } from './commands/compare';
import { registerConvert } from './commands/convert';
import { registerInspect } from './commands/inspect';
import { registerOptimize } from './commands/optimize';
import { registerProfile } from './commands/profile';
import { registerSample } from './commands/sample';
import { registerSensitivity } from './commands/sensitivity';

const VERSION = '0.1.0';

function buildProgram(signal: AbortSignal): Command {
  const program = new Command('onnx-lean')
    .description('Profile and optimize ONNX models, offline, without Python.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  registerInspect(program);
  registerProfile(program, signal);
  registerConvert(program);
  registerOptimize(program, signal);
  registerCompare(program, signal);
  registerSample(program);
  registerSensitivity(program, signal);
  registerCheck(program, signal);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'CancelledError')) return 130;
  return 1;
}

async function main(argv: string[]): Promise<number> {
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  try {
    await buildProgram(abort.signal).parseAsync(argv);
    return 0;
  } catch (err) {
    const code = exitCodeFor(err);
    // Commander has already printed usage errors and help.
    if (!(err instanceof CommanderError)) {
      process.stderr.write(`onnx-lean: ${describeError(err)}\n`);
      if (process.env.ONNX_LEAN_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    }
    return code;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`onnx-lean: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
