/** `onnx-lean optimize <model>`: presets or passes in order, verified in onnxruntime, compared with the input. */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { OptimizeReport } from '../../core/reports';
import { UserError } from '../../core/errors';
import { parseRawOptions } from '../../passes/options';
import { calibrateForPipeline } from '../../pipeline/calibration';
import { optimizeModel } from '../../pipeline/optimize';
import type { PassStep } from '../../pipeline/presets';
import { formatMs, table } from '../format';
import { intParser, parseShape } from '../options';
import { printJson, printText, progressLine } from '../output';
import { runBudgetPlan } from './check';
import { fidelityTable, speedAndSize } from './fidelityTable';

interface OptimizeFlags {
  preset?: string;
  pass: PassStep[];
  output?: string;
  data?: string;
  evalData?: string;
  exclude: string[];
  shape?: Record<string, number[]>;
  force?: boolean;
  compare: boolean;
  samples: number;
  runs: number;
  threads: number;
  json?: boolean;
  budget?: string;
}

/** "--pass prune-magnitude:sparsity=0.5,scope=layer" -> { name, options } */
function parsePass(value: string, previous: PassStep[] = []): PassStep[] {
  const colon = value.indexOf(':');
  const name = (colon < 0 ? value : value.slice(0, colon)).trim();
  if (!/^[a-z0-9-]+$/.test(name)) throw new InvalidArgumentError(`expected NAME[:key=value,...] (got "${value}")`);
  try {
    return [...previous, { name, options: colon < 0 ? {} : parseRawOptions(value.slice(colon + 1)) }];
  } catch (err) {
    throw new InvalidArgumentError(err instanceof UserError ? err.message : String(err));
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerOptimize(program: Command, signal: AbortSignal): void {
  program
    .command('optimize')
    .description('apply a preset or passes, verify the result in onnxruntime, and compare it with the input')
    .argument('<model>', 'path to a .onnx file (never modified)')
    .option('--preset <name>', 'int8 (static QDQ for conv models, dynamic for MatMul models), fp16, int4, prune50, slim, cleanup')
    .option('--pass <name[:key=value,...]>', 'a pass with options, in order (repeatable)', parsePass, [])
    .option('-o, --output <file>', 'output path (default: beside the input, <model>.<preset>.onnx)')
    .option('--data <dir>', 'calibration and evaluation samples (.npz/.npy): 3/4 calibrate, 1/4 evaluate; default: generated')
    .option('--eval-data <dir>', 'samples for the comparison only (then all of --data calibrates)')
    .option('--exclude <pattern>', 'node name or op type to leave untouched, * wildcards (repeatable)', collect, [])
    .option('--shape <name=d0,d1,...>', 'shape for an input with symbolic dimensions (repeatable)', parseShape)
    .option('--force', 'replace the output file if it exists')
    .option('--no-compare', 'skip the comparison with the input (fidelity and latency)')
    .option('--samples <n>', 'generated samples for calibration and comparison', intParser(1, 10000), 8)
    .option('--runs <n>', 'timed runs of each model in the comparison', intParser(1, 1_000_000), 20)
    .option('--threads <n>', 'intra-op threads (0 = onnxruntime’s default)', intParser(0, 1024), 0)
    .option('--json', 'print one JSON document')
    .option('--budget <file>', 'search for a configuration that meets the model\'s entry in this onnx-budget.json (uses --data; see docs/cli.md)')
    .action(async (model: string, flags: OptimizeFlags) => {
      if (flags.budget) return runBudgetPlan(model, flags.budget, { data: flags.data, json: flags.json }, signal);
      const progress = progressLine();
      try {
        const report = await optimizeModel(
          {
            input: model,
            output: flags.output,
            force: flags.force,
            preset: flags.preset,
            passes: flags.pass,
            dataDir: flags.data,
            evalDataDir: flags.evalData,
            exclude: flags.exclude,
            shapes: flags.shape,
            compare: flags.compare ? { samples: flags.samples, runs: flags.runs } : false,
            threads: flags.threads,
          },
          { signal, onProgress: (p) => progress.update(`${p.phase} ${p.done}/${p.total}`), calibrate: calibrateForPipeline },
        );
        progress.done();
        if (flags.json) printJson(report);
        else printText(renderOptimize(report));
      } finally {
        progress.done();
      }
    });
}

function passTable(r: OptimizeReport): string {
  return table(r.passes, [
    { header: 'pass', value: (p) => p.pass },
    { header: 'changed', value: (p) => String(p.changed.length), align: 'right' },
    { header: 'skipped', value: (p) => String(p.skipped.length), align: 'right' },
    { header: 'ms', value: (p) => formatMs(p.timeMs), align: 'right' },
    { header: 'ORT fused', value: (p) => Object.entries(p.fusions.fused).map(([op, n]) => `${op}×${n}`).join(' ') },
  ], 72);
}

function renderOptimize(r: OptimizeReport): string {
  const parts = [`${r.input} -> ${r.output}`, '', passTable(r), '', speedAndSize(r.latencyMs, r.sizeBytes)];
  if (r.fidelity.length) parts.push('', fidelityTable(r.fidelity));
  const unfused = Object.entries(r.fusions.unfused).map(([op, n]) => `${op}×${n}`).join(' ');
  if (unfused) parts.push('', `left unfused by onnxruntime: ${unfused}`);
  const t = r.timingsMs;
  parts.push('', `time: load ${formatMs(t.load)} ms, calibration ${formatMs(t.calibration)} ms, passes ${formatMs(t.passes)} ms, verify ${formatMs(t.verify)} ms, save ${formatMs(t.save)} ms, compare ${formatMs(t.compare)} ms`);
  if (r.warnings.length) parts.push('', ...r.warnings.map((w) => `note: ${w}`));
  return parts.join('\n');
}
