// Threshold sweep (the paper's softmax-thresholding experiment, and a way to pick an operating point):
// per class c, one vs rest, a voxel is predicted positive at threshold τ when p_c ≥ τ. For each τ:
// tp, fp, fn, precision = tp/(tp+fp), recall = tp/(tp+fn), DSC = 2tp/(2tp+fp+fn) (NaN when the
// denominator is 0, as in overlap.ts). Binary tasks (two classes, or one sigmoid channel) sweep class 1.
// Streaming: each voxel is binned once by the number of thresholds it passes (binary search), so an update
// costs O(voxels·log T) per class, and aggregate() turns the bins into cumulative counts.
import { badLabel, MetricInputError, resolveInput, type Labels } from './common';
import { scoresFromCounts } from './overlap';

/** 0.05, 0.10, …, 0.95. */
export const DEFAULT_THRESHOLDS: readonly number[] = Object.freeze(Array.from({ length: 19 }, (_, i) => Math.round(5 * (i + 1)) / 100));

export interface SweepPointCounts {
  threshold: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  dsc: number;
}

export interface ClassSweep {
  classIndex: number;
  points: SweepPointCounts[];
}

export class ThresholdSweepAccumulator {
  readonly numClasses: number;
  readonly thresholds: readonly number[];
  readonly classes: readonly number[];
  private readonly sorted: Float64Array;
  /** Per class: [T + 1] counts of positives / negatives that pass exactly j sorted thresholds. */
  private pos: Float64Array[];
  private neg: Float64Array[];
  constructor(opts: { numClasses: number; thresholds?: readonly number[]; classes?: readonly number[] }) {
    resolveInput('thresholdSweep', new Float32Array(0), [], opts.numClasses);
    const k = opts.numClasses;
    const thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
    if (!Array.isArray(thresholds) || thresholds.length === 0 || thresholds.some((t) => typeof t !== 'number' || !(t > 0 && t < 1))) {
      throw new MetricInputError(`thresholdSweep: thresholds must be a non-empty list of numbers in (0, 1), got ${JSON.stringify(thresholds)}`);
    }
    const classes = opts.classes ?? Array.from({ length: k - 1 }, (_, i) => i + 1);
    if (classes.some((c) => !Number.isInteger(c) || c < 0 || c >= k)) throw new MetricInputError(`thresholdSweep: classes must be class ids 0..${k - 1}, got ${JSON.stringify(classes)}`);
    this.numClasses = k;
    this.thresholds = [...thresholds];
    this.classes = [...classes];
    this.sorted = Float64Array.from(thresholds).sort();
    this.pos = this.classes.map(() => new Float64Array(thresholds.length + 1));
    this.neg = this.classes.map(() => new Float64Array(thresholds.length + 1));
  }
  reset(): void {
    for (const a of [...this.pos, ...this.neg]) a.fill(0);
  }
  /** probs channels-last [..., numClasses] (or one sigmoid channel when numClasses = 2), labels class ids. */
  update(probsIn: Float32Array, labels: Labels, shape?: readonly number[]): void {
    const what = 'thresholdSweep';
    const k = this.numClasses;
    const { voxels, probs } = resolveInput(what, probsIn, labels, k, shape);
    const s = this.sorted;
    const nt = s.length;
    this.classes.forEach((c, ci) => {
      const pos = this.pos[ci] as Float64Array;
      const neg = this.neg[ci] as Float64Array;
      for (let i = 0; i < voxels; i++) {
        const t = labels[i] as number;
        if (!(t >= 0 && t < k) || (t | 0) !== t) throw badLabel(what, t, i, k);
        const p = probs[i * k + c] as number;
        // j = number of thresholds ≤ p (predicted positive at the j smallest thresholds).
        let lo = 0;
        let hi = nt;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((s[mid] as number) <= p) lo = mid + 1;
          else hi = mid;
        }
        if (t === c) pos[lo]++;
        else neg[lo]++;
      }
    });
  }
  aggregate(): ClassSweep[] {
    const s = this.sorted;
    const nt = s.length;
    return this.classes.map((c, ci) => {
      const pos = this.pos[ci] as Float64Array;
      const neg = this.neg[ci] as Float64Array;
      let totalPos = 0;
      for (let j = 0; j <= nt; j++) totalPos += pos[j] as number;
      // tpAt[m] / fpAt[m]: positives / negatives with p ≥ s[m], i.e. passing more than m thresholds.
      const tpAt = new Float64Array(nt);
      const fpAt = new Float64Array(nt);
      let tp = 0;
      let fp = 0;
      for (let m = nt - 1; m >= 0; m--) {
        tp += pos[m + 1] as number;
        fp += neg[m + 1] as number;
        tpAt[m] = tp;
        fpAt[m] = fp;
      }
      return {
        classIndex: c,
        points: this.thresholds.map((threshold) => {
          const m = s.indexOf(threshold);
          const tpm = tpAt[m] as number;
          const fpm = fpAt[m] as number;
          const fnm = totalPos - tpm;
          const sc = scoresFromCounts({ tp: tpm, fp: fpm, fn: fnm, tn: 0 });
          return { threshold, tp: tpm, fp: fpm, fn: fnm, precision: sc.precision, recall: sc.recall, dsc: sc.dsc };
        }),
      };
    });
  }
}

/**
 * Precision, recall and DSC per class (one vs rest) at each threshold (default DEFAULT_THRESHOLDS), for
 * `classes` (default the foreground 1..C−1). probs/labels/shape as in calibrationMetrics.
 */
export function thresholdSweep(input: { probs: Float32Array; labels: Labels; shape?: readonly number[]; numClasses: number; thresholds?: readonly number[]; classes?: readonly number[] }): ClassSweep[] {
  const r = resolveInput('thresholdSweep', input.probs, input.labels, input.numClasses, input.shape);
  const acc = new ThresholdSweepAccumulator({ numClasses: input.numClasses, thresholds: input.thresholds, classes: input.classes });
  acc.update(r.probs, input.labels);
  return acc.aggregate();
}
