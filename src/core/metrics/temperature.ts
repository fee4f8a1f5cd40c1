// Temperature scaling (Guo et al. 2017) as a post-hoc baseline: p_T = softmax(log p / T) with one T > 0
// fitted by minimising the NLL on held-out voxels. With a sigmoid head (one channel p) this is
// sigmoid(logit(p) / T), the same as softmax over [1 − p, p]. The NLL is convex in 1/T, hence unimodal in
// log T, and T is found by a deterministic golden-section search over log T in [log Tmin, log Tmax]
// (default [0.05, 20]) to a width of 1e-9 in log T.
import { calibrationMetrics } from './calibration';
import { MetricInputError, P_MIN, resolveInput, type Labels } from './common';

/**
 * probs with `channels` values per voxel, scaled by 1/T in log space and renormalised. channels = 1 is a
 * sigmoid head: each value p becomes sigmoid(logit(p)/T) and the result keeps one channel.
 */
export function applyTemperature(probs: Float32Array, channels: number, temperature: number): Float32Array {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new MetricInputError(`applyTemperature: temperature must be a number > 0, got ${temperature}`);
  if (!Number.isInteger(channels) || channels < 1 || probs.length % channels !== 0) throw new MetricInputError(`applyTemperature: probs has ${probs.length} values, not a multiple of ${channels} channels`);
  const inv = 1 / temperature;
  const out = new Float32Array(probs.length);
  if (channels === 1) {
    for (let i = 0; i < probs.length; i++) {
      const p = Math.min(1 - P_MIN, Math.max(P_MIN, probs[i] as number));
      out[i] = 1 / (1 + Math.exp(-Math.log(p / (1 - p)) * inv));
    }
    return out;
  }
  const k = channels;
  const z = new Float64Array(k);
  for (let o = 0; o < probs.length; o += k) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = Math.log(Math.max(P_MIN, probs[o + c] as number)) * inv;
      z[c] = v;
      if (v > max) max = v;
    }
    let s = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp((z[c] as number) - max);
      z[c] = e;
      s += e;
    }
    for (let c = 0; c < k; c++) out[o + c] = (z[c] as number) / s;
  }
  return out;
}

/** Mean NLL of softmax(logp / T) (float64, no float32 rounding of the scaled probabilities). */
function scaledNll(logp: Float64Array, labels: Labels, k: number, T: number): number {
  const inv = 1 / T;
  const n = labels.length;
  let total = 0;
  for (let i = 0, o = 0; i < n; i++, o += k) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = (logp[o + c] as number) * inv;
      if (v > max) max = v;
    }
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp((logp[o + c] as number) * inv - max);
    total += max + Math.log(s) - (logp[o + (labels[i] as number)] as number) * inv;
  }
  return n ? total / n : NaN;
}

export interface TemperatureFit {
  temperature: number;
  /** Calibration of the input and of the scaled probabilities on the fitting voxels (see calibration.ts). */
  nllBefore: number;
  nllAfter: number;
  eceBefore: number;
  eceAfter: number;
  brierBefore: number;
  brierAfter: number;
  /** True when the optimum is at an end of the search range (widen `range`). */
  atBound: boolean;
  iterations: number;
  voxels: number;
}

/**
 * Fits T > 0 minimising the NLL of softmax(log p / T) on these voxels. probs / labels / shape / numClasses as
 * in calibrationMetrics (one sigmoid channel allowed when numClasses = 2); bins for the ECE reported.
 */
export function fitTemperature(input: { probs: Float32Array; labels: Labels; shape?: readonly number[]; numClasses: number; bins?: number; range?: [number, number] }): TemperatureFit {
  const k = input.numClasses;
  const { voxels, probs } = resolveInput('fitTemperature', input.probs, input.labels, k, input.shape);
  if (voxels === 0) throw new MetricInputError('fitTemperature: no voxels to fit on');
  const [tMin, tMax] = input.range ?? [0.05, 20];
  if (!(tMin > 0 && tMax > tMin && Number.isFinite(tMax))) throw new MetricInputError(`fitTemperature: range must be [Tmin, Tmax] with 0 < Tmin < Tmax, got ${JSON.stringify(input.range)}`);
  for (let i = 0; i < voxels; i++) {
    const t = input.labels[i] as number;
    if (!(t >= 0 && t < k) || (t | 0) !== t) throw new MetricInputError(`fitTemperature: label ${t} at voxel ${i} is not a class id 0..${k - 1}`);
  }
  const logp = new Float64Array(probs.length);
  for (let i = 0; i < probs.length; i++) logp[i] = Math.log(Math.max(P_MIN, probs[i] as number));
  const f = (lt: number) => scaledNll(logp, input.labels, k, Math.exp(lt));
  const g = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(tMin);
  let b = Math.log(tMax);
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  let iterations = 0;
  while (b - a > 1e-9 && iterations < 200) {
    iterations++;
    if (fc <= fd) {
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
  const logT = (a + b) / 2;
  const temperature = Math.exp(logT);
  const atBound = logT - Math.log(tMin) < 1e-6 || Math.log(tMax) - logT < 1e-6;
  const before = calibrationMetrics({ probs, labels: input.labels, numClasses: k, bins: input.bins });
  const after = calibrationMetrics({ probs: applyTemperature(probs, k, temperature), labels: input.labels, numClasses: k, bins: input.bins });
  return { temperature, nllBefore: before.nll, nllAfter: after.nll, eceBefore: before.ece, eceAfter: after.ece, brierBefore: before.brier, brierAfter: after.brier, atBound, iterations, voxels };
}
