// Metrics on small cases worked out by hand (arithmetic in the comments), empty masks, streaming against
// one-shot, exact against histogram ACE, threshold sweeps, temperature scaling on synthetic data with a
// known temperature, and the exact error texts for inconsistent inputs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CalibrationAccumulator,
  DEFAULT_THRESHOLDS,
  MetricInputError,
  SegmentationAccumulator,
  ThresholdSweepAccumulator,
  adaptiveCalibrationError,
  applyTemperature,
  calibrationMetrics,
  caseMetrics,
  fitTemperature,
  nanMean,
  segmentationMetrics,
  thresholdSweep,
  type OverlapScores,
} from '../../src/core/metrics';

function close(actual: number | null, expected: number, what: string, tol = 1e-6): void {
  if (Number.isNaN(expected)) {
    assert.ok(actual !== null && Number.isNaN(actual), `${what}: expected NaN, got ${actual}`);
    return;
  }
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected} (±${tol})`);
}

function scores(actual: OverlapScores, expected: OverlapScores, what: string): void {
  for (const k of ['dsc', 'iou', 'precision', 'recall', 'specificity'] as const) close(actual[k], expected[k], `${what} ${k}`, 1e-12);
}

/** Probabilities whose argmax is `pred` (winner 0.6, the rest sharing 0.4). */
function probsFor(pred: number[], k: number): Float32Array {
  return Float32Array.from(pred.flatMap((p) => Array.from({ length: k }, (_, c) => (c === p ? 0.6 : 0.4 / (k - 1)))));
}

/** Deterministic RNG (mulberry32) and a standard normal. */
function rng(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** n voxels, k classes: logits z ~ N(0, scale²); labels drawn from softmax(z); probs = softmax(sharpen·z). */
function synthetic(n: number, k: number, seed: number, sharpen: number, scale = 1.5): { probs: Float32Array; labels: Uint8Array } {
  const r = rng(seed);
  const probs = new Float32Array(n * k);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, () => scale * r.normal());
    const q = softmax(z);
    let u = r.uniform();
    let y = k - 1;
    for (let c = 0; c < k; c++) {
      u -= q[c]!;
      if (u < 0) {
        y = c;
        break;
      }
    }
    labels[i] = y;
    probs.set(softmax(z.map((v) => v * sharpen)), i * k);
  }
  return { probs, labels };
}

// ------------------------------------------------------------------------------------------------
// Overlap. Three classes, 8 voxels (shape [1, 2, 4]):
//   labels    [0, 0, 0, 1, 1, 2, 2, 0]
//   argmax    [0, 1, 0, 1, 2, 2, 0, 0]
// class 0: TP 3 (v0 v2 v7), FP 1 (v6), FN 1 (v1), TN 3 → DSC 6/8 = .75, IoU 3/5, P 3/4, R 3/4, S 3/4
// class 1: TP 1 (v3), FP 1 (v1), FN 1 (v4), TN 5       → DSC 2/4 = .5, IoU 1/3, P 1/2, R 1/2, S 5/6
// class 2: TP 1 (v5), FP 1 (v4), FN 1 (v6), TN 5       → the same as class 1
// mean DSC (.75 + .5 + .5)/3 = .5833333; foreground mean .5
// With a 4th class absent from truth and prediction: DSC, IoU, P, R NaN (0/0), S 8/8 = 1; the NaN-aware
// means are unchanged, specificity mean (3/4 + 5/6 + 5/6 + 1)/4.
describe('overlap metrics', () => {
  const labels = Uint8Array.from([0, 0, 0, 1, 1, 2, 2, 0]);
  const pred = [0, 1, 0, 1, 2, 2, 0, 0];
  const c0 = { dsc: 0.75, iou: 0.6, precision: 0.75, recall: 0.75, specificity: 0.75 };
  const c1 = { dsc: 0.5, iou: 1 / 3, precision: 0.5, recall: 0.5, specificity: 5 / 6 };
  test('per class, means, counts and confusion', () => {
    const r = segmentationMetrics({ probs: probsFor(pred, 3), labels, shape: [1, 2, 4], numClasses: 3 });
    assert.deepEqual(
      r.perClass.map(({ tp, fp, fn, tn }) => [tp, fp, fn, tn]),
      [
        [3, 1, 1, 3],
        [1, 1, 1, 5],
        [1, 1, 1, 5],
      ],
    );
    scores(r.perClass[0]!, c0, 'class 0');
    scores(r.perClass[1]!, c1, 'class 1');
    scores(r.perClass[2]!, c1, 'class 2');
    scores(r.mean, { dsc: 1.75 / 3, iou: (0.6 + 2 / 3) / 3, precision: 1.75 / 3, recall: 1.75 / 3, specificity: (0.75 + 5 / 3) / 3 }, 'mean');
    scores(r.meanForeground, c1, 'foreground mean');
    assert.deepEqual(r.confusion, [3, 1, 0, 0, 1, 1, 1, 0, 1]);
    assert.equal(r.voxels, 8);
  });
  test('a class absent from truth and prediction is NaN and left out of the means', () => {
    const r = segmentationMetrics({ probs: probsFor(pred, 4), labels, numClasses: 4 });
    scores(r.perClass[3]!, { dsc: NaN, iou: NaN, precision: NaN, recall: NaN, specificity: 1 }, 'class 3');
    close(r.mean.dsc, 1.75 / 3, 'mean dsc', 1e-12);
    close(r.mean.specificity, (0.75 + 5 / 6 + 5 / 6 + 1) / 4, 'mean specificity', 1e-12);
    close(r.meanForeground.dsc, 0.5, 'foreground mean dsc', 1e-12);
  });
  // Binary empty-mask table (4 voxels, class 1 = foreground):
  const empty: [string, number[], number[], OverlapScores, number][] = [
    // truth empty, prediction empty: class 1 all 0/0 except S = 4/4; class 0 perfect (DSC 1) → mean DSC 1
    ['both empty', [0, 0, 0, 0], [0, 0, 0, 0], { dsc: NaN, iou: NaN, precision: NaN, recall: NaN, specificity: 1 }, 1],
    // truth empty, one voxel predicted: TP 0 FP 1 FN 0 TN 3 → DSC 0, IoU 0, P 0, R NaN, S 3/4;
    // class 0: TP 3 FN 1 → DSC 6/7 → mean (0 + 6/7)/2
    ['truth empty, predicted', [0, 0, 0, 0], [0, 1, 0, 0], { dsc: 0, iou: 0, precision: 0, recall: NaN, specificity: 0.75 }, 3 / 7],
    // truth 2 voxels, nothing predicted: TP 0 FP 0 FN 2 TN 2 → DSC 0, P NaN, R 0, S 1; class 0 DSC 4/6
    ['prediction empty', [0, 1, 1, 0], [0, 0, 0, 0], { dsc: 0, iou: 0, precision: NaN, recall: 0, specificity: 1 }, 1 / 3],
  ];
  for (const [what, truth, p, fg, meanDsc] of empty) {
    test(`empty masks: ${what}`, () => {
      const r = segmentationMetrics({ probs: probsFor(p, 2), labels: truth, numClasses: 2 });
      scores(r.perClass[1]!, fg, what);
      scores(r.meanForeground, fg, `${what} foreground mean`);
      close(r.mean.dsc, meanDsc, `${what} mean dsc`, 1e-12);
    });
  }
  test('nanMean', () => {
    assert.equal(nanMean([1, NaN, 3, null]), 2);
    assert.ok(Number.isNaN(nanMean([NaN, null])));
    assert.ok(Number.isNaN(nanMean([])));
  });
  test('argmax ties go to the lowest class id', () => {
    // p = [.5, .5] with label 1 → predicted 0: confusion row 1, column 0
    assert.deepEqual(segmentationMetrics({ probs: Float32Array.from([0.5, 0.5]), labels: [1], numClasses: 2 }).confusion, [0, 0, 1, 0]);
  });
  test('one sigmoid channel equals the two-channel input', () => {
    const p = [0.9, 0.4, 0.7, 0.1, 0.55];
    const lab = [1, 1, 0, 0, 1];
    const one = segmentationMetrics({ probs: Float32Array.from(p), labels: lab, numClasses: 2 });
    const two = segmentationMetrics({ probs: Float32Array.from(p.flatMap((v) => [1 - v, v])), labels: lab, numClasses: 2 });
    assert.deepEqual(one, two);
    // foreground: TP 2 (.9, .55), FP 1 (.7), FN 1 (.4) → DSC 4/6
    close(one.perClass[1]!.dsc, 2 / 3, 'sigmoid dsc', 1e-12);
  });
  test('caseMetrics', () => {
    const probs = probsFor(pred, 3);
    const c = caseMetrics(probs, labels, 3, [1, 2, 4]);
    assert.deepEqual(c.dscPerClass, [0.75, 0.5, 0.5]);
    assert.deepEqual(c.iouPerClass, [0.6, 1 / 3, 1 / 3]);
    assert.equal(c.dsc, 0.5);
    // Every voxel: p_true is .6 (argmax right: v0 v2 v3 v5 v7) or .2 (wrong: v1 v4 v6)
    //   NLL = (5·(−ln .6) + 3·(−ln .2))/8 = (5·.5108256 + 3·1.6094379)/8 = .9228802
    //   Brier: right (.4² + .2² + .2²)/3 = .08, wrong (.8² + .6² + .2²)/3 = .3466667 → (5·.08 + 3·.3466667)/8 = .18
    close(c.nll, (5 * -Math.log(0.6) + 3 * -Math.log(0.2)) / 8, 'case nll', 1e-6);
    close(c.brier, 0.18, 'case brier', 1e-6);
    const cal = calibrationMetrics({ probs, labels, numClasses: 3 });
    close(c.nll, cal.nll, 'case nll = calibrationMetrics', 1e-12);
    close(c.brier, cal.brier, 'case brier = calibrationMetrics', 1e-12);
  });
});

// ------------------------------------------------------------------------------------------------
// Calibration. Binary, 5 voxels, 5 bins ([0,.2) [.2,.4) [.4,.6) [.6,.8) [.8,1]):
//   voxel  label  p = [p0, p1]   top conf  argmax  hit
//   v0     1      [.05, .95]     .95       1       1
//   v1     0      [.28, .72]     .72       1       0
//   v2     0      [.85, .15]     .85       0       1
//   v3     1      [.37, .63]     .63       1       1
//   v4     1      [.55, .45]     .55       0       0
// NLL = −(ln .95 + ln .28 + ln .85 + ln .63 + ln .45)/5
//     = (.0512933 + 1.2729657 + .1625189 + .4620355 + .7985077)/5 = .5494642
// Brier = mean Σ_c (y−p)²/2 = mean (y − p1)² = (.0025 + .5184 + .0225 + .1369 + .3025)/5 = .19656
// Top-label bins: [.4,.6) {.55: miss} conf .55 acc 0 gap .55; [.6,.8) {.63 hit, .72 miss} conf .675 acc .5
//   gap .175; [.8,1] {.85 hit, .95 hit} conf .9 acc 1 gap .1.
//   ECE = .2·.55 + .4·.175 + .4·.1 = .22; MCE = .55; RMS-CE = sqrt(.2·.3025 + .4·.030625 + .4·.01) = .2770379
// Class 1 one vs rest: p1 = [.95 .72 .15 .63 .45], y = [1 0 0 1 1]: bins {.15: y0} gap .15, {.45: y1} gap .55,
//   {.63 y1, .72 y0} conf .675 acc .5 gap .175, {.95 y1} gap .05 → ECE .2·.15 + .2·.55 + .4·.175 + .2·.05 = .22,
//   MCE .55, RMS sqrt(.2·.0225 + .2·.3025 + .4·.030625 + .2·.0025) = .2788369
// Class 0: p0 = 1 − p1 mirrors class 1 bin for bin (5 bins are symmetric about .5): the same three values.
// One-vs-rest NLL of each class equals the binary NLL; one-vs-rest Brier (y − p_c)² equals .19656.
// ACE, 5 bins of 5 voxels = one voxel per bin: mean |hit − conf| = (.05 + .72 + .15 + .37 + .55)/5 = .368
// ACE, 2 bins (target 2.5 voxels): sorted conf .55(0) .63(1) .72(0) | .85(1) .95(1):
//   the first bin closes when 3 ≥ 2.5: |1 − 1.9| = .9; the second |2 − 1.8| = .2 → (.9 + .2)/5 = .22
describe('calibration metrics', () => {
  const labels = Uint8Array.from([1, 0, 0, 1, 1]);
  const p1 = [0.95, 0.72, 0.15, 0.63, 0.45];
  const probs = Float32Array.from(p1.flatMap((p) => [1 - p, p]));
  test('NLL, Brier, top-label ECE / MCE / RMS-CE, ACE and reliability bins', () => {
    const r = calibrationMetrics({ probs, labels, shape: [1, 5], numClasses: 2, bins: 5 });
    close(r.nll, (-Math.log(0.95) - Math.log(0.28) - Math.log(0.85) - Math.log(0.63) - Math.log(0.45)) / 5, 'nll');
    close(r.nll, 0.5494642, 'nll (digits)');
    close(r.brier, 0.19656, 'brier');
    close(r.ece, 0.22, 'ece');
    close(r.mce, 0.55, 'mce');
    close(r.rmsce, Math.sqrt(0.2 * 0.3025 + 0.4 * 0.030625 + 0.4 * 0.01), 'rmsce');
    close(r.ace, 0.368, 'ace (5 equal-mass bins)');
    assert.equal(r.voxels, 5);
    assert.equal(r.bins, 5);
    const expected = [
      [0, 0.2, 0, null, null],
      [0.2, 0.4, 0, null, null],
      [0.4, 0.6, 1, 0.55, 0],
      [0.6, 0.8, 2, 0.675, 0.5],
      [0.8, 1, 2, 0.9, 1],
    ] as const;
    assert.equal(r.reliability.length, 5);
    r.reliability.forEach((b, i) => {
      const [lo, hi, count, conf, acc] = expected[i]!;
      close(b.lo, lo, `bin ${i} lo`, 1e-12);
      close(b.hi, hi, `bin ${i} hi`, 1e-12);
      assert.equal(b.count, count, `bin ${i} count`);
      if (conf === null) assert.equal(b.meanConfidence, null);
      else close(b.meanConfidence, conf, `bin ${i} confidence`);
      if (acc === null) assert.equal(b.accuracy, null);
      else close(b.accuracy, acc, `bin ${i} accuracy`);
    });
  });
  test('marginal (per class one vs rest)', () => {
    const r = calibrationMetrics({ probs, labels, numClasses: 2, bins: 5 });
    const rms = Math.sqrt(0.2 * 0.0225 + 0.2 * 0.3025 + 0.4 * 0.030625 + 0.2 * 0.0025);
    for (const c of [0, 1]) {
      const pc = r.perClass[c]!;
      close(pc.ece, 0.22, `class ${c} ece`);
      close(pc.mce, 0.55, `class ${c} mce`);
      close(pc.rmsce, rms, `class ${c} rmsce`);
      close(pc.nll, 0.5494642, `class ${c} nll`);
      close(pc.brier, 0.19656, `class ${c} brier`);
      // One voxel per equal-mass bin: mean |y − p_c| = (.05 + .72 + .15 + .37 + .55)/5
      close(pc.ace, 0.368, `class ${c} ace`);
    }
    assert.equal(r.perClass[1]!.positives, 3);
    assert.equal(r.perClass[0]!.positives, 2);
    close(r.marginalEce, 0.22, 'marginal ece');
    close(r.marginalMce, 0.55, 'marginal mce');
    close(r.marginalRmsce, rms, 'marginal rmsce');
    close(r.marginalAce, 0.368, 'marginal ace');
    // Class 1 reliability: [0,.2) {.15: y 0}, [.4,.6) {.45: y 1}, [.6,.8) {.63, .72} acc .5, [.8,1] {.95}
    assert.deepEqual(
      r.perClass[1]!.reliability.map((b) => b.count),
      [1, 0, 1, 2, 1],
    );
    close(r.perClass[1]!.reliability[2]!.accuracy, 1, 'class 1 bin 2 accuracy');
    close(r.perClass[1]!.reliability[0]!.meanConfidence, 0.15, 'class 1 bin 0 confidence');
  });
  test('ACE with 2 bins (hand-worked), histogram and exact', () => {
    close(calibrationMetrics({ probs, labels, numClasses: 2, bins: 2 }).ace, 0.22, 'histogram ace');
    close(calibrationMetrics({ probs, labels, numClasses: 2, bins: 2, ace: 'exact' }).ace, 0.22, 'exact ace');
    close(adaptiveCalibrationError([0.55, 0.63, 0.72, 0.85, 0.95], [0, 1, 0, 1, 1], 2), 0.22, 'adaptiveCalibrationError');
  });
  test('ACE keeps tied confidences in one bin', () => {
    // conf [.9 .9 .9 .9], hit [1 0 1 1], 2 bins: one bin of 4 → |3 − 3.6|/4 = .15, in any order
    close(adaptiveCalibrationError([0.9, 0.9, 0.9, 0.9], [1, 0, 1, 1], 2), 0.15, 'ties', 1e-12);
    close(adaptiveCalibrationError([0.9, 0.9, 0.9, 0.9], [0, 1, 1, 1], 2), 0.15, 'ties, other order', 1e-12);
    // conf [.2 .6 .6 .6] hit [0 1 0 1], 2 bins: .2 alone does not reach 2 voxels, the tie joins it:
    // one bin |2 − 2|/4 = 0
    close(adaptiveCalibrationError([0.2, 0.6, 0.6, 0.6], [0, 1, 0, 1], 2), 0, 'ties across a boundary', 1e-12);
  });
  test('Brier is normalised by C (three classes)', () => {
    // one voxel, p = [.7, .2, .1], label 0: (.3² + .2² + .1²)/3 = .14/3; NLL −ln .7
    const r = calibrationMetrics({ probs: Float32Array.from([0.7, 0.2, 0.1]), labels: [0], numClasses: 3 });
    close(r.brier, 0.14 / 3, 'brier');
    close(r.nll, -Math.log(0.7), 'nll');
    // p_true = 0 is clipped to 1e-7 in the NLL: −ln 1e-7 = 16.118096
    close(calibrationMetrics({ probs: Float32Array.from([0, 1, 0]), labels: [0], numClasses: 3 }).nll, -Math.log(1e-7), 'clipped nll', 1e-5);
  });
  test('perfect confident predictions: everything 0 but NLL ≈ 0', () => {
    const r = calibrationMetrics({ probs: Float32Array.from([1, 0, 0, 1]), labels: [0, 1], numClasses: 2 });
    for (const k of ['brier', 'ece', 'mce', 'rmsce', 'ace', 'marginalEce'] as const) close(r[k], 0, k, 1e-12);
    close(r.nll, 0, 'nll', 1e-12);
  });
  test('empty input gives NaN', () => {
    const r = calibrationMetrics({ probs: new Float32Array(0), labels: [], numClasses: 2 });
    for (const k of ['nll', 'brier', 'ece', 'mce', 'rmsce', 'ace', 'marginalEce'] as const) assert.ok(Number.isNaN(r[k]), k);
    assert.equal(r.reliability.length, 15);
  });
  test('one sigmoid channel equals the two-channel input', () => {
    const one = calibrationMetrics({ probs: Float32Array.from(p1), labels, numClasses: 2, bins: 5 });
    const two = calibrationMetrics({ probs: Float32Array.from(p1.flatMap((p) => [1 - p, p])), labels, numClasses: 2, bins: 5 });
    for (const k of ['nll', 'brier', 'ece', 'mce', 'ace'] as const) close(one[k], two[k], k, 1e-7);
  });
  test('histogram ACE is within the documented resolution of the exact ACE', () => {
    const { probs: sp, labels: sl } = synthetic(20000, 3, 7, 2);
    const h = calibrationMetrics({ probs: sp, labels: sl, numClasses: 3 });
    const e = calibrationMetrics({ probs: sp, labels: sl, numClasses: 3, ace: 'exact' });
    assert.ok(h.ace > 0.01, `a miscalibrated input has ACE ${h.ace}`);
    assert.ok(Math.abs(h.ace - e.ace) < 2e-3, `top-label ACE histogram ${h.ace} vs exact ${e.ace}`);
    h.perClass.forEach((c, i) => assert.ok(Math.abs(c.ace - e.perClass[i]!.ace) < 2e-3, `class ${i} ACE ${c.ace} vs ${e.perClass[i]!.ace}`));
    // Everything but ACE is identical.
    assert.equal(h.ece, e.ece);
    assert.equal(h.nll, e.nll);
  });
});

// ------------------------------------------------------------------------------------------------
describe('streaming equals one-shot', () => {
  const { probs, labels } = synthetic(3000, 4, 11, 1.7);
  const cuts = [0, 1, 700, 701, 2500, 3000];
  test('SegmentationAccumulator', () => {
    const acc = new SegmentationAccumulator({ numClasses: 4 });
    for (let i = 0; i + 1 < cuts.length; i++) acc.update(probs.subarray(cuts[i]! * 4, cuts[i + 1]! * 4), labels.subarray(cuts[i]!, cuts[i + 1]!));
    assert.deepEqual(acc.aggregate(), segmentationMetrics({ probs, labels, numClasses: 4 }));
    acc.reset();
    assert.equal(acc.aggregate().voxels, 0);
    acc.update(probs, labels);
    assert.deepEqual(acc.aggregate(), segmentationMetrics({ probs, labels, numClasses: 4 }));
  });
  test('CalibrationAccumulator', () => {
    const acc = new CalibrationAccumulator({ numClasses: 4, bins: 10 });
    acc.update(probs.subarray(0, 40), labels.subarray(0, 10)); // discarded by reset
    acc.reset();
    for (let i = 0; i + 1 < cuts.length; i++) acc.update(probs.subarray(cuts[i]! * 4, cuts[i + 1]! * 4), labels.subarray(cuts[i]!, cuts[i + 1]!));
    const s = acc.aggregate();
    const o = calibrationMetrics({ probs, labels, numClasses: 4, bins: 10 });
    for (const k of ['nll', 'brier', 'ece', 'mce', 'rmsce', 'ace', 'marginalEce', 'marginalMce', 'marginalRmsce', 'marginalAce'] as const) close(s[k], o[k], k, 1e-12);
    s.perClass.forEach((c, i) => {
      for (const k of ['ece', 'mce', 'rmsce', 'ace', 'nll', 'brier'] as const) close(c[k], o.perClass[i]![k], `class ${i} ${k}`, 1e-12);
    });
    assert.deepEqual(
      s.reliability.map((b) => b.count),
      o.reliability.map((b) => b.count),
    );
    assert.equal(s.voxels, 3000);
  });
  test('ThresholdSweepAccumulator', () => {
    const acc = new ThresholdSweepAccumulator({ numClasses: 4, classes: [0, 2, 3] });
    for (let i = 0; i + 1 < cuts.length; i++) acc.update(probs.subarray(cuts[i]! * 4, cuts[i + 1]! * 4), labels.subarray(cuts[i]!, cuts[i + 1]!));
    assert.deepEqual(acc.aggregate(), thresholdSweep({ probs, labels, numClasses: 4, classes: [0, 2, 3] }));
  });
});

// ------------------------------------------------------------------------------------------------
// Threshold sweep, binary: p1 = [.95 .72 .15 .63 .45], labels [1 0 0 1 1] (3 positives); p ≥ τ is positive.
//   τ .1:  all 5 predicted → TP 3 FP 2 FN 0 → P .6,  R 1,   DSC 6/8
//   τ .5:  .95 .72 .63      → TP 2 FP 1 FN 1 → P 2/3, R 2/3, DSC 4/6
//   τ .7:  .95 .72          → TP 1 FP 1 FN 2 → P .5,  R 1/3, DSC 2/5
//   τ .9:  .95              → TP 1 FP 0 FN 2 → P 1,   R 1/3, DSC 2/4
//   τ .99: none             → TP 0 FP 0 FN 3 → P NaN, R 0,   DSC 0
describe('threshold sweep', () => {
  const labels = Uint8Array.from([1, 0, 0, 1, 1]);
  const p1 = [0.95, 0.72, 0.15, 0.63, 0.45];
  const probs = Float32Array.from(p1.flatMap((p) => [1 - p, p]));
  const expected = [
    { threshold: 0.1, tp: 3, fp: 2, fn: 0, precision: 0.6, recall: 1, dsc: 0.75 },
    { threshold: 0.5, tp: 2, fp: 1, fn: 1, precision: 2 / 3, recall: 2 / 3, dsc: 2 / 3 },
    { threshold: 0.7, tp: 1, fp: 1, fn: 2, precision: 0.5, recall: 1 / 3, dsc: 0.4 },
    { threshold: 0.9, tp: 1, fp: 0, fn: 2, precision: 1, recall: 1 / 3, dsc: 0.5 },
    { threshold: 0.99, tp: 0, fp: 0, fn: 3, precision: NaN, recall: 0, dsc: 0 },
  ];
  test('binary, hand-worked', () => {
    const r = thresholdSweep({ probs, labels, numClasses: 2, thresholds: [0.1, 0.5, 0.7, 0.9, 0.99] });
    assert.equal(r.length, 1);
    assert.equal(r[0]!.classIndex, 1);
    assert.deepEqual(r[0]!.points, expected);
  });
  test('thresholds keep their given order; one sigmoid channel works the same', () => {
    const r = thresholdSweep({ probs: Float32Array.from(p1), labels, numClasses: 2, thresholds: [0.9, 0.1, 0.7] });
    assert.deepEqual(r[0]!.points, [expected[3], expected[0], expected[2]]);
  });
  test('p equal to the threshold counts as positive', () => {
    const r = thresholdSweep({ probs: Float32Array.from([0.5, 0.25]), labels: [1, 0], numClasses: 2, thresholds: [0.25, 0.5] });
    assert.deepEqual(
      r[0]!.points.map((p) => [p.tp, p.fp, p.fn]),
      [
        [1, 1, 0],
        [1, 0, 0],
      ],
    );
  });
  test('default thresholds 0.05 … 0.95; classes default to the foreground', () => {
    assert.equal(DEFAULT_THRESHOLDS.length, 19);
    assert.equal(DEFAULT_THRESHOLDS[0], 0.05);
    assert.equal(DEFAULT_THRESHOLDS[9], 0.5);
    assert.equal(DEFAULT_THRESHOLDS[18], 0.95);
    const r = thresholdSweep({ probs: probsFor([0, 1, 2, 2], 3), labels: [0, 1, 2, 1], numClasses: 3 });
    assert.deepEqual(
      r.map((c) => c.classIndex),
      [1, 2],
    );
    // Class 2: p2 = [.2, .2, .6, .6], labels [0, 1, 2, 1]. At τ .5 and τ .25 only v2, v3 pass →
    // TP 1 (v2), FP 1 (v3), FN 0.
    const at = (tau: number) => r[1]!.points.find((p) => p.threshold === tau)!;
    assert.deepEqual([at(0.5).tp, at(0.5).fp, at(0.5).fn], [1, 1, 0]);
    assert.deepEqual([at(0.25).tp, at(0.25).fp, at(0.25).fn], [1, 1, 0]);
    // At τ .15 every voxel passes (p2 ≥ .2): TP 1, FP 3.
    assert.deepEqual([at(0.15).tp, at(0.15).fp, at(0.15).fn], [1, 3, 0]);
  });
});

// ------------------------------------------------------------------------------------------------
describe('temperature scaling', () => {
  test('applyTemperature, hand-worked', () => {
    // softmax(log [.8, .2] / 2) = [√.8, √.2]/(√.8 + √.2) = [2/3, 1/3]
    const t = applyTemperature(Float32Array.from([0.8, 0.2]), 2, 2);
    close(t[0]!, 2 / 3, 'softmax p0');
    close(t[1]!, 1 / 3, 'softmax p1');
    // sigmoid(logit(.8)/2) = sigmoid(ln 4 / 2) = sigmoid(ln 2) = 2/3
    close(applyTemperature(Float32Array.from([0.8]), 1, 2)[0]!, 2 / 3, 'sigmoid');
    // T = 1 is the identity (up to float32).
    const p = Float32Array.from([0.1, 0.6, 0.3]);
    applyTemperature(p, 3, 1).forEach((v, i) => close(v, p[i]!, `identity ${i}`));
  });
  const cases: [string, number, number, number, number][] = [
    // [what, classes, sharpen, expected T, tolerance]: probs = softmax(sharpen·z), labels ~ softmax(z)
    ['overconfident ×3 → T ≈ 3', 3, 3, 3, 0.15],
    ['calibrated → T ≈ 1', 3, 1, 1, 0.05],
    ['underconfident ×0.5 → T ≈ 0.5', 4, 0.5, 0.5, 0.03],
  ];
  for (const [what, k, sharpen, want, tol] of cases) {
    test(what, () => {
      const { probs, labels } = synthetic(20000, k, 3, sharpen);
      const fit = fitTemperature({ probs, labels, numClasses: k, shape: [20, 1000] });
      assert.ok(Math.abs(fit.temperature - want) < tol, `T = ${fit.temperature}, expected ${want} ± ${tol}`);
      assert.ok(fit.nllAfter <= fit.nllBefore + 1e-9, `NLL ${fit.nllBefore} → ${fit.nllAfter}`);
      assert.equal(fit.atBound, false);
      assert.equal(fit.voxels, 20000);
      if (sharpen !== 1) {
        assert.ok(fit.eceAfter < fit.eceBefore, `ECE ${fit.eceBefore} → ${fit.eceAfter}`);
        assert.ok(fit.nllAfter < fit.nllBefore - 0.01, `NLL ${fit.nllBefore} → ${fit.nllAfter}`);
      }
      // The reported numbers are calibrationMetrics before / after applyTemperature.
      const before = calibrationMetrics({ probs, labels, numClasses: k });
      const after = calibrationMetrics({ probs: applyTemperature(probs, k, fit.temperature), labels, numClasses: k });
      assert.equal(fit.nllBefore, before.nll);
      assert.equal(fit.eceAfter, after.ece);
      assert.equal(fit.brierAfter, after.brier);
      // Deterministic.
      assert.equal(fitTemperature({ probs, labels, numClasses: k }).temperature, fit.temperature);
    });
  }
  test('sigmoid head (one channel): p = sigmoid(2.5·z), labels ~ Bernoulli(sigmoid(z)) → T ≈ 2.5', () => {
    const r = rng(5);
    const n = 20000;
    const probs = new Float32Array(n);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const z = 1.5 * r.normal();
      labels[i] = r.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
      probs[i] = 1 / (1 + Math.exp(-2.5 * z));
    }
    const fit = fitTemperature({ probs, labels, numClasses: 2 });
    assert.ok(Math.abs(fit.temperature - 2.5) < 0.15, `T = ${fit.temperature}`);
    // The same fit on the two-channel form.
    const two = fitTemperature({ probs: Float32Array.from(Array.from(probs).flatMap((p) => [1 - p, p])), labels, numClasses: 2 });
    close(two.temperature, fit.temperature, 'two-channel T', 1e-3);
  });
  test('a run at the range end is flagged', () => {
    const { probs, labels } = synthetic(2000, 3, 9, 3);
    const fit = fitTemperature({ probs, labels, numClasses: 3, range: [0.5, 1.5] });
    assert.equal(fit.atBound, true);
    close(fit.temperature, 1.5, 'T at the upper end', 1e-6);
  });
});

// ------------------------------------------------------------------------------------------------
describe('input errors', () => {
  const p = Float32Array.from([0.5, 0.5, 0.2, 0.8]);
  const errors: [string, () => unknown, string][] = [
    ['probs length', () => calibrationMetrics({ probs: new Float32Array(10), labels: new Uint8Array(6), shape: [1, 2, 3], numClasses: 2 }), 'calibrationMetrics: probs has 10 values but shape [1, 2, 3] × 2 classes needs 12 (or 6 for a one-channel sigmoid head); probs is channels-last [...shape, numClasses]'],
    ['probs length, 3 classes, no shape', () => segmentationMetrics({ probs: new Float32Array(5), labels: [0, 1], numClasses: 3 }), 'segmentationMetrics: probs has 5 values but 2 labels × 3 classes needs 6; probs is channels-last [...shape, numClasses]'],
    ['shape vs labels', () => segmentationMetrics({ probs: p, labels: [0, 1], shape: [3], numClasses: 2 }), 'segmentationMetrics: shape [3] has 3 voxels but labels has 2 values'],
    ['numClasses', () => calibrationMetrics({ probs: p, labels: [0, 1, 0, 1], numClasses: 1 }), 'calibrationMetrics: numClasses must be an integer >= 2 (use 2 for a binary / sigmoid head), got 1'],
    ['label range', () => calibrationMetrics({ probs: p, labels: [0, 2], numClasses: 2 }), 'CalibrationAccumulator.update: label 2 at voxel 1 is not a class id 0..1'],
    ['label not an integer', () => segmentationMetrics({ probs: p, labels: [0.5, 1], numClasses: 2 }), 'SegmentationAccumulator.update: label 0.5 at voxel 0 is not a class id 0..1'],
    ['NaN probability', () => calibrationMetrics({ probs: Float32Array.from([0.5, 0.5, NaN, 1]), labels: [0, 1], numClasses: 2 }), 'CalibrationAccumulator.update: probs[2] = NaN (voxel 1, class 0) is not a probability in [0, 1]'],
    ['bins', () => new CalibrationAccumulator({ numClasses: 2, bins: 0 }), 'CalibrationAccumulator: bins must be an integer >= 1, got 0'],
    ['thresholds', () => thresholdSweep({ probs: p, labels: [0, 1], numClasses: 2, thresholds: [0, 0.5] }), 'thresholdSweep: thresholds must be a non-empty list of numbers in (0, 1), got [0,0.5]'],
    ['sweep classes', () => thresholdSweep({ probs: p, labels: [0, 1], numClasses: 2, classes: [2] }), 'thresholdSweep: classes must be class ids 0..1, got [2]'],
    ['temperature', () => applyTemperature(p, 2, 0), 'applyTemperature: temperature must be a number > 0, got 0'],
    ['temperature, empty', () => fitTemperature({ probs: new Float32Array(0), labels: [], numClasses: 2 }), 'fitTemperature: no voxels to fit on'],
    ['ace mode', () => calibrationMetrics({ probs: p, labels: [0, 1], numClasses: 2, ace: 'fast' as 'exact' }), `calibrationMetrics: ace must be 'histogram' or 'exact', got "fast"`],
  ];
  for (const [what, call, message] of errors) {
    test(what, () => assert.throws(call, (e: unknown) => e instanceof MetricInputError && e.message === message));
  }
});
