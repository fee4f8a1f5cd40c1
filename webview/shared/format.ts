// Number formatting shared by the panels. The exact value is always kept in a data-value attribute
// beside the formatted text, so that tests and the e2e suite read numbers without rounding.

export function isNum(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** 4 significant digits, '—' for null/NaN. */
export function fmt(v: number | null | undefined, digits = 4): string {
  if (!isNum(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

export function fmtDuration(ms: number): string {
  if (!isNum(ms)) return '—';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** Sets text and data-value of an element. */
export function setNumber(el: HTMLElement, v: number | null | undefined, digits = 4): void {
  el.textContent = fmt(v, digits);
  el.dataset.value = isNum(v) ? String(v) : '';
}
