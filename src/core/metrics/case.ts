// Per-case summary: DSC per class (argmax, NaN rule of overlap.ts), NLL and Brier (calibration.ts), in one
// pass and without histograms, for the per-case table of an evaluation.
import { badLabel, nanMean, P_MIN, resolveInput, type Labels } from './common';
import { countsFromConfusion, scoresFromCounts } from './overlap';

export interface CaseMetrics {
  /** DSC per class (NaN where the class is absent from both truth and prediction). */
  dscPerClass: number[];
  /** IoU per class (same NaN rule). */
  iouPerClass: number[];
  /** NaN-aware mean DSC over the foreground classes 1..C−1. */
  dsc: number;
  /** Mean over voxels of −log p_true. */
  nll: number;
  /** Mean over voxels of Σ_c (y_c − p_c)²/C. */
  brier: number;
  voxels: number;
}

/** Metrics of one case: probs channels-last [...spatial, numClasses] (or one sigmoid channel), labels ids. */
export function caseMetrics(probsIn: Float32Array, labels: Labels, numClasses: number, shape?: readonly number[]): CaseMetrics {
  const what = 'caseMetrics';
  const k = numClasses;
  const { voxels, probs } = resolveInput(what, probsIn, labels, k, shape);
  const conf = new Float64Array(k * k);
  let nll = 0;
  let brier = 0;
  for (let i = 0, o = 0; i < voxels; i++, o += k) {
    const t = labels[i] as number;
    if (!(t >= 0 && t < k) || (t | 0) !== t) throw badLabel(what, t, i, k);
    let best = 0;
    let bestP = -Infinity;
    let b = 0;
    for (let c = 0; c < k; c++) {
      const p = probs[o + c] as number;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
      const d = (c === t ? 1 : 0) - p;
      b += d * d;
    }
    conf[t * k + best]++;
    brier += b / k;
    const pt = probs[o + t] as number;
    nll -= Math.log(pt < P_MIN ? P_MIN : pt);
  }
  const scores = countsFromConfusion(conf, k).map(scoresFromCounts);
  const dscPerClass = scores.map((s) => s.dsc);
  return {
    dscPerClass,
    iouPerClass: scores.map((s) => s.iou),
    dsc: nanMean(dscPerClass.slice(1)),
    nll: voxels ? nll / voxels : NaN,
    brier: voxels ? brier / voxels : NaN,
    voxels,
  };
}
