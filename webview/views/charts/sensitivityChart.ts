/**
 * Sensitivity per layer: the layers whose int8 quantization (alone) hurts the outputs most, as SQNR
 * bars (lower is worse). A placeholder explains the chart until results exist.
 */
import type { SensitivityLayer, SensitivityResult } from '../../../src/shared/webviewProtocol.js';
import { el, fill } from '../../dom.js';
import { decibels } from '../../state/format.js';
import { createChart, shorten, type BarChart } from './setup.js';
import type { ChartTheme } from './theme.js';

const SHOWN = 15;

interface Point {
  layer: SensitivityLayer;
  sqnrDb: number;
  what: string;
}

/** The worst SQNR a layer shows: int8 when measured, otherwise its harshest pruning level. */
function worst(layer: SensitivityLayer): Point | undefined {
  if (layer.int8) return { layer, sqnrDb: layer.int8.sqnrDb, what: 'int8' };
  const harshest = [...(layer.prune ?? [])].sort((a, b) => b.level - a.level)[0];
  return harshest ? { layer, sqnrDb: harshest.sqnrDb, what: `pruned ${Math.round(100 * harshest.level)}%` } : undefined;
}

export function mostSensitive(result: SensitivityResult, n: number): Point[] {
  return result.layers
    .map(worst)
    .filter((p): p is Point => p !== undefined && Number.isFinite(p.sqnrDb))
    .sort((a, b) => a.sqnrDb - b.sqnrDb)
    .slice(0, n);
}

export class SensitivityChart {
  readonly element: HTMLElement;
  private readonly body = el('div', { class: 'chart-body' });
  private chart: BarChart | undefined;

  constructor(private readonly pick: (layer: string) => void) {
    this.element = el('section', { class: 'card chart-card', 'aria-labelledby': 'sensitivity-heading' }, el('div', { class: 'card-head' }, el('h2', { id: 'sensitivity-heading' }, 'Sensitivity per layer')), this.body);
  }

  update(result: SensitivityResult | undefined, theme: ChartTheme): void {
    this.chart?.destroy();
    this.chart = undefined;
    const points = result ? mostSensitive(result, SHOWN) : [];
    if (points.length === 0) {
      const text = result
        ? 'The sensitivity result has no layer figures.'
        : 'No sensitivity results yet. Analyze Sensitivity changes one layer at a time (int8, pruning levels) and measures how far the outputs move (SQNR, cosine).';
      fill(this.body, el('p', { class: 'empty' }, text));
      return;
    }
    const canvas = el('canvas', { role: 'img', 'aria-label': `Bar chart of the ${points.length} most sensitive layers by output SQNR; the most sensitive is ${points[0].layer.name} at ${decibels(points[0].sqnrDb)}.` });
    const box = el('div', { class: 'chart-box' }, canvas);
    box.style.height = `${points.length * 18 + 36}px`;
    fill(this.body, box, el('p', { class: 'chart-caption' }, 'Lower SQNR: the outputs move more when only this layer is changed.'));
    this.chart = createChart(canvas, {
      type: 'bar',
      data: { labels: points.map((p) => shorten(p.layer.name)), datasets: [{ data: points.map((p) => p.sqnrDb), backgroundColor: theme.barHighlight, borderColor: theme.foreground, borderWidth: theme.highContrast ? 1 : 0 }] },
      options: {
        indexAxis: 'y',
        responsive: true,
        maintainAspectRatio: false,
        onClick: (_e, elements) => elements[0] && this.pick(points[elements[0].index].layer.name),
        scales: { x: { title: { display: true, text: 'output SQNR (dB)' } }, y: { ticks: { autoSkip: false } } },
        plugins: { tooltip: { callbacks: { title: (items) => points[items[0].dataIndex].layer.name, label: (item) => `${points[item.dataIndex].what}: ${decibels(points[item.dataIndex].sqnrDb)}` } } },
      },
    });
  }
}
