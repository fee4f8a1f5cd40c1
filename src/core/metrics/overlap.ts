// Overlap metrics on the argmax prediction: DSC, IoU, precision, recall, specificity per class (one vs
// rest) and averaged, from confusion counts pooled over everything passed to update().
//
// Empty masks (the rule): a score whose denominator is 0 is NaN ("undefined"), never 0 or 1:
//   DSC = 2TP/(2TP+FP+FN), IoU = TP/(TP+FP+FN)   NaN when the class is absent from both the ground truth
//                                                 and the prediction (TP+FP+FN = 0); a class absent from
//                                                 the ground truth but predicted scores 0;
//   precision = TP/(TP+FP)                        NaN when the class is never predicted;
//   recall = TP/(TP+FN)                           NaN when the class is absent from the ground truth;
//   specificity = TN/(TN+FP)                      NaN when every voxel is that class.
// Means are NaN-aware: NaN entries are left out; the mean is NaN only when every entry is NaN.
// A consumer that wants "both empty = 1" can map NaN DSC of a class with TP+FP+FN = 0 to 1 itself.
import { badLabel, nanMean, resolveInput, type Labels } from './common';

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

export type ClassOverlap = OverlapScores & ClassCounts;

export interface SegmentationResult {
  /** One entry per class (index = class id): counts and scores, one vs rest. */
  perClass: ClassOverlap[];
  /** NaN-aware mean over all classes. */
  mean: OverlapScores;
  /** NaN-aware mean over the foreground classes 1..C−1. */
  meanForeground: OverlapScores;
  /** Confusion matrix, row = true class, column = predicted class (row-major, C×C). */
  confusion: number[];
  voxels: number;
}

export function scoresFromCounts({ tp, fp, fn, tn }: ClassCounts): OverlapScores {
  const div = (a: number, b: number) => (b === 0 ? NaN : a / b);
  return { dsc: div(2 * tp, 2 * tp + fp + fn), iou: div(tp, tp + fp + fn), precision: div(tp, tp + fp), recall: div(tp, tp + fn), specificity: div(tn, tn + fp) };
}

export function meanScores(list: readonly OverlapScores[]): OverlapScores {
  return {
    dsc: nanMean(list.map((s) => s.dsc)),
    iou: nanMean(list.map((s) => s.iou)),
    precision: nanMean(list.map((s) => s.precision)),
    recall: nanMean(list.map((s) => s.recall)),
    specificity: nanMean(list.map((s) => s.specificity)),
  };
}

/** Adds the argmax confusion counts of one array of voxels to `conf` (C×C, row = truth). */
export function addConfusion(what: string, conf: Float64Array, probs: Float32Array, labels: Labels, voxels: number, k: number): void {
  for (let i = 0, o = 0; i < voxels; i++, o += k) {
    const t = labels[i] as number;
    if (!(t >= 0 && t < k) || (t | 0) !== t) throw badLabel(what, t, i, k);
    let best = 0;
    let bestP = probs[o] as number;
    for (let c = 1; c < k; c++) {
      const v = probs[o + c] as number;
      if (v > bestP) {
        bestP = v;
        best = c;
      }
    }
    conf[t * k + best]++;
  }
}

export function countsFromConfusion(conf: ArrayLike<number>, k: number): ClassCounts[] {
  let total = 0;
  for (let i = 0; i < k * k; i++) total += conf[i] as number;
  return Array.from({ length: k }, (_, c) => {
    const tp = conf[c * k + c] as number;
    let fp = 0;
    let fn = 0;
    for (let o = 0; o < k; o++) {
      if (o === c) continue;
      fn += conf[c * k + o] as number;
      fp += conf[o * k + c] as number;
    }
    return { tp, fp, fn, tn: total - tp - fp - fn };
  });
}

/** Streaming argmax overlap: update() per batch or case, aggregate() pools the confusion counts. */
export class SegmentationAccumulator {
  readonly numClasses: number;
  private conf: Float64Array;
  private voxels = 0;
  constructor(opts: { numClasses: number }) {
    resolveInput('SegmentationAccumulator', new Float32Array(0), [], opts.numClasses);
    this.numClasses = opts.numClasses;
    this.conf = new Float64Array(opts.numClasses * opts.numClasses);
  }
  reset(): void {
    this.conf.fill(0);
    this.voxels = 0;
  }
  /**
   * probs channels-last [...shape, numClasses] (or one sigmoid channel when numClasses = 2), labels class
   * ids; `shape` [N, ...spatial] only for checking the lengths.
   */
  update(probs: Float32Array, labels: Labels, shape?: readonly number[]): void {
    const k = this.numClasses;
    const r = resolveInput('SegmentationAccumulator.update', probs, labels, k, shape);
    addConfusion('SegmentationAccumulator.update', this.conf, r.probs, labels, r.voxels, k);
    this.voxels += r.voxels;
  }
  aggregate(): SegmentationResult {
    const k = this.numClasses;
    const perClass = countsFromConfusion(this.conf, k).map((c) => ({ ...c, ...scoresFromCounts(c) }));
    return { perClass, mean: meanScores(perClass), meanForeground: meanScores(perClass.slice(1)), confusion: Array.from(this.conf), voxels: this.voxels };
  }
}

/**
 * Overlap metrics of one array of voxels (the streaming accumulator over one update). `shape` is the
 * spatial shape incl. batch, [N, ...spatial], optional; probs.length = prod(shape)·numClasses.
 */
export function segmentationMetrics(input: { probs: Float32Array; labels: Labels; shape?: readonly number[]; numClasses: number }): SegmentationResult {
  const k = input.numClasses;
  const r = resolveInput('segmentationMetrics', input.probs, input.labels, k, input.shape);
  const acc = new SegmentationAccumulator({ numClasses: k });
  acc.update(r.probs, input.labels);
  return acc.aggregate();
}
