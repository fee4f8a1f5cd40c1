// Calibration metrics over plain typed arrays, streaming (update / aggregate / reset).
//
// Definitions (p clipped to [1e-7, 1] inside logs; C = numClasses; n = voxels):
//   NLL    = (1/n) Σ_voxels −Σ_c y_c·log p_c = mean of −log p_true (one-hot over all classes).
//   Brier  = (1/n) Σ_voxels Σ_c (y_c − p_c)² / C. Normalised by C so that it lies in [0, 1] for any C;
//            multiply by C for the "sum over classes" convention (2× for binary softmax), and note that for
//            a binary task the one-class Brier (y − p)² of the foreground equals Σ_c (y_c − p_c)²/2, i.e. this
//            value.
//   Bins   = `bins` equal-width bins over [0, 1] (default 15), bin b = [b/B, (b+1)/B), the last one closed.
//   Top-label ECE / MCE / RMS-CE: confidence = max_c p_c, hit = [argmax = label];
//            ECE = Σ_b (n_b/n)·|acc_b − conf_b|, MCE = max over non-empty bins of |acc_b − conf_b|,
//            RMS-CE = sqrt(Σ_b (n_b/n)·(acc_b − conf_b)²).
//   Marginal (per class one vs rest): confidence = p_c, hit = [label = c], the same three numbers per class;
//            marginalEce / marginalMce / marginalRmsce / marginalAce are their means over the C classes.
//   ACE    = adaptive calibration error: `bins` equal-mass bins (edges at the quantiles of the confidence),
//            ACE = Σ_g (n_g/n)·|acc_g − conf_g|. Voxels with the same confidence are never split across bins
//            (so bins are equal-mass up to ties, and the result does not depend on the order of ties);
//            with no ties every bin holds n/B voxels (±1) and this is the plain mean over bins.
//            Streaming approximation: the accumulator keeps a FINE_BINS (2000) equal-width histogram per
//            confidence and forms the equal-mass bins from whole histogram cells, i.e. it is the exact ACE of
//            the confidences rounded down to a multiple of 1/2000 (bin edges within 5e-4 of the true
//            quantiles). calibrationMetrics uses the same histogram by default (so one-shot and streaming
//            agree exactly); pass `ace: 'exact'` for the sort-based value, or call adaptiveCalibrationError.
//   Empty input: every metric is NaN.
import type { ReliabilityBin } from '../../protocol/evaluation';
import { badLabel, MetricInputError, nanMean, P_MIN, resolveInput, type Labels } from './common';

export type { ReliabilityBin };

export const DEFAULT_BINS = 15;
/** Histogram cells per confidence used to approximate equal-mass (ACE) bins in streaming mode. */
export const FINE_BINS = 2000;

export interface CalibrationErrors {
  ece: number;
  mce: number;
  rmsce: number;
  /** Adaptive (equal-mass) calibration error. */
  ace: number;
  /** Equal-width reliability diagram: per bin the edges, count, mean confidence and accuracy. */
  reliability: ReliabilityBin[];
}

export interface ClassCalibration extends CalibrationErrors {
  /** One-vs-rest NLL: mean over voxels of −[y·log p_c + (1−y)·log(1−p_c)]. */
  nll: number;
  /** One-vs-rest Brier: mean over voxels of (y − p_c)². */
  brier: number;
  /** Voxels whose label is this class. */
  positives: number;
}

export interface CalibrationResult extends CalibrationErrors {
  /** Multi-class NLL (see the header). */
  nll: number;
  /** Σ_c (y − p)²/C averaged over voxels. */
  brier: number;
  marginalEce: number;
  marginalMce: number;
  marginalRmsce: number;
  marginalAce: number;
  /** Per class, one vs rest. */
  perClass: ClassCalibration[];
  voxels: number;
  bins: number;
}

/** Equal-mass grouping of ascending (count, Σconf, Σhit) units; units are never split. Returns ACE. */
class EqualMassGroups {
  private readonly target: number;
  private closed = 0;
  private cum = 0;
  private n = 0;
  private conf = 0;
  private hit = 0;
  private sum = 0;
  constructor(
    private readonly total: number,
    bins: number,
  ) {
    this.target = total / bins;
  }
  add(count: number, conf: number, hit: number): void {
    if (count === 0) return;
    this.n += count;
    this.conf += conf;
    this.hit += hit;
    this.cum += count;
    if (this.cum >= (this.closed + 1) * this.target * (1 - 1e-12)) {
      this.close();
      this.closed = Math.floor((this.cum / this.target) * (1 + 1e-12));
    }
  }
  private close(): void {
    if (this.n > 0) this.sum += Math.abs(this.hit - this.conf);
    this.n = this.conf = this.hit = 0;
  }
  finish(): number {
    this.close();
    return this.total > 0 ? this.sum / this.total : NaN;
  }
}

/**
 * Exact ACE of `confidence` against `hit` (1 correct / positive, 0 not) with `bins` equal-mass bins, ties
 * kept together (see the header). O(n log n).
 */
export function adaptiveCalibrationError(confidence: ArrayLike<number>, hit: ArrayLike<number>, bins = DEFAULT_BINS): number {
  if (confidence.length !== hit.length) throw new MetricInputError(`adaptiveCalibrationError: confidence has ${confidence.length} values but hit has ${hit.length}`);
  if (!Number.isInteger(bins) || bins < 1) throw new MetricInputError(`adaptiveCalibrationError: bins must be an integer >= 1, got ${bins}`);
  const n = confidence.length;
  let nHit = 0;
  for (let i = 0; i < n; i++) if (hit[i]) nHit++;
  // Two sorted runs (hits, misses) merged value by value: no index sort needed.
  const hits = new Float64Array(nHit);
  const misses = new Float64Array(n - nHit);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (hit[i]) hits[a++] = confidence[i] as number;
    else misses[b++] = confidence[i] as number;
  }
  hits.sort();
  misses.sort();
  const groups = new EqualMassGroups(n, bins);
  let a = 0;
  let b = 0;
  while (a < hits.length || b < misses.length) {
    const v = Math.min(a < hits.length ? (hits[a] as number) : Infinity, b < misses.length ? (misses[b] as number) : Infinity);
    let count = 0;
    let h = 0;
    while (a < hits.length && hits[a] === v) {
      a++;
      h++;
    }
    count += h;
    while (b < misses.length && misses[b] === v) {
      b++;
      count++;
    }
    groups.add(count, v * count, h);
  }
  return groups.finish();
}

/** Equal-width bins: count, Σconfidence, Σhit per bin (flat arrays, one row of `bins` per series). */
interface Hist {
  count: Float64Array;
  conf: Float64Array;
  hit: Float64Array;
}

function hist(n: number): Hist {
  return { count: new Float64Array(n), conf: new Float64Array(n), hit: new Float64Array(n) };
}

function errorsFromHist(h: Hist, off: number, bins: number): Omit<CalibrationErrors, 'ace'> {
  let total = 0;
  for (let b = 0; b < bins; b++) total += h.count[off + b] as number;
  let ece = 0;
  let sq = 0;
  let mce = 0;
  const reliability: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = h.count[off + b] as number;
    const conf = c ? (h.conf[off + b] as number) / c : null;
    const acc = c ? (h.hit[off + b] as number) / c : null;
    reliability.push({ lo: b / bins, hi: (b + 1) / bins, count: c, meanConfidence: conf, accuracy: acc });
    if (conf !== null && acc !== null) {
      const gap = Math.abs(acc - conf);
      ece += (c / total) * gap;
      sq += (c / total) * gap * gap;
      if (gap > mce) mce = gap;
    }
  }
  return total ? { ece, mce, rmsce: Math.sqrt(sq), reliability } : { ece: NaN, mce: NaN, rmsce: NaN, reliability };
}

function aceFromHist(h: Hist, off: number, cells: number, bins: number): number {
  let total = 0;
  for (let i = 0; i < cells; i++) total += h.count[off + i] as number;
  const g = new EqualMassGroups(total, bins);
  for (let i = 0; i < cells; i++) g.add(h.count[off + i] as number, h.conf[off + i] as number, h.hit[off + i] as number);
  return g.finish();
}

/**
 * Streaming calibration: update() with one batch or case at a time (probs channels-last [..., numClasses],
 * or one sigmoid channel when numClasses = 2; labels class ids), aggregate() at any point, reset().
 * Memory is O(numClasses·(bins + FINE_BINS)), independent of the data size.
 */
export class CalibrationAccumulator {
  readonly numClasses: number;
  readonly bins: number;
  private top: Hist;
  private topFine: Hist;
  private cls: Hist; // [numClasses × bins]
  private clsFine: Hist; // [numClasses × FINE_BINS]
  private clsNll: Float64Array;
  private clsBrier: Float64Array;
  private clsPos: Float64Array;
  private nllSum = 0;
  private brierSum = 0;
  private voxels = 0;
  constructor(opts: { numClasses: number; bins?: number }) {
    resolveInput('CalibrationAccumulator', new Float32Array(0), [], opts.numClasses);
    const bins = opts.bins ?? DEFAULT_BINS;
    if (!Number.isInteger(bins) || bins < 1) throw new MetricInputError(`CalibrationAccumulator: bins must be an integer >= 1, got ${bins}`);
    this.numClasses = opts.numClasses;
    this.bins = bins;
    const k = this.numClasses;
    this.top = hist(bins);
    this.topFine = hist(FINE_BINS);
    this.cls = hist(k * bins);
    this.clsFine = hist(k * FINE_BINS);
    this.clsNll = new Float64Array(k);
    this.clsBrier = new Float64Array(k);
    this.clsPos = new Float64Array(k);
  }
  reset(): void {
    for (const h of [this.top, this.topFine, this.cls, this.clsFine]) {
      h.count.fill(0);
      h.conf.fill(0);
      h.hit.fill(0);
    }
    this.clsNll.fill(0);
    this.clsBrier.fill(0);
    this.clsPos.fill(0);
    this.nllSum = 0;
    this.brierSum = 0;
    this.voxels = 0;
  }
  /** `shape` [N, ...spatial] is optional and only checks the lengths. */
  update(probsIn: Float32Array, labels: Labels, shape?: readonly number[]): void {
    const what = 'CalibrationAccumulator.update';
    const k = this.numClasses;
    const { voxels, probs } = resolveInput(what, probsIn, labels, k, shape);
    const nb = this.bins;
    const nf = FINE_BINS;
    const { clsNll, clsBrier, clsPos } = this;
    // Locals for the hot loop (typed arrays, no property loads per voxel).
    const tCount = this.top.count;
    const tConf = this.top.conf;
    const tHit = this.top.hit;
    const tfCount = this.topFine.count;
    const tfConf = this.topFine.conf;
    const tfHit = this.topFine.hit;
    const cCount = this.cls.count;
    const cConf = this.cls.conf;
    const cHit = this.cls.hit;
    const fCount = this.clsFine.count;
    const fConf = this.clsFine.conf;
    const fHit = this.clsFine.hit;
    const hiP = 1 - P_MIN;
    let nllSum = 0;
    let brierSum = 0;
    for (let i = 0, o = 0; i < voxels; i++, o += k) {
      const t = labels[i] as number;
      if (!(t >= 0 && t < k) || (t | 0) !== t) throw badLabel(what, t, i, k);
      let best = 0;
      let conf = -Infinity;
      let brier = 0;
      for (let c = 0; c < k; c++) {
        const p = probs[o + c] as number;
        if (!(p >= -1e-6 && p <= 1 + 1e-6)) throw new MetricInputError(`${what}: probs[${o + c}] = ${p} (voxel ${i}, class ${c}) is not a probability in [0, 1]`);
        if (p > conf) {
          conf = p;
          best = c;
        }
        const pc = p < P_MIN ? P_MIN : p > hiP ? hiP : p;
        // Bin indices: pc is in (0, 1), so the truncation is a floor and never reaches nb / nf.
        const b = c * nb + ((pc * nb) | 0);
        const f = c * nf + ((pc * nf) | 0);
        cCount[b]++;
        cConf[b] += p;
        fCount[f]++;
        fConf[f] += p;
        if (c === t) {
          const d = 1 - p;
          brier += d * d;
          clsBrier[c] += d * d;
          clsNll[c] -= Math.log(pc);
          cHit[b]++;
          fHit[f]++;
        } else {
          brier += p * p;
          clsBrier[c] += p * p;
          clsNll[c] -= Math.log(1 - pc);
        }
      }
      clsPos[t]++;
      brierSum += brier / k;
      const pt = probs[o + t] as number;
      nllSum -= Math.log(pt < P_MIN ? P_MIN : pt);
      const correct = best === t ? 1 : 0;
      const cc = conf < P_MIN ? P_MIN : conf > hiP ? hiP : conf;
      const b = (cc * nb) | 0;
      const f = (cc * nf) | 0;
      tCount[b]++;
      tConf[b] += conf;
      tHit[b] += correct;
      tfCount[f]++;
      tfConf[f] += conf;
      tfHit[f] += correct;
    }
    this.nllSum += nllSum;
    this.brierSum += brierSum;
    this.voxels += voxels;
  }
  aggregate(): CalibrationResult {
    const k = this.numClasses;
    const nb = this.bins;
    const n = this.voxels;
    const perClass: ClassCalibration[] = Array.from({ length: k }, (_, c) => ({
      ...errorsFromHist(this.cls, c * nb, nb),
      ace: aceFromHist(this.clsFine, c * FINE_BINS, FINE_BINS, nb),
      nll: n ? (this.clsNll[c] as number) / n : NaN,
      brier: n ? (this.clsBrier[c] as number) / n : NaN,
      positives: this.clsPos[c] as number,
    }));
    return {
      ...errorsFromHist(this.top, 0, nb),
      ace: aceFromHist(this.topFine, 0, FINE_BINS, nb),
      nll: n ? this.nllSum / n : NaN,
      brier: n ? this.brierSum / n : NaN,
      marginalEce: nanMean(perClass.map((c) => c.ece)),
      marginalMce: nanMean(perClass.map((c) => c.mce)),
      marginalRmsce: nanMean(perClass.map((c) => c.rmsce)),
      marginalAce: nanMean(perClass.map((c) => c.ace)),
      perClass,
      voxels: n,
      bins: nb,
    };
  }
}

/**
 * Calibration metrics of one array of voxels. probs: Float32Array channels-last [...shape, numClasses] (or
 * one sigmoid channel when numClasses = 2); labels: class ids; shape: [N, ...spatial] (optional, checked);
 * bins: equal-width bins (default 15). `ace: 'exact'` replaces the histogram ACE (top-label, per class and
 * marginal) by the sort-based one.
 */
export function calibrationMetrics(input: { probs: Float32Array; labels: Labels; shape?: readonly number[]; numClasses: number; bins?: number; ace?: 'histogram' | 'exact' }): CalibrationResult {
  const k = input.numClasses;
  const r = resolveInput('calibrationMetrics', input.probs, input.labels, k, input.shape);
  const acc = new CalibrationAccumulator({ numClasses: k, bins: input.bins });
  acc.update(r.probs, input.labels);
  const out = acc.aggregate();
  if (input.ace === 'exact') {
    const n = r.voxels;
    const conf = new Float64Array(n);
    const hit = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if ((r.probs[i * k + c] as number) > (r.probs[i * k + best] as number)) best = c;
      conf[i] = r.probs[i * k + best] as number;
      hit[i] = best === input.labels[i] ? 1 : 0;
    }
    out.ace = adaptiveCalibrationError(conf, hit, acc.bins);
    out.perClass.forEach((pc, c) => {
      for (let i = 0; i < n; i++) {
        conf[i] = r.probs[i * k + c] as number;
        hit[i] = input.labels[i] === c ? 1 : 0;
      }
      pc.ace = adaptiveCalibrationError(conf, hit, acc.bins);
    });
    out.marginalAce = nanMean(out.perClass.map((c) => c.ace));
  } else if (input.ace !== undefined && input.ace !== 'histogram') {
    throw new MetricInputError(`calibrationMetrics: ace must be 'histogram' or 'exact', got ${JSON.stringify(input.ace)}`);
  }
  return out;
}
