// Calibration panel: reliability diagrams (bars, diagonal, shaded gap, bin-count histogram) per run,
// top-label or per-class; metric table before/after temperature scaling; the threshold sweep with a
// slider and "Use this threshold" (threshold.json is written by the host).
import '../shared/panel.css';
import './calibration.css';
import '@vscode-elements/elements/dist/vscode-radio-group/index.js';
import '@vscode-elements/elements/dist/vscode-radio/index.js';
import { BarController, BarElement, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartConfiguration } from 'chart.js';
import type { CalibrationHostMessage, CalibrationRun, CalibrationViewState, CalibrationWebviewMessage } from '../../src/protocol/webview-calibration';
import type { CalibrationSummary, EvaluationReport, ReliabilityBin, SweepPoint, ThresholdChoice } from '../../src/protocol/evaluation';
import { onHostMessage, panelApi, redrawScheduler, unknownMessage } from '../shared/api';
import { button, checkbox, el, select, setOptions, slider } from '../shared/dom';
import { fmt, isNum, setNumber } from '../shared/format';
import { summaryTable } from '../shared/summary';
import { themeColors, watchTheme, withAlpha, type ThemeColors } from '../shared/theme';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, LinearScale, Tooltip, Legend);

const api = panelApi<CalibrationWebviewMessage, CalibrationViewState>();
const post = (m: CalibrationWebviewMessage): void => api.post(m);
const saved = api.state();
const view: CalibrationViewState = {
  panel: 'calibration',
  runDirs: saved?.runDirs ?? [],
  selected: saved?.selected ?? [],
  view: saved?.view ?? 'top',
  classIndex: saved?.classIndex ?? 1,
  afterTemperature: saved?.afterTemperature ?? false,
  sweepRunDir: saved?.sweepRunDir ?? null,
  sweepIndex: saved?.sweepIndex ?? -1,
};
const persist = (): void => api.saveState(view);

let runs: CalibrationRun[] = [];
let problems: { runDir: string; message: string }[] = [];
let colors: ThemeColors = themeColors();
const charts: { destroy(): void }[] = [];
let sweepChart: Chart | undefined;

// ---------- layout ----------
const app = document.getElementById('app') ?? document.body;
const statusLine = el('p', { class: 'muted', 'data-testid': 'status', role: 'status', 'aria-live': 'polite' }, 'Waiting for run data…');
const problemBox = el('div', { 'data-testid': 'problems' });
const runPicker = el('div', { class: 'group', role: 'group', 'aria-label': 'Runs shown as reliability diagrams', 'data-testid': 'run-picker' });
const viewRadios = document.createElement('vscode-radio-group');
viewRadios.setAttribute('aria-label', 'Reliability view');
viewRadios.setAttribute('data-testid', 'view-switch');
for (const [value, label] of [
  ['top', 'Top-label'],
  ['class', 'Per class'],
] as const) {
  const r = document.createElement('vscode-radio');
  r.name = 'reliability-view';
  r.value = value;
  r.label = label;
  r.setAttribute('aria-label', `${label} reliability`);
  r.setAttribute('data-testid', `view-${value}`);
  r.checked = view.view === value;
  r.addEventListener('change', () => {
    if (!r.checked) return;
    view.view = value;
    persist();
    redraw.now();
  });
  viewRadios.append(r);
}
const classSelect = select('Class', 'class-select', [], String(view.classIndex), (v) => {
  view.classIndex = Number(v);
  persist();
  redraw.now();
});
const afterBox = checkbox('After temperature scaling', 'after-temperature', view.afterTemperature, (c) => {
  view.afterTemperature = c;
  persist();
  redraw.now();
});
const diagrams = el('div', { class: 'cards', 'data-testid': 'diagrams' });
const tableBox = el('div', { 'data-testid': 'metrics-box' });
const summaryBox = el('div', { 'data-testid': 'summary-box' });

const sweepRunSelect = select('Run for the threshold sweep', 'sweep-run', [], '', (v) => {
  view.sweepRunDir = v;
  view.sweepIndex = -1;
  persist();
  renderSweep();
});
const sweepClassSelect = select('Class for the threshold sweep', 'sweep-class', [], '', (v) => {
  view.classIndex = Number(v);
  view.sweepIndex = -1;
  persist();
  renderSweep();
});
const sweepSlider = slider({ label: 'Threshold', testid: 'sweep-slider', min: 0, max: 0, step: 1, value: 0, format: () => fmt(currentPoint()?.threshold ?? null), onInput: (v) => {
  view.sweepIndex = v;
  persist();
  showPoint();
} });
const readThreshold = el('span', { class: 'value', 'data-testid': 'sweep-threshold' });
const readPrecision = el('span', { class: 'value', 'data-testid': 'sweep-precision' });
const readRecall = el('span', { class: 'value', 'data-testid': 'sweep-recall' });
const readDsc = el('span', { class: 'value', 'data-testid': 'sweep-dsc' });
const useButton = button('Use this threshold', 'use-threshold', useThreshold, { ariaLabel: 'Use this threshold for later predictions (writes threshold.json into the run)' });
const thresholdStatus = el('p', { class: 'muted', 'data-testid': 'threshold-status', role: 'status', 'aria-live': 'polite' });
const sweepCanvas = el('canvas', { 'data-testid': 'sweep-canvas', role: 'img', 'aria-label': 'Precision, recall and DSC against the threshold', tabindex: 0 });
const sweepBox = el('section', { 'data-testid': 'sweep-section', 'aria-label': 'Threshold sweep' });
sweepBox.append(
  el('h2', {}, 'Threshold sweep'),
  el('div', { class: 'toolbar' }, sweepRunSelect, sweepClassSelect),
  el('div', { class: 'chart-box medium' }, sweepCanvas),
  el(
    'div',
    { class: 'toolbar' },
    sweepSlider.root,
    el('span', { class: 'readout' }, 'threshold', readThreshold),
    el('span', { class: 'readout' }, 'precision', readPrecision),
    el('span', { class: 'readout' }, 'recall', readRecall),
    el('span', { class: 'readout' }, 'DSC', readDsc),
    useButton,
  ),
  thresholdStatus,
);

app.append(
  el('h1', {}, 'Calibration'),
  statusLine,
  problemBox,
  el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Reliability options' }, runPicker),
  el('div', { class: 'toolbar' }, viewRadios, classSelect, afterBox),
  el('h2', {}, 'Reliability diagrams'),
  diagrams,
  el('h2', {}, 'Calibration metrics'),
  tableBox,
  summaryBox,
  sweepBox,
);

// ---------- helpers ----------
function evaluated(): (CalibrationRun & { evaluation: EvaluationReport })[] {
  return runs.filter((r): r is CalibrationRun & { evaluation: EvaluationReport } => r.evaluation !== null);
}

function classesOf(): string[] {
  const first = evaluated()[0];
  return first ? first.evaluation.classes : [];
}

function binsFor(ev: EvaluationReport): { bins: ReliabilityBin[]; title: string; ece: number | null } {
  if (view.view === 'class') {
    const c = ev.perClass.find((p) => p.index === view.classIndex) ?? ev.perClass[0];
    if (!c) return { bins: [], title: 'no classes', ece: null };
    return { bins: c.reliability, title: `class ${c.name} (one-vs-rest)`, ece: c.ece };
  }
  if (view.afterTemperature) return { bins: ev.temperature.reliabilityAfter, title: `top-label, after T = ${fmt(ev.temperature.temperature)}`, ece: ev.temperature.after.ece };
  return { bins: ev.reliability, title: 'top-label', ece: ev.overall.ece };
}

// ---------- reliability diagrams ----------
/** Bars at a bin centre; floating bars carry [low, high]. */
type BinPoint = { x: number; y: number | [number, number] };

function reliabilityConfig(bins: ReliabilityBin[], color: string): ChartConfiguration<'bar' | 'line', BinPoint[]> {
  const centre = (b: ReliabilityBin): number => (b.lo + b.hi) / 2;
  const filled = bins.filter((b) => b.count > 0 && isNum(b.accuracy));
  const scale = { type: 'linear' as const, min: 0, max: 1, grid: { color: colors.grid }, ticks: { color: colors.muted } };
  return {
    type: 'bar',
    data: {
      datasets: [
        { type: 'bar', label: 'Accuracy', data: filled.map((b) => ({ x: centre(b), y: b.accuracy ?? 0 })), backgroundColor: withAlpha(color, 0.75), borderColor: color, borderWidth: 1, barPercentage: 1, categoryPercentage: 1, grouped: false, order: 2 },
        {
          type: 'bar',
          label: 'Gap to the diagonal',
          data: filled.map((b) => {
            const conf = b.meanConfidence ?? centre(b);
            const acc = b.accuracy ?? 0;
            return { x: centre(b), y: [Math.min(acc, conf), Math.max(acc, conf)] as [number, number] };
          }),
          backgroundColor: withAlpha(colors.red, 0.35),
          borderColor: withAlpha(colors.red, 0.9),
          borderWidth: 1,
          barPercentage: 1,
          categoryPercentage: 1,
          grouped: false,
          order: 1,
        },
        { type: 'line', label: 'Perfect calibration', data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], borderColor: colors.foreground, borderDash: [4, 4], borderWidth: 1, pointRadius: 0, order: 0 },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { labels: { color: colors.foreground, boxWidth: 12 } } },
      scales: { x: { ...scale, offset: false, title: { display: true, text: 'confidence', color: colors.muted } }, y: { ...scale, title: { display: true, text: 'accuracy', color: colors.muted } } },
    },
  };
}

function histogramConfig(bins: ReliabilityBin[], color: string): ChartConfiguration<'bar', BinPoint[]> {
  return {
    type: 'bar',
    data: { datasets: [{ label: 'Voxels per bin', data: bins.map((b) => ({ x: (b.lo + b.hi) / 2, y: b.count })), backgroundColor: withAlpha(color, 0.5), borderColor: color, borderWidth: 1, barPercentage: 1, categoryPercentage: 1 }] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: {
        x: { type: 'linear', min: 0, max: 1, offset: false, grid: { color: colors.grid }, ticks: { color: colors.muted } },
        y: { type: 'linear', beginAtZero: true, grid: { color: colors.grid }, ticks: { color: colors.muted, maxTicksLimit: 3 }, title: { display: true, text: 'count', color: colors.muted } },
      },
    },
  };
}

function renderDiagrams(): void {
  for (const c of charts.splice(0)) c.destroy();
  const cards: HTMLElement[] = [];
  const pending: (() => void)[] = [];
  runs.forEach((r, i) => {
    if (!view.selected.includes(r.runDir)) return;
    const color = colors.runs[i % colors.runs.length];
    if (!r.evaluation) {
      cards.push(el('div', { class: 'card' }, el('h3', {}, r.label), el('p', { class: 'problem' }, r.problem ?? 'No evaluation.json in this run yet.')));
      return;
    }
    const { bins, title, ece } = binsFor(r.evaluation);
    const rel = el('canvas', { 'data-testid': `reliability-${r.runId}`, role: 'img', 'aria-label': `Reliability diagram of ${r.label}, ${title}`, tabindex: 0 });
    const hist = el('canvas', { 'data-testid': `histogram-${r.runId}`, role: 'img', 'aria-label': `Voxels per confidence bin of ${r.label}` });
    const eceSpan = el('span', { class: 'value', 'data-testid': `diagram-ece-${r.runId}` });
    setNumber(eceSpan, ece);
    const total = bins.reduce((a, b) => a + b.count, 0);
    cards.push(
      el(
        'div',
        { class: 'card', 'data-run': r.runId },
        el('h3', {}, `${r.label}`),
        el('p', { class: 'muted' }, `${title} · ECE `, eceSpan, ` · ${total.toLocaleString()} voxels · ${bins.length} bins`),
        el('div', { class: 'chart-box medium' }, rel),
        el('div', { class: 'chart-box small' }, hist),
      ),
    );
    pending.push(() => charts.push(new Chart(rel, reliabilityConfig(bins, color)), new Chart(hist, histogramConfig(bins, color))));
  });
  if (cards.length === 0) cards.push(el('p', { class: 'muted' }, 'Select a run above to see its reliability diagram.'));
  diagrams.replaceChildren(...cards);
  // Charts are made once their canvases are in the document, so that they size to their boxes.
  for (const make of pending) make();
}

// ---------- tables ----------
const METRICS: { key: keyof CalibrationSummary | 'dsc'; label: string }[] = [
  { key: 'ece', label: 'ECE' },
  { key: 'mce', label: 'MCE' },
  { key: 'ace', label: 'ACE' },
  { key: 'nll', label: 'NLL' },
  { key: 'brier', label: 'Brier' },
  { key: 'dsc', label: 'DSC' },
];

function renderTable(): void {
  const list = evaluated();
  if (list.length === 0) {
    tableBox.replaceChildren(el('p', { class: 'muted' }, 'No evaluated runs.'));
    return;
  }
  const head1 = el('tr', {}, el('th', { scope: 'col', rowspan: 2 }, 'Run'), el('th', { scope: 'col', rowspan: 2 }, 'Class'), el('th', { scope: 'colgroup', colspan: METRICS.length }, 'Before temperature scaling'), el('th', { scope: 'colgroup', colspan: METRICS.length }, 'After temperature scaling'));
  const head2 = el('tr', {}, ...[...METRICS, ...METRICS].map((m) => el('th', { scope: 'col' }, m.label)));
  const rows: HTMLTableRowElement[] = [];
  for (const r of list) {
    const ev = r.evaluation;
    const cell = (row: string, metric: string, when: 'before' | 'after', v: number | null | undefined): HTMLTableCellElement => {
      const td = el('td', { class: 'num', 'data-testid': `cell-${r.runId}-${row}-${metric}-${when}` });
      setNumber(td, v);
      return td;
    };
    // Temperature scaling divides the logits by one T > 0: the argmax, hence DSC, is unchanged.
    const before = (s: CalibrationSummary, m: (typeof METRICS)[number]['key']): number | null => (m === 'dsc' ? ev.overall.dsc : s[m]);
    rows.push(
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, r.label),
        el('th', { scope: 'row' }, `all (top-label), T = ${fmt(ev.temperature.temperature)}`),
        ...METRICS.map((m) => cell('all', m.key, 'before', before(ev.temperature.before, m.key))),
        ...METRICS.map((m) => cell('all', m.key, 'after', before(ev.temperature.after, m.key))),
      ),
    );
    for (const c of ev.perClass) {
      const perClass: Record<string, number | null> = { ece: c.ece, mce: c.mce, ace: c.ace, dsc: c.dsc, nll: null, brier: null };
      rows.push(
        el(
          'tr',
          {},
          el('th', { scope: 'row' }, r.label),
          el('th', { scope: 'row' }, `${c.name} (one-vs-rest)`),
          ...METRICS.map((m) => cell(`class${c.index}`, m.key, 'before', perClass[m.key])),
          ...METRICS.map((m) => cell(`class${c.index}`, m.key, 'after', null)),
        ),
      );
    }
  }
  tableBox.replaceChildren(
    el('table', { class: 'data-table', 'data-testid': 'metrics-table' }, el('caption', {}, 'Calibration per run and class (test split)'), el('thead', {}, head1, head2), el('tbody', {}, ...rows)),
    el('p', { class: 'muted' }, 'DSC is the same after temperature scaling (one T rescales the logits, the argmax is unchanged). evaluation.json has per-class NLL, Brier and after-scaling values only over all classes; per-class cells show — there.'),
  );
}

function renderSummary(): void {
  const list = evaluated();
  if (list.length < 2) {
    summaryBox.replaceChildren();
    return;
  }
  summaryBox.replaceChildren(
    el('h2', {}, 'Comparison'),
    summaryTable(
      'Test split, per run (best value per column highlighted)',
      'summary',
      [
        { key: 'dsc', label: 'DSC', better: 'max' },
        { key: 'iou', label: 'IoU', better: 'max' },
        { key: 'nll', label: 'NLL', better: 'min' },
        { key: 'brier', label: 'Brier', better: 'min' },
        { key: 'ece', label: 'ECE', better: 'min' },
        { key: 'mce', label: 'MCE', better: 'min' },
        { key: 'ace', label: 'ACE', better: 'min' },
        { key: 'eceAfterT', label: 'ECE after T', better: 'min' },
      ],
      list.map((r) => ({ runId: r.runId, label: r.label, values: { ...r.evaluation.overall, eceAfterT: r.evaluation.temperature.after.ece } })),
    ),
  );
}

// ---------- threshold sweep ----------
function sweepRun(): (CalibrationRun & { evaluation: EvaluationReport }) | undefined {
  const list = evaluated();
  return list.find((r) => r.runDir === view.sweepRunDir) ?? list[0];
}

function sweepPoints(): { classIndex: number; className: string; points: SweepPoint[] } | undefined {
  const r = sweepRun();
  if (!r) return undefined;
  const s = r.evaluation.thresholdSweep;
  return s.find((x) => x.classIndex === view.classIndex) ?? s[0];
}

function currentPoint(): SweepPoint | undefined {
  const s = sweepPoints();
  return s ? s.points[Math.max(0, Math.min(view.sweepIndex, s.points.length - 1))] : undefined;
}

function renderSweep(): void {
  const r = sweepRun();
  const s = sweepPoints();
  sweepChart?.destroy();
  sweepChart = undefined;
  if (!r || !s || s.points.length === 0) {
    sweepBox.classList.add('hidden');
    return;
  }
  sweepBox.classList.remove('hidden');
  setOptions(sweepRunSelect, evaluated().map((x) => ({ value: x.runDir, label: x.label })), r.runDir);
  setOptions(sweepClassSelect, r.evaluation.thresholdSweep.map((x) => ({ value: String(x.classIndex), label: x.className })), String(s.classIndex));
  if (view.sweepIndex < 0 || view.sweepIndex >= s.points.length) {
    const chosen = r.threshold && r.threshold.classIndex === s.classIndex ? r.threshold.threshold : 0.5;
    let best = 0;
    s.points.forEach((p, i) => {
      if (Math.abs(p.threshold - chosen) < Math.abs(s.points[best].threshold - chosen)) best = i;
    });
    view.sweepIndex = best;
  }
  sweepSlider.input.max = String(s.points.length - 1);
  sweepSlider.set(view.sweepIndex);
  const line = (label: string, key: 'precision' | 'recall' | 'dsc', color: string, dash: number[]): ChartConfiguration<'line'>['data']['datasets'][number] => ({
    label,
    data: s.points.filter((p) => isNum(p[key])).map((p) => ({ x: p.threshold, y: p[key] as number })),
    borderColor: color,
    backgroundColor: color,
    borderDash: dash,
    borderWidth: 2,
    pointRadius: 2,
  });
  const scale = { type: 'linear' as const, min: 0, max: 1, grid: { color: colors.grid }, ticks: { color: colors.muted } };
  sweepChart = new Chart(sweepCanvas, {
    type: 'line',
    data: {
      datasets: [
        line('Precision', 'precision', colors.blue, []),
        line('Recall', 'recall', colors.orange, [6, 3]),
        line('DSC', 'dsc', colors.green, [2, 2]),
        { label: 'Chosen threshold', data: [], borderColor: colors.foreground, borderWidth: 1, pointRadius: 0 },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { labels: { color: colors.foreground, boxWidth: 12 } } },
      scales: { x: { ...scale, title: { display: true, text: 'threshold', color: colors.muted } }, y: scale },
    },
  });
  showPoint();
}

function showPoint(): void {
  const p = currentPoint();
  const r = sweepRun();
  const s = sweepPoints();
  setNumber(readThreshold, p?.threshold ?? null);
  setNumber(readPrecision, p?.precision ?? null);
  setNumber(readRecall, p?.recall ?? null);
  setNumber(readDsc, p?.dsc ?? null);
  sweepSlider.set(view.sweepIndex);
  if (sweepChart && p) {
    sweepChart.data.datasets[3].data = [
      { x: p.threshold, y: 0 },
      { x: p.threshold, y: 1 },
    ];
    sweepChart.update('none');
  }
  const t = r?.threshold;
  thresholdStatus.textContent = t && s && t.classIndex === s.classIndex ? `threshold.json: ${fmt(t.threshold)} for class ${t.className} (chosen ${t.chosenAt}).` : 'No threshold chosen for this run and class yet (predictions use 0.5 / argmax).';
  thresholdStatus.dataset.saved = t ? String(t.threshold) : '';
}

function useThreshold(): void {
  const r = sweepRun();
  const s = sweepPoints();
  const p = currentPoint();
  if (!r || !s || !p) return;
  const choice: ThresholdChoice = { schemaVersion: 1, classIndex: s.classIndex, className: s.className, threshold: p.threshold, precision: p.precision, recall: p.recall, dsc: p.dsc, chosenAt: new Date().toISOString() };
  useButton.disabled = true;
  thresholdStatus.textContent = `Saving threshold ${fmt(p.threshold)}…`;
  post({ type: 'useThreshold', runDir: r.runDir, choice });
}

// ---------- everything ----------
function renderRunPicker(): void {
  runPicker.replaceChildren(
    el('span', {}, 'Show:'),
    ...runs.map((r) =>
      checkbox(r.label, `select-${r.runId}`, view.selected.includes(r.runDir), (c) => {
        view.selected = c ? [...view.selected, r.runDir] : view.selected.filter((d) => d !== r.runDir);
        persist();
        redraw.now();
      }),
    ),
  );
}

function draw(): void {
  colors = themeColors();
  const classes = classesOf();
  setOptions(classSelect, classes.map((name, i) => ({ value: String(i), label: name })), String(view.classIndex));
  classSelect.classList.toggle('hidden', view.view !== 'class');
  afterBox.classList.toggle('hidden', view.view !== 'top');
  renderDiagrams();
  renderTable();
  renderSummary();
  renderSweep();
}
const redraw = redrawScheduler(draw);

function renderStatus(): void {
  const n = evaluated().length;
  statusLine.textContent = runs.length === 0 ? 'No runs to show.' : `${runs.length} run${runs.length === 1 ? '' : 's'}, ${n} evaluated.`;
  problemBox.replaceChildren(...problems.map((p) => el('p', { class: 'problem', role: 'alert' }, `${p.runDir}: ${p.message}`)));
}

onHostMessage<CalibrationHostMessage>((m) => {
  switch (m.type) {
    case 'snapshot':
      runs = m.runs;
      problems = m.problems;
      view.runDirs = [...m.runs.map((r) => r.runDir), ...m.problems.map((p) => p.runDir)];
      view.selected = view.selected.filter((d) => view.runDirs.includes(d));
      if (view.selected.length === 0) view.selected = runs.map((r) => r.runDir);
      persist();
      renderStatus();
      renderRunPicker();
      redraw.now();
      break;
    case 'run': {
      const i = runs.findIndex((r) => r.runDir === m.run.runDir);
      if (i >= 0) runs[i] = m.run;
      else runs.push(m.run);
      renderStatus();
      renderRunPicker();
      redraw.request();
      break;
    }
    case 'thresholdSaved': {
      const r = runs.find((x) => x.runDir === m.runDir);
      if (r) r.threshold = m.choice;
      useButton.disabled = false;
      showPoint();
      thresholdStatus.textContent = `Saved ${m.path}: threshold ${fmt(m.choice.threshold)} for class ${m.choice.className}.`;
      thresholdStatus.dataset.path = m.path;
      break;
    }
    case 'thresholdFailed':
      useButton.disabled = false;
      thresholdStatus.textContent = `Could not save the threshold: ${m.message}`;
      break;
    default:
      unknownMessage(post, m);
  }
});

watchTheme(() => redraw.now());
persist();
post({ type: 'ready' });
