// The DSC++ loss family (Yeung et al., J. Digit. Imaging 2022; official code mlyg/DicePlusPlus and
// mlyg/unified-focal-loss), for tfjs. Layout: channels-last, yTrue one-hot float [N, ...spatial, C],
// yPred probabilities of the same shape (C = 1 for a sigmoid head). p is clipped to [ε, 1−ε], ε = 1e-7;
// the target is not clipped.
//
// Per sample n and class c, summing over the spatial axes only (and over the batch with batchDice):
//   TP = Σ y·p,  FP_γ = Σ ((1−y)·p)^γ,  FN_γ = Σ (y·(1−p))^γ        (γ = 1: the ordinary soft terms)
//
//   dice             1 − (2TP+s)/(2TP+FP+FN+s)                                   smooth s = 1e-6
//   dscpp            the same with FP_γ, FN_γ                                     gamma 2
//   tversky(++)      1 − TI,  TI = (TP+s)/(TP + δ·FN + (1−δ)·FP + s)              delta 0.7 (gamma 2)
//   focal_tversky(++) (1 − TI)^γf                                                focalGamma 0.75
//   ce               mean over voxels of −Σ_c y·log p
//   focal            mean over voxels of −Σ_c y·(1−p)^γf·log p                     focalGamma 2
//   combo(++)        w·dice(++) + (1−w)·ce                                         weight w = 0.5
//   unified_focal(++) λ·AFTL + (1−λ)·AFL (asymmetric Unified Focal loss)         weight λ 0.5, delta 0.6, focalGamma 0.5
//       AFTL = mean over [1−TI_0, (1−TI_c)^(1−γf) for foreground c ≥ 1]    (background not focal)
//       AFL  = mean over voxels of (1−δ)·(1−p_0)^γf·CE_0 + Σ_{c≥1} δ·CE_c  (background focal only)
//
// Region losses are averaged over (n, c); `classWeights` makes it a weighted mean over classes;
// `includeBackground: false` drops class 0. `reduction`: 'mean' (default) a scalar, 'sum' the sum of the
// per-sample losses, 'none' the per-sample losses [N] ([1] with batchDice).
// For a single-channel (sigmoid) layout, region losses use that channel as is; ce, focal, combo and
// unified_focal expand it to [1−p, p].
import * as tf from '@tensorflow/tfjs-core';
import { suggest } from '../util/suggest';

export const LOSS_NAMES = ['dice', 'dscpp', 'tversky', 'tversky++', 'focal_tversky', 'focal_tversky++', 'ce', 'focal', 'combo', 'combo++', 'unified_focal', 'unified_focal++'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  smooth?: number;
  gamma?: number;
  delta?: number;
  focalGamma?: number;
  weight?: number;
  includeBackground?: boolean;
  batchDice?: boolean;
  classWeights?: number[];
  reduction?: Reduction;
}

type Key = keyof LossOptions;
const REGION_COMMON: Key[] = ['smooth', 'includeBackground', 'batchDice', 'classWeights', 'reduction'];
const PIXEL_COMMON: Key[] = ['includeBackground', 'classWeights', 'reduction'];

const SPEC: Record<LossName, { keys: Key[]; defaults: LossOptions }> = {
  dice: { keys: REGION_COMMON, defaults: { smooth: 1e-6 } },
  dscpp: { keys: [...REGION_COMMON, 'gamma'], defaults: { smooth: 1e-6, gamma: 2 } },
  tversky: { keys: [...REGION_COMMON, 'delta'], defaults: { smooth: 1e-6, delta: 0.7 } },
  'tversky++': { keys: [...REGION_COMMON, 'delta', 'gamma'], defaults: { smooth: 1e-6, delta: 0.7, gamma: 2 } },
  focal_tversky: { keys: [...REGION_COMMON, 'delta', 'focalGamma'], defaults: { smooth: 1e-6, delta: 0.7, focalGamma: 0.75 } },
  'focal_tversky++': { keys: [...REGION_COMMON, 'delta', 'focalGamma', 'gamma'], defaults: { smooth: 1e-6, delta: 0.7, focalGamma: 0.75, gamma: 2 } },
  ce: { keys: PIXEL_COMMON, defaults: {} },
  focal: { keys: [...PIXEL_COMMON, 'focalGamma'], defaults: { focalGamma: 2 } },
  combo: { keys: [...REGION_COMMON, 'weight'], defaults: { smooth: 1e-6, weight: 0.5 } },
  'combo++': { keys: [...REGION_COMMON, 'weight', 'gamma'], defaults: { smooth: 1e-6, weight: 0.5, gamma: 2 } },
  unified_focal: { keys: ['smooth', 'batchDice', 'reduction', 'weight', 'delta', 'focalGamma'], defaults: { smooth: 1e-6, weight: 0.5, delta: 0.6, focalGamma: 0.5 } },
  'unified_focal++': { keys: ['smooth', 'batchDice', 'reduction', 'weight', 'delta', 'focalGamma', 'gamma'], defaults: { smooth: 1e-6, weight: 0.5, delta: 0.6, focalGamma: 0.5, gamma: 2 } },
};

const COMMON_DEFAULTS: Required<Pick<LossOptions, 'includeBackground' | 'batchDice' | 'reduction'>> = { includeBackground: true, batchDice: false, reduction: 'mean' };

export const LOSS_DEFAULTS: Record<LossName, LossOptions> = Object.fromEntries(
  LOSS_NAMES.map((n) => [n, { ...Object.fromEntries(SPEC[n].keys.filter((k) => k in COMMON_DEFAULTS).map((k) => [k, COMMON_DEFAULTS[k as keyof typeof COMMON_DEFAULTS]])), ...SPEC[n].defaults }]),
) as Record<LossName, LossOptions>;

export const EPSILON = 1e-7;

function isLossName(n: string): n is LossName {
  return (LOSS_NAMES as readonly string[]).includes(n);
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? `[${v.map(show).join(', ')}]` : String(v);
}

/** The error text createLoss would throw for these options, or null when they are valid. */
export function validateLossOptions(name: string, options: Record<string, unknown>): string | null {
  if (!isLossName(name)) {
    const hint = suggest(name, LOSS_NAMES);
    return `unknown loss '${name}'${hint ? `; did you mean '${hint}'?` : ''}`;
  }
  const allowed = SPEC[name].keys;
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    if (!(allowed as string[]).includes(k)) {
      const hint = suggest(k, allowed);
      return `${name}: unknown option '${k}'${hint ? `; did you mean '${hint}'?` : ''} (options: ${allowed.join(', ')})`;
    }
    const num = typeof v === 'number' && Number.isFinite(v);
    switch (k as Key) {
      case 'gamma':
        if (!num || (v as number) <= 0) return `${name}: option 'gamma' must be a number > 0, got ${show(v)}`;
        break;
      case 'focalGamma':
        if (!num || (v as number) < 0) return `${name}: option 'focalGamma' must be a number >= 0, got ${show(v)}`;
        break;
      case 'smooth':
        if (!num || (v as number) < 0) return `${name}: option 'smooth' must be a number >= 0, got ${show(v)}`;
        break;
      case 'delta':
      case 'weight':
        if (!num || (v as number) < 0 || (v as number) > 1) return `${name}: option '${k}' must be a number in [0, 1], got ${show(v)}`;
        break;
      case 'includeBackground':
      case 'batchDice':
        if (typeof v !== 'boolean') return `${name}: option '${k}' must be true or false, got ${show(v)}`;
        break;
      case 'reduction':
        if (v !== 'mean' && v !== 'sum' && v !== 'none') return `${name}: option 'reduction' must be one of 'mean', 'sum', 'none', got ${show(v)}`;
        break;
      case 'classWeights':
        if (!Array.isArray(v) || v.length === 0 || v.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0) || v.every((w) => w === 0)) {
          return `${name}: option 'classWeights' must be a non-empty list of numbers >= 0, not all zero, got ${show(v)}`;
        }
        break;
    }
  }
  return null;
}

export class LossError extends Error {}

type Resolved = Required<Omit<LossOptions, 'classWeights'>> & { classWeights: number[] | null };

function resolve(name: LossName, options: LossOptions): Resolved {
  const o = { ...LOSS_DEFAULTS[name], ...options } as LossOptions;
  return {
    smooth: o.smooth ?? 1e-6,
    gamma: o.gamma ?? 1,
    delta: o.delta ?? 0.5,
    focalGamma: o.focalGamma ?? 0,
    weight: o.weight ?? 0.5,
    includeBackground: o.includeBackground ?? true,
    batchDice: o.batchDice ?? false,
    reduction: o.reduction ?? 'mean',
    classWeights: o.classWeights ?? null,
  };
}

function shapeStr(t: tf.Tensor): string {
  return `[${t.shape.join(',')}]`;
}

function checkShapes(name: string, yTrue: tf.Tensor, yPred: tf.Tensor, o: Resolved): void {
  if (yTrue.shape.length !== yPred.shape.length || yTrue.shape.some((s, i) => s !== yPred.shape[i])) {
    throw new LossError(`${name}: yTrue shape ${shapeStr(yTrue)} does not match yPred shape ${shapeStr(yPred)}`);
  }
  if (yTrue.rank < 3) throw new LossError(`${name}: expected channels-last tensors of rank >= 3 [N, ...spatial, C], got yTrue shape ${shapeStr(yTrue)} and yPred shape ${shapeStr(yPred)}`);
  const c = yTrue.shape[yTrue.rank - 1] as number;
  if (o.classWeights && o.classWeights.length !== c) throw new LossError(`${name}: classWeights has ${o.classWeights.length} entries but the tensors have ${c} channel${c === 1 ? '' : 's'} (shape ${shapeStr(yPred)})`);
  if (!o.includeBackground && c === 1) throw new LossError(`${name}: includeBackground: false needs at least 2 channels, got shape ${shapeStr(yPred)}`);
}

function safePow(x: tf.Tensor, g: number): tf.Tensor {
  return g === 1 ? x : tf.pow(tf.maximum(x, 1e-12), g);
}

/** [N', C] TP, FP_γ, FN_γ (N' = N, or 1 with batchDice). */
function regionTerms(y: tf.Tensor, p: tf.Tensor, gamma: number, batch: boolean): { tp: tf.Tensor; fp: tf.Tensor; fn: tf.Tensor } {
  const axes = Array.from({ length: y.rank - 2 }, (_, i) => i + 1);
  const sumAxes = batch ? [0, ...axes] : axes;
  const keep = (t: tf.Tensor) => (batch ? tf.expandDims(tf.sum(t, sumAxes), 0) : tf.sum(t, sumAxes));
  const tp = keep(tf.mul(y, p));
  const fp = keep(safePow(tf.mul(tf.sub(1, y), p), gamma));
  const fn = keep(safePow(tf.mul(y, tf.sub(1, p)), gamma));
  return { tp, fp, fn };
}

/** Per-sample weighted mean over the selected classes of a [N', C] tensor → [N']. */
function classMean(perClass: tf.Tensor, o: Resolved, skipBackground: boolean): tf.Tensor {
  const c = perClass.shape[1] as number;
  const w = (o.classWeights ?? new Array<number>(c).fill(1)).map((v, i) => (skipBackground && i === 0 ? 0 : v));
  const total = w.reduce((a, b) => a + b, 0);
  if (total === 0) throw new LossError(`class weights select no class (weights [${w.join(', ')}] after includeBackground: false)`);
  return tf.div(tf.sum(tf.mul(perClass, tf.tensor1d(w)), 1), total);
}

function reduce(perSample: tf.Tensor, r: Reduction): tf.Tensor {
  return r === 'mean' ? tf.mean(perSample) : r === 'sum' ? tf.sum(perSample) : perSample;
}

function toTwoChannels(y: tf.Tensor, p: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (y.shape[y.rank - 1] !== 1) return [y, p];
  return [tf.concat([tf.sub(1, y), y], -1), tf.concat([tf.sub(1, p), p], -1)];
}

function diceLike(y: tf.Tensor, p: tf.Tensor, o: Resolved, gamma: number): tf.Tensor {
  const { tp, fp, fn } = regionTerms(y, p, gamma, o.batchDice);
  const dsc = tf.div(tf.add(tf.mul(2, tp), o.smooth), tf.add(tf.add(tf.add(tf.mul(2, tp), fp), fn), o.smooth));
  return classMean(tf.sub(1, dsc), o, !o.includeBackground);
}

function tverskyIndex(y: tf.Tensor, p: tf.Tensor, o: Resolved, gamma: number): tf.Tensor {
  const { tp, fp, fn } = regionTerms(y, p, gamma, o.batchDice);
  return tf.div(tf.add(tp, o.smooth), tf.add(tf.add(tf.add(tp, tf.mul(o.delta, fn)), tf.mul(1 - o.delta, fp)), o.smooth));
}

/** Per-sample mean over voxels of Σ_c w_c·y·(1−p)^γf·(−log p) → [N]. */
function crossEntropy(y: tf.Tensor, p: tf.Tensor, o: Resolved, focalGamma: number): tf.Tensor {
  const c = y.shape[y.rank - 1] as number;
  const w = (o.classWeights ?? new Array<number>(c).fill(1)).map((v, i) => (!o.includeBackground && i === 0 ? 0 : v));
  let ce = tf.mul(tf.neg(y), tf.log(p));
  if (focalGamma > 0) ce = tf.mul(ce, tf.pow(tf.sub(1, p), focalGamma));
  const perVoxel = tf.sum(tf.mul(ce, tf.tensor1d(w)), -1);
  const axes = Array.from({ length: perVoxel.rank - 1 }, (_, i) => i + 1);
  return tf.mean(perVoxel, axes);
}

function unifiedFocal(y: tf.Tensor, p: tf.Tensor, o: Resolved, gamma: number): tf.Tensor {
  const c = y.shape[y.rank - 1] as number;
  // AFTL: background 1 − TI_0 (not focal); foreground (1 − TI_c)^(1−γf).
  const ti = tverskyIndex(y, p, o, gamma); // [N', C]
  const one = tf.sub(1, ti);
  const bg = tf.slice(one, [0, 0], [-1, 1]);
  const fg = tf.pow(tf.maximum(tf.slice(one, [0, 1], [-1, c - 1]), 1e-7), 1 - o.focalGamma);
  const aftl = tf.mean(tf.concat([bg, fg], 1), 1); // [N']
  // AFL: background focal, foreground plain CE, weighted (1−δ) / δ.
  const ce = tf.mul(tf.neg(y), tf.log(p));
  const ceBg = tf.mul(tf.mul(tf.pow(tf.sub(1, tf.slice(p, new Array(p.rank).fill(0), [...p.shape.slice(0, -1), 1])), o.focalGamma), tf.slice(ce, new Array(p.rank).fill(0), [...p.shape.slice(0, -1), 1])), 1 - o.delta);
  const begin = new Array(p.rank).fill(0);
  begin[p.rank - 1] = 1;
  const ceFg = tf.mul(tf.slice(ce, begin, [...p.shape.slice(0, -1), c - 1]), o.delta);
  const perVoxel = tf.add(tf.sum(ceBg, -1), tf.sum(ceFg, -1));
  const axes = Array.from({ length: perVoxel.rank - 1 }, (_, i) => i + 1);
  let afl = tf.mean(perVoxel, axes); // [N]
  if (o.batchDice) afl = tf.expandDims(tf.mean(afl), 0);
  return tf.add(tf.mul(o.weight, aftl), tf.mul(1 - o.weight, afl));
}

export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;

/**
 * Builds a loss function `(yTrue, yPred) => tf.Scalar` (a [N] tensor with reduction 'none'), usable in
 * `model.compile({ loss })`. Options are checked here; shapes when it is called.
 */
export function createLoss(name: string, options: LossOptions = {}): LossFn {
  const err = validateLossOptions(name, options as Record<string, unknown>);
  if (err) throw new LossError(err);
  const n = name as LossName;
  const o = resolve(n, options);
  const fn = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar =>
    tf.tidy(() => {
      checkShapes(n, yTrue, yPred, o);
      const y = yTrue.dtype === 'float32' ? yTrue : tf.cast(yTrue, 'float32');
      const p = tf.clipByValue(yPred, EPSILON, 1 - EPSILON);
      let perSample: tf.Tensor;
      switch (n) {
        case 'dice':
          perSample = diceLike(y, p, o, 1);
          break;
        case 'dscpp':
          perSample = diceLike(y, p, o, o.gamma);
          break;
        case 'tversky':
        case 'tversky++':
          perSample = classMean(tf.sub(1, tverskyIndex(y, p, o, n === 'tversky' ? 1 : o.gamma)), o, !o.includeBackground);
          break;
        case 'focal_tversky':
        case 'focal_tversky++':
          perSample = classMean(tf.pow(tf.maximum(tf.sub(1, tverskyIndex(y, p, o, n === 'focal_tversky' ? 1 : o.gamma)), 1e-7), o.focalGamma), o, !o.includeBackground);
          break;
        case 'ce':
        case 'focal': {
          const [y2, p2] = toTwoChannels(y, p);
          perSample = crossEntropy(y2, p2, o, n === 'focal' ? o.focalGamma : 0);
          break;
        }
        case 'combo':
        case 'combo++': {
          const region = diceLike(y, p, o, n === 'combo' ? 1 : o.gamma);
          const [y2, p2] = toTwoChannels(y, p);
          let ce = crossEntropy(y2, p2, { ...o, classWeights: y2 === y ? o.classWeights : null }, 0);
          if (o.batchDice) ce = tf.expandDims(tf.mean(ce), 0);
          perSample = tf.add(tf.mul(o.weight, region), tf.mul(1 - o.weight, ce));
          break;
        }
        case 'unified_focal':
        case 'unified_focal++': {
          const [y2, p2] = toTwoChannels(y, p);
          perSample = unifiedFocal(y2, p2, o, n === 'unified_focal' ? 1 : o.gamma);
          break;
        }
        default: {
          const never: never = n;
          throw new LossError(`unhandled loss ${String(never)}`);
        }
      }
      return reduce(perSample, o.reduction) as tf.Scalar;
    });
  Object.defineProperty(fn, 'name', { value: n });
  return fn;
}

/** Computes a loss on plain arrays (channels-last, shape incl. channels); returns a number. */
export function lossValue(name: string, input: { yTrue: Float32Array | number[]; yPred: Float32Array | number[]; shape: number[] }, options: LossOptions = {}): number {
  const { reduction, ...rest } = options;
  const loss = createLoss(name, reduction === 'sum' ? { ...rest, reduction } : rest);
  const size = input.shape.reduce((a, b) => a * b, 1);
  if (input.yTrue.length !== size || input.yPred.length !== size) throw new LossError(`${name}: shape [${input.shape.join(',')}] needs ${size} values, got yTrue ${input.yTrue.length} and yPred ${input.yPred.length}`);
  const v = tf.tidy(() => loss(tf.tensor(input.yTrue, input.shape), tf.tensor(input.yPred, input.shape)));
  const out = v.dataSync()[0] as number;
  v.dispose();
  return out;
}
