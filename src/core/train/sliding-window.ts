// Sliding-window inference over whole 3D volumes: windows of the training patch size, placed with the
// given overlap (default 0.5), blended with a Gaussian importance map (sigma = 1/8 of the patch, as in
// nnU-Net) so that window centres count more than their borders. Volumes smaller than the patch are
// padded (edge values) and cropped back.
import * as tf from '@tensorflow/tfjs-core';

export interface SlidingWindowOptions {
  overlap?: number;
  /** Windows per forward pass. */
  batchSize?: number;
  /** Gaussian sigma as a fraction of the patch size (default 1/8); 0 gives uniform weights. */
  sigmaScale?: number;
}

/** Window start positions along one axis covering [0, size) with windows of `patch`. */
export function windowStarts(size: number, patch: number, overlap: number): number[] {
  if (size <= patch) return [0];
  const stride = Math.max(1, Math.floor(patch * (1 - overlap)));
  const starts: number[] = [];
  for (let s = 0; s + patch < size; s += stride) starts.push(s);
  starts.push(size - patch);
  return [...new Set(starts)];
}

export function gaussianImportance(patch: number[], sigmaScale = 1 / 8): Float32Array {
  const [pd, ph, pw] = patch as [number, number, number];
  const out = new Float32Array(pd * ph * pw);
  const g = (n: number) => {
    const a = new Float32Array(n);
    const c = (n - 1) / 2;
    const s = sigmaScale * n;
    for (let i = 0; i < n; i++) a[i] = s > 0 ? Math.exp(-((i - c) ** 2) / (2 * s * s)) : 1;
    return a;
  };
  const gd = g(pd);
  const gh = g(ph);
  const gw = g(pw);
  let max = 0;
  for (let z = 0; z < pd; z++) for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) {
    const v = (gd[z] as number) * (gh[y] as number) * (gw[x] as number);
    out[(z * ph + y) * pw + x] = v;
    if (v > max) max = v;
  }
  // Normalise to max 1 and keep a floor so that every voxel has some weight.
  for (let i = 0; i < out.length; i++) out[i] = Math.max((out[i] as number) / max, 1e-3);
  return out;
}

/**
 * Predicts a volume [D, H, W, C] with `predict` ([B, pd, ph, pw, C] → [B, pd, ph, pw, K] probabilities)
 * and returns blended probabilities [D, H, W, K].
 */
export async function slidingWindowPredict(
  predict: (x: tf.Tensor) => tf.Tensor,
  image: Float32Array,
  spatial: number[],
  channels: number,
  numClasses: number,
  patch: number[],
  opts: SlidingWindowOptions = {},
): Promise<Float32Array> {
  const overlap = opts.overlap ?? 0.5;
  if (!(overlap >= 0 && overlap < 1)) throw new Error(`sliding window: overlap must be in [0, 1), got ${overlap}`);
  if (spatial.length !== 3 || patch.length !== 3) throw new Error(`sliding window: expected 3D spatial and patch shapes, got [${spatial.join(', ')}] and [${patch.join(', ')}]`);
  if (image.length !== spatial.reduce((a, b) => a * b, 1) * channels) throw new Error(`sliding window: image has ${image.length} values but shape [${spatial.join(', ')}, ${channels}] needs ${spatial.reduce((a, b) => a * b, 1) * channels}`);
  const [D, H, W] = spatial as [number, number, number];
  const [pd, ph, pw] = patch as [number, number, number];
  // Pad (edge replicate) up to the patch size where the volume is smaller.
  const PD = Math.max(D, pd);
  const PH = Math.max(H, ph);
  const PW = Math.max(W, pw);
  const padded = new Float32Array(PD * PH * PW * channels);
  for (let z = 0; z < PD; z++) for (let y = 0; y < PH; y++) for (let x = 0; x < PW; x++) {
    const src = ((Math.min(z, D - 1) * H + Math.min(y, H - 1)) * W + Math.min(x, W - 1)) * channels;
    const dst = ((z * PH + y) * PW + x) * channels;
    for (let c = 0; c < channels; c++) padded[dst + c] = image[src + c] as number;
  }
  const weight = gaussianImportance(patch, opts.sigmaScale ?? 1 / 8);
  const acc = new Float32Array(PD * PH * PW * numClasses);
  const norm = new Float32Array(PD * PH * PW);
  const origins: [number, number, number][] = [];
  for (const z of windowStarts(PD, pd, overlap)) for (const y of windowStarts(PH, ph, overlap)) for (const x of windowStarts(PW, pw, overlap)) origins.push([z, y, x]);
  const bs = Math.max(1, opts.batchSize ?? 2);
  const pvox = pd * ph * pw;
  for (let i = 0; i < origins.length; i += bs) {
    const group = origins.slice(i, i + bs);
    const xb = new Float32Array(group.length * pvox * channels);
    group.forEach(([oz, oy, ox], b) => {
      for (let z = 0; z < pd; z++) for (let y = 0; y < ph; y++) {
        const src = (((oz + z) * PH + (oy + y)) * PW + ox) * channels;
        const dst = (b * pvox + (z * ph + y) * pw) * channels;
        xb.set(padded.subarray(src, src + pw * channels), dst);
      }
    });
    const out = tf.tidy(() => predict(tf.tensor(xb, [group.length, pd, ph, pw, channels])));
    const probs = (await out.data()) as Float32Array;
    out.dispose();
    group.forEach(([oz, oy, ox], b) => {
      for (let z = 0; z < pd; z++) for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) {
        const pi = (z * ph + y) * pw + x;
        const w = weight[pi] as number;
        const vi = ((oz + z) * PH + (oy + y)) * PW + (ox + x);
        norm[vi] = (norm[vi] as number) + w;
        const so = (b * pvox + pi) * numClasses;
        const ao = vi * numClasses;
        for (let k = 0; k < numClasses; k++) acc[ao + k] = (acc[ao + k] as number) + w * (probs[so + k] as number);
      }
    });
  }
  const out = new Float32Array(D * H * W * numClasses);
  for (let z = 0; z < D; z++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const vi = (z * PH + y) * PW + x;
    const oi = ((z * H + y) * W + x) * numClasses;
    const n = norm[vi] as number;
    for (let k = 0; k < numClasses; k++) out[oi + k] = (acc[vi * numClasses + k] as number) / n;
  }
  return out;
}
