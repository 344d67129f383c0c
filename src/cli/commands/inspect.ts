/** `onnx-lean inspect <model>`: structure, parameters, sparsity and MACs per layer. */
import type { Command } from 'commander';
import { inspectModel } from '../../core/inspect';
import type { InspectReport, LayerInfo } from '../../core/reports';
import { loadModel } from '../../onnx';
import { formatBytes, formatCount, formatPercent, formatShape, table } from '../format';
import { parseShape } from '../options';
import { printJson, printText } from '../output';

interface InspectFlags {
  json?: boolean;
  shape?: Record<string, number[]>;
  all?: boolean;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show a model’s inputs, outputs, parameters, sparsity and MACs per layer')
    .argument('<model>', 'path to a .onnx file')
    .option('--shape <name=d0,d1,...>', 'shape for an input with symbolic dimensions (repeatable)', parseShape)
    .option('--all', 'list every layer, not only those with weights or MACs')
    .option('--json', 'print one JSON document')
    .action((model: string, flags: InspectFlags) => {
      const report = inspectModel(loadModel(model), { shapes: flags.shape });
      if (flags.json) printJson(report);
      else printText(renderInspect(report, flags.all === true));
    });
}

function summaryLines(r: InspectReport): string[] {
  const opsets = r.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ');
  const io = (list: InspectReport['inputs']) => list.map((t) => `${t.name} ${t.dtype}${formatShape(t.shape)}`).join(', ');
  return [
    `${r.path}`,
    `  size        ${formatBytes(r.sizeBytes)}${r.externalDataBytes ? ` (${formatBytes(r.externalDataBytes)} external data)` : ''}`,
    `  IR / opsets ${r.irVersion} / ${opsets}${r.producer ? `   producer ${r.producer}` : ''}`,
    `  inputs      ${io(r.inputs)}`,
    `  outputs     ${io(r.outputs)}`,
    `  nodes       ${r.nodeCount}${r.subgraphs ? ` (${r.subgraphs} subgraphs)` : ''}`,
    `  parameters  ${formatCount(r.paramCount)} (${Object.entries(r.paramBytes).map(([d, b]) => `${d} ${formatBytes(b)}`).join(', ') || 'none'})`,
    `  sparsity    ${formatPercent(r.sparsity)}`,
    `  MACs        ${formatCount(r.macs)}${r.macsUnknown ? ` (+${r.macsUnknown} layers unknown)` : ''}`,
  ];
}

function layerTable(layers: LayerInfo[]): string {
  return table(layers, [
    { header: 'layer', value: (l) => l.name },
    { header: 'op', value: (l) => l.opType },
    { header: 'params', value: (l) => formatCount(l.params), align: 'right' },
    { header: 'dtype', value: (l) => l.weightDtypes.join(',') },
    { header: 'sparsity', value: (l) => (l.params ? formatPercent(l.sparsity) : ''), align: 'right' },
    { header: 'MACs', value: (l) => formatCount(l.macs), align: 'right' },
    { header: 'output', value: (l) => l.outputShapes.map(formatShape).join(' ') },
  ]);
}

export function renderInspect(r: InspectReport, all: boolean): string {
  const layers = all ? r.layers : r.layers.filter((l) => l.params > 0 || l.macs !== null);
  const hidden = r.layers.length - layers.length;
  const parts = [...summaryLines(r), '', layerTable(layers)];
  if (hidden) parts.push(`(${hidden} layers without weights not shown; --all lists them)`);
  if (r.warnings.length) parts.push('', ...r.warnings.map((w) => `warning: ${w}`));
  return parts.join('\n');
}
