/** Messages for the user (failed requests, features not available yet), newest first, dismissable. */
import '../components.js';
import { el, fill } from '../dom.js';
import type { Notice } from '../state/store.js';

export class Notices {
  readonly element = el('div', { class: 'notices', role: 'status', 'aria-live': 'polite' });

  constructor(private readonly dismiss: (id: number) => void) {}

  update(notices: readonly Notice[]): void {
    fill(
      this.element,
      ...notices.map((n) => {
        const close = el('vscode-button', { secondary: true, 'aria-label': 'Dismiss message' }, 'Dismiss');
        close.addEventListener('click', () => this.dismiss(n.id));
        return el('div', { class: `notice ${n.level}` }, el('p', {}, n.text), close);
      }),
    );
  }
}
