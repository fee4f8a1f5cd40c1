// Small DOM helpers and the controls shared by the panels. Controls come from @vscode-elements
// (only the components imported here are bundled); sliders are native <input type="range">, which
// vscode-elements does not provide, styled from the theme in panel.css.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/index.js';
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/index.js';

type Attrs = Record<string, string | number | boolean | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  e.append(...children);
  return e;
}

function setAttrs(e: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
}

export function byTestId<T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T {
  const e = root.querySelector<T>(`[data-testid="${CSS.escape(id)}"]`);
  if (!e) throw new Error(`DSC++ panel: element data-testid="${id}" is missing`);
  return e;
}

export function button(label: string, testid: string, onClick: () => void, opts: { secondary?: boolean; ariaLabel?: string } = {}): VscodeButton {
  const b = document.createElement('vscode-button');
  b.textContent = label;
  setAttrs(b, { 'data-testid': testid, 'aria-label': opts.ariaLabel ?? label, secondary: opts.secondary });
  b.addEventListener('click', () => {
    if (!b.disabled) onClick();
  });
  return b;
}

/** A labelled checkbox; with `hideLabel` the label is only for assistive technology (aria-label). */
export function checkbox(label: string, testid: string, checked: boolean, onChange: (checked: boolean) => void, hideLabel = false): VscodeCheckbox {
  const c = document.createElement('vscode-checkbox');
  if (!hideLabel) c.label = label;
  c.checked = checked;
  setAttrs(c, { 'data-testid': testid, 'aria-label': label });
  c.addEventListener('change', () => onChange(c.checked));
  return c;
}

export function select(label: string, testid: string, options: { value: string; label: string }[], value: string, onChange: (value: string) => void): VscodeSingleSelect {
  const s = document.createElement('vscode-single-select');
  s.label = label;
  setAttrs(s, { 'data-testid': testid, 'aria-label': label });
  setOptions(s, options, value);
  s.addEventListener('change', () => onChange(s.value));
  return s;
}

export function setOptions(s: VscodeSingleSelect, options: { value: string; label: string }[], value: string): void {
  s.replaceChildren(
    ...options.map((o) => {
      const op = document.createElement('vscode-option');
      op.value = o.value;
      op.textContent = o.label;
      if (o.value === value) op.selected = true;
      return op;
    }),
  );
  s.value = value;
}

export interface Slider {
  root: HTMLElement;
  input: HTMLInputElement;
  output: HTMLOutputElement;
  set(value: number): void;
}

/** A labelled native range input with a live <output>. `onInput` fires while dragging and on keys. */
export function slider(opts: { label: string; testid: string; min: number; max: number; step: number; value: number; format?: (v: number) => string; onInput: (v: number) => void }): Slider {
  const id = `slider-${opts.testid}`;
  const input = el('input', { type: 'range', id, min: opts.min, max: opts.max, step: opts.step, value: opts.value, 'aria-label': opts.label, 'data-testid': opts.testid });
  const output = el('output', { for: id, 'data-testid': `${opts.testid}-value` });
  const format = opts.format ?? ((v: number) => String(v));
  const show = (v: number): void => {
    output.textContent = format(v);
    input.setAttribute('aria-valuetext', format(v));
  };
  show(opts.value);
  input.addEventListener('input', () => {
    const v = Number(input.value);
    show(v);
    opts.onInput(v);
  });
  const root = el('label', { class: 'slider', for: id }, el('span', { class: 'slider-label' }, opts.label), input, output);
  return {
    root,
    input,
    output,
    set(v: number): void {
      input.value = String(v);
      show(Number(input.value));
    },
  };
}

/** Whether a canvas has any non-transparent pixel (used by the panels' own self-report). */
export function canvasHasPixels(canvas: HTMLCanvasElement): boolean {
  const ctx = canvas.getContext('2d');
  if (!ctx || canvas.width === 0 || canvas.height === 0) return false;
  const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
  return false;
}
