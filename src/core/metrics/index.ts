// Segmentation and calibration metrics over plain typed arrays (no tfjs), streaming: update() with one
// batch or case at a time, aggregate(), reset(). Probabilities are channels-last [..., C] Float32Array,
// labels integer class ids, one per voxel.
//
// Conventions:
//  - Overlap metrics use the argmax prediction. A class with no ground truth and no prediction
//    (tp+fp+fn = 0) has DSC/IoU NaN (undefined), excluded from NaN-aware means; precision is NaN when
//    nothing is predicted, recall when there is no ground truth.
//  - NLL: mean over voxels of −Σ_c y·log p (one-hot over all classes), p clipped to [1e-7, 1].
//  - Brier: mean over voxels of Σ_c (y_c − p_c)² / C (normalised by the number of classes, so it is in
//    [0, 1] for any C; multiply by C for the sum-over-classes convention).
//  - ECE / MCE / RMS-CE: equal-width bins over [0, 1] (default 15). Top-label: confidence max_c p_c
//    against argmax correctness. Marginal: per class one-vs-rest (p_c against y == c), averaged over
//    classes. ACE: adaptive equal-mass bins of the top-label confidence; in streaming mode the quantiles
//    come from a 2000-bin histogram (resolution 5e-4), so ACE is exact up to that resolution.
import type { ReliabilityBin } from '../../protocol/evaluation';

export const DEFAULT_BINS = 15;
const FINE_BINS = 2000;
const P_MIN = 1e-7;

export class MetricInputError extends Error {}

function checkInput(what: string, probs: Float32Array, labels: ArrayLike<number>, numClasses: number): number {
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new MetricInputError(`${what}: numClasses must be an integer >= 2, got ${numClasses}`);
  if (probs.length !== labels.length * numClasses) throw new MetricInputError(`${what}: probs has ${probs.length} values but labels has ${labels.length} voxels × ${numClasses} classes = ${labels.length * numClasses}`);
  return labels.length;
}

function checkShape(what: string, shape: number[] | undefined, voxels: number): void {
  if (!shape) return;
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== voxels) throw new MetricInputError(`${what}: shape [${shape.join(', ')}] has ${n} voxels but labels has ${voxels}`);
}

function argmaxAt(probs: Float32Array, i: number, k: number): { cls: number; conf: number } {
  let cls = 0;
  let conf = probs[i * k] as number;
  for (let c = 1; c < k; c++) {
    const v = probs[i * k + c] as number;
    if (v > conf) {
      conf = v;
      cls = c;
    }
  }
  return { cls, conf };
}

export function nanMean(xs: (number | null)[]): number {
  let s = 0;
  let n = 0;
  for (const x of xs) {
    if (x !== null && !Number.isNaN(x)) {
      s += x;
      n++;
    }
  }
  return n ? s / n : NaN;
}

// ---------------------------------------------------------------------------------------------
// Overlap

export interface OverlapScores {
  dsc: number;
  iou: number;
  precision: number;
  recall: number;
  specificity: number;
}

export interface ClassCounts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export function scoresFromCounts({ tp, fp, fn, tn }: ClassCounts): OverlapScores {
  const div = (a: number, b: number) => (b === 0 ? NaN : a / b);
  return { dsc: div(2 * tp, 2 * tp + fp + fn), iou: div(tp, tp + fp + fn), precision: div(tp, tp + fp), recall: div(tp, tp + fn), specificity: div(tn, tn + fp) };
}

function meanScores(list: OverlapScores[]): OverlapScores {
  return {
    dsc: nanMean(list.map((s) => s.dsc)),
    iou: nanMean(list.map((s) => s.iou)),
    precision: nanMean(list.map((s) => s.precision)),
    recall: nanMean(list.map((s) => s.recall)),
    specificity: nanMean(list.map((s) => s.specificity)),
  };
}

export interface SegmentationResult {
  perClass: (OverlapScores & ClassCounts)[];
  /** NaN-aware mean over all classes. */
  mean: OverlapScores;
  /** NaN-aware mean over classes 1..C−1 (the foreground). */
  meanForeground: OverlapScores;
  voxels: number;
}

/** Pooled confusion counts per class (argmax), streamed. */
export class SegmentationAccumulator {
  readonly numClasses: number;
  private counts: ClassCounts[] = [];
  private voxels = 0;
  constructor(opts: { numClasses: number }) {
    this.numClasses = opts.numClasses;
    this.reset();
  }
  reset(): void {
    this.counts = Array.from({ length: this.numClasses }, () => ({ tp: 0, fp: 0, fn: 0, tn: 0 }));
    this.voxels = 0;
  }
  update(probs: Float32Array, labels: ArrayLike<number>): void {
    const k = this.numClasses;
    const n = checkInput('SegmentationAccumulator.update', probs, labels, k);
    const conf = new Float64Array(k * k); // [truth][pred]
    for (let i = 0; i < n; i++) {
      const t = labels[i] as number;
      if (t < 0 || t >= k) throw new MetricInputError(`SegmentationAccumulator.update: label ${t} at voxel ${i} is outside 0..${k - 1}`);
      conf[t * k + argmaxAt(probs, i, k).cls]++;
    }
    this.voxels += n;
    for (let c = 0; c < k; c++) {
      let tp = 0;
      let fp = 0;
      let fn = 0;
      for (let o = 0; o < k; o++) {
        if (o === c) tp += conf[c * k + c] as number;
        else {
          fn += conf[c * k + o] as number;
          fp += conf[o * k + c] as number;
        }
      }
      const cc = this.counts[c] as ClassCounts;
      cc.tp += tp;
      cc.fp += fp;
      cc.fn += fn;
      cc.tn += n - tp - fp - fn;
    }
  }
  aggregate(): SegmentationResult {
    const perClass = this.counts.map((c) => ({ ...c, ...scoresFromCounts(c) }));
    return { perClass, mean: meanScores(perClass), meanForeground: meanScores(perClass.slice(1)), voxels: this.voxels };
  }
}

export function segmentationMetrics(input: { probs: Float32Array; labels: ArrayLike<number>; shape?: number[]; numClasses: number }): SegmentationResult {
  const acc = new SegmentationAccumulator({ numClasses: input.numClasses });
  checkShape('segmentationMetrics', input.shape, input.labels.length);
  acc.update(input.probs, input.labels);
  return acc.aggregate();
}

// ---------------------------------------------------------------------------------------------
// Calibration

interface BinSums {
  count: Float64Array;
  conf: Float64Array;
  acc: Float64Array;
}

function newBins(n: number): BinSums {
  return { count: new Float64Array(n), conf: new Float64Array(n), acc: new Float64Array(n) };
}

function binIndex(p: number, n: number): number {
  return Math.min(n - 1, Math.max(0, Math.floor(p * n)));
}

export interface CalibrationErrors {
  ece: number;
  mce: number;
  rmsce: number;
  reliability: ReliabilityBin[];
}

function errorsFromBins(b: BinSums): CalibrationErrors {
  const n = b.count.length;
  const total = b.count.reduce((a, x) => a + x, 0);
  let ece = 0;
  let mce = 0;
  let sq = 0;
  const reliability: ReliabilityBin[] = [];
  for (let i = 0; i < n; i++) {
    const c = b.count[i] as number;
    const conf = c ? (b.conf[i] as number) / c : null;
    const acc = c ? (b.acc[i] as number) / c : null;
    reliability.push({ lo: i / n, hi: (i + 1) / n, count: c, meanConfidence: conf, accuracy: acc });
    if (c && conf !== null && acc !== null) {
      const gap = Math.abs(acc - conf);
      ece += (c / total) * gap;
      sq += (c / total) * gap * gap;
      mce = Math.max(mce, gap);
    }
  }
  return total ? { ece, mce, rmsce: Math.sqrt(sq), reliability } : { ece: NaN, mce: NaN, rmsce: NaN, reliability };
}

/** ACE from a fine histogram: `bins` equal-mass groups of fine bins (quantiles of the confidence). */
function aceFromFine(fine: BinSums, bins: number): number {
  const total = fine.count.reduce((a, x) => a + x, 0);
  if (!total) return NaN;
  let ace = 0;
  let groups = 0;
  let cCount = 0;
  let cConf = 0;
  let cAcc = 0;
  let boundary = total / bins;
  let taken = 0;
  for (let i = 0; i < fine.count.length; i++) {
    cCount += fine.count[i] as number;
    cConf += fine.conf[i] as number;
    cAcc += fine.acc[i] as number;
    taken += fine.count[i] as number;
    if (taken >= boundary - 1e-9 || i === fine.count.length - 1) {
      if (cCount > 0) {
        ace += Math.abs(cAcc / cCount - cConf / cCount);
        groups++;
      }
      cCount = cConf = cAcc = 0;
      boundary = (Math.floor(taken / (total / bins) + 1e-9) + 1) * (total / bins);
    }
  }
  return groups ? ace / groups : NaN;
}

export interface ClassCalibration extends CalibrationErrors {
  ace: number;
  /** Per-class NLL: mean over voxels of −[y_c log p_c + (1−y_c) log(1−p_c)] (one-vs-rest). */
  nll: number;
  /** Per-class Brier: mean over voxels of (y_c − p_c)². */
  brier: number;
}

export interface CalibrationResult extends CalibrationErrors {
  nll: number;
  brier: number;
  ace: number;
  /** Marginal (per class one-vs-rest) ECE / MCE averaged over classes. */
  marginalEce: number;
  marginalMce: number;
  perClass: ClassCalibration[];
  voxels: number;
}

export class CalibrationAccumulator {
  readonly numClasses: number;
  readonly bins: number;
  private top!: BinSums;
  private topFine!: BinSums;
  private cls!: BinSums[];
  private clsFine!: BinSums[];
  private nllSum = 0;
  private brierSum = 0;
  private clsNll!: Float64Array;
  private clsBrier!: Float64Array;
  private voxels = 0;
  constructor(opts: { numClasses: number; bins?: number }) {
    this.numClasses = opts.numClasses;
    this.bins = opts.bins ?? DEFAULT_BINS;
    if (!Number.isInteger(this.bins) || this.bins < 1) throw new MetricInputError(`CalibrationAccumulator: bins must be an integer >= 1, got ${this.bins}`);
    this.reset();
  }
  reset(): void {
    this.top = newBins(this.bins);
    this.topFine = newBins(FINE_BINS);
    this.cls = Array.from({ length: this.numClasses }, () => newBins(this.bins));
    this.clsFine = Array.from({ length: this.numClasses }, () => newBins(FINE_BINS));
    this.clsNll = new Float64Array(this.numClasses);
    this.clsBrier = new Float64Array(this.numClasses);
    this.nllSum = 0;
    this.brierSum = 0;
    this.voxels = 0;
  }
  update(probs: Float32Array, labels: ArrayLike<number>): void {
    const k = this.numClasses;
    const n = checkInput('CalibrationAccumulator.update', probs, labels, k);
    const nb = this.bins;
    for (let i = 0; i < n; i++) {
      const t = labels[i] as number;
      if (t < 0 || t >= k) throw new MetricInputError(`CalibrationAccumulator.update: label ${t} at voxel ${i} is outside 0..${k - 1}`);
      const { cls, conf } = argmaxAt(probs, i, k);
      const correct = cls === t ? 1 : 0;
      let b = binIndex(conf, nb);
      this.top.count[b]++;
      this.top.conf[b] += conf;
      this.top.acc[b] += correct;
      b = binIndex(conf, FINE_BINS);
      this.topFine.count[b]++;
      this.topFine.conf[b] += conf;
      this.topFine.acc[b] += correct;
      let brier = 0;
      for (let c = 0; c < k; c++) {
        const p = probs[i * k + c] as number;
        const y = c === t ? 1 : 0;
        const d = y - p;
        brier += d * d;
        this.clsBrier[c] += d * d;
        const pc = Math.min(1 - P_MIN, Math.max(P_MIN, p));
        this.clsNll[c] -= y ? Math.log(pc) : Math.log(1 - pc);
        const cb = this.cls[c] as BinSums;
        const bi = binIndex(p, nb);
        cb.count[bi]++;
        cb.conf[bi] += p;
        cb.acc[bi] += y;
        const fb = this.clsFine[c] as BinSums;
        const fi = binIndex(p, FINE_BINS);
        fb.count[fi]++;
        fb.conf[fi] += p;
        fb.acc[fi] += y;
      }
      this.brierSum += brier / k;
      this.nllSum -= Math.log(Math.max(P_MIN, probs[i * k + t] as number));
    }
    this.voxels += n;
  }
  aggregate(): CalibrationResult {
    const top = errorsFromBins(this.top);
    const perClass: ClassCalibration[] = this.cls.map((b, c) => ({ ...errorsFromBins(b), ace: aceFromFine(this.clsFine[c] as BinSums, this.bins), nll: this.voxels ? (this.clsNll[c] as number) / this.voxels : NaN, brier: this.voxels ? (this.clsBrier[c] as number) / this.voxels : NaN }));
    return {
      ...top,
      nll: this.voxels ? this.nllSum / this.voxels : NaN,
      brier: this.voxels ? this.brierSum / this.voxels : NaN,
      ace: aceFromFine(this.topFine, this.bins),
      marginalEce: nanMean(perClass.map((c) => c.ece)),
      marginalMce: nanMean(perClass.map((c) => c.mce)),
      perClass,
      voxels: this.voxels,
    };
  }
}

export function calibrationMetrics(input: { probs: Float32Array; labels: ArrayLike<number>; shape?: number[]; numClasses: number; bins?: number }): CalibrationResult {
  checkShape('calibrationMetrics', input.shape, input.labels.length);
  const acc = new CalibrationAccumulator({ numClasses: input.numClasses, bins: input.bins });
  acc.update(input.probs, input.labels);
  return acc.aggregate();
}

// ---------------------------------------------------------------------------------------------
// Threshold sweep (one-vs-rest per foreground class; binary: class 1)

export const DEFAULT_THRESHOLDS: number[] = Array.from({ length: 19 }, (_, i) => Math.round((0.05 + 0.05 * i) * 100) / 100);

export interface SweepPointCounts {
  threshold: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  dsc: number;
}

export class ThresholdSweepAccumulator {
  readonly thresholds: number[];
  readonly classes: number[];
  private tp!: Float64Array[];
  private fp!: Float64Array[];
  private fn!: Float64Array[];
  constructor(readonly opts: { numClasses: number; thresholds?: number[]; classes?: number[] }) {
    this.thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
    if (this.thresholds.some((t) => !(t > 0 && t < 1))) throw new MetricInputError(`thresholdSweep: thresholds must be in (0, 1), got [${this.thresholds.join(', ')}]`);
    this.classes = opts.classes ?? Array.from({ length: opts.numClasses - 1 }, (_, i) => i + 1);
    this.reset();
  }
  reset(): void {
    const z = () => new Float64Array(this.thresholds.length);
    this.tp = this.classes.map(z);
    this.fp = this.classes.map(z);
    this.fn = this.classes.map(z);
  }
  update(probs: Float32Array, labels: ArrayLike<number>): void {
    const k = this.opts.numClasses;
    const n = checkInput('thresholdSweep', probs, labels, k);
    const T = this.thresholds;
    this.classes.forEach((c, ci) => {
      const tp = this.tp[ci] as Float64Array;
      const fp = this.fp[ci] as Float64Array;
      const fn = this.fn[ci] as Float64Array;
      for (let i = 0; i < n; i++) {
        const p = probs[i * k + c] as number;
        const pos = labels[i] === c;
        for (let j = 0; j < T.length; j++) {
          const predicted = p >= (T[j] as number);
          if (predicted && pos) tp[j]++;
          else if (predicted) fp[j]++;
          else if (pos) fn[j]++;
        }
      }
    });
  }
  aggregate(): { classIndex: number; points: SweepPointCounts[] }[] {
    return this.classes.map((c, ci) => ({
      classIndex: c,
      points: this.thresholds.map((t, j) => {
        const tp = (this.tp[ci] as Float64Array)[j] as number;
        const fp = (this.fp[ci] as Float64Array)[j] as number;
        const fn = (this.fn[ci] as Float64Array)[j] as number;
        const s = scoresFromCounts({ tp, fp, fn, tn: 0 });
        return { threshold: t, tp, fp, fn, precision: s.precision, recall: s.recall, dsc: s.dsc };
      }),
    }));
  }
}

export function thresholdSweep(input: { probs: Float32Array; labels: ArrayLike<number>; shape?: number[]; numClasses: number; thresholds?: number[] }): { classIndex: number; points: SweepPointCounts[] }[] {
  checkShape('thresholdSweep', input.shape, input.labels.length);
  const acc = new ThresholdSweepAccumulator({ numClasses: input.numClasses, thresholds: input.thresholds });
  acc.update(input.probs, input.labels);
  return acc.aggregate();
}

// ---------------------------------------------------------------------------------------------
// Temperature scaling: p_T = softmax(log p / T), T fitted by minimising NLL (golden-section search
// over log T in [log 0.05, log 20]).

export function applyTemperature(probs: Float32Array, numClasses: number, temperature: number): Float32Array {
  const k = numClasses;
  const out = new Float32Array(probs.length);
  const inv = 1 / temperature;
  const z = new Float64Array(k);
  for (let i = 0; i < probs.length; i += k) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = Math.log(Math.max(P_MIN, probs[i + c] as number)) * inv;
      z[c] = v;
      if (v > max) max = v;
    }
    let s = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp((z[c] as number) - max);
      z[c] = e;
      s += e;
    }
    for (let c = 0; c < k; c++) out[i + c] = (z[c] as number) / s;
  }
  return out;
}

function nllAt(logp: Float32Array, labels: ArrayLike<number>, k: number, T: number): number {
  const inv = 1 / T;
  let total = 0;
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, (logp[i * k + c] as number) * inv);
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp((logp[i * k + c] as number) * inv - max);
    total += -((logp[i * k + (labels[i] as number)] as number) * inv - max - Math.log(s));
  }
  return total / n;
}

export interface TemperatureFit {
  temperature: number;
  nllBefore: number;
  nllAfter: number;
  eceBefore: number;
  eceAfter: number;
}

export function fitTemperature(input: { probs: Float32Array; labels: ArrayLike<number>; shape?: number[]; numClasses: number; bins?: number }): TemperatureFit {
  const k = input.numClasses;
  checkInput('fitTemperature', input.probs, input.labels, k);
  checkShape('fitTemperature', input.shape, input.labels.length);
  const logp = new Float32Array(input.probs.length);
  for (let i = 0; i < logp.length; i++) logp[i] = Math.log(Math.max(P_MIN, input.probs[i] as number));
  const f = (lt: number) => nllAt(logp, input.labels, k, Math.exp(lt));
  let a = Math.log(0.05);
  let b = Math.log(20);
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let it = 0; it < 40; it++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  const temperature = Math.exp((a + b) / 2);
  const before = calibrationMetrics({ probs: input.probs, labels: input.labels, numClasses: k, bins: input.bins });
  const after = calibrationMetrics({ probs: applyTemperature(input.probs, k, temperature), labels: input.labels, numClasses: k, bins: input.bins });
  return { temperature, nllBefore: before.nll, nllAfter: after.nll, eceBefore: before.ece, eceAfter: after.ece };
}

// ---------------------------------------------------------------------------------------------
// Per case

export interface CaseMetrics {
  dscPerClass: number[];
  /** NaN-aware mean DSC over the foreground classes. */
  dsc: number;
  nll: number;
  brier: number;
}

export function caseMetrics(probs: Float32Array, labels: ArrayLike<number>, numClasses: number): CaseMetrics {
  const s = segmentationMetrics({ probs, labels, numClasses });
  const c = new CalibrationAccumulator({ numClasses, bins: 1 });
  c.update(probs, labels);
  const a = c.aggregate();
  return { dscPerClass: s.perClass.map((x) => x.dsc), dsc: s.meanForeground.dsc, nll: a.nll, brier: a.brier };
}
