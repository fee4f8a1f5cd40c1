// The DSC++ loss family (Yeung et al., "Calibrating the Dice loss to handle neural network overconfidence
// for biomedical image segmentation", J. Digit. Imaging 2022; definitions follow the authors' code,
// mlyg/DicePlusPlus and mlyg/unified-focal-loss), for tfjs.
//
// Layout: channels-last. yTrue is one-hot float [N, ...spatial, C]; yPred holds probabilities of the same
// shape (C = 1 for a sigmoid head). p is clipped to [ε, 1−ε] with ε = 1e-7; the target is not clipped.
//
// Per sample n and class c, summing over the spatial axes only (over the batch too with batchDice):
//   TP = Σ y·p,   FP_γ = Σ ((1−y)·p)^γ,   FN_γ = Σ (y·(1−p))^γ          (γ = 1: the ordinary soft terms)
//
//   dice               1 − (2TP+s)/(2TP+FP+FN+s), γ = 1                              smooth s = 1e-6
//   dscpp              the same with FP_γ, FN_γ                                       gamma 2
//   tversky(++)        1 − TI,  TI = (TP+s)/(TP + δ·FN + (1−δ)·FP + s)               delta 0.7 (++: gamma 2)
//   focal_tversky(++)  (1 − TI)^γf                                                   delta 0.7, focalGamma 0.75
//   ce                 mean over voxels of −Σ_c y·log p
//   focal              mean over voxels of −Σ_c y·(1−p)^γf·log p                      focalGamma 2
//   combo(++)          w·dice + (1−w)·ce  (combo++: w·dscpp + (1−w)·ce)               weight w 0.5
//   unified_focal(++)  λ·AFTL + (1−λ)·AFL, asymmetric Unified Focal loss              weight λ 0.5, delta 0.6,
//                                                                                    focalGamma 0.5 (++: gamma 2)
//       AFTL = mean over classes of [ 1−TI_0 (background, not focal),  (1−TI_c)^(1−γf) for c ≥ 1 ]
//       AFL  = mean over voxels of (1−δ)·(1−p_0)^γf·(−y_0 log p_0) + Σ_{c≥1} δ·(−y_c log p_c)
//       (background suppressed in AFL, foreground enhanced in AFTL; ++ uses FP_γ, FN_γ inside TI).
//
// Reduction. Every loss first forms one value per sample: region losses the (weighted) mean over classes,
// pixel losses the mean over the sample's voxels. 'mean' averages those over the batch (for region losses
// that is the mean over (n, c) of the table), 'sum' adds them, 'none' returns them as a [N] tensor
// ([1] with batchDice, whose sums run over the batch).
//
// classWeights (one per channel): region losses take Σ_c w_c·L_c / Σ_c w_c; CE-type losses weigh each class
// term of the voxel sum. includeBackground: false gives class 0 weight 0 (needs C ≥ 2).
//
// Sigmoid layout (C = 1): region losses use the single channel as it is (the foreground); ce, focal and the
// CE half of combo use binary cross-entropy, i.e. the channel expanded to [1−p, p] with the single class
// weight (if given) applied to both terms; unified_focal expands it to [1−p, p] (background, foreground).
import * as tf from '@tensorflow/tfjs-core';
import { LOSS_DEFAULTS, LOSS_NAMES, LOSS_OPTION_KEYS, REDUCTIONS, isLossName, resolveLossOptions, validateLossOptions, type LossName, type LossOptions, type Reduction } from './options';

export { LOSS_DEFAULTS, LOSS_NAMES, LOSS_OPTION_KEYS, REDUCTIONS, isLossName, validateLossOptions };
export type { LossName, LossOptions, Reduction };

/** Clip of the predicted probabilities: p ∈ [EPSILON, 1 − EPSILON]. */
export const EPSILON = 1e-7;

/** Thrown for bad options (when built) and bad tensors (when called); the message says what to fix. */
export class LossError extends Error {
  override name = 'LossError';
}

/** `(yTrue, yPred) => loss`: a scalar, or a [N] tensor with reduction 'none'. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;

type Resolved = ReturnType<typeof resolveLossOptions>;

function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function checkTensors(name: LossName, yTrue: tf.Tensor, yPred: tf.Tensor, o: Resolved): void {
  // Structural check (not instanceof), so tensors of another copy of tfjs-core are accepted.
  const isTensor = (t: unknown): t is tf.Tensor => typeof t === 'object' && t !== null && Array.isArray((t as tf.Tensor).shape) && typeof (t as tf.Tensor).dtype === 'string';
  if (!isTensor(yTrue) || !isTensor(yPred)) throw new LossError(`${name}: expected two tensors (yTrue, yPred), got ${typeof yTrue} and ${typeof yPred}`);
  if (yTrue.rank !== yPred.rank || yTrue.shape.some((s, i) => s !== yPred.shape[i])) {
    throw new LossError(`${name}: yTrue shape ${shapeStr(yTrue.shape)} does not match yPred shape ${shapeStr(yPred.shape)}`);
  }
  if (yTrue.rank < 3) throw new LossError(`${name}: expected channels-last tensors [N, ...spatial, C] of rank >= 3, got yTrue shape ${shapeStr(yTrue.shape)} and yPred shape ${shapeStr(yPred.shape)}`);
  const c = yPred.shape[yPred.rank - 1] as number;
  if (o.classWeights && o.classWeights.length !== c) {
    throw new LossError(`${name}: option 'classWeights' has ${o.classWeights.length} entries but yPred has ${c} channel${c === 1 ? '' : 's'} (shape ${shapeStr(yPred.shape)})`);
  }
  if (!o.includeBackground && c < 2) throw new LossError(`${name}: includeBackground: false needs a background channel (C >= 2), got yPred shape ${shapeStr(yPred.shape)}`);
}

/**
 * x^g for x ≥ 0: exactly 0 at x = 0 (also for g < 1), with finite gradients everywhere (the step mask has
 * a zero gradient, and the max keeps g·x^(g−1) finite where the mask is 0).
 */
function safePow(x: tf.Tensor, g: number): tf.Tensor {
  if (g === 1) return x;
  return tf.mul(tf.step(x), tf.pow(tf.maximum(x, 1e-30), g));
}

/** Spatial axes of a [N, ...spatial, C] tensor. */
function spatialAxes(rank: number): number[] {
  return Array.from({ length: rank - 2 }, (_, i) => i + 1);
}

/** TP, FP_γ, FN_γ as [N', C] (N' = N, or 1 with batchDice). */
function regionTerms(y: tf.Tensor, p: tf.Tensor, gamma: number, batch: boolean): { tp: tf.Tensor; fp: tf.Tensor; fn: tf.Tensor } {
  const axes = batch ? [0, ...spatialAxes(y.rank)] : spatialAxes(y.rank);
  const sum = (t: tf.Tensor) => (batch ? tf.expandDims(tf.sum(t, axes), 0) : tf.sum(t, axes));
  return {
    tp: sum(tf.mul(y, p)),
    fp: sum(safePow(tf.mul(tf.sub(1, y), p), gamma)),
    fn: sum(safePow(tf.mul(y, tf.sub(1, p)), gamma)),
  };
}

/** Class weights after includeBackground (length C). */
function weightsOf(c: number, o: Resolved): number[] {
  return (o.classWeights ?? new Array<number>(c).fill(1)).map((w, i) => (!o.includeBackground && i === 0 ? 0 : w));
}

/** Weighted mean over classes of a [N', C] tensor → [N']. */
function classMean(perClass: tf.Tensor, o: Resolved): tf.Tensor {
  const w = weightsOf(perClass.shape[1] as number, o);
  const total = w.reduce((a, b) => a + b, 0);
  return tf.div(tf.sum(tf.mul(perClass, tf.tensor1d(w)), 1), total);
}

function diceIndex(y: tf.Tensor, p: tf.Tensor, o: Resolved, gamma: number): tf.Tensor {
  const { tp, fp, fn } = regionTerms(y, p, gamma, o.batchDice);
  const twoTp = tf.mul(2, tp);
  return tf.div(tf.add(twoTp, o.smooth), tf.add(tf.add(tf.add(twoTp, fp), fn), o.smooth));
}

function tverskyIndex(y: tf.Tensor, p: tf.Tensor, o: Resolved, gamma: number): tf.Tensor {
  const { tp, fp, fn } = regionTerms(y, p, gamma, o.batchDice);
  return tf.div(tf.add(tp, o.smooth), tf.add(tf.add(tf.add(tp, tf.mul(o.delta, fn)), tf.mul(1 - o.delta, fp)), o.smooth));
}

/** [N, ...spatial, 1] → [N, ...spatial, 2] as [1−t, t]; other shapes unchanged. */
function binaryToTwo(t: tf.Tensor): tf.Tensor {
  return t.shape[t.rank - 1] === 1 ? tf.concat([tf.sub(1, t), t], -1) : t;
}

/** Per-sample mean over voxels of Σ_c w_c·y·(1−p)^γf·(−log p) → [N]. */
function crossEntropy(y: tf.Tensor, p: tf.Tensor, o: Resolved, focalGamma: number): tf.Tensor {
  const c = y.shape[y.rank - 1] as number;
  const binary = c === 1;
  const y2 = binaryToTwo(y);
  const p2 = binaryToTwo(p);
  let terms = tf.mul(tf.neg(y2), tf.log(p2));
  if (focalGamma > 0) terms = tf.mul(terms, tf.pow(tf.sub(1, p2), focalGamma));
  const w = binary ? [o.classWeights?.[0] ?? 1, o.classWeights?.[0] ?? 1] : weightsOf(c, o);
  const perVoxel = tf.sum(tf.mul(terms, tf.tensor1d(w)), -1);
  return tf.mean(perVoxel, Array.from({ length: perVoxel.rank - 1 }, (_, i) => i + 1));
}

function sliceChannels(t: tf.Tensor, begin: number, size: number): tf.Tensor {
  const b = new Array<number>(t.rank).fill(0);
  b[t.rank - 1] = begin;
  const s = new Array<number>(t.rank).fill(-1);
  s[t.rank - 1] = size;
  return tf.slice(t, b, s);
}

/** Asymmetric Unified Focal loss per sample → [N'] (inputs already have C ≥ 2, class 0 the background). */
function unifiedFocal(y: tf.Tensor, p: tf.Tensor, o: Resolved, gamma: number): tf.Tensor {
  const c = y.shape[y.rank - 1] as number;
  // AFTL: background 1 − TI_0 as is; each foreground class (1 − TI_c)^(1−γf) (enhanced).
  const oneMinusTi = tf.sub(1, tverskyIndex(y, p, o, gamma)); // [N', C]
  const bg = tf.slice(oneMinusTi, [0, 0], [-1, 1]);
  const fg = safePow(tf.relu(tf.slice(oneMinusTi, [0, 1], [-1, c - 1])), 1 - o.focalGamma);
  const aftl = tf.mean(tf.concat([bg, fg], 1), 1);
  // AFL: background CE suppressed by (1−p_0)^γf and weighted 1−δ; foreground CE weighted δ.
  const ce = tf.mul(tf.neg(y), tf.log(p));
  const p0 = sliceChannels(p, 0, 1);
  const ceBg = tf.mul(tf.mul(tf.pow(tf.sub(1, p0), o.focalGamma), sliceChannels(ce, 0, 1)), 1 - o.delta);
  const ceFg = tf.mul(sliceChannels(ce, 1, c - 1), o.delta);
  const perVoxel = tf.add(tf.sum(ceBg, -1), tf.sum(ceFg, -1));
  let afl = tf.mean(perVoxel, Array.from({ length: perVoxel.rank - 1 }, (_, i) => i + 1)); // [N]
  if (o.batchDice) afl = tf.expandDims(tf.mean(afl), 0);
  return tf.add(tf.mul(o.weight, aftl), tf.mul(1 - o.weight, afl));
}

function reduce(perSample: tf.Tensor, r: Reduction): tf.Tensor {
  return r === 'mean' ? tf.mean(perSample) : r === 'sum' ? tf.sum(perSample) : perSample;
}

function perSampleLoss(n: LossName, y: tf.Tensor, p: tf.Tensor, o: Resolved): tf.Tensor {
  switch (n) {
    case 'dice':
      return classMean(tf.sub(1, diceIndex(y, p, o, 1)), o);
    case 'dscpp':
      return classMean(tf.sub(1, diceIndex(y, p, o, o.gamma)), o);
    case 'tversky':
      return classMean(tf.sub(1, tverskyIndex(y, p, o, 1)), o);
    case 'tversky++':
      return classMean(tf.sub(1, tverskyIndex(y, p, o, o.gamma)), o);
    case 'focal_tversky':
    case 'focal_tversky++': {
      const ti = tverskyIndex(y, p, o, n === 'focal_tversky' ? 1 : o.gamma);
      return classMean(safePow(tf.relu(tf.sub(1, ti)), o.focalGamma), o);
    }
    case 'ce':
      return crossEntropy(y, p, o, 0);
    case 'focal':
      return crossEntropy(y, p, o, o.focalGamma);
    case 'combo':
    case 'combo++': {
      const region = classMean(tf.sub(1, diceIndex(y, p, o, n === 'combo' ? 1 : o.gamma)), o);
      let ce = crossEntropy(y, p, o, 0);
      if (o.batchDice) ce = tf.expandDims(tf.mean(ce), 0);
      return tf.add(tf.mul(o.weight, region), tf.mul(1 - o.weight, ce));
    }
    case 'unified_focal':
    case 'unified_focal++':
      return unifiedFocal(binaryToTwo(y), binaryToTwo(p), o, n === 'unified_focal' ? 1 : o.gamma);
    default: {
      const never: never = n;
      throw new LossError(`unhandled loss ${String(never)}`);
    }
  }
}

/**
 * Builds the loss `name` with `options` (defaults in LOSS_DEFAULTS). Options are checked here and a bad one
 * throws a LossError with the same text validateLossOptions returns. The returned function checks shapes
 * when called, computes inside tf.tidy, is differentiable, and fits `model.compile({ loss })`.
 *
 * Combo scaling (exact): combo = w·dice + (1−w)·ce and combo++ = w·dscpp + (1−w)·ce with w = `weight`
 * (default 0.5, i.e. half of DicePlusPlus' dice_crossentropy = dice + ce). With batchDice the CE term is the
 * batch mean. The CE half uses the same classWeights / includeBackground as the region half.
 */
export function createLoss(name: string, options: LossOptions = {}): LossFn {
  const err = validateLossOptions(name, options as Record<string, unknown>);
  if (err) throw new LossError(err);
  const n = name as LossName;
  const o = resolveLossOptions(n, options);
  const fn = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar =>
    tf.tidy(() => {
      checkTensors(n, yTrue, yPred, o);
      const y = yTrue.dtype === 'float32' ? yTrue : tf.cast(yTrue, 'float32');
      const p = tf.clipByValue(yPred.dtype === 'float32' ? yPred : tf.cast(yPred, 'float32'), EPSILON, 1 - EPSILON);
      return reduce(perSampleLoss(n, y, p, o), o.reduction) as tf.Scalar;
    });
  Object.defineProperty(fn, 'name', { value: n });
  return fn;
}

/**
 * A loss on plain arrays: `shape` is the full channels-last shape [N, ...spatial, C] and yTrue / yPred hold
 * prod(shape) values each. Returns one number, so reduction must be 'mean' (default) or 'sum'.
 */
export function lossValue(name: string, input: { yTrue: Float32Array | readonly number[]; yPred: Float32Array | readonly number[]; shape: readonly number[] }, options: LossOptions = {}): number {
  const loss = createLoss(name, options);
  if (options.reduction === 'none') throw new LossError(`${name}: lossValue returns one number; use reduction 'mean' or 'sum' (or createLoss for per-sample losses)`);
  const { shape } = input;
  if (!Array.isArray(shape) || shape.some((s) => !Number.isInteger(s) || s < 1)) throw new LossError(`${name}: shape must be a list of positive integers [N, ...spatial, C], got ${JSON.stringify(shape)}`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (input.yTrue.length !== size || input.yPred.length !== size) {
    throw new LossError(`${name}: shape ${shapeStr(shape)} needs ${size} values, got yTrue ${input.yTrue.length} and yPred ${input.yPred.length}`);
  }
  const v = tf.tidy(() => loss(tf.tensor(Float32Array.from(input.yTrue), [...shape]), tf.tensor(Float32Array.from(input.yPred), [...shape])));
  const out = v.dataSync()[0] as number;
  v.dispose();
  return out;
}
