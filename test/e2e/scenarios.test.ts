/**
 * End-to-end scenarios in a real VS Code (code-server) driven through Chromium, as a person would use
 * ONNX Lean. One code-server + browser session for the whole file; scenarios run in order.
 *
 *   npm run build && node --import tsx --test test/e2e/scenarios.test.ts
 *
 * Screenshots land in test-output/e2e/ (and failure-<scenario>.png when one fails). See docs/testing.md.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { snapshot, startE2E, type E2ESession, type Workbench } from './harness';
import { escapeRegExp, poll } from './wait';
import { workflowScenarios } from './workflows';

const SCENARIO_TIMEOUT = 3 * 60_000;
const PROFILE_TIMEOUT = 120_000;
/** The sample whose inputs have fixed shapes (the others declare a symbolic batch). */
const FIXED_SHAPES = 'attention.onnx';
/** The first run installs code-server (about a minute, more on an empty npm cache). */
const STARTUP_TIMEOUT = 20 * 60_000;

/** "cnn.onnx: p50 1.234 ms, p95 2.345 ms, p99 ..." -> the two numbers. */
function percentiles(message: string, model: string): { p50: number; p95: number } {
  const match = new RegExp(`${escapeRegExp(model)}: p50 ([\\d.]+) ms, p95 ([\\d.]+) ms`).exec(message);
  assert.ok(match, `no p50/p95 in "${message}"`);
  return { p50: Number(match[1]), p95: Number(match[2]) };
}

/** Profiles `model` from the explorer context menu; returns the summary notification's message. */
async function profileFromExplorer(workbench: Workbench, model: string): Promise<string> {
  await workbench.rightClickExplorerItem(model);
  await workbench.clickMenuItem('Profile Model');
  const summary = await workbench.waitForNotification(new RegExp(`${escapeRegExp(model)}: p50`), { timeoutMs: PROFILE_TIMEOUT });
  assert.equal(summary.severity, 'info');
  assert.deepEqual(summary.buttons, ['Show Details']);
  // The progress notification closes a moment after the summary appears.
  await workbench.waitForNotificationGone(new RegExp(`^Profiling ${escapeRegExp(model)}`));
  return summary.message;
}

describe('ONNX Lean in VS Code (code-server + Chromium)', () => {
  let e2e: E2ESession;
  let workbench: Workbench;

  before(
    async () => {
      e2e = await startE2E({
        name: 'scenarios',
        theme: 'Default Dark Modern',
        workspace: { files: { 'broken.json': '{ "budget": 1,, }\n' } },
      });
      workbench = e2e.workbench;
    },
    { timeout: STARTUP_TIMEOUT },
  );

  after(async () => {
    await e2e?.close();
  });

  it('offers "Profile Model" in the explorer context menu of a .onnx file, not of others', { timeout: SCENARIO_TIMEOUT }, () =>
    e2e.step('context-menu', async () => {
      await workbench.rightClickExplorerItem('cnn.onnx');
      assert.ok((await workbench.menuLabels()).includes('Profile Model'));
      await workbench.screenshot('dark-context-menu');
      await workbench.closeMenu();

      await workbench.rightClickExplorerItem('externalData.onnx.data');
      assert.ok(!(await workbench.menuLabels()).includes('Profile Model'));
      await workbench.closeMenu();
    }),
  );

  it('profiles attention.onnx from the context menu: summary with p50/p95, workspace untouched', { timeout: SCENARIO_TIMEOUT }, () =>
    e2e.step('profile-context-menu', async () => {
      const before = snapshot(e2e.workspace);
      const message = await profileFromExplorer(workbench, FIXED_SHAPES);
      const { p50, p95 } = percentiles(message, FIXED_SHAPES);
      assert.ok(p50 > 0 && p95 >= p50, `p50 ${p50}, p95 ${p95}`);
      assert.match(message, /over \d+ runs/);
      await workbench.screenshot('dark-profile-summary');
      assert.deepEqual(snapshot(e2e.workspace), before, 'profiling changed files in the workspace');
    }),
  );

  it('"Show Details" opens the full report, and its Markdown preview (a webview) renders it', { timeout: SCENARIO_TIMEOUT }, () =>
    e2e.step('show-details', async () => {
      await workbench.clickNotificationButton(new RegExp(`${escapeRegExp(FIXED_SHAPES)}: p50`), 'Show Details');
      await workbench.editorTab(`${FIXED_SHAPES} profile`).waitFor({ timeout: 15_000 });
      await workbench.runCommand('Markdown: Open Preview to the Side');
      const frame = await workbench.webviewWith(`h1:has-text("Profile of ${FIXED_SHAPES}")`, { extensionId: 'vscode.markdown-language-features' });
      assert.match(await frame.locator('body').innerText(), /p95/);
      await workbench.screenshot('dark-report-details');
      await workbench.closeAllEditors();
    }),
  );

  it('profiles a model picked in the file dialog after "ONNX Lean: Profile Model" from the palette', { timeout: SCENARIO_TIMEOUT }, () =>
    e2e.step('profile-palette', async () => {
      await workbench.clearNotifications();
      await workbench.runCommand('ONNX Lean: Profile Model');
      await workbench.answerFileDialog(e2e.file(FIXED_SHAPES));
      const summary = await workbench.waitForNotification(new RegExp(`${escapeRegExp(FIXED_SHAPES)}: p50`), { timeoutMs: PROFILE_TIMEOUT });
      percentiles(summary.message, FIXED_SHAPES);
    }),
  );

  // The samples mostly declare a symbolic batch: the extension binds it to 1 (src/extension/inputShapes.ts).
  it(
    'profiles cnn.onnx (symbolic batch) from the context menu',
    { timeout: SCENARIO_TIMEOUT },
    () =>
      e2e.step('profile-symbolic-batch', async () => {
        await workbench.clearNotifications();
        try {
          percentiles(await profileFromExplorer(workbench, 'cnn.onnx'), 'cnn.onnx');
        } finally {
          await workbench.screenshot('dark-profile-symbolic-batch');
        }
      }),
  );

  it('reads diagnostics from the Problems panel (harness check, on a broken JSON file)', { timeout: SCENARIO_TIMEOUT }, () =>
    e2e.step('problems', async () => {
      await workbench.openFile('broken.json');
      // The JSON language server reports a moment after the file opens (longer on a busy machine).
      const isJsonError = (p: { severity: string; label: string; text: string }) => p.severity === 'error' && /broken\.json|json/.test(p.label + p.text);
      let problems: Awaited<ReturnType<Workbench['readProblems']>> = [];
      await poll(async () => (problems = await workbench.readProblems()).some(isJsonError), { timeoutMs: 60_000, intervalMs: 1000, what: 'the JSON error in the Problems panel' }).catch(() => undefined);
      assert.ok(problems.some(isJsonError), JSON.stringify(problems));
      await workbench.closeAllEditors();
      await workbench.closePanel();
    }),
  );

  // Optimize Model…, the Layer Report with its pruning preview, budgets with their quick fix (workflows.ts).
  workflowScenarios(() => e2e);

  it('looks right in a light theme too', { timeout: SCENARIO_TIMEOUT }, () =>
    e2e.step('light-theme', async () => {
      await workbench.clearNotifications();
      await e2e.setColorTheme('Default Light Modern');
      await workbench.rightClickExplorerItem('cnn.onnx');
      await workbench.screenshot('light-context-menu');
      await workbench.closeMenu();
      await profileFromExplorer(workbench, FIXED_SHAPES);
      await workbench.screenshot('light-profile-summary');
    }),
  );
});
