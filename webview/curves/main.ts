// Loss-curves panel: training loss per step, validation metrics per epoch, learning rate on a second
// axis, several runs overlaid, live updates (≤ 10 redraws a second), LTTB decimation, PNG/CSV export.
import '../shared/panel.css';
import './curves.css';
import { Chart, LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip, type ChartDataset, type ChartOptions } from 'chart.js';
import type { CurvesHostMessage, CurvesRun, CurvesViewState, CurvesWebviewMessage, CurvesXAxis, EpochPoint, StepColumns, ValSeries } from '../../src/protocol/webview-curves';
import type { RunStatus, RunSummary } from '../../src/protocol/training';
import { onHostMessage, panelApi, redrawScheduler, unknownMessage } from '../shared/api';
import { button, checkbox, el, select, slider } from '../shared/dom';
import { fmt, fmtDuration, isNum, setNumber } from '../shared/format';
import { ema, lttb, type XY } from '../shared/series';
import { summaryTable } from '../shared/summary';
import { themeColors, watchTheme, withAlpha, type ThemeColors } from '../shared/theme';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip);

const api = panelApi<CurvesWebviewMessage, CurvesViewState>();
const post = (m: CurvesWebviewMessage): void => api.post(m);

const VAL_SERIES: { key: ValSeries; label: string; axis: 'y' | 'yMetric'; dash: number[] }[] = [
  { key: 'loss', label: 'Val loss', axis: 'y', dash: [] },
  { key: 'dsc', label: 'Val DSC', axis: 'yMetric', dash: [6, 3] },
  { key: 'nll', label: 'Val NLL', axis: 'y', dash: [2, 2] },
  { key: 'brier', label: 'Val Brier', axis: 'yMetric', dash: [8, 2, 2, 2] },
  { key: 'ece', label: 'Val ECE', axis: 'yMetric', dash: [1, 3] },
];

const saved = api.state();
const view: CurvesViewState = {
  panel: 'curves',
  runDirs: saved?.runDirs ?? [],
  hidden: saved?.hidden ?? [],
  series: { train: true, lr: true, loss: true, dsc: false, nll: false, brier: false, ece: false, ...(saved?.series ?? {}) },
  logScale: saved?.logScale ?? false,
  smoothing: saved?.smoothing ?? 0,
  xAxis: saved?.xAxis ?? 'step',
};
const persist = (): void => api.saveState(view);

/** Growable columns of one run. */
class RunData {
  gs: number[] = [];
  ep: number[] = [];
  t: number[] = [];
  loss: number[] = [];
  lr: number[] = [];
  epochs: EpochPoint[] = [];
  constructor(public info: Omit<CurvesRun, 'steps' | 'epochs'>) {}

  appendSteps(c: StepColumns): number {
    let added = 0;
    const last = this.gs.length > 0 ? this.gs[this.gs.length - 1] : -Infinity;
    for (let i = 0; i < c.globalStep.length; i++) {
      if (c.globalStep[i] <= last) continue; // already have it (snapshot and live events overlap)
      this.gs.push(c.globalStep[i]);
      this.ep.push(c.epoch[i]);
      this.t.push(c.elapsedMs[i]);
      this.loss.push(c.loss[i]);
      this.lr.push(c.lr[i]);
      added++;
    }
    return added;
  }

  appendEpochs(points: EpochPoint[]): number {
    let added = 0;
    for (const p of points) {
      const i = this.epochs.findIndex((e) => e.epoch === p.epoch);
      if (i >= 0) this.epochs[i] = p;
      else {
        this.epochs.push(p);
        added++;
      }
    }
    this.epochs.sort((a, b) => a.epoch - b.epoch);
    return added;
  }

  xs(): number[] {
    return view.xAxis === 'step' ? this.gs : view.xAxis === 'epoch' ? this.ep : this.t;
  }

  epochX(p: EpochPoint): number {
    return view.xAxis === 'step' ? p.globalStep : view.xAxis === 'epoch' ? p.epoch : p.elapsedMs;
  }
}

const runs = new Map<string, RunData>();
let problems: { runDir: string; message: string }[] = [];
let colors: ThemeColors = themeColors();

// ---------- layout ----------
const app = document.getElementById('app') ?? document.body;
const statusLine = el('p', { class: 'muted', 'data-testid': 'status', role: 'status', 'aria-live': 'polite' }, 'Waiting for run data…');
const problemBox = el('div', { 'data-testid': 'problems' });
const canvas = el('canvas', { 'data-testid': 'curves-canvas', role: 'img', 'aria-label': 'Loss curves chart', tabindex: 0 });
const chartBox = el('div', { class: 'chart-box' }, canvas);
const runTable = el('table', { class: 'data-table runs', 'data-testid': 'runs-table' });
const summaryBox = el('div', { 'data-testid': 'summary-box' });
const renderInfo = el('p', { class: 'muted', 'data-testid': 'render-info' });
const exportStatus = el('span', { class: 'muted', 'data-testid': 'export-status', role: 'status' });

const xSelect = select(
  'X axis',
  'x-axis',
  [
    { value: 'step', label: 'Step' },
    { value: 'epoch', label: 'Epoch' },
    { value: 'time', label: 'Wall time' },
  ],
  view.xAxis,
  (v) => {
    view.xAxis = v as CurvesXAxis;
    persist();
    redraw.now();
  },
);
const logBox = checkbox('Log scale', 'log-scale', view.logScale, (c) => {
  view.logScale = c;
  persist();
  redraw.now();
});
const smooth = slider({
  label: 'Smoothing (EMA)',
  testid: 'smoothing',
  min: 0,
  max: 0.99,
  step: 0.01,
  value: view.smoothing,
  format: (v) => v.toFixed(2),
  onInput: (v) => {
    view.smoothing = v;
    persist();
    redraw.request();
  },
});
const seriesBoxes = el(
  'div',
  { class: 'group', role: 'group', 'aria-label': 'Series' },
  checkbox('Train loss', 'series-train', view.series.train, (c) => setSeries('train', c)),
  checkbox('Learning rate', 'series-lr', view.series.lr, (c) => setSeries('lr', c)),
  ...VAL_SERIES.map((s) => checkbox(s.label, `series-${s.key}`, view.series[s.key], (c) => setSeries(s.key, c))),
);
function setSeries(key: keyof CurvesViewState['series'], on: boolean): void {
  view.series[key] = on;
  persist();
  redraw.now();
}

app.append(
  el('h1', {}, 'Loss curves'),
  statusLine,
  problemBox,
  el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Chart options' }, el('div', { class: 'group' }, el('span', {}, 'X axis'), xSelect), logBox, smooth.root, button('Export PNG', 'export-png', exportPng, { secondary: true, ariaLabel: 'Export the chart as PNG' }), button('Export CSV', 'export-csv', exportCsv, { secondary: true, ariaLabel: 'Export all points as CSV' }), exportStatus),
  seriesBoxes,
  chartBox,
  renderInfo,
  el('h2', {}, 'Runs'),
  runTable,
  summaryBox,
);

// ---------- chart ----------
const chart = new Chart(canvas, {
  type: 'line',
  data: { datasets: [] },
  options: {
    animation: false,
    parsing: false,
    normalized: true,
    responsive: true,
    maintainAspectRatio: false,
    spanGaps: true,
    interaction: { mode: 'nearest', intersect: false, axis: 'x' },
    plugins: { legend: { display: false }, tooltip: { enabled: true } },
    scales: {},
  },
});

function axisTitle(x: CurvesXAxis): string {
  return x === 'step' ? 'global step' : x === 'epoch' ? 'epoch' : 'wall time';
}

function scales(anyMetric: boolean): ChartOptions<'line'>['scales'] {
  const tick = { color: colors.muted };
  const grid = { color: colors.grid };
  const title = (text: string): { display: true; text: string; color: string } => ({ display: true, text, color: colors.muted });
  return {
    x: { type: 'linear', grid, ticks: { ...tick, callback: (v) => (view.xAxis === 'time' ? fmtDuration(Number(v)) : fmt(Number(v), 6)) }, title: title(axisTitle(view.xAxis)) },
    y: { type: view.logScale ? 'logarithmic' : 'linear', position: 'left', grid, ticks: tick, title: title('loss') },
    yLr: { type: view.logScale ? 'logarithmic' : 'linear', position: 'right', display: view.series.lr, grid: { drawOnChartArea: false }, ticks: tick, title: title('learning rate') },
    yMetric: { type: 'linear', position: 'right', display: anyMetric, min: 0, max: 1, grid: { drawOnChartArea: false }, ticks: tick, title: title('DSC / Brier / ECE') },
  };
}

function decimationTarget(): number {
  return Math.max(500, Math.round(canvas.clientWidth * 1.5));
}

function lineSet(label: string, data: XY[], color: string, axis: string, extra: Partial<ChartDataset<'line', XY[]>> = {}): ChartDataset<'line', XY[]> {
  return { label, data, borderColor: color, backgroundColor: color, yAxisID: axis, borderWidth: 1.5, pointRadius: 0, pointHitRadius: 4, ...extra };
}

function smoothedLoss(r: RunData): Float64Array {
  return ema(r.loss, view.smoothing);
}

function draw(): void {
  const t0 = performance.now();
  colors = themeColors();
  const datasets: ChartDataset<'line', XY[]>[] = [];
  const target = decimationTarget();
  let points = 0;
  let i = 0;
  for (const r of runs.values()) {
    const color = colors.runs[i++ % colors.runs.length];
    if (view.hidden.includes(r.info.runId)) continue;
    const xs = r.xs();
    const name = r.info.label;
    if (view.series.train && r.loss.length > 0) {
      if (view.smoothing > 0) {
        datasets.push(lineSet(`${name} · train loss (raw)`, lttb(xs, r.loss, target), withAlpha(color, 0.25), 'y', { borderWidth: 1 }));
      }
      datasets.push(lineSet(`${name} · train loss`, lttb(xs, smoothedLoss(r), target), color, 'y'));
    }
    if (view.series.lr && r.lr.length > 0) {
      datasets.push(lineSet(`${name} · lr`, lttb(xs, r.lr, target), withAlpha(color, 0.7), 'yLr', { borderDash: [3, 3], borderWidth: 1 }));
    }
    for (const s of VAL_SERIES) {
      if (!view.series[s.key]) continue;
      const data = r.epochs.map((p) => ({ x: r.epochX(p), y: numOrNaN(p.val[s.key]) })).filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x));
      if (data.length === 0) continue;
      datasets.push(lineSet(`${name} · ${s.label}`, data, color, s.axis, { borderDash: s.dash, borderWidth: 2, pointRadius: 3, pointStyle: s.key === 'loss' ? 'circle' : 'rectRot' }));
    }
  }
  for (const d of datasets) points += d.data.length;
  const anyMetric = VAL_SERIES.some((s) => s.axis === 'yMetric' && view.series[s.key]);
  chart.options.scales = scales(anyMetric);
  chart.options.color = colors.foreground;
  chart.data.datasets = datasets;
  chart.update('none');
  const ms = performance.now() - t0;
  const total = [...runs.values()].reduce((a, r) => a + r.loss.length, 0);
  renderInfo.textContent = `${total.toLocaleString()} step points, ${points.toLocaleString()} drawn after decimation, redrawn in ${ms.toFixed(0)} ms`;
  renderInfo.dataset.renderMs = ms.toFixed(1);
  renderInfo.dataset.drawnPoints = String(points);
  renderInfo.dataset.totalPoints = String(total);
  renderInfo.dataset.datasets = String(datasets.length);
  updateRunTable();
}
const redraw = redrawScheduler(draw);

function numOrNaN(v: number | null | undefined): number {
  return isNum(v) ? v : NaN;
}

// ---------- run table (also the legend: each run can be toggled) ----------
function updateRunTable(): void {
  const head = el('tr', {}, ...['Show', 'Run', 'Status', 'Steps', 'Last step', 'Last loss', 'Smoothed', 'LR', 'Epochs', 'Val loss', 'Val DSC', 'Val NLL', 'Val Brier', 'Val ECE'].map((h) => el('th', { scope: 'col' }, h)));
  const rows: HTMLTableRowElement[] = [];
  let i = 0;
  for (const r of runs.values()) {
    const color = colors.runs[i++ % colors.runs.length];
    const id = r.info.runId;
    const visible = !view.hidden.includes(id);
    const toggle = checkbox(`Show ${r.info.label}`, `run-toggle-${id}`, visible, (c) => {
      view.hidden = c ? view.hidden.filter((h) => h !== id) : [...view.hidden, id];
      persist();
      redraw.now();
    }, true);
    const n = r.loss.length;
    const lastEpoch = r.epochs.length > 0 ? r.epochs[r.epochs.length - 1] : undefined;
    const num = (key: string, v: number | null | undefined): HTMLTableCellElement => {
      const td = el('td', { class: 'num', 'data-testid': `${key}-${id}` });
      setNumber(td, v);
      return td;
    };
    const smoothed = n > 0 ? smoothedLoss(r)[n - 1] : null;
    const stepsTd = el('td', { class: 'num', 'data-testid': `steps-${id}`, 'data-value': String(n) }, n.toLocaleString());
    rows.push(
      el(
        'tr',
        { 'data-run': id, 'data-visible': String(visible) },
        el('td', {}, toggle),
        el('th', { scope: 'row' }, el('span', { class: 'swatch', style: undefined, 'data-color': color }), r.info.label),
        el('td', { 'data-testid': `run-status-${id}` }, r.info.status),
        stepsTd,
        num('last-step', n > 0 ? r.gs[n - 1] : null),
        num('last-loss', n > 0 ? r.loss[n - 1] : null),
        num('smoothed-loss', smoothed),
        num('last-lr', n > 0 ? r.lr[n - 1] : null),
        el('td', { class: 'num', 'data-testid': `epochs-${id}`, 'data-value': String(r.epochs.length) }, `${r.epochs.length} / ${r.info.totalEpochs}`),
        ...VAL_SERIES.map((s) => num(`val-${s.key}`, lastEpoch ? lastEpoch.val[s.key] : null)),
      ),
    );
  }
  runTable.replaceChildren(el('caption', { class: 'sr-only' }, 'Runs shown; the first column toggles each run'), el('thead', {}, head), el('tbody', {}, ...rows));
  // Swatch colours are set through the CSSOM (allowed by the CSP), not style attributes.
  for (const sw of runTable.querySelectorAll<HTMLElement>('.swatch')) sw.style.background = sw.dataset.color ?? '';
  renderSummary();
}

function renderSummary(): void {
  if (runs.size < 2) {
    summaryBox.replaceChildren();
    return;
  }
  const rows = [...runs.values()].map((r) => ({
    runId: r.info.runId,
    label: r.info.label,
    values: {
      valDsc: r.info.summary.best?.dsc,
      valNll: r.info.summary.best?.nll,
      valBrier: r.info.summary.best?.brier,
      valEce: r.info.summary.best?.ece,
      testDsc: r.info.summary.test?.dsc,
      testNll: r.info.summary.test?.nll,
      testBrier: r.info.summary.test?.brier,
      testEce: r.info.summary.test?.ece,
    },
  }));
  summaryBox.replaceChildren(
    el('h2', {}, 'Summary'),
    summaryTable(
      'Best validation epoch and test split, per run (best value per column highlighted)',
      'summary',
      [
        { key: 'valDsc', label: 'Val DSC', better: 'max' },
        { key: 'valNll', label: 'Val NLL', better: 'min' },
        { key: 'valBrier', label: 'Val Brier', better: 'min' },
        { key: 'valEce', label: 'Val ECE', better: 'min' },
        { key: 'testDsc', label: 'Test DSC', better: 'max' },
        { key: 'testNll', label: 'Test NLL', better: 'min' },
        { key: 'testBrier', label: 'Test Brier', better: 'min' },
        { key: 'testEce', label: 'Test ECE', better: 'min' },
      ],
      rows,
    ),
  );
}

function renderStatus(): void {
  const live = [...runs.values()].filter((r) => r.info.status === 'running').length;
  statusLine.textContent = runs.size === 0 ? 'No runs to show.' : `${runs.size} run${runs.size === 1 ? '' : 's'}${live > 0 ? `, ${live} training live` : ''}.`;
  problemBox.replaceChildren(...problems.map((p) => el('p', { class: 'problem', role: 'alert' }, `${p.runDir}: ${p.message}`)));
}

// ---------- export ----------
function exportPng(): void {
  const out = document.createElement('canvas');
  out.width = canvas.width;
  out.height = canvas.height;
  const ctx = out.getContext('2d');
  if (!ctx) return;
  ctx.fillStyle = colors.background;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  out.toBlob((blob) => {
    if (!blob) return;
    void blob.arrayBuffer().then((buf) => post({ type: 'export', format: 'png', bytes: new Uint8Array(buf), suggestedName: `${exportBaseName()}.png` }));
  }, 'image/png');
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvNum(v: number | null | undefined): string {
  return isNum(v) ? String(v) : '';
}

/** Every raw (unsmoothed, undecimated) point of every run. */
function buildCsv(): string {
  const lines = ['run_id,label,kind,epoch,global_step,elapsed_ms,loss,lr,val_loss,val_dsc,val_nll,val_brier,val_ece'];
  for (const r of runs.values()) {
    const id = csvField(r.info.runId);
    const label = csvField(r.info.label);
    for (let i = 0; i < r.gs.length; i++) {
      lines.push([id, label, 'step', csvNum(r.ep[i]), csvNum(r.gs[i]), csvNum(r.t[i]), csvNum(r.loss[i]), csvNum(r.lr[i]), '', '', '', '', ''].join(','));
    }
    for (const p of r.epochs) {
      lines.push([id, label, 'epoch', String(p.epoch), String(p.globalStep), csvNum(p.elapsedMs), csvNum(p.trainLoss), csvNum(p.lr), csvNum(p.val.loss), csvNum(p.val.dsc), csvNum(p.val.nll), csvNum(p.val.brier), csvNum(p.val.ece)].join(','));
    }
  }
  return lines.join('\n') + '\n';
}

function exportCsv(): void {
  post({ type: 'export', format: 'csv', text: buildCsv(), suggestedName: `${exportBaseName()}.csv` });
}

function exportBaseName(): string {
  const ids = [...runs.keys()];
  return ids.length === 1 ? `${ids[0]}-curves` : 'dscpp-curves';
}

// ---------- host messages ----------
function setStatus(runId: string, status: RunStatus, summary: RunSummary | null): void {
  const r = runs.get(runId);
  if (!r) return;
  r.info = { ...r.info, status, summary: summary ?? r.info.summary };
  renderStatus();
}

onHostMessage<CurvesHostMessage>((m) => {
  switch (m.type) {
    case 'snapshot': {
      runs.clear();
      for (const run of m.runs) {
        const { steps, epochs, ...info } = run;
        const r = new RunData(info);
        r.appendSteps(steps);
        r.appendEpochs(epochs);
        runs.set(run.runId, r);
      }
      problems = m.problems;
      view.runDirs = [...m.runs.map((r) => r.runDir), ...m.problems.map((p) => p.runDir)];
      persist();
      renderStatus();
      redraw.now();
      break;
    }
    case 'append': {
      const r = runs.get(m.runId);
      if (!r) break;
      r.appendSteps(m.steps);
      r.appendEpochs(m.epochs);
      redraw.request();
      break;
    }
    case 'status':
      setStatus(m.runId, m.status, m.summary);
      redraw.request();
      break;
    case 'exported':
      exportStatus.textContent = m.error !== null ? `Export failed: ${m.error}` : m.path !== null ? `Saved ${m.path}` : 'Export cancelled.';
      exportStatus.dataset.path = m.path ?? '';
      break;
    default:
      unknownMessage(post, m);
  }
});

watchTheme(() => redraw.now());
persist();
post({ type: 'ready' });
