/** `onnx-lean compare <reference> <candidate>`: fidelity per output, latency and size of two models. */
import type { Command } from 'commander';
import type { CompareReport } from '../../core/reports';
import { compareModels } from '../../runtime/compare';
import { intParser, parseShape } from '../options';
import { printJson, printText, progressLine } from '../output';
import { fidelityTable, speedAndSize } from './fidelityTable';

interface CompareFlags {
  data?: string;
  shape?: Record<string, number[]>;
  samples: number;
  runs: number;
  threads: number;
  seed: number;
  json?: boolean;
}

export function registerCompare(program: Command, signal: AbortSignal): void {
  program
    .command('compare')
    .description('run two models on the same inputs: cosine, SQNR, errors, top-k agreement, latency and size')
    .argument('<reference>', 'the original model')
    .argument('<candidate>', 'the optimized model')
    .option('--data <dir>', 'folder of .npz/.npy input samples (default: generated samples)')
    .option('--shape <name=d0,d1,...>', 'shape for an input with symbolic dimensions (repeatable)', parseShape)
    .option('--samples <n>', 'generated samples when no --data', intParser(1, 10000), 8)
    .option('--runs <n>', 'timed runs of each model (interleaved)', intParser(1, 1_000_000), 20)
    .option('--threads <n>', 'intra-op threads (0 = onnxruntime’s default)', intParser(0, 1024), 0)
    .option('--seed <n>', 'seed of the first generated sample', intParser(0, 2 ** 31), 1)
    .option('--json', 'print one JSON document')
    .action(async (reference: string, candidate: string, flags: CompareFlags) => {
      const progress = progressLine();
      try {
        const report = await compareModels(reference, candidate, { dataDir: flags.data, shapes: flags.shape, samples: flags.samples, runs: flags.runs, threads: flags.threads, seed: flags.seed }, { signal, onProgress: (p) => progress.update(`${p.phase} ${p.done}/${p.total}`) });
        progress.done();
        if (flags.json) printJson(report);
        else printText(renderCompare(report));
      } finally {
        progress.done();
      }
    });
}

function renderCompare(r: CompareReport): string {
  const latency = { before: r.latencyMs.reference, after: r.latencyMs.candidate, ratioP50: r.latencyMs.ratioP50, ratioP95: r.latencyMs.ratioP95 };
  const size = { before: r.sizeBytes.reference, after: r.sizeBytes.candidate, ratio: r.sizeBytes.ratio };
  const parts = [`${r.reference} vs ${r.candidate}`, `  inputs: ${r.inputs}`, '', fidelityTable(r.outputs), '', speedAndSize(latency, size)];
  const warnings = [...r.warnings, ...r.outputs.flatMap((o) => o.warnings)];
  if (warnings.length) parts.push('', ...warnings.map((w) => `warning: ${w}`));
  return parts.join('\n');
}
