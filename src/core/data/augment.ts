// Seeded augmentation for 2D cases: flips, 90° rotations (square images only) and mild intensity jitter.
// The geometric part moves image and mask together, so they stay aligned; the intensity part touches the
// image only. Everything is a function of an Rng, so (seed, epoch, case id) fixes the result.

import { Rng } from '../util/rng';

export interface AugmentOptions {
  /** Random horizontal and vertical flips (each with probability 1/2). */
  flip: boolean;
  /** Random rotation by k·90°, k uniform in 0..3 (only when height = width). */
  rotate90: boolean;
  /**
   * Intensity jitter strength j: the (z-scored) image becomes x·s + b with s uniform in [1-j, 1+j] and
   * b uniform in [-j, j]. 0 turns it off.
   */
  intensity: number;
}

export const DEFAULT_AUGMENT: Readonly<AugmentOptions> = { flip: true, rotate90: true, intensity: 0.1 };

export interface AugmentParams {
  flipX: boolean;
  flipY: boolean;
  /** Counter-clockwise quarter turns, as numpy.rot90(k). */
  rot90: 0 | 1 | 2 | 3;
  scale: number;
  shift: number;
}

export const IDENTITY_AUGMENT: Readonly<AugmentParams> = { flipX: false, flipY: false, rot90: 0, scale: 1, shift: 0 };

/** Checks augmentation options; returns the complete options (defaults filled in). */
export function resolveAugmentOptions(opts: boolean | Partial<AugmentOptions> | undefined): AugmentOptions | null {
  if (opts === undefined || opts === false) return null;
  if (opts === true) return { ...DEFAULT_AUGMENT };
  const out: AugmentOptions = { ...DEFAULT_AUGMENT, ...opts };
  if (!(out.intensity >= 0 && out.intensity < 1)) throw new RangeError(`augment.intensity must be in [0, 1), got ${out.intensity}`);
  return out;
}

/**
 * Draws augmentation parameters. Always consumes exactly 5 draws from `rng`, whatever the options, so
 * that turning one option off does not change the others.
 */
export function drawAugment(rng: Rng, height: number, width: number, opts: AugmentOptions): AugmentParams {
  const fx = rng.next();
  const fy = rng.next();
  const k = rng.int(4);
  const s = rng.uniform(-1, 1);
  const b = rng.uniform(-1, 1);
  return {
    flipX: opts.flip && fx < 0.5,
    flipY: opts.flip && fy < 0.5,
    rot90: opts.rotate90 && height === width ? (k as 0 | 1 | 2 | 3) : 0,
    scale: 1 + opts.intensity * s,
    shift: opts.intensity * b,
  };
}

/** The source pixel index (row-major) for each output pixel of the geometric transform. */
export function augmentIndexMap(height: number, width: number, p: AugmentParams): Int32Array {
  if (p.rot90 !== 0 && height !== width) throw new RangeError(`augment: 90° rotations need a square image, got ${height}x${width}`);
  const n = height;
  const map = new Int32Array(height * width);
  for (let y = 0; y < height; y++) {
    const yy = p.flipY ? height - 1 - y : y;
    for (let x = 0; x < width; x++) {
      const xx = p.flipX ? width - 1 - x : x;
      let sy: number;
      let sx: number;
      switch (p.rot90) {
        case 0:
          sy = yy;
          sx = xx;
          break;
        case 1:
          sy = xx;
          sx = n - 1 - yy;
          break;
        case 2:
          sy = n - 1 - yy;
          sx = n - 1 - xx;
          break;
        case 3:
          sy = n - 1 - xx;
          sx = yy;
          break;
      }
      map[y * width + x] = sy * width + sx;
    }
  }
  return map;
}

/**
 * Applies `p` to an HWC image and an HW mask, writing into the given output arrays (which may be views
 * into a batch buffer). out = flip(rot90(in)), then image·scale + shift.
 */
export function applyAugment(
  image: Float32Array,
  mask: Uint8Array,
  height: number,
  width: number,
  channels: number,
  p: AugmentParams,
  outImage: Float32Array,
  outMask: Uint8Array,
): void {
  const n = height * width;
  if (image.length !== n * channels || outImage.length !== n * channels) {
    throw new RangeError(`applyAugment: image has ${image.length} values and output ${outImage.length}, expected ${height}x${width}x${channels}`);
  }
  if (mask.length !== n || outMask.length !== n) throw new RangeError(`applyAugment: mask has ${mask.length} values and output ${outMask.length}, expected ${height}x${width}`);
  const geometric = p.flipX || p.flipY || p.rot90 !== 0;
  const map = geometric ? augmentIndexMap(height, width, p) : null;
  const { scale, shift } = p;
  for (let i = 0; i < n; i++) {
    const s = map ? (map[i] as number) : i;
    outMask[i] = mask[s] as number;
    for (let c = 0; c < channels; c++) outImage[i * channels + c] = (image[s * channels + c] as number) * scale + shift;
  }
}

/** 32-bit FNV-1a hash of a string (used to give each case its own augmentation stream). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Mixes several integers into one 32-bit seed (order matters). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
