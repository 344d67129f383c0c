/**
 * The Layer Report (ONNX Lean's custom editor for .onnx files) as a person sees it in its webview: the
 * title, the layer table, Analyze Sensitivity, the pruning preview with its slider, Apply. Selectors
 * follow webview/views/*; every wait is for a condition, with a deadline.
 */
import type { Frame, Locator } from 'playwright-core';
import { extensionId } from './extension';
import { poll } from './wait';
import type { Workbench } from './workbench';

/** The panel's notice when the engine has no `onnxLean/sensitivity` (src/extension/layerReport/sensitivity.ts). */
export const SENSITIVITY_UNAVAILABLE = 'Sensitivity analysis is not available yet in this version of ONNX Lean.';

export interface TableRow {
  /** Position in the table, 0-based (the model's order unless sorted). */
  position: number;
  /** Cell texts by column: name, opType, params, dtype, sparsity, macs, timeUs, share, sensitivity. */
  cells: Record<'name' | 'opType' | 'params' | 'dtype' | 'sparsity' | 'macs' | 'timeUs' | 'share' | 'sensitivity', string>;
  /** Whether the row has an enabled pruning checkbox. */
  prunable: boolean;
}

export interface PruneFigures {
  /** The slider's value as shown, e.g. "50%". */
  slider: string;
  /** "Sparsity" figure, e.g. "0.0% → 50.0%". */
  sparsity: string;
  /** "Non-zero weights kept". */
  kept: string;
  /** "Model sparsity after". */
  modelSparsityAfter: string;
  /** The preview says its figures are exact (computed from the weights by the engine). */
  exact: boolean;
  /** The histogram's caption: "At 50% sparsity the threshold is 0.0812 (exact, from the weights)." */
  threshold: string;
}

export type SensitivityOutcome = { available: false; notice: string } | { available: true; chartLabel: string; sensitivityCells: string[] };

const COLUMNS = ['name', 'opType', 'params', 'dtype', 'sparsity', 'macs', 'timeUs', 'share', 'sensitivity'] as const;
const UI_TIMEOUT = 15_000;

export class LayerReport {
  private constructor(
    readonly frame: Frame,
    readonly fileName: string,
  ) {}

  /** The open Layer Report of `fileName` (a base name), once its table is filled. */
  static async find(workbench: Workbench, fileName: string, timeoutMs = 30_000): Promise<LayerReport> {
    const frame = await workbench.webviewFrame(async (f) => (await f.locator('h1 .file-name').innerText({ timeout: 1000 })).trim() === fileName, { extensionId: extensionId(), timeoutMs });
    const report = new LayerReport(frame, fileName);
    await frame.locator('.grid-body .grid-row:not([hidden])').first().waitFor({ state: 'visible', timeout: timeoutMs });
    return report;
  }

  /** "Layer Report cnn.onnx" */
  async title(): Promise<string> {
    return (await this.frame.locator('h1').innerText()).replace(/\s+/g, ' ').trim();
  }

  /** The count beside the table's heading, e.g. "18 layers". */
  async layerCountText(): Promise<string> {
    return (await this.frame.locator('.layers-card .card-head .muted').innerText()).trim();
  }

  /** Rows of the table (aria-rowcount counts the header row too). */
  async rowCount(): Promise<number> {
    return Number(await this.frame.locator('[role=grid]').getAttribute('aria-rowcount')) - 1;
  }

  /** The rows the (virtual) table has rendered, in display order. */
  async renderedRows(): Promise<TableRow[]> {
    const raw = await this.frame.locator('.grid-body .grid-row:not([hidden])').evaluateAll((rows) =>
      rows.map((row) => ({
        rowIndex: Number(row.getAttribute('aria-rowindex')),
        cells: Array.from(row.querySelectorAll('[role=gridcell]:not(.cell-check)')).map((c) => (c.textContent ?? '').trim()),
        prunable: row.querySelector<HTMLInputElement>('input[type=checkbox]')?.disabled === false,
      })),
    );
    return raw
      .map((r) => ({ position: r.rowIndex - 2, prunable: r.prunable, cells: Object.fromEntries(COLUMNS.map((c, i) => [c, r.cells[i] ?? ''])) as TableRow['cells'] }))
      .sort((a, b) => a.position - b.position);
  }

  private row(name: string): Locator {
    return this.frame.locator('.grid-body .grid-row:not([hidden])').filter({ has: this.frame.locator('[role=gridcell]', { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });
  }

  /** Ticks a layer's pruning checkbox (the layer becomes the cursor too, so the histogram shows it). */
  async selectLayer(name: string): Promise<void> {
    await this.row(name).locator('input[type=checkbox]').check({ timeout: UI_TIMEOUT });
  }

  /** Notices at the top of the panel (failed requests, features not available yet). */
  async notices(): Promise<string[]> {
    return (await this.frame.locator('.notices .notice p').allInnerTexts()).map((t) => t.trim());
  }

  /**
   * Clicks Analyze Sensitivity and waits for the outcome: the results (the chart of the most sensitive
   * layers), or the panel's "not available yet" notice. Any other notice (a failure) throws.
   */
  async analyzeSensitivity(timeoutMs: number): Promise<SensitivityOutcome> {
    const before = new Set(await this.notices());
    await this.frame.locator('vscode-button', { hasText: 'Analyze Sensitivity' }).click({ timeout: UI_TIMEOUT });
    const chart = this.frame.locator('section', { has: this.frame.locator('h2', { hasText: 'Sensitivity per layer' }) }).locator('canvas[aria-label]');
    const outcome = await poll<SensitivityOutcome | { failed: string }>(
      async () => {
        const fresh = (await this.notices()).filter((n) => !before.has(n));
        if (fresh.includes(SENSITIVITY_UNAVAILABLE)) return { available: false, notice: SENSITIVITY_UNAVAILABLE };
        if (fresh.length > 0) return { failed: fresh[0] };
        if ((await chart.count()) === 0) return undefined;
        const rows = await this.renderedRows();
        return { available: true, chartLabel: (await chart.first().getAttribute('aria-label')) ?? '', sensitivityCells: rows.map((r) => r.cells.sensitivity) };
      },
      { timeoutMs, intervalMs: 200, what: 'the sensitivity analysis to finish (a chart or a notice)' },
    );
    if ('failed' in outcome) throw new Error(`Analyze Sensitivity ended with the notice "${outcome.failed}"`);
    // Show what came out (the chart is below the table), for the screenshots.
    await (outcome.available ? chart.first() : this.frame.locator('.notices .notice').first()).scrollIntoViewIfNeeded({ timeout: UI_TIMEOUT });
    return outcome;
  }

  private get pruneCard(): Locator {
    return this.frame.locator('.prune-card');
  }

  /** What the pruning preview and the histogram show right now. */
  async pruneFigures(): Promise<PruneFigures> {
    const figure = async (label: string) => {
      const dd = this.pruneCard.locator('.fact').filter({ has: this.frame.locator('dt', { hasText: new RegExp(`^${label}$`, 'i') }) }).locator('dd');
      return (await dd.count()) > 0 ? (await dd.first().innerText()).trim() : '';
    };
    const histogram = this.frame.locator('section', { has: this.frame.locator('h2', { hasText: /^Weight magnitudes/ }) });
    return {
      slider: (await this.pruneCard.locator('.slider-value').innerText()).trim(),
      sparsity: await figure('Sparsity'),
      kept: await figure('Non-zero weights kept'),
      modelSparsityAfter: await figure('Model sparsity after'),
      exact: (await this.pruneCard.locator('p.muted', { hasText: /^Exact figures, computed from the weights\.$/ }).count()) > 0,
      threshold: ((await histogram.innerText()).match(/At \d+% sparsity the threshold is [^.]*\.?[^.]*\./)?.[0] ?? '').trim(),
    };
  }

  /** Waits until the preview's figures are exact and `check` holds for them; returns them. */
  async waitForPrune(check: (f: PruneFigures) => boolean, what: string, timeoutMs = UI_TIMEOUT): Promise<PruneFigures> {
    let last: PruneFigures | undefined;
    try {
      return await poll(
        async () => {
          last = await this.pruneFigures();
          return last.exact && check(last) ? last : undefined;
        },
        { timeoutMs, intervalMs: 100, what },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; the panel showed ${JSON.stringify(last)}`);
    }
  }

  /** Moves the sparsity slider with the keyboard (each step is 1 percentage point; negative: left). */
  async moveSlider(steps: number): Promise<void> {
    const slider = this.frame.locator('#prune-sparsity');
    await slider.focus({ timeout: UI_TIMEOUT });
    for (let i = 0; i < Math.abs(steps); i++) await slider.press(steps > 0 ? 'ArrowRight' : 'ArrowLeft');
  }

  /** Clicks Apply Pruning and waits for the panel's answer; returns it and whether it reads as a failure. */
  async applyPruning(timeoutMs: number): Promise<{ message: string; failed: boolean }> {
    await this.pruneCard.locator('vscode-button', { hasText: 'Apply Pruning' }).click({ timeout: UI_TIMEOUT });
    const status = this.pruneCard.locator('.apply-status');
    return poll(
      async () => {
        const message = (await status.innerText()).trim();
        if (message === '' || message === 'Applying…') return undefined;
        return { message, failed: ((await status.getAttribute('class')) ?? '').includes('error-text') };
      },
      { timeoutMs, intervalMs: 100, what: 'the panel to report the result of Apply Pruning' },
    );
  }
}
