// Wilcoxon signed-rank test for paired samples (two-sided), as R's wilcox.test(x, y, paired = TRUE)
// computes it:
//  - differences d = x − y; zero differences are dropped (Wilcoxon's method) and counted;
//  - |d| ranked with average ranks for ties; W+ = sum of the ranks of the positive differences;
//  - exact p-value from the null distribution of W+ (every sign pattern equally likely) when there are
//    fewer than 50 non-zero differences and neither ties nor zeros;
//  - otherwise the normal approximation with the tie correction of the variance,
//    Var = n(n+1)(2n+1)/24 − Σ(t³ − t)/48, and a continuity correction of 0.5 towards the mean.
// Also: mean / sample standard deviation helpers and the standard normal CDF.

export interface WilcoxonResult {
  /** Pairs given. */
  pairs: number;
  /** Pairs with a zero difference (dropped). */
  zeros: number;
  /** Non-zero differences used. */
  n: number;
  /** Sum of the ranks of the positive differences (R's V). */
  wPlus: number;
  /** Sum of the ranks of the negative differences. */
  wMinus: number;
  /** z of the normal approximation (with corrections); null for the exact test. */
  z: number | null;
  /** Two-sided p-value; 1 when there is no non-zero difference. */
  p: number;
  method: 'exact' | 'normal';
  /** True when some |d| are tied (their ranks were averaged). */
  ties: boolean;
  /** Median of the differences (zeros included). */
  medianDiff: number;
  /** Mean of the differences (zeros included). */
  meanDiff: number;
}

export class StatsError extends Error {
  override name = 'StatsError';
}

/** Below this many non-zero differences (and with no ties or zeros) the p-value is exact. */
export const EXACT_LIMIT = 50;

/** Average ranks (1-based) of `values`, ties sharing the mean of their positions; also the tie group sizes. */
export function averageRanks(values: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(values.length).fill(0);
  const tieSizes: number[] = [];
  for (let s = 0; s < order.length; ) {
    let e = s + 1;
    while (e < order.length && (order[e] as { v: number }).v === (order[s] as { v: number }).v) e++;
    const rank = (s + 1 + e) / 2; // mean of positions s+1 .. e
    for (let k = s; k < e; k++) ranks[(order[k] as { i: number }).i] = rank;
    if (e - s > 1) tieSizes.push(e - s);
    s = e;
  }
  return { ranks, tieSizes };
}

/**
 * Number of subsets of {1..n} for each rank sum 0..n(n+1)/2: the null distribution of W+ times 2^n.
 * Counts stay exact in doubles up to n = 52 (2^52 subsets).
 */
export function signedRankCounts(n: number): Float64Array {
  if (!Number.isInteger(n) || n < 0 || n > 52) throw new StatsError(`signedRankCounts: n must be an integer in 0..52, got ${n}`);
  const max = (n * (n + 1)) / 2;
  const c = new Float64Array(max + 1);
  c[0] = 1;
  for (let k = 1; k <= n; k++) {
    const top = (k * (k + 1)) / 2;
    for (let s = top; s >= k; s--) c[s] = (c[s] as number) + (c[s - k] as number);
  }
  return c;
}

/** Exact two-sided p-value of W+ = w for n non-zero, untied differences: 2·min(P(W ≤ w), P(W ≥ w)), at most 1. */
export function exactSignedRankP(w: number, n: number): number {
  const c = signedRankCounts(n);
  const total = 2 ** n;
  let lower = 0;
  let upper = 0;
  for (let s = 0; s < c.length; s++) {
    if (s <= w) lower += c[s] as number;
    if (s >= w) upper += c[s] as number;
  }
  return Math.min(1, (2 * Math.min(lower, upper)) / total);
}

/**
 * Complementary error function, |relative error| < 1e-13: Taylor series of erf for |x| < 1.5 (where
 * erfc > 0.03, so the subtraction loses little), the Laplace continued fraction (120 terms, evaluated
 * bottom-up) beyond.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 1.5) {
    // erf(x) = 2/√π Σ (−1)^k x^(2k+1) / (k! (2k+1))
    let term = x;
    let sum = x;
    for (let k = 1; k < 200; k++) {
      term *= (-x * x) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (x > 27) return 0;
  // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  let f = x;
  for (let k = 120; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

function median(v: readonly number[]): number {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Two-sided Wilcoxon signed-rank test of the paired samples x and y (same length, finite values). */
export function wilcoxonSignedRank(x: readonly number[], y: readonly number[]): WilcoxonResult {
  if (x.length !== y.length) throw new StatsError(`wilcoxonSignedRank: x and y must pair up, got ${x.length} and ${y.length} values`);
  const d: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = (x[i] as number) - (y[i] as number);
    if (!Number.isFinite(v)) throw new StatsError(`wilcoxonSignedRank: pair ${i} is not finite (x ${x[i]}, y ${y[i]})`);
    d.push(v);
  }
  const nonZero = d.filter((v) => v !== 0);
  const zeros = d.length - nonZero.length;
  const n = nonZero.length;
  const base = { pairs: d.length, zeros, n, medianDiff: median(d), meanDiff: d.length ? d.reduce((a, b) => a + b, 0) / d.length : NaN };
  if (n === 0) return { ...base, wPlus: 0, wMinus: 0, z: null, p: 1, method: 'exact', ties: false };
  const { ranks, tieSizes } = averageRanks(nonZero.map(Math.abs));
  let wPlus = 0;
  nonZero.forEach((v, i) => {
    if (v > 0) wPlus += ranks[i] as number;
  });
  const total = (n * (n + 1)) / 2;
  const wMinus = total - wPlus;
  const ties = tieSizes.length > 0;
  if (n < EXACT_LIMIT && !ties && zeros === 0) {
    return { ...base, wPlus, wMinus, z: null, p: exactSignedRankP(wPlus, n), method: 'exact', ties };
  }
  const mean = total / 2;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieSizes.reduce((a, t) => a + (t * t * t - t), 0) / 48;
  const diff = wPlus - mean;
  const z = variance > 0 ? (diff - Math.sign(diff) * 0.5) / Math.sqrt(variance) : 0;
  const p = Math.min(1, 2 * Math.min(normalCdf(z), normalCdf(-z)));
  return { ...base, wPlus, wMinus, z, p, method: 'normal', ties };
}

/** Mean and sample standard deviation (n − 1); std is NaN for fewer than two values. */
export function meanStd(values: readonly number[]): { mean: number; std: number; n: number } {
  const n = values.length;
  if (!n) return { mean: NaN, std: NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: NaN, n };
  const ss = values.reduce((a, b) => a + (b - mean) * (b - mean), 0);
  return { mean, std: Math.sqrt(ss / (n - 1)), n };
}
