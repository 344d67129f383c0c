/** `onnx-lean profile <model>`: latency percentiles and per-node time from onnxruntime. */
import type { Command } from 'commander';
import type { GraphOptimizationLevel, ProfileOptions, ProfileReport } from '../../core/reports';
import { profileModel } from '../../runtime/profiler';
import { formatBytes, formatMs, formatPercent, table } from '../format';
import { choiceParser, intParser, parseShape } from '../options';
import { printJson, printText, progressLine } from '../output';

const LEVELS: readonly GraphOptimizationLevel[] = ['disabled', 'basic', 'extended', 'layout', 'all'];

interface ProfileFlags {
  runs: number;
  warmup: number;
  threads: number;
  shape?: Record<string, number[]>;
  data?: string;
  optLevel: GraphOptimizationLevel;
  provider: string;
  seed: number;
  perNode: boolean;
  top: number;
  json?: boolean;
}

export function registerProfile(program: Command, signal: AbortSignal): void {
  program
    .command('profile')
    .description('measure latency percentiles, throughput, memory and per-node time with onnxruntime')
    .argument('<model>', 'path to a .onnx file')
    .option('--runs <n>', 'timed runs', intParser(1, 1_000_000), 50)
    .option('--warmup <n>', 'untimed warm-up runs', intParser(0, 1_000_000), 5)
    .option('--threads <n>', 'intra-op threads (0 = onnxruntime’s default)', intParser(0, 1024), 0)
    .option('--shape <name=d0,d1,...>', 'shape for an input with symbolic dimensions (repeatable)', parseShape)
    .option('--data <dir>', 'folder of .npz/.npy input samples (default: seeded random inputs)')
    .option('--opt-level <level>', `graph optimization level: ${LEVELS.join(', ')}`, choiceParser(LEVELS), 'all')
    .option('--provider <name>', 'execution provider', 'cpu')
    .option('--seed <n>', 'seed for generated inputs', intParser(0, 2 ** 31), 1)
    .option('--no-per-node', 'skip the profiled run that measures per-node time')
    .option('--top <n>', 'nodes to list in the text output', intParser(1, 100000), 15)
    .option('--json', 'print one JSON document')
    .action(async (model: string, flags: ProfileFlags) => {
      const progress = progressLine();
      const options: ProfileOptions = {
        runs: flags.runs,
        warmup: flags.warmup,
        threads: flags.threads,
        shapes: flags.shape,
        dataDir: flags.data,
        graphOptimizationLevel: flags.optLevel,
        executionProvider: flags.provider,
        seed: flags.seed,
        perNode: flags.perNode,
      };
      try {
        const report = await profileModel(model, options, { signal, onProgress: (p) => progress.update(`${p.phase} ${p.done}/${p.total}`) });
        progress.done();
        if (flags.json) printJson(report);
        else printText(renderProfile(report, flags.top));
      } finally {
        progress.done();
      }
    });
}

function latencyTable(r: ProfileReport): string {
  const l = r.latencyMs;
  const rows: [string, string][] = [
    ['mean', formatMs(l.mean)],
    ['p50', formatMs(l.p50)],
    ['p95', formatMs(l.p95)],
    ['p99', formatMs(l.p99)],
    ['min', formatMs(l.min)],
    ['max', formatMs(l.max)],
    ['stdev', formatMs(l.stdev)],
  ];
  return table(rows, [
    { header: 'latency', value: (r) => r[0] },
    { header: 'ms', value: (r) => r[1], align: 'right' },
  ]);
}

function nodeTable(r: ProfileReport, top: number): string {
  const nodes = [...r.nodes].sort((a, b) => b.meanUs - a.meanUs).slice(0, top);
  return table(nodes, [
    { header: 'node', value: (n) => n.name + (n.inserted ? ' (added by ORT)' : '') },
    { header: 'op', value: (n) => n.opType },
    { header: 'µs/run', value: (n) => n.meanUs.toFixed(1), align: 'right' },
    { header: 'share', value: (n) => formatPercent(n.share), align: 'right' },
  ]);
}

export function renderProfile(r: ProfileReport, top: number): string {
  const inputs = r.inputs.map((i) => `${i.name} ${i.dtype}[${i.shape.join(', ')}] (${i.source})`).join(', ');
  const parts = [
    `${r.path}`,
    `  session created in ${formatMs(r.sessionCreateMs)} ms; ${r.runs} runs after ${r.warmup} warm-up; ${r.threads} threads; ${r.executionProvider}; optimization ${r.graphOptimizationLevel}`,
    `  inputs ${inputs}`,
    `  throughput ${r.throughput.toFixed(1)} runs/s; peak RSS ${formatBytes(r.peakRssBytes)}`,
    '',
    latencyTable(r),
  ];
  if (r.nodes.length) parts.push('', `per-node time (${r.profiledRuns} profiled runs; top ${Math.min(top, r.nodes.length)} of ${r.nodes.length}):`, nodeTable(r, top));
  if (r.warnings.length) parts.push('', ...r.warnings.map((w) => `warning: ${w}`));
  return parts.join('\n');
}
