/**
 * Concrete dims for inputs with symbolic dimensions: one text field per such input, shown only when
 * the model has them. Profiling needs every dimension, and MACs need them to be counted.
 */
import '../components.js';
import { el, fill, setText } from '../dom.js';
import { suggestShape, symbolicInputs, type ShapeResolution } from '../state/shapes.js';
import type { InspectReport } from '../state/types.js';

export class ShapesEditor {
  readonly element: HTMLElement;
  private readonly fields = el('div', { class: 'shape-fields' });
  private readonly problems = el('p', { id: 'shape-problems', class: 'muted', 'aria-live': 'polite' });
  private key = '';

  constructor(private readonly changed: (name: string, text: string) => void) {
    this.element = el(
      'div',
      { class: 'shapes', role: 'group', 'aria-labelledby': 'shapes-label', hidden: true },
      el('span', { id: 'shapes-label', class: 'shapes-label' }, 'Input shapes'),
      this.fields,
      this.problems,
    );
  }

  update(report: InspectReport | undefined, texts: Readonly<Record<string, string>>, resolution: ShapeResolution | undefined): void {
    const inputs = report ? symbolicInputs(report) : [];
    this.element.hidden = inputs.length === 0;
    const key = JSON.stringify(inputs);
    if (key !== this.key) {
      this.key = key;
      fill(this.fields, ...inputs.map((input) => this.field(input.name, input.shape, texts[input.name] ?? suggestShape(input.shape))));
    }
    const problems = resolution?.problems ?? [];
    setText(this.problems, problems.length > 0 ? `To profile and count MACs, set every dimension: ${problems.join('; ')}.` : 'Used to profile and to count MACs.');
    this.problems.classList.toggle('error-text', problems.length > 0);
  }

  private field(name: string, shape: NonNullable<InspectReport['inputs'][number]['shape']>, value: string): HTMLElement {
    const declared = `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
    const input = el('vscode-textfield', { 'aria-label': `Dimensions of input ${name}, declared ${declared}`, title: `declared ${declared}`, class: 'shape-input' });
    input.value = value;
    input.addEventListener('input', () => this.changed(name, input.value));
    return el('label', { class: 'shape-field' }, el('code', {}, name), input);
  }
}
