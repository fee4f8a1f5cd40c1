// Mask-preview panel: a case browser (prev/next, search, worst-DSC-first), the image with overlays of
// ground truth (outline), prediction (re-thresholded live), probability heat map and entropy, opacity
// sliders, per-case DSC and NLL, and for 3D volumes a slice slider with axial/coronal/sagittal views.
import '../shared/panel.css';
import './masks.css';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { MaskCaseData, MaskCaseInfo, MasksHostMessage, MasksViewState, MasksWebviewMessage, SliceAxis } from '../../src/protocol/webview-masks';
import { onHostMessage, panelApi, redrawScheduler, unknownMessage } from '../shared/api';
import { button, el, select, setOptions, slider } from '../shared/dom';
import { fmt, setNumber } from '../shared/format';
import { parseColor, themeColors, watchTheme } from '../shared/theme';

const api = panelApi<MasksWebviewMessage, MasksViewState>();
const post = (m: MasksWebviewMessage): void => api.post(m);
const saved = api.state();
const view: MasksViewState = {
  panel: 'masks',
  runDir: saved?.runDir ?? '',
  caseIndex: saved?.caseIndex ?? 0,
  search: saved?.search ?? '',
  sort: saved?.sort ?? 'index',
  classIndex: saved?.classIndex ?? 1,
  threshold: saved?.threshold ?? 0.5,
  opacity: { truth: 1, prediction: 0.45, heat: 0, entropy: 0, ...(saved?.opacity ?? {}) },
  axis: saved?.axis ?? 'axial',
  slice: { axial: -1, coronal: -1, sagittal: -1, ...(saved?.slice ?? {}) },
};
const persist = (): void => api.saveState(view);

let cases: MaskCaseInfo[] = [];
let classes: string[] = [];
let numClasses = 2;
/** Loaded case arrays, most recent last (at most 4 kept). */
const loaded = new Map<number, Prepared>();
const requested = new Set<number>();

interface Prepared {
  data: MaskCaseData;
  /** Intensity window (2nd and 98th percentile of channel 0). */
  lo: number;
  hi: number;
}

// ---------- layout ----------
const app = document.getElementById('app') ?? document.body;
const title = el('h1', {}, 'Mask preview');
const statusLine = el('p', { class: 'muted', 'data-testid': 'status', role: 'status', 'aria-live': 'polite' }, 'Waiting for run data…');
const problemBox = el('div', { 'data-testid': 'problems' });
const search = document.createElement('vscode-textfield') as VscodeTextfield;
search.placeholder = 'Search case id';
search.value = view.search;
search.setAttribute('aria-label', 'Search cases by id');
search.setAttribute('data-testid', 'case-search');
search.addEventListener('input', () => {
  view.search = search.value;
  persist();
  refreshCaseList(true);
});
const sortSelect = select(
  'Sort cases',
  'case-sort',
  [
    { value: 'index', label: 'Preview order' },
    { value: 'dsc', label: 'DSC, worst first' },
  ],
  view.sort,
  (v) => {
    view.sort = v === 'dsc' ? 'dsc' : 'index';
    persist();
    refreshCaseList(false);
  },
);
const caseSelect = select('Case', 'case-select', [], '', (v) => goTo(Number(v)));
const prev = button('◀ Previous', 'case-prev', () => step(-1), { secondary: true, ariaLabel: 'Previous case' });
const next = button('Next ▶', 'case-next', () => step(1), { secondary: true, ariaLabel: 'Next case' });
const position = el('span', { class: 'muted', 'data-testid': 'case-position' });

const caseId = el('span', { class: 'value', 'data-testid': 'case-id' });
const caseDsc = el('span', { class: 'value', 'data-testid': 'case-dsc' });
const caseNll = el('span', { class: 'value', 'data-testid': 'case-nll' });
const liveDsc = el('span', { class: 'value', 'data-testid': 'dsc-at-threshold' });
const predCount = el('span', { class: 'value', 'data-testid': 'pred-count' });
const truthCount = el('span', { class: 'value', 'data-testid': 'truth-count' });
const dims = el('span', { class: 'muted', 'data-testid': 'slice-dims' });

const classSelect = select('Class', 'mask-class', [], String(view.classIndex), (v) => {
  view.classIndex = Number(v);
  persist();
  liveStats = undefined;
  redraw.request();
});
const thresholdSlider = slider({ label: 'Threshold', testid: 'threshold', min: 0.01, max: 0.99, step: 0.01, value: view.threshold, format: (v) => v.toFixed(2), onInput: (v) => {
  view.threshold = v;
  persist();
  liveStats = undefined;
  redraw.request();
} });
const opacity = (key: keyof MasksViewState['opacity'], label: string): HTMLElement =>
  slider({ label, testid: `opacity-${key}`, min: 0, max: 1, step: 0.05, value: view.opacity[key], format: (v) => `${Math.round(v * 100)}%`, onInput: (v) => {
    view.opacity[key] = v;
    persist();
    redraw.request();
  } }).root;
const axisSelect = select(
  'Slice orientation',
  'axis-select',
  [
    { value: 'axial', label: 'Axial' },
    { value: 'coronal', label: 'Coronal' },
    { value: 'sagittal', label: 'Sagittal' },
  ],
  view.axis,
  (v) => {
    view.axis = v as SliceAxis;
    persist();
    redraw.now();
  },
);
const sliceSlider = slider({ label: 'Slice', testid: 'slice', min: 0, max: 0, step: 1, value: 0, onInput: (v) => {
  view.slice[view.axis] = v;
  persist();
  redraw.request();
} });
const volumeControls = el('div', { class: 'toolbar', 'data-testid': 'volume-controls', role: 'group', 'aria-label': '3D slice controls' }, el('span', {}, 'View'), axisSelect, sliceSlider.root);
const canvas = el('canvas', { 'data-testid': 'mask-canvas', class: 'mask', role: 'img', 'aria-label': 'Case image with overlays', tabindex: 0 });
const legend = el('ul', { class: 'legend', 'aria-label': 'Overlay colours' });

app.append(
  title,
  statusLine,
  problemBox,
  el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Case browser' }, prev, caseSelect, next, position, search, sortSelect),
  el('div', { class: 'toolbar' }, el('span', { class: 'readout' }, 'case', caseId), el('span', { class: 'readout' }, 'DSC', caseDsc), el('span', { class: 'readout' }, 'NLL', caseNll), el('span', { class: 'readout' }, 'DSC at threshold', liveDsc), el('span', { class: 'readout' }, 'predicted px in slice', predCount), el('span', { class: 'readout' }, 'truth px in slice', truthCount)),
  el('div', { class: 'toolbar', role: 'group', 'aria-label': 'Overlays' }, classSelect, thresholdSlider.root, opacity('truth', 'Truth outline'), opacity('prediction', 'Prediction'), opacity('heat', 'Probability'), opacity('entropy', 'Uncertainty (entropy)')),
  volumeControls,
  legend,
  el('div', { class: 'canvas-wrap' }, canvas),
  dims,
);

// ---------- case list ----------
function ordered(): MaskCaseInfo[] {
  const q = view.search.trim().toLowerCase();
  const list = cases.filter((c) => q === '' || c.id.toLowerCase().includes(q));
  if (view.sort === 'dsc') {
    list.sort((a, b) => (a.dsc ?? Infinity) - (b.dsc ?? Infinity) || a.index - b.index);
  }
  return list;
}

function refreshCaseList(jumpToFirst: boolean): void {
  const list = ordered();
  caseSelect.dataset.order = list.map((c) => c.id).join(',');
  if (list.length > 0 && (jumpToFirst || !list.some((c) => c.index === view.caseIndex))) {
    if (!list.some((c) => c.index === view.caseIndex)) view.caseIndex = list[0].index;
  }
  setOptions(caseSelect, list.map((c) => ({ value: String(c.index), label: `${c.id}  (DSC ${fmt(c.dsc, 3)})` })), String(view.caseIndex));
  showCase();
}

function step(d: number): void {
  const list = ordered();
  if (list.length === 0) return;
  const i = list.findIndex((c) => c.index === view.caseIndex);
  const j = Math.max(0, Math.min(list.length - 1, (i < 0 ? 0 : i) + d));
  goTo(list[j].index);
}

function goTo(index: number): void {
  if (!cases.some((c) => c.index === index)) return;
  view.caseIndex = index;
  view.slice = { axial: -1, coronal: -1, sagittal: -1 };
  persist();
  caseSelect.value = String(index);
  liveStats = undefined;
  showCase();
}

function showCase(): void {
  const info = cases.find((c) => c.index === view.caseIndex);
  const list = ordered();
  const pos = list.findIndex((c) => c.index === view.caseIndex);
  position.textContent = list.length > 0 ? `${pos + 1} / ${list.length}${list.length < cases.length ? ` (of ${cases.length})` : ''}` : 'no cases match';
  prev.disabled = pos <= 0;
  next.disabled = pos < 0 || pos >= list.length - 1;
  caseId.textContent = info?.id ?? '—';
  setNumber(caseDsc, info?.dsc ?? null);
  setNumber(caseNll, info?.nll ?? null);
  if (!info) return;
  if (!loaded.has(info.index) && !requested.has(info.index)) {
    requested.add(info.index);
    statusLine.textContent = `Loading case ${info.id}…`;
    post({ type: 'getCase', index: info.index });
  }
  redraw.now();
}

// ---------- rendering ----------
function prepare(d: MaskCaseData): Prepared {
  const n = d.labels.length;
  const stride = d.channels;
  const sample: number[] = [];
  const every = Math.max(1, Math.floor(n / 20000));
  for (let i = 0; i < n; i += every) sample.push(d.image[i * stride]);
  sample.sort((a, b) => a - b);
  const lo = sample[Math.floor(sample.length * 0.02)] ?? 0;
  let hi = sample[Math.min(sample.length - 1, Math.floor(sample.length * 0.98))] ?? 1;
  if (!(hi > lo)) hi = lo + 1;
  return { data: d, lo, hi };
}

/** Maps (row, col) of the shown slice to a voxel index. */
function sliceGeometry(spatial: number[]): { rows: number; cols: number; count: number; voxel: (r: number, c: number, s: number) => number } {
  if (spatial.length === 2) {
    const [H, W] = spatial;
    return { rows: H, cols: W, count: 1, voxel: (r, c) => r * W + c };
  }
  const [D, H, W] = spatial;
  switch (view.axis) {
    case 'axial':
      return { rows: H, cols: W, count: D, voxel: (r, c, s) => (s * H + r) * W + c };
    case 'coronal':
      return { rows: D, cols: W, count: H, voxel: (r, c, s) => ((D - 1 - r) * H + s) * W + c };
    case 'sagittal':
      return { rows: D, cols: H, count: W, voxel: (r, c, s) => ((D - 1 - r) * H + c) * W + s };
  }
}

/** Probability of the chosen class at voxel i. */
function probAt(d: MaskCaseData, i: number, cls: number): number {
  return d.probChannels === 1 ? (cls === 0 ? 1 - d.probs[i] : d.probs[i]) : d.probs[i * d.probChannels + cls];
}

function entropyAt(d: MaskCaseData, i: number): number {
  if (d.probChannels === 1) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, d.probs[i]));
    return -(p * Math.log(p) + (1 - p) * Math.log(1 - p)) / Math.LN2;
  }
  let h = 0;
  for (let c = 0; c < d.probChannels; c++) {
    const p = d.probs[i * d.probChannels + c];
    if (p > 0) h -= p * Math.log(p);
  }
  return h / Math.log(d.probChannels);
}

/** Heat colour map (dark blue → red → yellow), t in [0, 1]. */
function heat(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [13, 8, 135],
    [156, 23, 158],
    [237, 121, 83],
    [240, 249, 33],
  ];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

let liveStats: { caseIndex: number; dsc: number | null } | undefined;

/** DSC of (p ≥ threshold) against the truth over the whole case, for the chosen class. */
function dscAtThreshold(d: MaskCaseData, cls: number): number | null {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const n = d.labels.length;
  for (let i = 0; i < n; i++) {
    const pred = probAt(d, i, cls) >= view.threshold;
    const truth = d.labels[i] === cls;
    if (pred && truth) tp++;
    else if (pred) fp++;
    else if (truth) fn++;
  }
  return tp + fp + fn === 0 ? null : (2 * tp) / (2 * tp + fp + fn);
}

function draw(): void {
  const p = loaded.get(view.caseIndex);
  if (!p) {
    const ctx = canvas.getContext('2d');
    ctx?.clearRect(0, 0, canvas.width, canvas.height);
    return;
  }
  const d = p.data;
  const is3d = d.spatial.length === 3;
  volumeControls.classList.toggle('hidden', !is3d);
  const g = sliceGeometry(d.spatial);
  let s = view.slice[view.axis];
  if (s < 0 || s >= g.count) s = Math.floor(g.count / 2);
  view.slice[view.axis] = s;
  sliceSlider.input.max = String(g.count - 1);
  sliceSlider.set(s);
  sliceSlider.output.textContent = `${s + 1} / ${g.count}`;
  const cls = Math.max(0, Math.min(view.classIndex, Math.max(1, numClasses - 1)));
  const theme = themeColors();
  const truthC = parseColor(theme.green);
  const predC = parseColor(theme.red);
  const entC: [number, number, number] = [parseColor(theme.purple)[0], parseColor(theme.purple)[1], parseColor(theme.purple)[2]];
  if (canvas.width !== g.cols || canvas.height !== g.rows) {
    canvas.width = g.cols;
    canvas.height = g.rows;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(g.cols, g.rows);
  const px = img.data;
  const rgb = d.channels === 3;
  const scale = 255 / (p.hi - p.lo);
  const op = view.opacity;
  let nPred = 0;
  let nTruth = 0;
  const isTruth = (r: number, c: number): boolean => r >= 0 && c >= 0 && r < g.rows && c < g.cols && d.labels[g.voxel(r, c, s)] === cls;
  for (let r = 0; r < g.rows; r++) {
    for (let c = 0; c < g.cols; c++) {
      const v = g.voxel(r, c, s);
      const o = (r * g.cols + c) * 4;
      let R: number, G: number, B: number;
      if (rgb) {
        R = (d.image[v * 3] - p.lo) * scale;
        G = (d.image[v * 3 + 1] - p.lo) * scale;
        B = (d.image[v * 3 + 2] - p.lo) * scale;
      } else {
        R = G = B = (d.image[v * d.channels] - p.lo) * scale;
      }
      const prob = probAt(d, v, cls);
      if (op.heat > 0) {
        const h = heat(prob);
        const a = op.heat * prob;
        R += (h[0] - R) * a;
        G += (h[1] - G) * a;
        B += (h[2] - B) * a;
      }
      if (op.entropy > 0) {
        const a = op.entropy * entropyAt(d, v);
        R += (entC[0] - R) * a;
        G += (entC[1] - G) * a;
        B += (entC[2] - B) * a;
      }
      if (prob >= view.threshold) {
        nPred++;
        const a = op.prediction;
        R += (predC[0] - R) * a;
        G += (predC[1] - G) * a;
        B += (predC[2] - B) * a;
      }
      if (d.labels[v] === cls) {
        nTruth++;
        const edge = !isTruth(r - 1, c) || !isTruth(r + 1, c) || !isTruth(r, c - 1) || !isTruth(r, c + 1);
        if (edge) {
          const a = op.truth;
          R += (truthC[0] - R) * a;
          G += (truthC[1] - G) * a;
          B += (truthC[2] - B) * a;
        }
      }
      px[o] = R;
      px[o + 1] = G;
      px[o + 2] = B;
      px[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  // Scale up with whole pixels, through the CSSOM (allowed by the CSP).
  const zoom = Math.max(1, Math.floor(Math.min(((app.clientWidth || 600) - 8) / g.cols, 520 / g.rows)));
  canvas.style.width = `${g.cols * zoom}px`;
  canvas.style.height = `${g.rows * zoom}px`;
  predCount.textContent = String(nPred);
  predCount.dataset.value = String(nPred);
  truthCount.textContent = String(nTruth);
  truthCount.dataset.value = String(nTruth);
  if (!liveStats || liveStats.caseIndex !== view.caseIndex) liveStats = { caseIndex: view.caseIndex, dsc: dscAtThreshold(d, cls) };
  setNumber(liveDsc, liveStats.dsc);
  dims.textContent = is3d ? `${view.axis} slice ${s + 1} of ${g.count}; shown ${g.cols}×${g.rows}; volume ${d.spatial.join('×')} (D×H×W)` : `${g.cols}×${g.rows} pixels`;
  canvas.dataset.slice = String(s);
  canvas.dataset.caseIndex = String(view.caseIndex);
  const info = cases.find((c) => c.index === view.caseIndex);
  canvas.setAttribute('aria-label', `Case ${info?.id ?? ''}${is3d ? `, ${view.axis} slice ${s + 1} of ${g.count}` : ''}: image with truth outline, prediction at threshold ${view.threshold.toFixed(2)}`);
  statusLine.textContent = `${cases.length} preview case${cases.length === 1 ? '' : 's'}.`;
  renderLegend(theme.green, theme.red, theme.purple);
}
const redraw = redrawScheduler(draw);

function renderLegend(truth: string, pred: string, entropy: string): void {
  const item = (color: string, text: string): HTMLLIElement => {
    const sw = el('span', { class: 'swatch' });
    sw.style.background = color;
    return el('li', {}, sw, text);
  };
  legend.replaceChildren(item(truth, 'ground truth (outline)'), item(pred, `prediction (p ≥ ${view.threshold.toFixed(2)})`), item('rgb(237,121,83)', 'probability (heat)'), item(entropy, 'uncertainty (entropy)'));
}

// ---------- host messages ----------
onHostMessage<MasksHostMessage>((m) => {
  switch (m.type) {
    case 'snapshot': {
      if (m.runDir !== view.runDir) view.caseIndex = 0;
      view.runDir = m.runDir;
      cases = m.cases;
      classes = m.classes;
      numClasses = m.numClasses;
      loaded.clear();
      requested.clear();
      title.textContent = `Mask preview · ${m.label}`;
      problemBox.replaceChildren(...(m.problem !== null ? [el('p', { class: 'problem', role: 'alert' }, m.problem)] : []));
      statusLine.textContent = `${cases.length} preview case${cases.length === 1 ? '' : 's'}.`;
      const fg = classes.map((name, i) => ({ value: String(i), label: name })).filter((o) => numClasses <= 1 || o.value !== '0');
      if (!fg.some((o) => Number(o.value) === view.classIndex)) view.classIndex = fg.length > 0 ? Number(fg[0].value) : 1;
      setOptions(classSelect, fg, String(view.classIndex));
      classSelect.classList.toggle('hidden', fg.length <= 1);
      persist();
      refreshCaseList(false);
      break;
    }
    case 'case': {
      const { type: _type, ...data } = m;
      loaded.delete(data.index);
      loaded.set(data.index, prepare(data));
      requested.delete(data.index);
      while (loaded.size > 4) loaded.delete(loaded.keys().next().value as number);
      if (data.index === view.caseIndex) {
        liveStats = undefined;
        redraw.now();
      }
      break;
    }
    case 'caseFailed':
      requested.delete(m.index);
      problemBox.replaceChildren(el('p', { class: 'problem', role: 'alert' }, m.message));
      break;
    default:
      unknownMessage(post, m);
  }
});

watchTheme(() => redraw.now());
persist();
post({ type: 'ready' });
