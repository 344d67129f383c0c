/**
 * Building DOM with element APIs only. Text goes in as text nodes (textContent), never as HTML, so
 * names from the model cannot inject markup. Event handler and style attributes are refused: handlers
 * are attached with addEventListener, and styles live in media/ (the CSP forbids inline ones).
 */
type AttrValue = string | number | boolean | null | undefined;
export type Child = Node | string | null | undefined | false;

export function setAttrs(element: Element, attrs: Record<string, AttrValue>): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (/^on/i.test(name) || name.toLowerCase() === 'style') throw new Error(`refusing attribute ${name}`);
    if (value === null || value === undefined || value === false) element.removeAttribute(name);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, AttrValue>, ...children: Child[]): HTMLElementTagNameMap[K];
export function el(tag: string, attrs?: Record<string, AttrValue>, ...children: Child[]): HTMLElement;
export function el(tag: string, attrs: Record<string, AttrValue> = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  setAttrs(element, attrs);
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) if (c !== null && c !== undefined && c !== false) parent.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
}

/** Replaces an element's children. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** Sets text only when it changed (cheap for views updated often). */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}
