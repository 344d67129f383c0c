/**
 * Drives the VS Code workbench in the browser the way a person does: command palette, explorer context
 * menu, notifications, webviews, the Problems panel. Every wait is for a condition, with a deadline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame, Locator, Page } from 'playwright-core';
import { escapeRegExp, poll } from './wait';

export type ThemeKind = 'dark' | 'light' | 'hc-dark' | 'hc-light';

export interface Notification {
  severity: 'info' | 'warning' | 'error' | 'unknown';
  message: string;
  buttons: string[];
}

export interface Problem {
  severity: 'error' | 'warning' | 'info' | 'unknown';
  /** The row's text: message, source and position as the Problems panel shows them. */
  text: string;
  /** The row's accessible label: "message", file, line and column in words. */
  label: string;
  /** The name of the file the panel lists the problem under. */
  file: string;
}

export interface QuickPickItem {
  label: string;
  /** The second line (an item's `detail`), or '' when it has none. */
  detail: string;
}

/**
 * Every message the notifications showed while it recorded, in order, progress updates included ("title:
 * message"). A short-lived progress notification can come and go between two checks of a test; a
 * MutationObserver in the page sees it anyway.
 */
export class NotificationRecorder {
  constructor(
    private readonly page: Page,
    private readonly id: string,
  ) {}

  async messages(): Promise<string[]> {
    return this.page.evaluate((id) => (window as unknown as RecorderWindow).__e2eNotifications?.[id]?.seen ?? [], this.id);
  }

  /** Stops recording and returns what was seen. */
  async stop(): Promise<string[]> {
    return this.page.evaluate((id) => {
      const recorders = (window as unknown as RecorderWindow).__e2eNotifications ?? {};
      const recorder = recorders[id];
      recorder?.observer.disconnect();
      delete recorders[id];
      return recorder?.seen ?? [];
    }, this.id);
  }
}

type RecorderWindow = { __e2eNotifications?: Record<string, { seen: string[]; observer: MutationObserver }> };

export interface WaitOptions {
  timeoutMs?: number;
}

const T = {
  workbench: 90_000,
  command: 60_000,
  ui: 15_000,
  notification: 60_000,
  webview: 30_000,
};

const ERROR_TOAST = '.notifications-toasts .notification-toast:has(.notification-list-item-icon.codicon-error)';

const THEME_CLASS: Record<ThemeKind, string> = { dark: 'vs-dark', light: 'vs', 'hc-dark': 'hc-black', 'hc-light': 'hc-light' };

export class Workbench {
  constructor(
    readonly page: Page,
    /** Screenshots go here (test-output/e2e by default). */
    readonly outputDir: string,
  ) {}

  // ---------------------------------------------------------------- startup

  /** Waits for the workbench DOM and for the workspace's files in the explorer. */
  async waitForWorkbench(options: WaitOptions = {}): Promise<void> {
    const timeout = options.timeoutMs ?? T.workbench;
    await this.page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout });
    await this.page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ state: 'visible', timeout });
  }

  /**
   * Waits until the command palette lists `title`, i.e. the extension's contributions are registered
   * (before that, a .onnx would open in the text editor and our menus would be missing). Reopens the
   * palette until the command appears: the palette computes its list when it opens.
   */
  async waitForCommand(title: string, options: WaitOptions = {}): Promise<void> {
    await poll(
      async () => {
        const row = await this.findPaletteEntry(title, 2000);
        await this.dismissQuickInput();
        return row;
      },
      { timeoutMs: options.timeoutMs ?? T.command, intervalMs: 100, what: `the command palette to list "${title}"` },
    );
  }

  // ---------------------------------------------------------------- command palette

  private get quickInput(): Locator {
    return this.page.locator('.quick-input-widget');
  }

  private get quickInputBox(): Locator {
    return this.quickInput.locator('.quick-input-box input');
  }

  /** Opens the palette with `text` typed in (">" + text for commands, a file name for quick open). */
  private async openQuickInput(text: string): Promise<void> {
    await this.dismissQuickInput();
    await this.page.keyboard.press('F1');
    await this.quickInputBox.waitFor({ state: 'visible', timeout: T.ui });
    await this.quickInputBox.fill(text);
  }

  private async dismissQuickInput(): Promise<void> {
    if (await this.quickInput.isVisible()) {
      await this.page.keyboard.press('Escape');
      await this.quickInput.waitFor({ state: 'hidden', timeout: T.ui });
    }
  }

  /** A row of the quick input whose accessible label is `label` (optionally followed by ", details"). */
  private quickInputRow(label: string): Locator {
    return this.quickInput.locator('.monaco-list-row').and(this.page.getByLabel(new RegExp(`^${escapeRegExp(label)}(,|$)`)));
  }

  /** The palette's row for command `title`, or undefined if it does not appear within `timeoutMs`. */
  private async findPaletteEntry(title: string, timeoutMs: number): Promise<Locator | undefined> {
    await this.openQuickInput(`>${title}`);
    const row = this.quickInputRow(title).first();
    try {
      await row.waitFor({ state: 'visible', timeout: timeoutMs });
      return row;
    } catch {
      return undefined;
    }
  }

  /** Runs a command by its palette title ("Category: Title"), as a person would. */
  async runCommand(title: string, options: WaitOptions = {}): Promise<void> {
    const row = await this.findPaletteEntry(title, options.timeoutMs ?? T.ui);
    if (!row) throw new Error(`the command palette does not list "${title}"`);
    await row.click();
    // The palette closes, or gives way to the command's own picker (another value in the same widget).
    await poll(async () => !(await this.quickInput.isVisible()) || (await this.quickInputBox.inputValue()) !== `>${title}`, {
      timeoutMs: T.ui,
      intervalMs: 50,
      what: `the command palette to run "${title}"`,
    });
  }

  /**
   * Opens a workspace file through quick open (the palette without ">"), by its name. Quick open may not
   * list a file created during the session yet (its file list is cached): open those from the explorer.
   */
  async openFile(name: string): Promise<void> {
    await this.openQuickInput(name);
    const row = this.quickInputRow(name).first();
    await row.waitFor({ state: 'visible', timeout: T.ui });
    await row.click();
    await this.editorTab(name).waitFor({ state: 'visible', timeout: T.ui });
  }

  /** Waits for a quick pick titled `title` (e.g. a command's own picker) to list its items; returns them. */
  async waitForQuickPick(title: string | RegExp, options: WaitOptions = {}): Promise<QuickPickItem[]> {
    const titleText = typeof title === 'string' ? new RegExp(`^${escapeRegExp(title)}$`) : title;
    await this.quickInput.locator('.quick-input-title', { hasText: titleText }).waitFor({ state: 'visible', timeout: options.timeoutMs ?? T.ui });
    await this.quickInput.locator('.monaco-list-row').first().waitFor({ state: 'visible', timeout: options.timeoutMs ?? T.ui });
    return this.quickPickItems();
  }

  /** The items the open quick pick shows, top to bottom. */
  async quickPickItems(): Promise<QuickPickItem[]> {
    const items: QuickPickItem[] = [];
    for (const row of await this.quickInput.locator('.monaco-list-row').all()) {
      const label = (await row.locator('.quick-input-list-row').first().locator('.label-name').first().innerText()).trim();
      const meta = row.locator('.quick-input-list-label-meta .label-name');
      items.push({ label, detail: (await meta.count()) > 0 ? (await meta.first().innerText()).trim() : '' });
    }
    return items;
  }

  /** Picks the item labelled `label` in the open quick pick; waits until the pick has been taken. */
  async pickQuickPickItem(label: string): Promise<void> {
    const title = (await this.quickInput.locator('.quick-input-title').innerText()).trim();
    await this.quickInputRow(label).first().click({ timeout: T.ui });
    // The picker closes, or gives way to the command's next question (another title).
    await poll(async () => !(await this.quickInput.isVisible()) || (await this.quickInput.locator('.quick-input-title').innerText()).trim() !== title, {
      timeoutMs: T.ui,
      intervalMs: 50,
      what: `the quick pick "${title}" to take "${label}"`,
    });
  }

  /**
   * Answers VS Code's (simple, in-browser) open-file dialog with an absolute path. The dialog digests a
   * typed value asynchronously (navigates, filters, focuses the matching entry); Enter before it caught
   * up accepts the folder instead ("Please select a file"), and a dialog still loading its start folder
   * overwrites the value: so type until the value holds and the file's entry is focused, then Enter,
   * and start over if the dialog stays open.
   */
  async answerFileDialog(absolutePath: string): Promise<void> {
    await this.quickInputBox.waitFor({ state: 'visible', timeout: T.ui });
    const name = path.basename(absolutePath);
    const focused = this.quickInput.locator('.monaco-list-row.focused');
    for (let attempt = 1; ; attempt++) {
      let typedAt = Date.now();
      // While the dialog is still loading its start folder it may overwrite what was typed: type again.
      const settled = async () => {
        if ((await this.quickInputBox.inputValue()) !== absolutePath) {
          await this.quickInputBox.fill(absolutePath);
          typedAt = Date.now();
          return false;
        }
        const current = (await focused.count()) > 0 ? (await focused.first().innerText({ timeout: 1000 })).trim() : '';
        if (current === name) return true;
        // A dialog busy listing the folder can miss the value (it shows the folder, nothing focused):
        // after a while, type its last character again so that it looks at the value once more.
        if (Date.now() - typedAt > 2000) {
          await this.quickInputBox.press('Backspace');
          await this.quickInputBox.pressSequentially(absolutePath.slice(-1));
          typedAt = Date.now();
        }
        return false;
      };
      await poll(settled, { timeoutMs: T.ui, intervalMs: 150, what: `the file dialog to focus ${name}` });
      await this.page.keyboard.press('Enter');
      try {
        await this.quickInput.waitFor({ state: 'hidden', timeout: 5000 });
        return;
      } catch (err) {
        if (attempt === 3) throw new Error(`the file dialog did not accept ${absolutePath}: ${(err as Error).message}`);
      }
    }
  }

  // ---------------------------------------------------------------- explorer and menus

  explorerRow(name: string): Locator {
    return this.page.locator('.explorer-folders-view .monaco-list-row').filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }) });
  }

  /** Waits until the explorer lists `name` (say, a file a command wrote: the explorer follows the disk). */
  async waitForExplorerItem(name: string, options: WaitOptions = {}): Promise<void> {
    await this.explorerRow(name).first().waitFor({ state: 'visible', timeout: options.timeoutMs ?? T.ui });
  }

  /** Double-clicks a file in the explorer: opens it, pinned, in its default editor. */
  async doubleClickExplorerItem(name: string): Promise<void> {
    const row = this.explorerRow(name).first();
    await row.waitFor({ state: 'visible', timeout: T.ui });
    await row.dblclick();
    await this.editorTab(name).waitFor({ state: 'visible', timeout: T.ui });
  }

  async rightClickExplorerItem(name: string): Promise<void> {
    const row = this.explorerRow(name).first();
    await row.waitFor({ state: 'visible', timeout: T.ui });
    await row.click({ button: 'right' });
    await this.page.locator('.context-view .monaco-menu').first().waitFor({ state: 'visible', timeout: T.ui });
  }

  /** An item of the open context menu, by its label. */
  menuItem(label: string): Locator {
    return this.page.locator('.context-view .monaco-menu').getByRole('menuitem', { name: label, exact: true });
  }

  /** Labels of the open context menu's items, top to bottom (separators left out). */
  async menuLabels(): Promise<string[]> {
    const labels = await this.page.locator('.context-view .monaco-menu .action-menu-item .action-label').allInnerTexts();
    return labels.map((l) => l.trim()).filter((l) => l.length > 0);
  }

  /** Picks an item of the open context menu: focus it with the mouse, wait until it is focused, Enter. */
  async clickMenuItem(label: string): Promise<void> {
    const item = this.menuItem(label);
    await item.waitFor({ state: 'visible', timeout: T.ui });
    await item.hover();
    await this.page.locator('.context-view .action-item.focused').getByRole('menuitem', { name: label, exact: true }).waitFor({ timeout: T.ui });
    await this.page.keyboard.press('Enter');
    await this.page.locator('.context-view .monaco-menu').waitFor({ state: 'hidden', timeout: T.ui });
  }

  async closeMenu(): Promise<void> {
    const menu = this.page.locator('.context-view .monaco-menu');
    if (await menu.isVisible()) {
      await this.page.keyboard.press('Escape');
      await menu.waitFor({ state: 'hidden', timeout: T.ui });
    }
  }

  // ---------------------------------------------------------------- notifications

  private toast(message: RegExp): Locator {
    return this.page.locator('.notifications-toasts .notification-toast').filter({ has: this.page.locator('.notification-list-item-message', { hasText: message }) });
  }

  /**
   * Waits for a notification toast whose message matches, and returns it. Unless `failOnError` is false,
   * an error notification that appears meanwhile (and does not match) ends the wait at once with its
   * message, instead of a timeout minutes later.
   */
  async waitForNotification(message: RegExp, options: WaitOptions & { failOnError?: boolean } = {}): Promise<Notification> {
    const toast = this.toast(message).last();
    const timeout = options.timeoutMs ?? T.notification;
    if (options.failOnError === false) {
      await toast.waitFor({ state: 'visible', timeout });
    } else {
      // Errors already on screen are old news: mark them so that only new ones count.
      await this.page.locator(ERROR_TOAST).evaluateAll((els) => els.forEach((el) => el.setAttribute('data-e2e-seen', '')));
      const newError = this.page.locator(`${ERROR_TOAST}:not([data-e2e-seen])`).filter({ hasNot: this.page.locator('.notification-list-item-message', { hasText: message }) });
      await toast.or(newError).first().waitFor({ state: 'visible', timeout });
      if (!(await toast.isVisible())) {
        const error = (await newError.first().locator('.notification-list-item-message').innerText()).trim();
        throw new Error(`an error notification appeared while waiting for ${message}: "${error}"`);
      }
    }
    return this.readToast(toast);
  }

  private async readToast(toast: Locator): Promise<Notification> {
    const icon = (await toast.locator('.notification-list-item-icon').getAttribute('class')) ?? '';
    const severity = (['error', 'warning', 'info'] as const).find((s) => icon.includes(`codicon-${s}`)) ?? 'unknown';
    return {
      severity,
      message: (await toast.locator('.notification-list-item-message').innerText()).trim(),
      buttons: (await toast.locator('.notification-list-item-buttons-container .monaco-button').allInnerTexts()).map((b) => b.trim()),
    };
  }

  /** Waits until no notification toast whose message matches is shown (e.g. a finished progress). */
  async waitForNotificationGone(message: RegExp, options: WaitOptions = {}): Promise<void> {
    await this.toast(message).first().waitFor({ state: 'hidden', timeout: options.timeoutMs ?? T.ui });
  }

  /** Clicks a button of the notification whose message matches. */
  async clickNotificationButton(message: RegExp, button: string): Promise<void> {
    const toast = this.toast(message).last();
    await toast.locator('.monaco-button', { hasText: new RegExp(`^${escapeRegExp(button)}$`) }).click({ timeout: T.ui });
  }

  /** Dismisses every notification (so the next wait cannot match an old one). */
  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications');
    await this.page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'hidden', timeout: T.ui });
  }

  /** Starts recording every notification message that appears or changes from now on (see NotificationRecorder). */
  async recordNotifications(): Promise<NotificationRecorder> {
    const id = `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    // No named functions in here: tsx would wrap them in a helper (__name) the page does not have.
    await this.page.evaluate((recorderId) => {
      const w = window as unknown as RecorderWindow;
      const seen: string[] = [];
      const observer = new MutationObserver(() => {
        document.querySelectorAll('.notification-list-item-message').forEach((el) => {
          const text = (el.textContent ?? '').trim();
          if (text && !seen.includes(text)) seen.push(text);
        });
      });
      observer.observe(document.body, { subtree: true, childList: true, characterData: true });
      w.__e2eNotifications = { ...w.__e2eNotifications, [recorderId]: { seen, observer } };
    }, id);
    return new NotificationRecorder(this.page, id);
  }

  // ---------------------------------------------------------------- editors, webviews, problems

  /** An editor tab by its title. */
  editorTab(title: string | RegExp): Locator {
    const name = typeof title === 'string' ? new RegExp(`^${escapeRegExp(title)}`) : title;
    return this.page.locator('.tabs-container .tab').filter({ has: this.page.locator('.label-name', { hasText: name }) });
  }

  /** Activates the editor tab `title` and waits until its (text) editor has the keyboard focus. */
  async focusEditor(title: string): Promise<void> {
    await this.editorTab(title).first().click({ timeout: T.ui });
    await this.page.locator('.editor-instance .monaco-editor.focused').waitFor({ state: 'visible', timeout: T.ui });
  }

  async closeAllEditors(): Promise<void> {
    await this.runCommand('View: Close All Editors');
    await this.page.locator('.tabs-container .tab').first().waitFor({ state: 'hidden', timeout: T.ui });
  }

  /**
   * The frame of a webview (a custom editor, a preview) for which `predicate` holds. VS Code puts each
   * webview's content in an iframe inside an outer iframe whose URL names the owning extension; pass
   * `extensionId` ("publisher.name") to consider only that extension's webviews.
   */
  async webviewFrame(predicate: (frame: Frame) => Promise<boolean>, options: WaitOptions & { extensionId?: string } = {}): Promise<Frame> {
    const owner = options.extensionId && `extensionId=${encodeURIComponent(options.extensionId)}`;
    return poll(
      async () => {
        for (const frame of this.page.frames()) {
          if (frame === this.page.mainFrame() || !isWebviewContent(frame)) continue;
          if (owner && !frame.parentFrame()?.url().includes(owner)) continue;
          if (await predicate(frame).catch(() => false)) return frame;
        }
        return undefined;
      },
      { timeoutMs: options.timeoutMs ?? T.webview, intervalMs: 200, what: `a webview${options.extensionId ? ` of ${options.extensionId}` : ''} matching the predicate` },
    );
  }

  /** Shortcut: the webview frame that shows `selector` (e.g. 'text=Layer Report', 'table.layers'). */
  webviewWith(selector: string, options: WaitOptions & { extensionId?: string } = {}): Promise<Frame> {
    return this.webviewFrame(async (frame) => (await frame.locator(selector).count()) > 0, options);
  }

  /** Opens the Problems panel and returns its markers (the panel groups them under their files). */
  async readProblems(): Promise<Problem[]> {
    await this.runCommand('View: Focus Problems (Errors, Warnings, Infos)').catch(() => this.page.keyboard.press('Control+Shift+M'));
    const panel = this.page.locator('.markers-panel');
    await panel.waitFor({ state: 'visible', timeout: T.ui });
    // Rows appear only after the tree has rendered; an empty panel shows its message instead.
    await poll(async () => (await panel.locator('.monaco-list-row').count()) > 0 || (await panel.locator('.message-box-container').isVisible()), {
      timeoutMs: T.ui,
      what: 'the Problems panel to render',
    });
    // Problems are listed under a row naming their file.
    const problems: Problem[] = [];
    let file = '';
    for (const row of await panel.locator('.monaco-list-row').all()) {
      if ((await row.locator('.marker-icon').count()) === 0) {
        file = (await row.locator('.label-name').first().innerText().catch(() => '')).trim();
        continue;
      }
      const icon = ((await row.locator('.marker-icon').first().getAttribute('class')) ?? '').split(/\s+/);
      const severity = (['error', 'warning', 'info'] as const).find((s) => icon.includes(s)) ?? 'unknown';
      problems.push({ severity, text: (await row.innerText()).replace(/\s+/g, ' ').trim(), label: (await row.getAttribute('aria-label')) ?? '', file });
    }
    return problems;
  }

  /**
   * Opens the location of a problem listed in the Problems panel (readProblems opens it), as a double
   * click does: the editor gets the focus with the cursor on the problem's range.
   */
  async openProblem(message: RegExp): Promise<void> {
    const row = this.page.locator('.markers-panel .monaco-list-row').filter({ has: this.page.locator('.marker-icon') }).filter({ hasText: message }).first();
    await row.dblclick({ timeout: T.ui });
    await this.page.locator('.editor-instance .monaco-editor.focused').waitFor({ state: 'visible', timeout: T.ui });
  }

  /**
   * Opens the code action menu at the cursor (Ctrl+., as for the light bulb) and runs the action titled
   * `title`; returns the titles the menu offered. `beforeChoosing` runs while the menu is open (say, a
   * screenshot). The menu is driven with the keyboard: VS Code blocks pointer events over it until the
   * mouse moves.
   */
  async applyCodeAction(title: string, options: WaitOptions & { beforeChoosing?: () => Promise<unknown> } = {}): Promise<string[]> {
    const widget = this.page.locator('.action-widget');
    const rows = widget.locator('.monaco-list-row.action');
    // A Ctrl+. that comes before the editor has computed its actions shows nothing: press it again.
    await poll(
      async () => {
        if (await rows.first().isVisible()) return true;
        await this.page.keyboard.press('Control+.');
        return rows
          .first()
          .waitFor({ state: 'visible', timeout: 3000 })
          .then(() => true)
          .catch(() => false);
      },
      { timeoutMs: options.timeoutMs ?? T.ui, intervalMs: 50, what: 'the code action menu to open' },
    );
    const titles = (await rows.evaluateAll((els) => els.map((el) => el.getAttribute('aria-label') ?? ''))).map((t) => t.trim());
    if (!titles.includes(title)) {
      await this.page.keyboard.press('Escape');
      throw new Error(`the code action menu offers ${JSON.stringify(titles)}, not "${title}"`);
    }
    await options.beforeChoosing?.();
    const focused = () => rows.evaluateAll((els) => els.find((el) => el.classList.contains('focused'))?.getAttribute('aria-label')?.trim() ?? null);
    for (let i = 0; i <= titles.length && (await focused()) !== title; i++) await this.page.keyboard.press('ArrowDown');
    if ((await focused()) !== title) throw new Error(`could not focus the code action "${title}" in ${JSON.stringify(titles)}`);
    await this.page.keyboard.press('Enter');
    await widget.waitFor({ state: 'hidden', timeout: T.ui });
    return titles;
  }

  /**
   * The code lens lines of the active editor, top to bottom, each as "lens | lens | lens". VS Code
   * fetches lenses (and applies a provider's refresh) only while the editor has the focus: a Problems
   * panel that takes the focus right after a refresh leaves the old lenses until the editor gets it back.
   */
  async codeLenses(): Promise<string[]> {
    const lines = await this.page.locator('.editor-instance .monaco-editor .codelens-decoration').allInnerTexts();
    return lines.map((line) => line.replace(/\s*\|\s*/g, ' | ').replace(/\s+/g, ' ').trim());
  }

  /** A status bar entry by its text (codicons are not part of the text). */
  statusBarItem(text: string | RegExp): Locator {
    return this.page.locator('.statusbar-item').filter({ hasText: text });
  }

  /** Hides the bottom panel (Problems, Output, Terminal) if it is open. */
  async closePanel(): Promise<void> {
    const panel = this.page.locator('.part.panel');
    if (!(await panel.isVisible())) return;
    await this.runCommand('View: Hide Panel');
    await panel.waitFor({ state: 'hidden', timeout: T.ui });
  }

  // ---------------------------------------------------------------- theme and screenshots

  /**
   * Picks a color theme with "Preferences: Color Theme", as a person would (VS Code saves it to the user
   * settings). `theme` is the settings name, e.g. "Default Light Modern".
   */
  async pickColorTheme(theme: string): Promise<void> {
    await this.runCommand('Preferences: Color Theme');
    await this.quickInputBox.waitFor({ state: 'visible', timeout: T.ui });
    await this.quickInputBox.fill(theme.replace(/^Default /, ''));
    // Rows read "Label, Settings Name" (plus ", dark themes" on a group's first row).
    const row = this.quickInput.locator('.monaco-list-row').and(this.page.getByLabel(new RegExp(`(^|, )${escapeRegExp(theme)}(,|$)`))).first();
    await row.click({ timeout: T.ui });
    await this.quickInput.waitFor({ state: 'hidden', timeout: T.ui });
  }

  /** Waits until the workbench shows a theme of this kind (after a settings change). */
  async waitForThemeKind(kind: ThemeKind, options: WaitOptions = {}): Promise<void> {
    const cls = THEME_CLASS[kind];
    await poll(async () => ((await this.page.locator('.monaco-workbench').getAttribute('class')) ?? '').split(/\s+/).includes(cls), {
      timeoutMs: options.timeoutMs ?? T.ui,
      intervalMs: 100,
      what: `the workbench to switch to a ${kind} theme`,
    });
  }

  /** Saves a PNG of the whole window to `<outputDir>/<name>.png` and returns its path. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(this.outputDir, { recursive: true });
    const file = path.join(this.outputDir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
    await this.page.screenshot({ path: file, animations: 'disabled', timeout: T.ui });
    return file;
  }
}

/** A webview's content frame: VS Code loads it from .../webview/.../fake.html inside the host iframe. */
function isWebviewContent(frame: Frame): boolean {
  const parent = frame.parentFrame();
  return parent !== null && parent.url().includes('/webview/') && parent.url().includes('index.html');
}
