/** The webview's handle on VS Code: typed postMessage and the persisted view state. */
import type { ToExtension } from '../src/shared/webviewProtocol.js';
import type { UiState } from './state/uiState.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

export interface Host {
  post(message: ToExtension): void;
  loadState(): unknown;
  saveState(state: UiState): void;
}

export function connectHost(): Host {
  const api = acquireVsCodeApi();
  return {
    post: (message) => api.postMessage(message),
    loadState: () => api.getState(),
    saveState: (state) => api.setState(state),
  };
}
