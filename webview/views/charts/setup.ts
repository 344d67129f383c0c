/**
 * Chart.js with only what the Layer Report draws (bar charts on category and linear axes, tooltips),
 * registered once, themed from VS Code's colours, without animation (instant redraws for big models).
 */
import { BarController, BarElement, CategoryScale, Chart, LinearScale, LogarithmicScale, Tooltip, type ChartConfiguration, type Plugin } from 'chart.js';
import type { ChartTheme } from './theme.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, Tooltip);

export type BarChart = Chart<'bar', (number | { x: number; y: number })[], string | number>;
export type BarConfig = ChartConfiguration<'bar', (number | { x: number; y: number })[], string | number>;

export function applyTheme(theme: ChartTheme): void {
  Chart.defaults.color = theme.foreground;
  Chart.defaults.borderColor = theme.grid;
  Chart.defaults.font.family = theme.font;
  Chart.defaults.font.size = 11;
  Chart.defaults.animation = false;
}

export function createChart(canvas: HTMLCanvasElement, config: BarConfig, plugins: Plugin<'bar'>[] = []): BarChart {
  return new Chart(canvas, { ...config, plugins });
}

/** Shortens a label for an axis (the tooltip shows it whole). */
export function shorten(text: string, max = 28): string {
  return text.length <= max ? text : `…${text.slice(text.length - max + 1)}`;
}
