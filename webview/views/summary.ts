/** The model summary: size, parameters, opsets, inputs and outputs with shapes, and latency once profiled. */
import type { InspectReport, ProfileReport } from '../../src/shared/webviewProtocol.js';
import { el, fill, type Child } from '../dom.js';
import { bytes, compact, millis, percent, tensorLabel } from '../state/format.js';

function fact(label: string, ...value: Child[]): HTMLElement {
  return el('div', { class: 'fact' }, el('dt', {}, label), el('dd', {}, ...value));
}

/** A fact that takes two grid columns (tensor lists with long shapes). */
function wideFact(label: string, value: Child): HTMLElement {
  const f = fact(label, value);
  f.classList.add('wide');
  return f;
}

function bytesByDtype(byDtype: Record<string, number>): string {
  const parts = Object.entries(byDtype)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([dtype, n]) => `${dtype} ${bytes(n)}`);
  return parts.join(', ');
}

function tensorList(tensors: InspectReport['inputs']): HTMLElement {
  if (tensors.length === 0) return el('span', { class: 'muted' }, 'none');
  return el('ul', { class: 'tensor-list' }, ...tensors.map((t) => el('li', {}, el('span', { class: 'tensor-name' }, t.name), ' ', el('code', {}, tensorLabel(t.dtype, t.shape)))));
}

function latency(profile: ProfileReport | undefined): Child[] {
  if (!profile) return [el('span', { class: 'muted' }, 'not profiled yet')];
  const l = profile.latencyMs;
  return [
    el('span', { class: 'big' }, millis(l.p50)),
    el('span', { class: 'muted' }, ` p50 · p95 ${millis(l.p95)} · ${profile.runs} runs · ${profile.threads || 'auto'} threads · ${profile.executionProvider}`),
  ];
}

function opsets(report: InspectReport): string {
  return report.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ') || 'none';
}

export function renderSummary(target: HTMLElement, report: InspectReport, profile: ProfileReport | undefined): void {
  const external = report.externalDataBytes > 0 ? ` (${bytes(report.externalDataBytes)} external data)` : '';
  const macsNote = report.macsUnknown > 0 ? ` (${report.macsUnknown} layers unknown)` : '';
  fill(
    target,
    el(
      'dl',
      { class: 'facts' },
      fact('Size', el('span', { class: 'big' }, bytes(report.sizeBytes)), external),
      fact('Parameters', el('span', { class: 'big' }, compact(report.paramCount)), el('span', { class: 'muted' }, ` ${bytesByDtype(report.paramBytes)}`)),
      fact('Sparsity', el('span', { class: 'big' }, percent(report.sparsity)), el('span', { class: 'muted' }, ' exact zeros')),
      fact('MACs', el('span', { class: 'big' }, compact(report.macs)), macsNote),
      fact('Latency', ...latency(profile)),
      fact('Layers', `${report.layers.length} layers, ${report.nodeCount} nodes${report.subgraphs ? `, ${report.subgraphs} subgraphs` : ''}`),
      fact('Opsets', `${opsets(report)} · IR ${report.irVersion}`),
      fact('Producer', report.producer || 'unknown'),
      wideFact('Inputs', tensorList(report.inputs)),
      wideFact('Outputs', tensorList(report.outputs)),
    ),
    report.warnings.length > 0 ? el('details', { class: 'warnings' }, el('summary', {}, `${report.warnings.length} inspection warning(s)`), el('ul', {}, ...report.warnings.map((w) => el('li', {}, w)))) : null,
  );
}
