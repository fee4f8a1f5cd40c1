// The loss family on small hand-computed cases: the pinned values, MONAI DiceLoss test cases,
// a table of every loss (two-class, three-class, sigmoid layout), the common options, finite gradients
// at p → 0 and p → 1, and the exact error texts for bad options and shapes.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LOSS_DEFAULTS, LOSS_NAMES, LossError, createLoss, lossValue, validateLossOptions, type LossName, type LossOptions } from '../../src/core/losses';
import { suggest } from '../../src/core/util/suggest';
import { resetBackendSelection, selectBackend } from '../../src/core/compute/backend';

before(async () => {
  await tf.setBackend('cpu');
});

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function close(actual: number, expected: number, what: string, tol = 2e-6): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected} (±${tol})`);
}

function value(name: string, yTrue: number[], yPred: number[], shape: number[], options: LossOptions = {}): number {
  return lossValue(name, { yTrue, yPred, shape }, options);
}

function perSample(name: string, yTrue: number[], yPred: number[], shape: number[], options: LossOptions = {}): number[] {
  const loss = createLoss(name, { ...options, reduction: 'none' });
  const t = tf.tidy(() => loss(tf.tensor(yTrue, shape), tf.tensor(yPred, shape)));
  const out = Array.from(t.dataSync());
  t.dispose();
  return out;
}

/** Channels-last one-hot [..., C] of integer labels. */
function oneHot(labels: number[], c: number): number[] {
  return labels.flatMap((l) => Array.from({ length: c }, (_, k) => (k === l ? 1 : 0)));
}

// ------------------------------------------------------------------------------------------------
// Pinned values (issue 3). Logits [[1,−1],[−1,1]] through a sigmoid: p = [a, b, b, a] with
// a = σ(1) = 0.7310586, b = σ(−1) = 0.2689414; target y = [1, 0, 1, 1]; shape [1, 2, 2, 1] (one sample,
// one channel), target not clipped.
//   TP = a + b + a = 1.7310586          (2TP = 3.4621172)
//   γ = 1: FP = b = 0.2689414, FN = (1−a) + (1−b) + (1−a) = b + a + b = 1.2689414
//          1 − 3.4621172 / (3.4621172 + 1.5378828) = 1 − 3.4621172 / 5 = 0.3075766
//   γ = 2: FP = b² = 0.0723295, FN = 2b² + a² = 0.1446590 + 0.5344467 = 0.6791057
//          1 − 3.4621172 / 4.2135524 = 0.1783376
//   γ = 3: FP = b³ = 0.0194523, FN = 2b³ + a³ = 0.0389046 + 0.3907116 = 0.4296162
//          1 − 3.4621172 / 3.9111857 = 0.1148165
// (smooth = 1e-6 moves these by < 1e-7.)
describe('pinned DSC++ values (issue 3)', () => {
  const a = sigmoid(1);
  const b = sigmoid(-1);
  const yPred = [a, b, b, a];
  const yTrue = [1, 0, 1, 1];
  const shape = [1, 2, 2, 1];
  const table: [string, LossName, LossOptions, number][] = [
    ['γ=1 (dice)', 'dice', {}, 0.307576],
    ['γ=1 (dscpp, gamma 1)', 'dscpp', { gamma: 1 }, 0.307576],
    ['γ=2 (dscpp default)', 'dscpp', {}, 0.178338],
    ['γ=3', 'dscpp', { gamma: 3 }, 0.114817],
  ];
  for (const [what, name, options, expected] of table) {
    test(what, () => close(value(name, yTrue, yPred, shape, options), expected, what, 1e-6));
  }
});

// ------------------------------------------------------------------------------------------------
// MONAI DiceLoss (monai/losses/dice.py, tests/losses/test_dice_loss.py), recomputed here by hand/numpy.
// Mapping: MONAI is channels-first [N, C, ...] with logits and an activation; here the activation is applied
// in the test and the tensors are transposed to channels-last. MONAI computes
//   1 − (2·Σyp + smooth_nr) / (Σy + Σp + smooth_dr),
// and Σy + Σp = 2TP + FP + FN, so our `smooth` s equals smooth_nr = smooth_dr = s (cases with
// smooth_nr ≠ smooth_dr have no equivalent and are left out). MONAI's reduction 'mean' averages over
// (n, c), as ours does; its 'sum' sums over (n, c) while ours sums the per-sample class means, so
// MONAI sum = ours × C; its 'none' is per (n, c), which we get per class with classWeights one-hot.
// MONAI's squared_pred (Σy² + Σp² in the denominator) equals DSC++ γ = 2 for binary targets:
// 2TP + FP₂ + FN₂ = Σ 2yp + (1−y)p² + y(1−p)² = Σ y + p² (y² = y). MONAI's default smooth is 1e-5.
// MONAI does not clip p; the 1e-7 clip here moves these values by < 1e-6.
describe('MONAI DiceLoss equivalence (γ = 1)', () => {
  const a = sigmoid(1);
  const b = sigmoid(-1);
  // Two channels-first [2, 2, 3] cases, channel c of sample n at [n][c]; voxels along the last axis.
  const logits3 = [
    [
      [-1, 0, 1],
      [1, 0, -1],
    ],
    [
      [0, 0, 0],
      [0, 0, 0],
    ],
  ];
  const target3 = [
    [1, 0, 0],
    [1, 1, 0],
  ];
  const yTrue3 = target3.flatMap((row) => oneHot(row, 2));
  const sig3 = logits3.flatMap((s) => [0, 1, 2].flatMap((v) => [sigmoid(s[0]![v]!), sigmoid(s[1]![v]!)]));
  const soft3 = logits3.flatMap((s) =>
    [0, 1, 2].flatMap((v) => {
      const e0 = Math.exp(s[0]![v]!);
      const e1 = Math.exp(s[1]![v]!);
      return [e0 / (e0 + e1), e1 / (e0 + e1)];
    }),
  );
  const soft = [0.3, 0.4, 0.7, 0.9, 1.0, 0.1, 0.5, 0.3];
  const table: { what: string; name: LossName; yTrue: number[]; yPred: number[]; shape: number[]; options: LossOptions; expected: number }[] = [
    { what: 'case 1: sigmoid, smooth 1e-6', name: 'dice', yTrue: [1, 0, 1, 1], yPred: [a, b, b, a], shape: [1, 2, 2, 1], options: { smooth: 1e-6 }, expected: 0.307576 },
    { what: 'case 2: sigmoid, batch of 2, smooth 1e-4', name: 'dice', yTrue: [1, 1, 1, 1, 1, 0, 1, 0], yPred: [a, b, b, a, a, b, b, a], shape: [2, 2, 2, 1], options: { smooth: 1e-4 }, expected: 0.416657 },
    // soft_label False: the plain formula applied to a soft target equal to the input.
    { what: 'case 4: soft target = input, smooth 1e-4', name: 'dice', yTrue: soft, yPred: soft, shape: [2, 2, 2, 1], options: { smooth: 1e-4 }, expected: 0.307773 },
    {
      what: 'case 5: include_background false, to_onehot_y, smooth 0',
      name: 'dice',
      yTrue: [0, 0, 1].flatMap((l) => oneHot([l], 2)).concat([0, 1, 0].flatMap((l) => oneHot([l], 2))),
      yPred: [1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0],
      shape: [2, 3, 2],
      options: { smooth: 0, includeBackground: false },
      expected: 0,
    },
    { what: 'case 6: sigmoid per channel, to_onehot_y, smooth 1e-4', name: 'dice', yTrue: yTrue3, yPred: sig3, shape: [2, 3, 2], options: { smooth: 1e-4 }, expected: 0.43505 },
    { what: 'case 8: softmax, smooth 1e-4', name: 'dice', yTrue: yTrue3, yPred: soft3, shape: [2, 3, 2], options: { smooth: 1e-4 }, expected: 0.383713 },
    // MONAI sum over (n, c) = 1.534853 = ours (sum of per-sample class means) × C = 0.7674265 × 2.
    { what: "case 9: softmax, reduction 'sum' (÷ C)", name: 'dice', yTrue: yTrue3, yPred: soft3, shape: [2, 3, 2], options: { smooth: 1e-4, reduction: 'sum' }, expected: 1.534853 / 2 },
    { what: 'case 10: squared_pred = DSC++ γ=2 (smooth 1e-5)', name: 'dscpp', yTrue: [1, 0, 1, 1], yPred: [a, b, b, a], shape: [1, 2, 2, 1], options: { smooth: 1e-5, gamma: 2 }, expected: 0.178337 },
  ];
  for (const c of table) {
    test(c.what, () => close(value(c.name, c.yTrue, c.yPred, c.shape, c.options), c.expected, c.what, 1e-6));
  }
  test("case 7: reduction 'none' per (n, c) via one-hot classWeights; per sample = class mean", () => {
    // MONAI: [[0.296529, 0.415136], [0.599976, 0.428559]] (sample × class).
    const c0 = perSample('dice', yTrue3, sig3, [2, 3, 2], { smooth: 1e-4, classWeights: [1, 0] });
    const c1 = perSample('dice', yTrue3, sig3, [2, 3, 2], { smooth: 1e-4, classWeights: [0, 1] });
    const both = perSample('dice', yTrue3, sig3, [2, 3, 2], { smooth: 1e-4 });
    [
      [c0[0]!, 0.296529],
      [c1[0]!, 0.415136],
      [c0[1]!, 0.599976],
      [c1[1]!, 0.428559],
      [both[0]!, (0.296529 + 0.415136) / 2],
      [both[1]!, (0.599976 + 0.428559) / 2],
    ].forEach(([got, want], i) => close(got!, want!, `entry ${i}`, 1e-6));
  });
});

// ------------------------------------------------------------------------------------------------
// Every loss with its default options.
//
// Two-class case M, shape [2, 2, 2, 2] (two samples of 2×2 voxels), p = [1 − f, f]:
//   sample 0: labels [0, 1, 1, 0], f = [0.2, 0.7, 0.4, 0.1]
//   sample 1: labels [1, 1, 0, 0], f = [0.9, 0.6, 0.3, 0.2]
// Worked by hand (s ≈ 0):
//   dice s0: class 1 TP = .7+.4 = 1.1, FP = .2+.1 = .3, FN = .3+.6 = .9 → 1 − 2.2/3.4 = .3529412;
//            class 0 TP = .8+.9 = 1.7, FP = .3+.6 = .9, FN = .2+.1 = .3 → 1 − 3.4/4.6 = .2608696;
//            mean .3069054.   s1: both classes TP 1.5, FP .5, FN .5 → 1 − 3/4 = .25.   mean .2784527
//   dscpp s1: class 1 FP₂ = .3²+.2² = .13, FN₂ = .1²+.4² = .17 → 1 − 3/3.3 = .0909091 (class 0 the same)
//   tversky s1 (δ .7): TI = 1.5/(1.5 + .35 + .15) = .75 → .25 for both classes
//   focal_tversky s1: .25^.75 = .3535534
//   ce s1: −(ln .9 + ln .6 + ln .7 + ln .8)/4 = (.1053605 + .5108256 + .3566749 + .2231436)/4 = .2990012
//   focal s1: (.1²·.1053605 + .4²·.5108256 + .3²·.3566749 + .2²·.2231436)/4 = .1238123/4 = .0309531
//   combo s1: .5·.25 + .5·.2990012 = .2745006
//   unified_focal s1 (δ .6, γf .5, λ .5): TI_c = 1.5/(1.5 + .6·.5 + .4·.5) = .75 for both classes;
//            AFTL = (.25 + .25^.5)/2 = .375; AFL = [.6·(.1053605 + .5108256) (foreground voxels)
//            + .4·(√.3·.3566749 + √.2·.2231436) (background voxels, p₀ = .7, .8)]/4 = .4877718/4 = .1219430;
//            .5·.375 + .5·.1219430 = .2484715
// Three-class case, shape [1, 3, 3]: labels [0, 1, 2], p = [.7 .2 .1 | .1 .6 .3 | .2 .3 .5].
//   dice: class 0 TP .7 FP .3 FN .3 → 1 − 1.4/2 = .3; class 1 TP .6 FP .5 FN .4 → 1 − 1.2/2.1 = .4285714;
//         class 2 TP .5 FP .4 FN .5 → 1 − 1/1.9 = .4736842; mean .4007519
//   ce: −(ln .7 + ln .6 + ln .5)/3 = (.3566749 + .5108256 + .6931472)/3 = .5202159
// Sigmoid layout: case M's foreground channel alone, shape [2, 2, 2, 1]; ce/focal/unified_focal use
// [1 − p, p] and so equal the two-class values; region losses see the foreground class only
//   (dice: s0 .3529412, s1 .25 → .3014706).
// Values to 7 decimals from a float64 reference (numpy) of the same definitions.
describe('every loss, default options', () => {
  const labelsM = [0, 1, 1, 0, 1, 1, 0, 0];
  const fM = [0.2, 0.7, 0.4, 0.1, 0.9, 0.6, 0.3, 0.2];
  const yM = oneHot(labelsM, 2);
  const pM = fM.flatMap((f) => [1 - f, f]);
  const shapeM = [2, 2, 2, 2];
  const y3 = oneHot([0, 1, 2], 3);
  const p3 = [0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.3, 0.5];
  const shape3 = [1, 3, 3];
  const yS = labelsM;
  const shapeS = [2, 2, 2, 1];
  // name, two-class mean, per sample [s0, s1], batchDice mean (null: not an option), three-class, sigmoid
  const table: [LossName, number, [number, number], number | null, number, number][] = [
    ['dice', 0.2784526, [0.3069053, 0.2499999], 0.2765556, 0.4007517, 0.3014705],
    ['dscpp', 0.1238021, [0.1566951, 0.0909091], 0.1222222, 0.1815996, 0.1380471],
    ['tversky', 0.2789468, [0.3078938, 0.2499999], 0.2769107, 0.4006702, 0.322802],
    ['tversky++', 0.1258634, [0.1608391, 0.0908877], 0.1234346, 0.1973672, 0.1630323],
    ['focal_tversky', 0.38184, [0.4101268, 0.3535533], 0.3808825, 0.5018273, 0.4261877],
    ['focal_tversky++', 0.2073754, [0.2492566, 0.1654942], 0.2066835, 0.2914712, 0.2522345],
    ['ce', 0.3496843, [0.4003674, 0.2990012], null, 0.5202159, 0.3496843],
    ['focal', 0.0619696, [0.0929862, 0.030953], null, 0.0957065, 0.0619696],
    ['combo', 0.3140685, [0.3536364, 0.2745005], 0.3131199, 0.4604838, 0.3255774],
    ['combo++', 0.2367432, [0.2785313, 0.1949551], 0.2359533, 0.3509078, 0.2438657],
    ['unified_focal', 0.2819802, [0.3154889, 0.2484715], 0.2817298, 0.4071981, 0.2819802],
    ['unified_focal++', 0.201618, [0.2438057, 0.1594303], 0.2020571, 0.3109498, 0.201618],
  ];
  test('the table covers LOSS_NAMES', () => assert.deepEqual(table.map((r) => r[0]).sort(), [...LOSS_NAMES].sort()));
  for (const [name, mean, samples, batch, three, sig] of table) {
    test(name, () => {
      close(value(name, yM, pM, shapeM), mean, `${name} two-class mean`);
      const none = perSample(name, yM, pM, shapeM);
      assert.equal(none.length, 2, `${name} reduction none gives one value per sample`);
      close(none[0]!, samples[0], `${name} sample 0`);
      close(none[1]!, samples[1], `${name} sample 1`);
      close(value(name, yM, pM, shapeM, { reduction: 'sum' }), samples[0] + samples[1], `${name} reduction sum`, 4e-6);
      if (batch !== null) {
        close(value(name, yM, pM, shapeM, { batchDice: true }), batch, `${name} batchDice`);
        assert.equal(perSample(name, yM, pM, shapeM, { batchDice: true }).length, 1, `${name} batchDice none has one value`);
      }
      close(value(name, y3, p3, shape3), three, `${name} three-class`);
      close(value(name, yS, fM, shapeS), sig, `${name} sigmoid layout`);
    });
  }
});

// includeBackground: false and classWeights [1, 2, 3] on the three-class case.
//   dice, no background: (.4285714 + .4736842)/2 = .4511278
//   dice, weights [1,2,3]: (.3 + 2·.4285714 + 3·.4736842)/6 = .4296992
//   ce, no background: −(ln .6 + ln .5)/3 = (.5108256 + .6931472)/3 = .4013243
//   ce, weights [1,2,3]: (.3566749 + 2·.5108256 + 3·.6931472)/3 = 1.1525892
describe('includeBackground false and classWeights', () => {
  const y3 = oneHot([0, 1, 2], 3);
  const p3 = [0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.3, 0.5];
  const table: [LossName, number, number][] = [
    ['dice', 0.4511276, 0.429699],
    ['dscpp', 0.2269449, 0.209658],
    ['tversky', 0.4510055, 0.4314262],
    ['tversky++', 0.2459224, 0.229121],
    ['focal_tversky', 0.5500611, 0.5310602],
    ['focal_tversky++', 0.3481216, 0.3277728],
    ['ce', 0.4013243, 1.1525892],
    ['focal', 0.0850063, 0.2384751],
    ['combo', 0.4262259, 0.7911441],
    ['combo++', 0.3141346, 0.6811236],
  ];
  for (const [name, noBg, weighted] of table) {
    test(name, () => {
      close(value(name, y3, p3, [1, 3, 3], { includeBackground: false }), noBg, `${name} includeBackground false`);
      close(value(name, y3, p3, [1, 3, 3], { classWeights: [1, 2, 3] }), weighted, `${name} classWeights [1,2,3]`);
      // Weight 0 on class 0 is the same as dropping the background.
      close(value(name, y3, p3, [1, 3, 3], { classWeights: [0, 1, 1] }), noBg, `${name} classWeights [0,1,1]`);
    });
  }
});

// Non-default options, case M (values from the same float64 reference).
describe('non-default options', () => {
  const yM = oneHot([0, 1, 1, 0, 1, 1, 0, 0], 2);
  const pM = [0.2, 0.7, 0.4, 0.1, 0.9, 0.6, 0.3, 0.2].flatMap((f) => [1 - f, f]);
  const table: [LossName, LossOptions, number][] = [
    ['dscpp', { gamma: 0.5 }, 0.4132999],
    ['tversky', { delta: 0.3 }, 0.2753294],
    ['combo', { weight: 0.8 }, 0.292699], // .8·.2784526 + .2·.3496843
    ['unified_focal', { weight: 1 }, 0.4008608], // AFTL alone
    ['unified_focal', { weight: 0 }, 0.1630995], // AFL alone
    ['focal', { focalGamma: 0 }, 0.3496843], // = ce
    ['dice', { smooth: 1 }, 0.2217532],
  ];
  for (const [name, options, expected] of table) {
    test(`${name} ${JSON.stringify(options)}`, () => close(value(name, yM, pM, [2, 2, 2, 2], options), expected, name));
  }
  test('a perfect prediction gives 0 for the region losses (up to the clip)', () => {
    const y = oneHot([0, 1, 1, 0], 2);
    for (const name of ['dice', 'dscpp', 'tversky', 'tversky++', 'focal_tversky', 'focal_tversky++', 'unified_focal', 'unified_focal++'] as const) {
      const v = value(name, y, y, [1, 2, 2, 2]);
      assert.ok(v >= 0 && v < 2e-3, `${name}: ${v}`);
    }
  });
});

// ------------------------------------------------------------------------------------------------
describe('gradients', () => {
  // p exactly 0 and 1, and next to them, in both classes, with both targets.
  const labels = [0, 1, 1, 0, 1, 0, 0, 1];
  const fg = [0, 1, 1e-12, 1 - 1e-9, 0.5, 1, 0, 0.3];
  const y = oneHot(labels, 2);
  const p = fg.flatMap((f) => [1 - f, f]);
  const shape = [2, 2, 2, 2];
  const variants: [LossName, LossOptions][] = [
    ...LOSS_NAMES.map((n): [LossName, LossOptions] => [n, {}]),
    ['dscpp', { gamma: 0.5 }],
    ['tversky++', { gamma: 0.3 }],
    ['focal_tversky++', { gamma: 0.5, focalGamma: 0.2 }],
    ['focal', { focalGamma: 0.5 }],
    ['unified_focal++', { gamma: 0.5, focalGamma: 0.9 }],
    ['dice', { smooth: 0 }],
    ['dscpp', { batchDice: true, includeBackground: false }],
  ];
  for (const [name, options] of variants) {
    test(`finite at p → 0 and p → 1: ${name} ${JSON.stringify(options)}`, () => {
      const loss = createLoss(name, options);
      const before = tf.memory().numTensors;
      const yt = tf.tensor(y, shape);
      const pt = tf.tensor(p, shape);
      const g = tf.grad((x: tf.Tensor) => loss(yt, x))(pt);
      const gv = Array.from(g.dataSync());
      // The sigmoid layout (one channel) has no background channel to drop.
      const ys = tf.tensor(labels, [2, 2, 2, 1]);
      const ps = tf.tensor(fg, [2, 2, 2, 1]);
      const sigGrad = options.includeBackground === false ? tf.ones([1]) : tf.grad((x: tf.Tensor) => loss(ys, x))(ps);
      const sv = Array.from(sigGrad.dataSync());
      tf.dispose([yt, pt, g, ys, ps, sigGrad]);
      assert.ok(
        gv.every((v) => Number.isFinite(v)),
        `${name}: ${gv.join(', ')}`,
      );
      assert.ok(
        sv.every((v) => Number.isFinite(v)),
        `${name} (sigmoid): ${sv.join(', ')}`,
      );
      assert.ok(
        gv.some((v) => v !== 0),
        `${name}: the gradient is not all zero`,
      );
      assert.ok(tf.memory().numTensors <= before, `${name}: leaked ${tf.memory().numTensors - before} tensors`);
    });
  }

  // Central differences on interior points (float32: step 1e-2, tolerance 2 % + 1e-3).
  for (const [name, options] of [
    ['dscpp', {}],
    ['tversky++', { gamma: 3 }],
    ['focal_tversky++', {}],
    ['combo++', {}],
    ['unified_focal++', {}],
    ['focal', {}],
  ] as [LossName, LossOptions][]) {
    test(`matches central differences: ${name}`, () => {
      const loss = createLoss(name, options);
      const yy = oneHot([0, 1, 1, 0, 1, 1, 0, 0], 2);
      const pp = [0.2, 0.7, 0.4, 0.1, 0.9, 0.6, 0.3, 0.2].flatMap((f) => [1 - f, f]);
      const yt = tf.tensor(yy, [2, 2, 2, 2]);
      const pt = tf.tensor(pp, [2, 2, 2, 2]);
      const g = tf.grad((x: tf.Tensor) => loss(yt, x))(pt);
      const gv = Array.from(g.dataSync());
      const h = 1e-2;
      for (let i = 0; i < pp.length; i++) {
        const up = [...pp];
        const dn = [...pp];
        up[i] = up[i]! + h;
        dn[i] = dn[i]! - h;
        const fd = (value(name, yy, up, [2, 2, 2, 2], options) - value(name, yy, dn, [2, 2, 2, 2], options)) / (2 * h);
        assert.ok(Math.abs(fd - gv[i]!) <= 0.02 * Math.abs(fd) + 1e-3, `${name} d/dp[${i}]: autodiff ${gv[i]} vs central difference ${fd}`);
      }
      tf.dispose([yt, pt, g]);
    });
  }

  test('usable as a training objective: SGD on logits lowers dscpp', () => {
    const loss = createLoss('dscpp');
    const yt = tf.tensor(oneHot([0, 1, 1, 0, 1, 1, 0, 0], 2), [2, 2, 2, 2]);
    const logits = tf.variable(tf.zeros([2, 2, 2, 2]));
    const opt = tf.train.sgd(0.5);
    const f = () => loss(yt, tf.softmax(logits));
    const first = tf.tidy(() => f().dataSync()[0]!);
    for (let i = 0; i < 20; i++) opt.minimize(f);
    const last = tf.tidy(() => f().dataSync()[0]!);
    assert.ok(last < first - 0.1, `dscpp ${first} → ${last}`);
    tf.dispose([yt, logits]);
    opt.dispose();
  });
});

// ------------------------------------------------------------------------------------------------
describe('options: defaults and exact error texts', () => {
  test('LOSS_DEFAULTS', () => {
    const common = { includeBackground: true, batchDice: false, reduction: 'mean' };
    assert.deepEqual(LOSS_DEFAULTS, {
      dice: { smooth: 1e-6, ...common },
      dscpp: { smooth: 1e-6, ...common, gamma: 2 },
      tversky: { smooth: 1e-6, ...common, delta: 0.7 },
      'tversky++': { smooth: 1e-6, ...common, delta: 0.7, gamma: 2 },
      focal_tversky: { smooth: 1e-6, ...common, delta: 0.7, focalGamma: 0.75 },
      'focal_tversky++': { smooth: 1e-6, ...common, delta: 0.7, focalGamma: 0.75, gamma: 2 },
      ce: { includeBackground: true, reduction: 'mean' },
      focal: { includeBackground: true, reduction: 'mean', focalGamma: 2 },
      combo: { smooth: 1e-6, ...common, weight: 0.5 },
      'combo++': { smooth: 1e-6, ...common, weight: 0.5, gamma: 2 },
      unified_focal: { smooth: 1e-6, batchDice: false, reduction: 'mean', weight: 0.5, delta: 0.6, focalGamma: 0.5 },
      'unified_focal++': { smooth: 1e-6, batchDice: false, reduction: 'mean', weight: 0.5, delta: 0.6, focalGamma: 0.5, gamma: 2 },
    });
    // Defaults are accepted as options.
    for (const n of LOSS_NAMES) assert.equal(validateLossOptions(n, { ...LOSS_DEFAULTS[n] }), null, n);
  });

  const errors: [string, Record<string, unknown>, string][] = [
    ['dscp', {}, "unknown loss 'dscp'; did you mean 'dscpp'?"],
    ['tversky+', {}, "unknown loss 'tversky+'; did you mean 'tversky++'?"],
    ['Dice', {}, "unknown loss 'Dice'; did you mean 'dice'?"],
    ['hinge', {}, "unknown loss 'hinge'"],
    ['dscpp', { gamma: -1 }, "dscpp: option 'gamma' must be a number > 0, got -1"],
    ['dscpp', { gamma: 0 }, "dscpp: option 'gamma' must be a number > 0, got 0"],
    ['dscpp', { gamma: '2' }, "dscpp: option 'gamma' must be a number > 0, got '2'"],
    ['tversky++', { gamma: Number.NaN }, "tversky++: option 'gamma' must be a number > 0, got NaN"],
    ['focal', { focalGamma: -0.5 }, "focal: option 'focalGamma' must be a number >= 0, got -0.5"],
    ['unified_focal', { focalGamma: 1 }, "unified_focal: option 'focalGamma' must be a number in [0, 1) for the Unified Focal loss (the foreground term is (1−TI)^(1−focalGamma)), got 1"],
    ['dice', { smooth: -1e-6 }, "dice: option 'smooth' must be a number >= 0, got -0.000001"],
    ['tversky', { delta: 1.5 }, "tversky: option 'delta' must be a number in [0, 1], got 1.5"],
    ['combo', { weight: -0.1 }, "combo: option 'weight' must be a number in [0, 1], got -0.1"],
    ['dice', { includeBackground: 'no' }, "dice: option 'includeBackground' must be true or false, got 'no'"],
    ['dice', { batchDice: 1 }, "dice: option 'batchDice' must be true or false, got 1"],
    ['dice', { reduction: 'avg' }, "dice: option 'reduction' must be one of 'mean', 'sum', 'none', got 'avg'"],
    ['dice', { classWeights: [] }, "dice: option 'classWeights' must be a non-empty list of numbers >= 0, not all zero, got []"],
    ['dice', { classWeights: [1, -1] }, "dice: option 'classWeights' must be a non-empty list of numbers >= 0, not all zero, got [1, -1]"],
    ['dice', { classWeights: [0, 0] }, "dice: option 'classWeights' must be a non-empty list of numbers >= 0, not all zero, got [0, 0]"],
    ['dice', { classWeights: 2 }, "dice: option 'classWeights' must be a non-empty list of numbers >= 0, not all zero, got 2"],
    ['dice', { includeBackground: false, classWeights: [1, 0] }, "dice: option 'classWeights' [1, 0] selects no class once includeBackground is false"],
    ['dscpp', { gama: 2 }, "dscpp: unknown option 'gama'; did you mean 'gamma'? (options: smooth, includeBackground, batchDice, classWeights, reduction, gamma)"],
    ['dice', { gamma: 2 }, "dice: unknown option 'gamma' (options: smooth, includeBackground, batchDice, classWeights, reduction)"],
    ['ce', { batchDice: true }, "ce: option 'batchDice' does not apply: it is a per-voxel loss with no region terms (options: includeBackground, classWeights, reduction)"],
    ['unified_focal', { includeBackground: false }, "unified_focal: option 'includeBackground' does not apply: the Unified Focal loss treats class 0 as the background by definition (options: smooth, batchDice, reduction, weight, delta, focalGamma)"],
  ];
  for (const [name, options, message] of errors) {
    test(`${name} ${JSON.stringify(options)}`, () => {
      assert.equal(validateLossOptions(name, options), message);
      assert.throws(
        () => createLoss(name, options as LossOptions),
        (e: unknown) => e instanceof LossError && e.message === message,
      );
    });
  }
  test('valid options give null; undefined values count as absent', () => {
    assert.equal(validateLossOptions('dscpp', { gamma: 3, smooth: 0, classWeights: [0, 1], reduction: 'none' }), null);
    assert.equal(validateLossOptions('focal_tversky++', { gamma: undefined, delta: 0.5 }), null);
  });
  test('suggest()', () => {
    assert.equal(suggest('dscp', LOSS_NAMES), 'dscpp');
    assert.equal(suggest('focal_tverski', LOSS_NAMES), 'focal_tversky');
    assert.equal(suggest('combo+', LOSS_NAMES), 'combo++');
    assert.equal(suggest('xyzzy', LOSS_NAMES), null);
  });
});

describe('shape errors when called', () => {
  const table: [LossName, LossOptions, number[], number[], string][] = [
    ['dscpp', {}, [2, 4, 4, 2], [2, 4, 4, 3], 'dscpp: yTrue shape [2,4,4,2] does not match yPred shape [2,4,4,3]'],
    ['ce', {}, [1, 4, 2], [1, 4, 4, 2], 'ce: yTrue shape [1,4,2] does not match yPred shape [1,4,4,2]'],
    ['dice', {}, [4, 2], [4, 2], 'dice: expected channels-last tensors [N, ...spatial, C] of rank >= 3, got yTrue shape [4,2] and yPred shape [4,2]'],
    ['dice', { classWeights: [1, 2, 3] }, [1, 2, 2], [1, 2, 2], "dice: option 'classWeights' has 3 entries but yPred has 2 channels (shape [1,2,2])"],
    ['tversky', { includeBackground: false }, [1, 2, 1], [1, 2, 1], 'tversky: includeBackground: false needs a background channel (C >= 2), got yPred shape [1,2,1]'],
  ];
  for (const [name, options, ts, ps, message] of table) {
    test(message, () => {
      const loss = createLoss(name, options);
      const before = tf.memory().numTensors;
      const yt = tf.zeros(ts);
      const pt = tf.zeros(ps);
      assert.throws(
        () => loss(yt, pt),
        (e: unknown) => e instanceof LossError && e.message === message,
      );
      tf.dispose([yt, pt]);
      assert.equal(tf.memory().numTensors, before, 'no tensors leaked by the failed call');
    });
  }
});

describe('lossValue', () => {
  test('equals createLoss on the same tensors; accepts number arrays and Float32Arrays', () => {
    const y = [1, 0, 1, 1];
    const p = [0.9, 0.2, 0.4, 0.7];
    const loss = createLoss('dscpp');
    const t = tf.tidy(() => loss(tf.tensor(y, [1, 2, 2, 1]), tf.tensor(p, [1, 2, 2, 1])).dataSync()[0]!);
    assert.equal(lossValue('dscpp', { yTrue: y, yPred: p, shape: [1, 2, 2, 1] }), t);
    assert.equal(lossValue('dscpp', { yTrue: Float32Array.from(y), yPred: Float32Array.from(p), shape: [1, 2, 2, 1] }), t);
  });
  test('integer yTrue tensors are accepted', () => {
    const loss = createLoss('dice');
    const v = tf.tidy(() => loss(tf.tensor([1, 0, 1, 1], [1, 2, 2, 1], 'int32'), tf.tensor([0.9, 0.2, 0.4, 0.7], [1, 2, 2, 1])).dataSync()[0]!);
    close(v, value('dice', [1, 0, 1, 1], [0.9, 0.2, 0.4, 0.7], [1, 2, 2, 1]), 'int32 target', 1e-7);
  });
  const errors: [() => unknown, string][] = [
    [() => lossValue('dice', { yTrue: [1, 0, 1], yPred: [1, 0, 1, 1], shape: [1, 2, 2, 1] }), 'dice: shape [1,2,2,1] needs 4 values, got yTrue 3 and yPred 4'],
    [() => lossValue('dice', { yTrue: [1], yPred: [1], shape: [1, 0, 1] }), 'dice: shape must be a list of positive integers [N, ...spatial, C], got [1,0,1]'],
    [() => lossValue('dice', { yTrue: [1, 0], yPred: [1, 0], shape: [1, 2, 1] }, { reduction: 'none' }), "dice: lossValue returns one number; use reduction 'mean' or 'sum' (or createLoss for per-sample losses)"],
    [() => lossValue('dicee', { yTrue: [1], yPred: [1], shape: [1, 1, 1] }), "unknown loss 'dicee'; did you mean 'dice'?"],
  ];
  for (const [call, message] of errors) {
    test(message, () =>
      assert.throws(call, (e: unknown) => e instanceof LossError && e.message === message),
    );
  }
});

// The training default backend: the same values (float32 on both) and finite gradients on wasm.
describe('wasm backend', () => {
  test('every loss: the table values and finite gradients', async () => {
    resetBackendSelection();
    await selectBackend('wasm');
    try {
      assert.equal(tf.getBackend(), 'wasm');
      const yM = oneHot([0, 1, 1, 0, 1, 1, 0, 0], 2);
      const pM = [0.2, 0.7, 0.4, 0.1, 0.9, 0.6, 0.3, 0.2].flatMap((f) => [1 - f, f]);
      const expected: Record<LossName, number> = {
        dice: 0.2784526,
        dscpp: 0.1238021,
        tversky: 0.2789468,
        'tversky++': 0.1258634,
        focal_tversky: 0.38184,
        'focal_tversky++': 0.2073754,
        ce: 0.3496843,
        focal: 0.0619696,
        combo: 0.3140685,
        'combo++': 0.2367432,
        unified_focal: 0.2819802,
        'unified_focal++': 0.201618,
      };
      const edge = [0, 1, 1e-12, 1, 0.5, 1, 0, 0.3].flatMap((f) => [1 - f, f]);
      for (const name of LOSS_NAMES) {
        close(value(name, yM, pM, [2, 2, 2, 2]), expected[name], `${name} on wasm`);
        const loss = createLoss(name);
        const yt = tf.tensor(yM, [2, 2, 2, 2]);
        const pt = tf.tensor(edge, [2, 2, 2, 2]);
        const g = tf.grad((x: tf.Tensor) => loss(yt, x))(pt);
        assert.ok(Array.from(g.dataSync()).every(Number.isFinite), `${name} gradient on wasm`);
        tf.dispose([yt, pt, g]);
      }
    } finally {
      resetBackendSelection();
      await tf.setBackend('cpu');
    }
  });
});
