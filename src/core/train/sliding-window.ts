// Sliding-window inference over whole 3D volumes: windows of the training patch size, placed evenly with
// at least the given overlap (default 0.5) as nnU-Net does, blended with a Gaussian importance map
// (sigma = 1/8 of the patch per axis, as in nnU-Net) so that window centres count more than their
// borders. Every voxel's result is Σ w·p / Σ w over the windows that cover it, so a predictor that
// returns its input gives the volume back (up to float rounding). Volumes smaller than the patch along
// an axis are padded with 0 (the training patches' padding: the mean after z-scoring) and cropped back.
import * as tf from '@tensorflow/tfjs-core';

export interface SlidingWindowOptions {
  /** Minimum overlap of neighbouring windows, as a fraction of the patch, in [0, 1). Default 0.5. */
  overlap?: number;
  /** Windows per forward pass (default 2). */
  batchSize?: number;
  /** Gaussian sigma as a fraction of the patch size (default 1/8); 0 gives uniform weights. */
  sigmaScale?: number;
}

/**
 * Window start positions along one axis covering [0, size) with windows of `patch`: the fewest windows
 * whose step is at most patch·(1 − overlap), spread evenly from 0 to size − patch (rounded down).
 */
export function windowStarts(size: number, patch: number, overlap: number): number[] {
  if (!(Number.isInteger(size) && size >= 1 && Number.isInteger(patch) && patch >= 1)) throw new Error(`windowStarts: size and patch must be positive integers, got ${size} and ${patch}`);
  if (!(overlap >= 0 && overlap < 1)) throw new Error(`windowStarts: overlap must be in [0, 1), got ${overlap}`);
  if (size <= patch) return [0];
  const maxStep = Math.max(1, Math.floor(patch * (1 - overlap)));
  const n = Math.ceil((size - patch) / maxStep) + 1;
  return Array.from({ length: n }, (_, i) => Math.floor((i * (size - patch)) / (n - 1)));
}

/** Gaussian importance map of a patch [pd, ph, pw], maximum 1, with a floor of 1e-3 so every voxel has weight. */
export function gaussianImportance(patch: number[], sigmaScale = 1 / 8): Float32Array {
  const [pd, ph, pw] = patch as [number, number, number];
  const out = new Float32Array(pd * ph * pw);
  const g = (n: number) => {
    const a = new Float64Array(n);
    const c = (n - 1) / 2;
    const s = sigmaScale * n;
    for (let i = 0; i < n; i++) a[i] = s > 0 ? Math.exp(-((i - c) ** 2) / (2 * s * s)) : 1;
    return a;
  };
  const gd = g(pd);
  const gh = g(ph);
  const gw = g(pw);
  let max = 0;
  for (let z = 0; z < pd; z++) for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) max = Math.max(max, (gd[z] as number) * (gh[y] as number) * (gw[x] as number));
  for (let z = 0; z < pd; z++)
    for (let y = 0; y < ph; y++)
      for (let x = 0; x < pw; x++) out[(z * ph + y) * pw + x] = Math.max(((gd[z] as number) * (gh[y] as number) * (gw[x] as number)) / max, 1e-3);
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
  if ([...spatial, ...patch].some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`sliding window: spatial [${spatial.join(', ')}] and patch [${patch.join(', ')}] must be positive integers`);
  const vox = spatial.reduce((a, b) => a * b, 1);
  if (image.length !== vox * channels) throw new Error(`sliding window: image has ${image.length} values but shape [${spatial.join(', ')}, ${channels}] needs ${vox * channels}`);
  const [D, H, W] = spatial as [number, number, number];
  const [pd, ph, pw] = patch as [number, number, number];
  // Pad with 0 up to the patch size where the volume is smaller.
  const PD = Math.max(D, pd);
  const PH = Math.max(H, ph);
  const PW = Math.max(W, pw);
  let padded = image;
  if (PD !== D || PH !== H || PW !== W) {
    padded = new Float32Array(PD * PH * PW * channels);
    for (let z = 0; z < D; z++) for (let y = 0; y < H; y++) padded.set(image.subarray(((z * H + y) * W) * channels, ((z * H + y) * W + W) * channels), ((z * PH + y) * PW) * channels);
  }
  const weight = gaussianImportance(patch, opts.sigmaScale ?? 1 / 8);
  const acc = new Float32Array(PD * PH * PW * numClasses);
  const norm = new Float32Array(PD * PH * PW);
  const origins: [number, number, number][] = [];
  for (const z of windowStarts(PD, pd, overlap)) for (const y of windowStarts(PH, ph, overlap)) for (const x of windowStarts(PW, pw, overlap)) origins.push([z, y, x]);
  const bs = Math.max(1, Math.floor(opts.batchSize ?? 2));
  const pvox = pd * ph * pw;
  for (let i = 0; i < origins.length; i += bs) {
    const group = origins.slice(i, i + bs);
    const xb = new Float32Array(group.length * pvox * channels);
    group.forEach(([oz, oy, ox], b) => {
      for (let z = 0; z < pd; z++)
        for (let y = 0; y < ph; y++) {
          const src = (((oz + z) * PH + (oy + y)) * PW + ox) * channels;
          xb.set(padded.subarray(src, src + pw * channels), (b * pvox + (z * ph + y) * pw) * channels);
        }
    });
    const out = tf.tidy(() => predict(tf.tensor(xb, [group.length, pd, ph, pw, channels])));
    const want = [group.length, pd, ph, pw, numClasses];
    if (out.shape.join(',') !== want.join(',')) {
      out.dispose();
      throw new Error(`sliding window: the model returned shape [${out.shape.join(', ')}] for windows [${group.length}, ${pd}, ${ph}, ${pw}, ${channels}]; expected [${want.join(', ')}]`);
    }
    const probs = (await out.data()) as Float32Array;
    out.dispose();
    group.forEach(([oz, oy, ox], b) => {
      for (let z = 0; z < pd; z++)
        for (let y = 0; y < ph; y++)
          for (let x = 0; x < pw; x++) {
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
  for (let z = 0; z < D; z++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const vi = (z * PH + y) * PW + x;
        const oi = ((z * H + y) * W + x) * numClasses;
        const n = norm[vi] as number;
        for (let k = 0; k < numClasses; k++) out[oi + k] = (acc[vi * numClasses + k] as number) / n;
      }
  return out;
}
