// The comparison summary table: one row per run, one column per metric, with the better value in each
// column highlighted (class "best", data-best="true", and "(best)" for screen readers).
import { el } from './dom';
import { fmt, isNum } from './format';

export interface SummaryMetric {
  key: string;
  label: string;
  better: 'max' | 'min';
}

export interface SummaryRow {
  runId: string;
  label: string;
  values: Record<string, number | null | undefined>;
}

export function summaryTable(caption: string, testid: string, metrics: SummaryMetric[], rows: SummaryRow[]): HTMLTableElement {
  const best: Record<string, number | undefined> = {};
  for (const m of metrics) {
    const vals = rows.map((r) => r.values[m.key]).filter(isNum);
    if (vals.length > 1) best[m.key] = m.better === 'max' ? Math.max(...vals) : Math.min(...vals);
  }
  const head = el('tr', {}, el('th', { scope: 'col' }, 'Run'), ...metrics.map((m) => el('th', { scope: 'col', title: m.better === 'max' ? 'higher is better' : 'lower is better' }, `${m.label} ${m.better === 'max' ? '↑' : '↓'}`)));
  const body = rows.map((r) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, r.label),
      ...metrics.map((m) => {
        const v = r.values[m.key];
        const isBest = isNum(v) && best[m.key] === v;
        const td = el('td', { 'data-testid': `${testid}-${r.runId}-${m.key}`, 'data-value': isNum(v) ? String(v) : '', class: isBest ? 'num best' : 'num', 'data-best': isBest ? 'true' : 'false' }, fmt(v));
        if (isBest) td.append(el('span', { class: 'sr-only' }, ' (best)'));
        return td;
      }),
    ),
  );
  return el('table', { class: 'data-table summary', 'data-testid': testid }, el('caption', {}, caption), el('thead', {}, head), el('tbody', {}, ...body));
}
