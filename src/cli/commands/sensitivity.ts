/** `onnx-lean sensitivity <model>`: per-layer fidelity under int8, magnitude and channel pruning. */
import { InvalidArgumentError, type Command } from 'commander';
import { analyzeSensitivity, rankLayers } from '../../analysis/sensitivity';
import type { LayerSensitivity, SensitivityKind, SensitivityLevel, SensitivityMetrics, SensitivityOptions, SensitivityReport } from '../../core/reports';
import { formatCount, table, type Column } from '../format';
import { intParser, parseShape } from '../options';
import { printJson, printText, progressLine } from '../output';

interface SensitivityFlags {
  kinds?: string[];
  levels?: number[];
  channelLevels?: number[];
  data?: string;
  shape?: Record<string, number[]>;
  samples?: number;
  seed?: number;
  floor?: number;
  workers?: number;
  threads?: number;
  proxy?: boolean;
  cacheDir?: string;
  cache: boolean;
  top: number;
  json?: boolean;
}

function listParser(value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new InvalidArgumentError(`expected a comma-separated list (got "${value}")`);
  return items;
}

function numberListParser(value: string): number[] {
  return listParser(value).map((s) => {
    const n = Number(s);
    if (!/^[0-9.eE+-]+$/.test(s) || !Number.isFinite(n)) throw new InvalidArgumentError(`expected numbers (got "${s}")`);
    return n;
  });
}

function numberParser(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number (got "${value}")`);
  return n;
}

function optionsOf(flags: SensitivityFlags): SensitivityOptions {
  return {
    kinds: flags.kinds as SensitivityKind[] | undefined,
    levels: flags.levels,
    channelLevels: flags.channelLevels,
    dataDir: flags.data,
    shapes: flags.shape,
    samples: flags.samples,
    seed: flags.seed,
    floor: flags.floor,
    workers: flags.workers,
    threads: flags.threads,
    proxyOnly: flags.proxy,
    cacheDir: flags.cache ? flags.cacheDir : false,
  };
}

export function registerSensitivity(program: Command, signal: AbortSignal): void {
  program
    .command('sensitivity')
    .description('per-layer fidelity when only that layer is int8-quantized, magnitude-pruned or channel-pruned, and a recommendation for a fidelity floor')
    .argument('<model>', 'path to a .onnx file')
    .option('--kinds <list>', 'what to try on each layer: int8, prune, channels', listParser)
    .option('--levels <list>', 'magnitude-pruning sparsities in [0, 1) (default 0.25,0.5,0.75,0.9)', numberListParser)
    .option('--channel-levels <list>', 'channel-pruning fractions in [0, 1) (default 0.25,0.5)', numberListParser)
    .option('--data <dir>', 'folder of .npz/.npy input samples (default: generated samples)')
    .option('--shape <name=d0,d1,...>', 'shape for an input with symbolic dimensions (repeatable)', parseShape)
    .option('--samples <n>', 'generated samples when no --data (default 4)', intParser(1, 10000))
    .option('--seed <n>', 'seed of the first generated sample (default 1)', intParser(0, 2 ** 31))
    .option('--floor <cosine>', 'fidelity floor of the recommendation (default 0.99)', numberParser)
    .option('--workers <n>', 'worker threads (default: the cores, at most 4)', intParser(1, 64))
    .option('--threads <n>', 'intra-op threads per worker (default: cores / workers)', intParser(1, 1024))
    .option('--proxy', 'only the fast layer-local proxy (each layer’s own output), for models too big for the end-to-end loop')
    .option('--cache-dir <dir>', 'cache folder (default: <tmp>/onnx-lean-cache)')
    .option('--no-cache', 'neither read nor write the cache')
    .option('--top <n>', 'most and least sensitive layers listed in the text output', intParser(1, 10000), 5)
    .option('--json', 'print one JSON document')
    .action(async (model: string, flags: SensitivityFlags) => {
      const progress = progressLine();
      try {
        const report = await analyzeSensitivity(model, optionsOf(flags), { signal, onProgress: (p) => progress.update(`${p.phase} ${p.done}/${p.total}`) });
        progress.done();
        if (flags.json) printJson(report);
        else printText(renderSensitivity(report, flags.top));
      } finally {
        progress.done();
      }
    });
}

// ---------------------------------------------------------------------------------------------------
// Text output

const cos = (m: SensitivityMetrics | undefined | null): string => (m ? m.cosine.toFixed(5) : '-');

function levelColumns(label: string, levels: number[], pick: (l: LayerSensitivity) => SensitivityLevel[]): Column<LayerSensitivity>[] {
  return levels.map((level) => ({ header: `${label}${level}`, value: (l) => cos(pick(l).find((p) => p.level === level)), align: 'right' as const }));
}

function layerTable(r: SensitivityReport): string {
  const columns: Column<LayerSensitivity>[] = [
    { header: 'layer', value: (l) => l.name },
    { header: 'op', value: (l) => l.opType },
    { header: 'params', value: (l) => formatCount(l.params), align: 'right' },
  ];
  if (r.kinds.includes('int8')) columns.push({ header: 'int8', value: (l) => cos(l.int8), align: 'right' });
  if (r.kinds.includes('prune')) columns.push(...levelColumns('p', r.levels, (l) => l.prune));
  if (r.kinds.includes('channels') && r.layers.some((l) => l.channels.length)) columns.push(...levelColumns('ch', r.channelLevels, (l) => l.channels));
  return table(r.layers, columns);
}

function header(r: SensitivityReport): string {
  const kinds = r.kinds.map((k) => (k === 'prune' ? `prune ${r.levels.join('/')}` : k === 'channels' ? `channels ${r.channelLevels.join('/')}` : k)).join(', ');
  const time = r.cached ? `cached (computed in ${(r.computeMs / 1000).toFixed(1)} s)` : `${(r.wallMs / 1000).toFixed(1)} s with ${r.workers} worker${r.workers === 1 ? '' : 's'}`;
  return [`${r.path}: ${r.method} sensitivity of ${r.layers.length} layers (${kinds})`, `  inputs: ${r.inputs}${r.batched ? ', run as one batch' : ''}; ${time}`].join('\n');
}

function ranking(r: SensitivityReport, top: number): string[] {
  const ranked = rankLayers(r.layers);
  if (ranked.length === 0) return [];
  const names = (list: LayerSensitivity[]) => list.map((l) => l.name).join(', ');
  return [`most sensitive:  ${names(ranked.slice(0, top))}`, `least sensitive: ${names(ranked.slice(-top).reverse())}`];
}

function recommendation(r: SensitivityReport): string[] {
  const rec = r.recommendation;
  const int8 = rec.layers.filter((l) => l.precision === 'int8').length;
  const bySparsity = new Map<number, number>();
  for (const l of rec.layers) if (l.sparsity > 0) bySparsity.set(l.sparsity, (bySparsity.get(l.sparsity) ?? 0) + 1);
  const pruned = [...bySparsity].sort(([a], [b]) => a - b).map(([s, n]) => `${n} at sparsity ${s}`);
  const stepped = rec.backedOff.length ? `; ${rec.backedOff.length} setting(s) stepped back to stay above the floor` : '';
  return [
    `recommendation for cosine >= ${rec.floor}: predicted cosine ${rec.predictedCosine.toFixed(4)}${stepped}`,
    `  int8: ${int8} of ${rec.layers.length} layers; pruned: ${pruned.length ? pruned.join(', ') : 'none'}`,
    '  (per-layer losses summed as 1 - cosine; see recommendation.heuristic in --json)',
  ];
}

export function renderSensitivity(r: SensitivityReport, top = 5): string {
  const parts = [header(r), '', layerTable(r), '  (cosine with the unchanged model’s outputs; SQNR and top-1 agreement in --json)', '', ...ranking(r, top), '', ...recommendation(r)];
  if (r.rewriteCheck) parts.push(`weights-as-inputs check: max |error| ${r.rewriteCheck.maxAbsError.toPrecision(2)} against the original model`);
  // Coupled-group membership is visible in the table (equal channel columns); the rest is worth a line.
  const notes = r.layers.flatMap((l) => l.notes.filter((n) => !n.startsWith('channels: coupled')).map((n) => `${l.name}: ${n}`));
  if (notes.length) parts.push('', ...notes.slice(0, 20).map((n) => `note: ${n}`), ...(notes.length > 20 ? [`note: ... and ${notes.length - 20} more (see --json)`] : []));
  if (r.warnings.length) parts.push('', ...r.warnings.map((w) => `warning: ${w}`));
  return parts.join('\n');
}
