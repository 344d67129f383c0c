/**
 * The panel's header: the file name, the Profile and Analyze Sensitivity buttons, the progress of a
 * running job with its Cancel button, and, in an untrusted workspace, why the buttons are disabled.
 */
import '../components.js';
import { el, setAttrs, setText } from '../dom.js';
import type { AppState, JobKind } from '../state/store.js';

export interface ActionEvents {
  start(kind: JobKind): void;
  cancel(kind: JobKind): void;
  manageTrust(): void;
}

type VscodeButton = HTMLElementTagNameMap['vscode-button'];

const JOB_LABEL: Record<JobKind, string> = { profile: 'Profiling', analyzeSensitivity: 'Analyzing sensitivity' };

function button(label: string, secondary: boolean, onClick: () => void): VscodeButton {
  const b = el('vscode-button', secondary ? { secondary: true } : {}, label);
  b.addEventListener('click', () => {
    if (!b.disabled) onClick();
  });
  return b;
}

/** One running job: what it is doing, a progress bar and its Cancel button. */
class JobStatus {
  readonly element: HTMLElement;
  private readonly text = el('span', { class: 'job-text' });
  private readonly bar = el('vscode-progress-bar', { 'aria-label': 'progress' });

  constructor(
    private readonly kind: JobKind,
    cancel: () => void,
  ) {
    const cancelButton = button('Cancel', true, cancel);
    cancelButton.setAttribute('aria-label', `Cancel ${JOB_LABEL[kind].toLowerCase()}`);
    this.element = el('div', { class: 'job', hidden: true }, this.text, this.bar, cancelButton);
  }

  update(job: AppState['jobs'][JobKind]): void {
    this.element.hidden = !job;
    if (!job) return;
    setText(this.text, `${JOB_LABEL[this.kind]}: ${job.message || 'starting'}`);
    this.bar.setAttribute('aria-label', `${JOB_LABEL[this.kind]} progress`);
    if (job.percentage === undefined) this.bar.indeterminate = true;
    else {
      this.bar.indeterminate = false;
      this.bar.value = job.percentage;
    }
  }
}

export class Actions {
  readonly element: HTMLElement;
  private readonly fileName = el('span', { class: 'file-name' });
  private readonly buttons: Record<JobKind, VscodeButton>;
  private readonly jobs: Record<JobKind, JobStatus>;
  private readonly trustNote: HTMLElement;

  constructor(events: ActionEvents) {
    this.buttons = { profile: button('Profile', false, () => events.start('profile')), analyzeSensitivity: button('Analyze Sensitivity', true, () => events.start('analyzeSensitivity')) };
    this.jobs = { profile: new JobStatus('profile', () => events.cancel('profile')), analyzeSensitivity: new JobStatus('analyzeSensitivity', () => events.cancel('analyzeSensitivity')) };
    this.trustNote = el(
      'div',
      { class: 'trust-note', role: 'note', id: 'trust-note', hidden: true },
      el('p', {}, 'Restricted Mode: this workspace is not trusted. Profile and Analyze Sensitivity run the model with onnxruntime, so they are disabled. The summary, the table, the histograms and the pruning preview only read the file and work as usual.'),
      button('Manage Workspace Trust', true, () => events.manageTrust()),
    );
    const status = el('div', { class: 'jobs', role: 'status', 'aria-live': 'polite' }, this.jobs.profile.element, this.jobs.analyzeSensitivity.element);
    this.element = el(
      'header',
      { class: 'panel-header' },
      el('div', { class: 'title-row' }, el('h1', {}, 'Layer Report ', this.fileName), el('div', { class: 'buttons', role: 'toolbar', 'aria-label': 'Model actions' }, this.buttons.profile, this.buttons.analyzeSensitivity)),
      status,
      this.trustNote,
    );
  }

  /** `shapesComplete`: every symbolic input has concrete dims (profiling needs them). */
  update(s: AppState, shapesComplete: boolean): void {
    setText(this.fileName, s.fileName);
    this.trustNote.hidden = s.trusted;
    for (const kind of ['profile', 'analyzeSensitivity'] as const) {
      const b = this.buttons[kind];
      const needsShapes = kind === 'profile' && !shapesComplete;
      b.disabled = !s.trusted || !s.report || s.jobs[kind] !== undefined || needsShapes;
      const why = !s.trusted ? 'trust-note' : needsShapes ? 'shape-problems' : null;
      setAttrs(b, { 'aria-disabled': String(b.disabled), 'aria-describedby': why });
      this.jobs[kind].update(s.jobs[kind]);
    }
  }
}
