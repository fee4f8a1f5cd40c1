// Training patches from 3D volumes: where a patch goes (uniformly at random, or centred on a random
// foreground voxel as nnU-Net's foreground oversampling does), copying it out with padding where it
// leaves the volume, and flip / intensity augmentation.
//
// Layout: volumes are row-major [D, H, W, C] (channels-last), labels [D, H, W]. A patch origin may be
// negative or reach past the end only when the volume is smaller than the patch along that axis: then
// the volume sits at a random position inside the patch and the rest is padding (image 0, which is the
// mean after z-scoring, and label 0, background).
import type { Rng } from '../util/rng';

export type Vec3 = [number, number, number];

/** Range of valid origins along one axis: the patch stays inside the volume, or holds all of it when the volume is smaller. */
export function originRange(size: number, patch: number): [number, number] {
  return size >= patch ? [0, size - patch] : [size - patch, 0];
}

/** A uniformly random origin. */
export function randomOrigin(rng: Rng, spatial: readonly number[], patch: readonly number[]): Vec3 {
  return [0, 1, 2].map((a) => {
    const [lo, hi] = originRange(spatial[a] as number, patch[a] as number);
    return lo + rng.int(hi - lo + 1);
  }) as Vec3;
}

/** The origin that centres the patch on voxel `centre` ([z, y, x]), clamped to the valid range. */
export function centredOrigin(centre: readonly number[], spatial: readonly number[], patch: readonly number[]): Vec3 {
  return [0, 1, 2].map((a) => {
    const [lo, hi] = originRange(spatial[a] as number, patch[a] as number);
    return Math.min(hi, Math.max(lo, (centre[a] as number) - Math.floor((patch[a] as number) / 2)));
  }) as Vec3;
}

/** Voxel indices of each foreground class (index c−1 holds class c), for foreground sampling. */
export function foregroundIndex(labels: Uint8Array, numClasses: number): Int32Array[] {
  const counts = new Int32Array(numClasses);
  for (let i = 0; i < labels.length; i++) counts[labels[i] as number]!++;
  const out = Array.from({ length: numClasses - 1 }, (_, c) => new Int32Array(counts[c + 1] as number));
  const fill = new Int32Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i] as number;
    if (c > 0) out[c - 1]![fill[c]!++] = i;
  }
  return out;
}

/**
 * A random foreground voxel [z, y, x]: a class drawn uniformly among the foreground classes present in
 * the case, then one of its voxels uniformly (so that small classes are seen as often as large ones).
 * Null when the case has no foreground.
 */
export function randomForegroundVoxel(rng: Rng, fg: readonly Int32Array[], spatial: readonly number[]): Vec3 | null {
  const present = fg.filter((a) => a.length > 0);
  if (present.length === 0) return null;
  const cls = present[rng.int(present.length)] as Int32Array;
  const idx = cls[rng.int(cls.length)] as number;
  const h = spatial[1] as number;
  const w = spatial[2] as number;
  return [Math.floor(idx / (h * w)), Math.floor(idx / w) % h, idx % w];
}

/** Whether the k-th patch of an epoch (0-based) is centred on foreground: exactly a `fraction` of them, evenly spread. */
export function isForegroundPatch(k: number, fraction: number): boolean {
  if (fraction <= 0) return false;
  if (fraction >= 1) return true;
  return Math.floor((k + 1) * fraction) > Math.floor(k * fraction);
}

export interface PatchAugment {
  /** Mirror along D, H, W. */
  flip: [boolean, boolean, boolean];
  /** Intensity: x·scale + shift (on the z-scored image). */
  scale: number;
  shift: number;
}

export const NO_PATCH_AUGMENT: Readonly<PatchAugment> = { flip: [false, false, false], scale: 1, shift: 0 };

/** Random flips on each axis (p = 0.5) and an intensity scale in [0.9, 1.1] and shift in [−0.1, 0.1]. */
export function drawPatchAugment(rng: Rng): PatchAugment {
  const flip: [boolean, boolean, boolean] = [rng.next() < 0.5, rng.next() < 0.5, rng.next() < 0.5];
  return { flip, scale: rng.uniform(0.9, 1.1), shift: rng.uniform(-0.1, 0.1) };
}

/**
 * Copies the patch at `origin` of a volume into `outImage` (at `outImageOffset`, [pd, ph, pw, C]) and of
 * its labels into `outLabels` (at `outLabelOffset`, [pd, ph, pw]), padding outside the volume with 0
 * and applying the augmentation. Voxel (z, y, x) of the patch comes from volume voxel origin + (z, y, x)
 * before mirroring, i.e. a flip mirrors the patch, not the volume.
 */
export function extractPatch(
  image: Float32Array,
  labels: Uint8Array | null,
  spatial: readonly number[],
  channels: number,
  origin: readonly number[],
  patch: readonly number[],
  outImage: Float32Array,
  outImageOffset: number,
  outLabels: Uint8Array | null,
  outLabelOffset: number,
  aug: Readonly<PatchAugment> = NO_PATCH_AUGMENT,
): void {
  const [D, H, W] = spatial as [number, number, number];
  const [pd, ph, pw] = patch as [number, number, number];
  const [oz, oy, ox] = origin as [number, number, number];
  const [fz, fy, fx] = aug.flip;
  const { scale, shift } = aug;
  const identity = scale === 1 && shift === 0;
  for (let z = 0; z < pd; z++) {
    const sz = oz + (fz ? pd - 1 - z : z);
    const zin = sz >= 0 && sz < D;
    for (let y = 0; y < ph; y++) {
      const sy = oy + (fy ? ph - 1 - y : y);
      const yin = zin && sy >= 0 && sy < H;
      const rowOut = (z * ph + y) * pw;
      for (let x = 0; x < pw; x++) {
        const sx = ox + (fx ? pw - 1 - x : x);
        const o = rowOut + x;
        if (yin && sx >= 0 && sx < W) {
          const s = (sz * H + sy) * W + sx;
          for (let c = 0; c < channels; c++) {
            const v = image[s * channels + c] as number;
            outImage[outImageOffset + o * channels + c] = identity ? v : v * scale + shift;
          }
          if (labels && outLabels) outLabels[outLabelOffset + o] = labels[s] as number;
        } else {
          for (let c = 0; c < channels; c++) outImage[outImageOffset + o * channels + c] = identity ? 0 : shift;
          if (outLabels) outLabels[outLabelOffset + o] = 0;
        }
      }
    }
  }
}
