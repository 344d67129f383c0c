/**
 * The panel's state and a minimal store: views subscribe and re-render the slices whose references
 * changed. Updates are immutable (a new object per changed slice), so a reference check suffices.
 */
import type { ApplyPruneResult, InspectReport, ProfileReport, PrunePreview, SensitivityResult, WeightHistogram } from '../../src/shared/webviewProtocol';
import type { UiState } from './uiState';

export type JobKind = 'profile' | 'analyzeSensitivity';

export interface JobView {
  requestId: number;
  message: string;
  percentage?: number;
}

export interface Notice {
  id: number;
  level: 'error' | 'info';
  text: string;
}

/** A server answer for a key (a layer, or a selection and sparsity), pending until `data` or `error`. */
export interface Fetched<T> {
  key: string;
  data?: T;
  error?: string;
  /** Why nothing was asked for (e.g. a layer without weights): shown as information, not as an error. */
  note?: string;
}

export interface AppState {
  ui: UiState;
  fileName: string;
  trusted: boolean;
  report?: InspectReport;
  reportError?: string;
  loading: boolean;
  profile?: ProfileReport;
  sensitivity?: SensitivityResult;
  jobs: Partial<Record<JobKind, JobView>>;
  histogram: Fetched<WeightHistogram> | null;
  preview: Fetched<PrunePreview> | null;
  applying: boolean;
  applyResult?: ApplyPruneResult;
  notices: Notice[];
}

export function initialState(ui: UiState): AppState {
  return { ui, fileName: '', trusted: false, loading: true, jobs: {}, histogram: null, preview: null, applying: false, notices: [] };
}

type Listener = (state: AppState, previous: AppState) => void;

export class Store {
  private listeners: Listener[] = [];
  private notifying = false;
  /** The state the listeners last heard of. */
  private told: AppState;

  constructor(private current: AppState) {
    this.told = current;
  }

  get state(): AppState {
    return this.current;
  }

  /**
   * Applies a change and tells the listeners. A change made by a listener is applied at once but told
   * after the current round, so every listener sees the states in order and never a stale one.
   */
  update(change: Partial<AppState> | ((s: AppState) => Partial<AppState>)): void {
    const patch = typeof change === 'function' ? change(this.current) : change;
    this.current = { ...this.current, ...patch };
    if (this.notifying) return;
    this.notifying = true;
    try {
      while (this.told !== this.current) {
        const [previous, now] = [this.told, this.current];
        this.told = now;
        for (const l of this.listeners) l(now, previous);
      }
    } finally {
      this.notifying = false;
    }
  }

  updateUi(patch: Partial<UiState>): void {
    this.update((s) => ({ ui: { ...s.ui, ...patch } }));
  }

  subscribe(listener: Listener): void {
    this.listeners.push(listener);
  }
}

let noticeIds = 0;

/** The notices with one more (the newest first, at most five). */
export function addNotice(notices: readonly Notice[], level: Notice['level'], text: string): Notice[] {
  return [{ id: ++noticeIds, level, text }, ...notices].slice(0, 5);
}
