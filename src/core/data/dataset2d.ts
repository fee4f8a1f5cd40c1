// A 2D segmentation data set on disk: paired PNG/JPEG images and masks, a deterministic split, lazily
// decoded and resized cases held in a bounded LRU cache, and seeded, augmented batches.
//
// Conventions:
// - Split by fractions: the case ids (image stems) are sorted in code-unit order and shuffled with
//   Rng(seed); the first round(test·n) go to test, the next round(val·n) to val, the rest to train. When
//   n >= 3, a fraction > 0 gets at least one case, and train always keeps at least one. Each split's list
//   is returned sorted. Explicit lists (train/val/test of stems) are used as given.
// - A case: image decoded, converted to the requested channels (RGB -> grey by BT.601 luminance), resized
//   bilinearly to `size` (half-pixel centres), then z-scored over all its values (mean 0, population
//   std 1; a constant image becomes 0). Mask: class ids, resized by nearest neighbour.
// - Batches: the order is the split's sorted ids, shuffled with Rng(mixSeed(seed, epoch, 1)) when asked.
//   Augmentation of a case uses Rng(mixSeed(seed, epoch, hashString(id))), so it depends on
//   (seed, epoch, id) only, not on the batch size or the order.
// - Memory: originals are dropped as soon as a case is resized; resized cases live in an LRU cache
//   bounded by cacheMB (default 512).
// - Bad files: an image or mask that cannot be read or decoded throws an ImageDecodeError naming the path,
//   or, with skipUnreadable, is skipped with a warning (once) and left out from then on. A mask with
//   invalid values (MaskError) always throws: it is a data or config mistake, not an unreadable file.

import { Rng } from '../util/rng';
import { type AugmentOptions, type AugmentParams, applyAugment, drawAugment, hashString, IDENTITY_AUGMENT, mixSeed, resolveAugmentOptions, DEFAULT_AUGMENT } from './augment';
import { DataError, ImageDecodeError, MaskError } from './errors';
import { decodeImageFile, decodeMaskFile } from './image';
import { type CasePair, type ExplicitSplit, pairByStem, resolveExplicitSplit, SPLIT_NAMES, type SplitName } from './pairing';
import { convertChannels, resizeBilinear, resizeNearest, zScoreInPlace } from './resize';

export interface FractionSplit {
  /** Fraction of cases for validation, in [0, 1). */
  val: number;
  /** Fraction of cases for test, in [0, 1). */
  test: number;
  seed: number;
}

export type SplitSpec = FractionSplit | ExplicitSplit;

export interface Dataset2DOptions {
  imagesDir: string;
  masksDir: string;
  /** Class names; class id i is classes[i]. 1..256 classes. */
  classes: readonly string[];
  /** Target [height, width]. */
  size: readonly [number, number];
  /** Channels fed to the model (default 1). */
  channels?: 1 | 3;
  /** Skip (with a warning) images and masks that cannot be read or decoded, instead of throwing. */
  skipUnreadable?: boolean;
  split: SplitSpec;
  /** Augmentation for the train split: true (defaults), false, or options. Default false. */
  augment?: boolean | Partial<AugmentOptions>;
  /** Bound of the cache of resized cases, in MB (default 512; 0 disables caching). */
  cacheMB?: number;
  onWarning?: (message: string) => void;
}

export interface Case2D {
  id: string;
  /** Z-scored image, HWC, length height*width*channels. */
  image: Float32Array;
  /** Class ids, HW. */
  mask: Uint8Array;
  height: number;
  width: number;
  channels: 1 | 3;
  /** [height, width] of the file before resizing. */
  originalSize: [number, number];
  imagePath: string;
  maskPath: string;
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffle the order with (seed, epoch). Default: true for train, false otherwise. */
  shuffle?: boolean;
  /** Default 0. */
  seed?: number;
  /** Default 0. */
  epoch?: number;
  /** Augment the cases. Default: true for train when the data set has augmentation on, false otherwise. */
  augment?: boolean;
  /** Drop a last, smaller batch. Default false. */
  dropRemainder?: boolean;
}

export interface Batch2D {
  ids: string[];
  /** [B, H, W, C] row-major. */
  x: Float32Array;
  /** [B, H, W] class ids. */
  labels: Uint8Array;
  shape: [number, number, number, number];
  /** The augmentation applied to each case (identity when none). */
  augment: AugmentParams[];
}

export interface CacheStats {
  entries: number;
  bytes: number;
  limitBytes: number;
  hits: number;
  misses: number;
}

const CASE_OVERHEAD_BYTES = 256;

function isFractionSplit(s: SplitSpec): s is FractionSplit {
  return typeof (s as FractionSplit).val === 'number' && !Array.isArray((s as ExplicitSplit).train);
}

/**
 * Deterministic split by fractions (see the conventions at the top of this file). `warn` is told when a
 * requested split ends up empty because there are too few cases.
 */
export function splitByFraction(ids: readonly string[], split: FractionSplit, warn: (m: string) => void = () => undefined): Record<SplitName, string[]> {
  const { val, test, seed } = split;
  for (const [k, v] of [['val', val], ['test', test]] as const) {
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new DataError(`data.split.${k} must be a fraction in [0, 1), got ${String(v)}`);
  }
  if (val + test >= 1) throw new DataError(`data.split: val + test = ${val + test} leaves no training cases; make the sum less than 1`);
  if (!Number.isInteger(seed)) throw new DataError(`data.split.seed must be an integer, got ${String(seed)}`);
  const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = sorted.length;
  const order = new Rng(seed).shuffle(sorted.slice());
  const minT = n >= 3 && test > 0 ? 1 : 0;
  const minV = n >= 3 && val > 0 ? 1 : 0;
  let nTest = Math.max(minT, Math.round(test * n));
  let nVal = Math.max(minV, Math.round(val * n));
  while (nTest + nVal > n - 1 && (nTest > minT || nVal > minV)) {
    if (nVal > minV && (nVal >= nTest || nTest <= minT)) nVal--;
    else nTest--;
  }
  if (test > 0 && nTest === 0) warn(`data.split: only ${n} case${n === 1 ? '' : 's'}, so the test split is empty`);
  if (val > 0 && nVal === 0) warn(`data.split: only ${n} case${n === 1 ? '' : 's'}, so the val split is empty`);
  const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return {
    test: order.slice(0, nTest).sort(byCodeUnit),
    val: order.slice(nTest, nTest + nVal).sort(byCodeUnit),
    train: order.slice(nTest + nVal).sort(byCodeUnit),
  };
}

export class Dataset2D {
  readonly classes: readonly string[];
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  readonly skipUnreadable: boolean;
  /** Augmentation options used for train batches, or null when augmentation is off. */
  readonly augment: AugmentOptions | null;
  /** Warnings raised while pairing and splitting (also sent to onWarning). */
  readonly warnings: string[] = [];

  private readonly pairs = new Map<string, CasePair>();
  private readonly splits: Record<SplitName, readonly string[]>;
  private readonly skipped = new Map<string, string>();
  private readonly cache = new Map<string, { c: Case2D; bytes: number }>();
  private cacheBytes = 0;
  private readonly cacheLimit: number;
  private hits = 0;
  private misses = 0;
  private readonly onWarning: (message: string) => void;

  constructor(opts: Dataset2DOptions) {
    this.onWarning = opts.onWarning ?? (() => undefined);
    const classes = opts.classes;
    if (!Array.isArray(classes) || classes.length < 1 || classes.length > 256) {
      throw new DataError(`data.classes must list 1 to 256 class names (class id i is classes[i]), got ${Array.isArray(classes) ? classes.length : String(classes)}`);
    }
    this.classes = [...classes];
    const size = opts.size;
    if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v > 0)) {
      throw new DataError(`data.size must be [height, width] with positive integers, got ${JSON.stringify(size)}`);
    }
    this.height = size[0];
    this.width = size[1];
    const channels = opts.channels ?? 1;
    if (channels !== 1 && channels !== 3) throw new DataError(`data.channels must be 1 or 3, got ${String(channels)}`);
    this.channels = channels;
    this.skipUnreadable = opts.skipUnreadable ?? false;
    this.augment = resolveAugmentOptions(opts.augment);
    const cacheMB = opts.cacheMB ?? 512;
    if (!(cacheMB >= 0)) throw new DataError(`data.cacheMB must be >= 0, got ${String(cacheMB)}`);
    this.cacheLimit = cacheMB * 1024 * 1024;

    const paired = pairByStem(opts.imagesDir, opts.masksDir);
    for (const w of paired.warnings) this.warn(w);
    for (const p of paired.pairs) this.pairs.set(p.id, p);

    const split = opts.split;
    if (isFractionSplit(split)) {
      this.splits = splitByFraction([...this.pairs.keys()], split, (m) => this.warn(m));
    } else {
      const { ids, unused } = resolveExplicitSplit(paired.pairs, split, paired.unpairedImages);
      if (unused.length > 0) {
        this.warn(`${unused.length} paired case${unused.length === 1 ? ' is' : 's are'} in no split list and unused: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ` and ${unused.length - 5} more` : ''}`);
      }
      this.splits = ids;
    }
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.onWarning(message);
  }

  /** The case ids of a split (sorted), without cases skipped as unreadable so far. */
  cases(split: SplitName): string[] {
    const ids = this.splits[split];
    if (ids === undefined) throw new DataError(`unknown split '${String(split)}'; use one of ${SPLIT_NAMES.join(', ')}`);
    return ids.filter((id) => !this.skipped.has(id));
  }

  /** All paired case ids, sorted. */
  allCases(): string[] {
    return [...this.pairs.keys()];
  }

  /** The files of a case. */
  pair(id: string): CasePair {
    const p = this.pairs.get(id);
    if (!p) throw new DataError(`unknown case '${id}'`);
    return { ...p };
  }

  /** Cases skipped as unreadable so far, with the reason. */
  skippedCases(): Map<string, string> {
    return new Map(this.skipped);
  }

  cacheStats(): CacheStats {
    return { entries: this.cache.size, bytes: this.cacheBytes, limitBytes: this.cacheLimit, hits: this.hits, misses: this.misses };
  }

  private decodeCase(p: CasePair): Case2D {
    const img = decodeImageFile(p.image);
    const m = decodeMaskFile(p.mask, this.classes.length);
    if (m.width !== img.width || m.height !== img.height) {
      throw new MaskError(p.mask, `mask ${p.mask} is ${m.width}x${m.height} (width x height) but its image ${p.image} is ${img.width}x${img.height}; a mask must have the size of its image`);
    }
    const H = this.height;
    const W = this.width;
    let data: Float32Array;
    if (this.channels === 1) {
      const grey = convertChannels(img.data, img.height, img.width, img.channels, 1);
      data = resizeBilinear(grey, img.height, img.width, 1, H, W);
    } else {
      const resized = resizeBilinear(img.data, img.height, img.width, img.channels, H, W);
      data = convertChannels(resized, H, W, img.channels, 3);
    }
    zScoreInPlace(data);
    const mask = resizeNearest(m.data, m.height, m.width, H, W);
    return { id: p.id, image: data, mask, height: H, width: W, channels: this.channels, originalSize: [img.height, img.width], imagePath: p.image, maskPath: p.mask };
  }

  /** The cached case (not a copy: callers must not modify it). */
  private getCase(id: string): Case2D {
    const hit = this.cache.get(id);
    if (hit) {
      this.hits++;
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit.c;
    }
    this.misses++;
    const p = this.pairs.get(id);
    if (!p) throw new DataError(`unknown case '${id}'`);
    const c = this.decodeCase(p);
    const bytes = c.image.byteLength + c.mask.byteLength + CASE_OVERHEAD_BYTES;
    if (bytes <= this.cacheLimit) {
      this.cache.set(id, { c, bytes });
      this.cacheBytes += bytes;
      while (this.cacheBytes > this.cacheLimit) {
        const oldest = this.cache.keys().next();
        if (oldest.done) break;
        const e = this.cache.get(oldest.value) as { bytes: number };
        this.cacheBytes -= e.bytes;
        this.cache.delete(oldest.value);
      }
    }
    return c;
  }

  /**
   * Loads one case (resized, z-scored). Throws ImageDecodeError / MaskError for bad files, whatever
   * skipUnreadable says. The arrays are the caller's own copies.
   */
  loadCase(id: string): Case2D {
    const c = this.getCase(id);
    return { ...c, image: c.image.slice(), mask: c.mask.slice(), originalSize: [c.originalSize[0], c.originalSize[1]] };
  }

  /**
   * Like loadCase, but a case that cannot be read or decoded gives null (with a warning, once) when
   * skipUnreadable is on, as batches() does. Without skipUnreadable it throws like loadCase.
   */
  tryLoadCase(id: string): Case2D | null {
    const c = this.tryCase(id);
    return c && { ...c, image: c.image.slice(), mask: c.mask.slice(), originalSize: [c.originalSize[0], c.originalSize[1]] };
  }

  /**
   * The case, or null when it is unreadable and skipUnreadable is on (it is then warned about once and
   * left out of cases() from then on).
   */
  private tryCase(id: string): Case2D | null {
    if (this.skipped.has(id)) return null;
    try {
      return this.getCase(id);
    } catch (e) {
      if (this.skipUnreadable && e instanceof ImageDecodeError) {
        this.skipped.set(id, e.message);
        this.warn(`skipping case '${id}': ${e.message} (data.skipUnreadable is true)`);
        return null;
      }
      throw e;
    }
  }

  /**
   * Decodes every case of the given splits (default all) once, which fills the cache and finds bad files
   * early. Throws on the first bad file unless skipUnreadable. Returns the number of good cases.
   */
  validate(splits: readonly SplitName[] = SPLIT_NAMES): { ok: number; skipped: string[] } {
    let ok = 0;
    const skipped: string[] = [];
    for (const s of splits) {
      for (const id of this.splits[s]) {
        if (this.tryCase(id)) ok++;
        else skipped.push(id);
      }
    }
    return { ok, skipped };
  }

  /** The number of batches an epoch of `split` gives now (cases skipped later can lower it). */
  numBatches(split: SplitName, batchSize: number, dropRemainder = false): number {
    const n = this.cases(split).length;
    return dropRemainder ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  }

  private batchPlan(split: SplitName, opts: BatchOptions): { order: string[]; augment: AugmentOptions | null; seed: number; epoch: number; B: number; drop: boolean } {
    const B = opts.batchSize;
    if (!Number.isInteger(B) || B < 1) throw new DataError(`batchSize must be a positive integer, got ${String(B)}`);
    const seed = opts.seed ?? 0;
    const epoch = opts.epoch ?? 0;
    const order = this.cases(split);
    if (opts.shuffle ?? split === 'train') new Rng(mixSeed(seed, epoch, 1)).shuffle(order);
    const wantAug = opts.augment ?? (split === 'train' && this.augment !== null);
    return { order, augment: wantAug ? (this.augment ?? { ...DEFAULT_AUGMENT }) : null, seed, epoch, B, drop: opts.dropRemainder ?? false };
  }

  /** Augmentation parameters that batches() applies to case `id` at (seed, epoch). */
  augmentParams(id: string, seed: number, epoch: number, opts: AugmentOptions | null = this.augment): AugmentParams {
    if (!opts) return { ...IDENTITY_AUGMENT };
    return drawAugment(new Rng(mixSeed(seed, epoch, hashString(id))), this.height, this.width, opts);
  }

  /** Batches of a split: x [B,H,W,C] z-scored (and augmented), labels [B,H,W] class ids. */
  *batches(split: SplitName, opts: BatchOptions): Generator<Batch2D, void, undefined> {
    const plan = this.batchPlan(split, opts);
    const H = this.height;
    const W = this.width;
    const C = this.channels;
    const px = H * W;
    let pending: Case2D[] = [];
    const make = (cases: Case2D[]): Batch2D => {
      const b = cases.length;
      const x = new Float32Array(b * px * C);
      const labels = new Uint8Array(b * px);
      const augs: AugmentParams[] = [];
      cases.forEach((c, i) => {
        const p = this.augmentParams(c.id, plan.seed, plan.epoch, plan.augment);
        augs.push(p);
        applyAugment(c.image, c.mask, H, W, C, p, x.subarray(i * px * C, (i + 1) * px * C), labels.subarray(i * px, (i + 1) * px));
      });
      return { ids: cases.map((c) => c.id), x, labels, shape: [b, H, W, C], augment: augs };
    };
    for (const id of plan.order) {
      const c = this.tryCase(id);
      if (!c) continue;
      pending.push(c);
      if (pending.length === plan.B) {
        const batch = make(pending);
        pending = [];
        yield batch;
      }
    }
    if (pending.length > 0 && !plan.drop) yield make(pending);
  }

  /**
   * batches(), with the next batch prepared while the caller works on the current one (the preparation
   * runs in a macrotask after the current batch is handed out, so it overlaps with awaited work).
   */
  async *batchesAsync(split: SplitName, opts: BatchOptions): AsyncGenerator<Batch2D, void, undefined> {
    const it = this.batches(split, opts);
    const ahead = (): Promise<IteratorResult<Batch2D, void>> =>
      new Promise((resolve, reject) => {
        setImmediate(() => {
          try {
            resolve(it.next());
          } catch (e) {
            reject(e);
          }
        });
      });
    let next = ahead();
    next.catch(() => undefined);
    try {
      for (;;) {
        const r = await next;
        if (r.done) return;
        next = ahead();
        next.catch(() => undefined);
        yield r.value;
      }
    } finally {
      it.return(undefined);
    }
  }
}
