/**
 * The weight-magnitude histogram of the active layer, with a dashed line at the pruning threshold for
 * the slider's sparsity: exact when the server's preview covers the layer, otherwise interpolated from
 * the histogram's cumulative counts. Exact zeros are left out of the first bar (they would dwarf it)
 * and counted in the caption.
 */
import type { Plugin } from 'chart.js';
import type { WeightHistogram } from '../../../src/shared/webviewProtocol.js';
import { el, fill, setText } from '../../dom.js';
import { compact, magnitude, percent } from '../../state/format.js';
import type { Fetched } from '../../state/store.js';
import { createChart, type BarChart } from './setup.js';
import type { ChartTheme } from './theme.js';

export interface Threshold {
  value: number;
  exact: boolean;
  sparsity: number;
}

function thresholdPlugin(current: { threshold: Threshold | null; theme: ChartTheme }): Plugin<'bar'> {
  return {
    id: 'pruneThreshold',
    afterDatasetsDraw(chart) {
      const t = current.threshold;
      if (!t) return;
      const x = chart.scales.x.getPixelForValue(t.value);
      const { top, bottom, right } = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = current.theme.threshold;
      ctx.lineWidth = 2;
      ctx.setLineDash([5, 3]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, bottom);
      ctx.stroke();
      ctx.fillStyle = current.theme.foreground;
      ctx.textAlign = x > right - 120 ? 'right' : 'left';
      ctx.fillText(`prune |w| ≤ ${magnitude(t.value)}`, x + (ctx.textAlign === 'right' ? -6 : 6), top + 12);
      ctx.restore();
    },
  };
}

export class HistogramChart {
  readonly element: HTMLElement;
  private readonly heading = el('h2', { id: 'histogram-heading' }, 'Weight magnitudes');
  private readonly body = el('div', { class: 'chart-body' });
  private readonly caption = el('p', { class: 'chart-caption', 'aria-live': 'polite' });
  private chart: BarChart | undefined;
  private readonly current: { threshold: Threshold | null; theme: ChartTheme };
  private data: WeightHistogram | undefined;

  private readonly logScale = el('input', { type: 'checkbox', id: 'histogram-log' });

  constructor(theme: ChartTheme, onLogScale: (log: boolean) => void) {
    this.current = { threshold: null, theme };
    this.logScale.addEventListener('change', () => onLogScale(this.logScale.checked));
    const toggle = el('label', { class: 'check-label', for: 'histogram-log' }, this.logScale, 'Log scale');
    this.element = el('section', { class: 'card chart-card', 'aria-labelledby': 'histogram-heading' }, el('div', { class: 'card-head' }, this.heading, toggle), this.body, this.caption);
  }

  /** A new histogram (or its absence, loading state, error) for the active layer. */
  show(layer: string | null, fetched: Fetched<WeightHistogram> | null, theme: ChartTheme, log: boolean): void {
    this.logScale.checked = log;
    this.chart?.destroy();
    this.chart = undefined;
    this.data = undefined;
    this.current.theme = theme;
    setText(this.heading, layer ? `Weight magnitudes: ${layer}` : 'Weight magnitudes');
    setText(this.caption, '');
    if (!layer) return fill(this.body, el('p', { class: 'empty' }, 'Select a layer in the table to see the magnitudes of its weights.'));
    if (fetched?.note) return fill(this.body, el('p', { class: 'empty' }, fetched.note));
    if (!fetched || (!fetched.data && !fetched.error)) return fill(this.body, el('p', { class: 'empty' }, 'Reading the weights…'));
    if (fetched.error) return fill(this.body, el('p', { class: 'empty error-text' }, fetched.error));
    const h = fetched.data as WeightHistogram;
    if (h.count === 0) return fill(this.body, el('p', { class: 'empty' }, 'This layer has no prunable weights (floating-point tensors with two or more dimensions).'));
    this.data = h;
    const canvas = el('canvas', { role: 'img', 'aria-label': `Histogram of ${h.count} weight magnitudes from 0 to ${magnitude(h.absMax)} in ${h.counts.length} bins.` });
    fill(this.body, el('div', { class: 'chart-box histogram-box' }, canvas));
    this.chart = this.draw(canvas, h, theme, log);
    this.describe();
  }

  /** Moves the threshold line (the slider moved, or the exact preview arrived). */
  setThreshold(threshold: Threshold | null): void {
    this.current.threshold = threshold;
    this.chart?.draw();
    this.describe();
  }

  private describe(): void {
    const h = this.data;
    if (!h) return;
    const t = this.current.threshold;
    const zeros = h.zeros > 0 ? `; ${compact(h.zeros)} exact zeros (${percent(h.zeros / h.count)}) not drawn` : '';
    const parts = [`${compact(h.count)} weights in ${h.tensors.join(', ')}; range ${magnitude(h.min)} to ${magnitude(h.max)}${zeros}.`];
    if (t) parts.push(`At ${percent(t.sparsity, 0)} sparsity the threshold is ${magnitude(t.value)} (${t.exact ? 'exact, from the weights' : 'interpolated from the histogram'}).`);
    if (h.nonFinite > 0) parts.push(`${h.nonFinite} NaN or infinite values left out.`);
    setText(this.caption, parts.join(' '));
  }

  private draw(canvas: HTMLCanvasElement, h: WeightHistogram, theme: ChartTheme, log: boolean): BarChart {
    const width = h.absMax / h.counts.length;
    const points = h.counts.map((c, i) => ({ x: (i + 0.5) * width, y: i === 0 ? c - h.zeros : c }));
    return createChart(
      canvas,
      {
        type: 'bar',
        data: { datasets: [{ data: points, backgroundColor: theme.bar, borderColor: theme.foreground, borderWidth: theme.highContrast ? 1 : 0, barPercentage: 1, categoryPercentage: 1 }] },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          scales: { x: { type: 'linear', min: 0, max: h.absMax || 1, title: { display: true, text: '|w|' } }, y: log ? { type: 'logarithmic', title: { display: true, text: 'weights (log)' } } : { beginAtZero: true, title: { display: true, text: 'weights' } } },
          plugins: { tooltip: { callbacks: { title: (items) => `|w| in [${magnitude(items[0].dataIndex * width)}, ${magnitude((items[0].dataIndex + 1) * width)})`, label: (item) => `${compact(h.counts[item.dataIndex])} weights` } } },
        },
      },
      [thresholdPlugin(this.current)],
    );
  }
}
