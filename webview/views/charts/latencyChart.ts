/**
 * Latency share per layer: the top N layers of the profile as horizontal bars, largest first. Until
 * the model is profiled it shows what to do instead. Clicking a bar moves the table to that layer.
 */
import type { NodeTime } from '../../../src/core/reports.js';
import type { ProfileReport } from '../../../src/shared/webviewProtocol.js';
import { el, fill, setText } from '../../dom.js';
import { micros, percent } from '../../state/format.js';
import { TOP_N_CHOICES } from '../../state/uiState.js';
import { createChart, shorten, type BarChart } from './setup.js';
import type { ChartTheme } from './theme.js';

export interface LatencyChartEvents {
  pick(layer: string): void;
  topN(n: number): void;
}

export function topShares(profile: ProfileReport, n: number): NodeTime[] {
  return [...profile.nodes].sort((a, b) => b.share - a.share).slice(0, n);
}

export class LatencyChart {
  readonly element: HTMLElement;
  private readonly body = el('div', { class: 'chart-body' });
  private readonly select: HTMLSelectElement;
  private chart: BarChart | undefined;
  private shown: NodeTime[] = [];

  constructor(private readonly events: LatencyChartEvents) {
    this.select = el('select', { 'aria-label': 'Layers in the latency chart', class: 'compact-select' }, ...TOP_N_CHOICES.map((n) => el('option', { value: n }, `Top ${n}`)));
    this.select.addEventListener('change', () => events.topN(Number(this.select.value)));
    this.element = el('section', { class: 'card chart-card', 'aria-labelledby': 'latency-heading' }, el('div', { class: 'card-head' }, el('h2', { id: 'latency-heading' }, 'Latency share per layer'), this.select), this.body);
  }

  update(profile: ProfileReport | undefined, topN: number, theme: ChartTheme): void {
    this.select.value = String(topN);
    this.select.disabled = !profile;
    this.chart?.destroy();
    this.chart = undefined;
    if (!profile || profile.nodes.length === 0) {
      fill(this.body, el('p', { class: 'empty' }, profile ? 'The profile has no per-node times.' : 'Not profiled yet. Profile the model to see which layers take the time.'));
      return;
    }
    this.shown = topShares(profile, topN);
    const canvas = el('canvas', { role: 'img' });
    const box = el('div', { class: 'chart-box' }, canvas);
    box.style.height = `${this.shown.length * 18 + 36}px`;
    const caption = el('p', { class: 'chart-caption' });
    setText(caption, `${profile.profiledRuns} profiled runs; shares of the total kernel time. The table has every layer.`);
    fill(this.body, box, caption);
    canvas.setAttribute('aria-label', this.describe());
    this.chart = this.draw(canvas, theme);
  }

  private describe(): string {
    const top = this.shown[0];
    return `Bar chart of the ${this.shown.length} layers with the largest share of run time; the largest is ${top.name} (${top.opType}) with ${percent(top.share)}.`;
  }

  private draw(canvas: HTMLCanvasElement, theme: ChartTheme): BarChart {
    const nodes = this.shown;
    return createChart(canvas, {
      type: 'bar',
      data: { labels: nodes.map((n) => shorten(n.name)), datasets: [{ data: nodes.map((n) => 100 * n.share), backgroundColor: theme.bar, borderColor: theme.highContrast ? theme.foreground : theme.bar, borderWidth: theme.highContrast ? 1 : 0 }] },
      options: {
        indexAxis: 'y',
        responsive: true,
        maintainAspectRatio: false,
        onClick: (_event, elements) => {
          const hit = elements[0];
          if (hit) this.events.pick(nodes[hit.index].name);
        },
        scales: { x: { title: { display: true, text: '% of kernel time' }, beginAtZero: true }, y: { ticks: { autoSkip: false } } },
        plugins: {
          tooltip: {
            callbacks: {
              title: (items) => nodes[items[0].dataIndex].name,
              label: (item) => `${nodes[item.dataIndex].opType}: ${micros(nodes[item.dataIndex].meanUs)} per run, ${percent(nodes[item.dataIndex].share)}`,
            },
          },
        },
      },
    });
  }
}
