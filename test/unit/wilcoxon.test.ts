// The Wilcoxon signed-rank test and its helpers against hand-computed values, R's documented example
// and reference values from scipy.stats (1.17, wilcoxon(..., zero_method='wilcox', correction=True)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageRanks, erfc, exactSignedRankP, meanStd, normalCdf, signedRankCounts, wilcoxonSignedRank } from '../../src/core/executors/wilcoxon';

function close(actual: number, expected: number, rel: number, what: string): void {
  const tol = Math.max(Math.abs(expected) * rel, 1e-300);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected}, got ${actual} (|Δ| ${Math.abs(actual - expected)})`);
}

test('averageRanks: ties share the mean of their positions; tie group sizes', () => {
  assert.deepEqual(averageRanks([3, 1, 2]), { ranks: [3, 1, 2], tieSizes: [] });
  assert.deepEqual(averageRanks([0.5, 0.25, 0.5, 1, 0.75, 0.5, 0.25, 1, 0.5, 1.25]), { ranks: [4.5, 1.5, 4.5, 8.5, 7, 4.5, 1.5, 8.5, 4.5, 10], tieSizes: [2, 4, 2] });
  assert.deepEqual(averageRanks([]), { ranks: [], tieSizes: [] });
});

test('signedRankCounts: subsets of {1..n} by rank sum', () => {
  // {1,2,3}: sums 0 {}, 1 {1}, 2 {2}, 3 {3},{1,2}, 4 {1,3}, 5 {2,3}, 6 {1,2,3}
  assert.deepEqual([...signedRankCounts(3)], [1, 1, 1, 2, 1, 1, 1]);
  assert.equal([...signedRankCounts(10)].reduce((a, b) => a + b, 0), 1024);
  assert.equal([...signedRankCounts(50)].reduce((a, b) => a + b, 0), 2 ** 50);
  assert.throws(() => signedRankCounts(53), /n must be an integer in 0..52, got 53/);
});

test('exactSignedRankP: two-sided tail probabilities', () => {
  assert.equal(exactSignedRankP(15, 5), 2 / 32); // all five positive
  assert.equal(exactSignedRankP(0, 5), 2 / 32);
  assert.equal(exactSignedRankP(6, 3), 2 / 8);
  assert.equal(exactSignedRankP(3, 3), 1); // the median: capped at 1
});

test("wilcoxonSignedRank: R's paired example (Hollander & Wolfe), V = 40, p = 0.0390625 exact", () => {
  const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
  const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
  const r = wilcoxonSignedRank(x, y);
  assert.equal(r.method, 'exact');
  assert.equal(r.n, 9);
  assert.equal(r.zeros, 0);
  assert.equal(r.wPlus, 40);
  assert.equal(r.wMinus, 5);
  assert.equal(r.z, null);
  close(r.p, 0.0390625, 1e-12, 'p');
  close(r.medianDiff, 0.49, 1e-9, 'median difference'); // 1.55 − 1.06, the 5th of the 9 sorted differences
});

test('wilcoxonSignedRank: exact p for 20 untied differences (scipy method=exact: W− = 48, p = 0.03276824951171875)', () => {
  const d = [0.11, -0.52, 0.23, 0.74, -0.05, 0.91, 0.37, -0.18, 0.66, 0.29, 0.48, -0.83, 0.15, 0.57, 0.02, 0.99, -0.31, 0.44, 0.71, 0.08];
  const r = wilcoxonSignedRank(d, d.map(() => 0));
  assert.equal(r.method, 'exact');
  assert.equal(r.wPlus, 162);
  assert.equal(r.wMinus, 48);
  close(r.p, 0.03276824951171875, 1e-12, 'p');
});

test('wilcoxonSignedRank: ties and zeros use the normal approximation with tie and continuity corrections (hand: W+ 49, Var 94.75)', () => {
  const d = [0.5, -0.25, 0.5, 0, 1.0, 0.75, -0.5, 0.25, 0, 1.0, 0.5, 1.25];
  const r = wilcoxonSignedRank(d, d.map(() => 0));
  assert.equal(r.method, 'normal');
  assert.equal(r.pairs, 12);
  assert.equal(r.zeros, 2);
  assert.equal(r.n, 10);
  assert.equal(r.ties, true);
  assert.equal(r.wPlus, 49);
  assert.equal(r.wMinus, 6);
  // z = (49 − 27.5 − 0.5) / sqrt(10·11·21/24 − (6 + 60 + 6)/48) = 21 / sqrt(94.75)
  close(r.z as number, 21 / Math.sqrt(94.75), 1e-12, 'z');
  close(r.p, 0.030974893699184627, 1e-9, 'p (scipy)');
});

test('wilcoxonSignedRank: 60 untied differences use the normal approximation (scipy: W+ 755, z −1.1741756787594284, p 0.24032466564725907)', () => {
  const d = [
    -0.701931, -1.224359, -0.148362, 0.520445, 1.236047, 0.209706, -0.452647, -0.68478, 0.848746, 1.734783, 0.372769, -1.133329, -0.858265, 1.700019, 0.302882, -1.632135, 0.016304, -1.063226, -0.529288, -0.388006,
    -0.613313, 0.653378, 0.036914, -0.489431, 0.509638, 0.929855, -1.543023, -0.15673, -0.880747, -0.073155, -1.189419, 0.12069, 0.062114, -0.204338, -0.947927, -0.29619, -0.991329, -1.255209, 0.324786, -1.00935,
    1.270296, 0.816588, -1.897817, 0.372129, -1.001717, 0.133057, 0.143632, -1.88843, -0.133423, -0.15579, 1.062001, -1.081447, 0.838042, -0.998973, -0.231291, -0.740473, 1.548731, 0.668213, 2.531733, 0.741916,
  ];
  const r = wilcoxonSignedRank(d, d.map(() => 0));
  assert.equal(r.method, 'normal');
  assert.equal(r.n, 60);
  assert.equal(r.ties, false);
  assert.equal(r.wPlus, 755);
  close(r.z as number, -1.1741756787594284, 1e-9, 'z');
  close(r.p, 0.24032466564725907, 1e-9, 'p');
});

test('wilcoxonSignedRank: no non-zero difference gives p = 1; bad input is refused', () => {
  const r = wilcoxonSignedRank([0.5, 0.7], [0.5, 0.7]);
  assert.deepEqual({ n: r.n, zeros: r.zeros, p: r.p, wPlus: r.wPlus }, { n: 0, zeros: 2, p: 1, wPlus: 0 });
  assert.throws(() => wilcoxonSignedRank([1, 2], [1]), /x and y must pair up, got 2 and 1 values/);
  assert.throws(() => wilcoxonSignedRank([1, NaN], [0, 0]), /pair 1 is not finite \(x NaN, y 0\)/);
});

test('erfc and normalCdf match reference values (Python math.erfc, scipy.stats.norm.cdf)', () => {
  const erfcTable: [number, number][] = [
    [0.1, 0.8875370839817152],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [1.5, 0.033894853524689274],
    [2, 0.004677734981047265],
    [3, 2.2090496998585438e-5],
    [5, 1.5374597944280351e-12],
    [6, 2.1519736712498916e-17],
    [-1, 1.842700792949715],
  ];
  for (const [x, v] of erfcTable) close(erfc(x), v, 1e-13, `erfc(${x})`);
  const cdf: [number, number][] = [
    [-1.96, 0.024997895148220435],
    [-3, 0.0013498980316300933],
    [-6, 9.865876450376946e-10],
    [0.5, 0.6914624612740131],
    [0, 0.5],
  ];
  for (const [z, v] of cdf) close(normalCdf(z), v, 1e-12, `Φ(${z})`);
});

test('meanStd: sample standard deviation (n − 1); NaN std for one value, NaN mean for none', () => {
  const a = meanStd([1, 2, 3, 4]);
  assert.equal(a.mean, 2.5);
  close(a.std, Math.sqrt(5 / 3), 1e-15, 'std');
  assert.deepEqual(meanStd([0.7]), { mean: 0.7, std: NaN, n: 1 });
  assert.deepEqual(meanStd([]), { mean: NaN, std: NaN, n: 0 });
});
