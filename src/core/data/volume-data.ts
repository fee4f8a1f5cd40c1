// A 3D segmentation data set on disk: NIfTI images and label volumes paired by file name, a
// deterministic split, cases loaded lazily into a bounded cache, and seeded random training patches with
// foreground oversampling and augmentation. It is the trainer's TrainingData for data.format nifti.
//
// Conventions:
// - Pairing: images/<stem>.nii[.gz] with labels/<stem>.nii[.gz] (or <stem>_seg, _label, ... as for 2D
//   masks). Other files are ignored with a warning; unpaired files are named in warnings.
// - At open, every pair's headers are read (only the start of a .nii.gz is inflated): an image and
//   label of different shapes, an unsupported data type, or a non-3D file fail here, naming the file.
//   Voxel data are read when a case is first used: a truncated or corrupt file and a label value outside
//   the classes fail then (with data.skipUnreadable, an unreadable file is skipped with a warning; a bad
//   label value always fails).
// - Split: as for 2D (splitByFraction / resolveExplicitSplit), on the case ids (file stems).
// - A case: image as float32 with scl_slope/scl_inter applied, clipped to data.clip when given, then
//   z-scored over the whole volume (mean 0, population std 1). Labels: uint8 class ids.
// - Training patches (data.patch [D, H, W]): the k-th patch of an epoch comes from the k-th entry of the
//   train cases shuffled with (seed, epoch, pass); its randomness uses Rng(mixSeed(seed, epoch, k)), so an
//   epoch depends on (seed, epoch) only. A fraction data.foregroundOversample of the patches (exactly,
//   evenly spread) is centred on a random voxel of a random foreground class present in the case; the
//   others are placed uniformly. Volumes smaller than the patch are padded (image 0, label background).
//   With train.augment: random flips on each axis and an intensity scale/shift.
// - Steps per epoch: train.stepsPerEpoch, else max(1, ceil(train cases / batch size)).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfigPath, type ExperimentConfig } from '../config';
import type { Batch, EvalCase, SplitName, TrainingData } from '../train/data-source';
import { Rng } from '../util/rng';
import { mixSeed } from './augment';
import { splitByFraction } from './dataset2d';
import { DataError } from './errors';
import { isNiftiFileName, labelsFromVolume, NiftiError, niftiStem, readNifti, readNiftiHeader, type Mat4, type NiftiHeaderInfo } from './nifti';
import { closestName, resolveExplicitSplit, stripMaskSuffix, type CasePair } from './pairing';
import { centredOrigin, drawPatchAugment, extractPatch, foregroundIndex, isForegroundPatch, NO_PATCH_AUGMENT, randomForegroundVoxel, randomOrigin } from './patches';
import { zScoreInPlace } from './resize';

/** What evaluation needs to write a prediction back next to its source: EvalCase.meta of 3D cases. */
export interface VolumeMeta {
  kind: 'nifti';
  imagePath: string;
  labelPath: string;
  /** Voxel (i, j, k) → world of the image. */
  affine: Mat4;
  /** Voxel sizes along i, j, k. */
  spacing: [number, number, number];
  sformCode: number;
  qformCode: number;
  xyztUnits: number;
}

export function isVolumeMeta(m: unknown): m is VolumeMeta {
  return typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === 'nifti' && Array.isArray((m as { affine?: unknown }).affine);
}

export interface VolumeCase {
  id: string;
  /** Normalised image, [D, H, W, 1]. */
  image: Float32Array;
  labels: Uint8Array;
  spatial: [number, number, number];
  /** Voxel indices of each foreground class. */
  foreground: Int32Array[];
  meta: VolumeMeta;
}

/** Clips to [lo, hi] when given, then z-scores the volume in place (population std; a constant volume becomes 0). */
export function normalizeVolume(data: Float32Array, clip?: readonly [number, number]): { mean: number; std: number } {
  if (clip) {
    const [lo, hi] = clip;
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as number;
      data[i] = v < lo ? lo : v > hi ? hi : v;
    }
  }
  return zScoreInPlace(data);
}

export interface VolumePairing {
  pairs: CasePair[];
  warnings: string[];
  unpairedImages: string[];
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function listDir(dir: string, field: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(`data.${field}: cannot list ${dir} (${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : (e as Error).message}); check the path (it is relative to the config file)`);
  }
  return names
    .filter((n) => !n.startsWith('.'))
    .filter((n) => {
      try {
        return statSync(join(dir, n)).isFile();
      } catch {
        return false;
      }
    })
    .sort(byCodeUnit);
}

/** Pairs NIfTI images with label volumes by file stem (see the conventions at the top). */
export function pairVolumes(imagesDir: string, labelsDir: string): VolumePairing {
  const warnings: string[] = [];
  const imageNames = listDir(imagesDir, 'images');
  const labelNames = listDir(labelsDir, 'labels');
  const ignored = [...imageNames.filter((n) => !isNiftiFileName(n)).map((n) => join(imagesDir, n)), ...labelNames.filter((n) => !isNiftiFileName(n)).map((n) => join(labelsDir, n))];
  if (ignored.length) warnings.push(`ignored ${ignored.length} file${ignored.length === 1 ? '' : 's'} that are not .nii or .nii.gz: ${ignored.slice(0, 5).join(', ')}${ignored.length > 5 ? ', ...' : ''}`);
  const images = new Map<string, string>();
  for (const n of imageNames.filter(isNiftiFileName)) {
    const stem = niftiStem(n);
    const prev = images.get(stem);
    if (prev) throw new DataError(`data.images: two images have the stem '${stem}': ${prev} and ${join(imagesDir, n)}; keep one`);
    images.set(stem, join(imagesDir, n));
  }
  const labels = new Map<string, string>();
  const unpairedLabels: string[] = [];
  // Exact stems first, then suffixed ones (a_seg.nii.gz) for images that have no exact match.
  const labelFiles = labelNames.filter(isNiftiFileName);
  const exact = new Set<string>();
  for (const n of labelFiles) {
    const stem = niftiStem(n);
    if (!images.has(stem)) continue;
    if (exact.has(stem)) throw new DataError(`data.labels: two label volumes have the stem '${stem}': ${labels.get(stem)} and ${join(labelsDir, n)}; keep one`);
    exact.add(stem);
    labels.set(stem, join(labelsDir, n));
  }
  for (const n of labelFiles) {
    const stem = niftiStem(n);
    if (images.has(stem)) continue;
    const base = stripMaskSuffix(stem);
    if (base === null || !images.has(base)) unpairedLabels.push(join(labelsDir, n));
    else if (exact.has(base)) continue; // the exact match wins
    else if (labels.has(base)) throw new DataError(`data.labels: two label volumes match the image '${base}': ${labels.get(base)} and ${join(labelsDir, n)}; keep one`);
    else labels.set(base, join(labelsDir, n));
  }
  const pairs: CasePair[] = [];
  const unpairedImages: string[] = [];
  for (const [id, image] of [...images].sort((a, b) => byCodeUnit(a[0], b[0]))) {
    const label = labels.get(id);
    if (label) pairs.push({ id, image, mask: label });
    else unpairedImages.push(image);
  }
  if (unpairedImages.length) warnings.push(`${unpairedImages.length} image${unpairedImages.length === 1 ? ' has' : 's have'} no label volume in ${labelsDir} and ${unpairedImages.length === 1 ? 'is' : 'are'} left out: ${unpairedImages.slice(0, 5).join(', ')}${unpairedImages.length > 5 ? ', ...' : ''}`);
  if (unpairedLabels.length) warnings.push(`${unpairedLabels.length} label volume${unpairedLabels.length === 1 ? ' has' : 's have'} no image in ${imagesDir}: ${unpairedLabels.slice(0, 5).join(', ')}${unpairedLabels.length > 5 ? ', ...' : ''}`);
  if (pairs.length === 0) {
    const hint = images.size && labelFiles.length ? ` (e.g. image '${[...images.keys()][0]}'${closestName([...images.keys()][0] as string, labelFiles.map(niftiStem)) ? ` and label '${closestName([...images.keys()][0] as string, labelFiles.map(niftiStem))}'` : ''})` : '';
    throw new DataError(`no image/label pairs: ${images.size} NIfTI image${images.size === 1 ? '' : 's'} in ${imagesDir} and ${labelFiles.length} label volume${labelFiles.length === 1 ? '' : 's'} in ${labelsDir}, none with the same file name${hint}; labels must have their image's file name`);
  }
  return { pairs, warnings, unpairedImages };
}

function sameShape(a: NiftiHeaderInfo, b: NiftiHeaderInfo): boolean {
  return a.dims[0] === b.dims[0] && a.dims[1] === b.dims[1] && a.dims[2] === b.dims[2];
}

function maxAffineDiff(a: Mat4, b: Mat4): number {
  let m = 0;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) m = Math.max(m, Math.abs(a[r][c] - b[r][c]));
  return m;
}

export interface VolumeDataOptions {
  imagesDir: string;
  labelsDir: string;
  classes: readonly string[];
  patch: readonly [number, number, number];
  split: ExperimentConfig['data']['split'];
  seed: number;
  augment: boolean;
  foregroundOversample: number;
  clip?: readonly [number, number] | undefined;
  stepsPerEpoch?: number | undefined;
  skipUnreadable?: boolean;
  cacheMB?: number;
  onWarning?: ((message: string) => void) | undefined;
}

export class VolumeData implements TrainingData {
  readonly dims = 3 as const;
  readonly channels = 1;
  readonly classes: string[];
  readonly inputSpatial: number[];
  readonly warnings: string[] = [];
  private readonly pairs = new Map<string, CasePair>();
  private readonly headers = new Map<string, NiftiHeaderInfo>();
  private readonly splits: Record<SplitName, string[]>;
  private readonly cache = new Map<string, VolumeCase>();
  private cacheBytes = 0;
  private readonly cacheLimit: number;
  private readonly skipped = new Set<string>();

  constructor(private readonly opts: VolumeDataOptions) {
    this.classes = [...opts.classes];
    if (this.classes.length < 2 || this.classes.length > 256) throw new DataError(`data.classes: expected 2 to 256 class names, got ${this.classes.length}`);
    this.inputSpatial = [...opts.patch];
    if (opts.patch.length !== 3 || opts.patch.some((p) => !Number.isInteger(p) || p < 1)) throw new DataError(`data.patch: expected [D, H, W] of positive integers, got [${opts.patch.join(', ')}]`);
    if (!(opts.foregroundOversample >= 0 && opts.foregroundOversample <= 1)) throw new DataError(`data.foregroundOversample: expected a fraction in [0, 1], got ${opts.foregroundOversample}`);
    if (opts.clip && !(opts.clip[0] < opts.clip[1])) throw new DataError(`data.clip: expected [lo, hi] with lo < hi, got [${opts.clip.join(', ')}]`);
    this.cacheLimit = (opts.cacheMB ?? 512) * 1024 * 1024;
    const warn = (m: string) => {
      this.warnings.push(m);
      opts.onWarning?.(m);
    };
    const pairing = pairVolumes(opts.imagesDir, opts.labelsDir);
    pairing.warnings.forEach(warn);
    const usable: CasePair[] = [];
    for (const p of pairing.pairs) {
      let hi: NiftiHeaderInfo;
      let hl: NiftiHeaderInfo;
      try {
        hi = readNiftiHeader(p.image);
        hl = readNiftiHeader(p.mask);
      } catch (e) {
        if (opts.skipUnreadable && e instanceof NiftiError) {
          warn(`skipped case '${p.id}': ${e.message}`);
          continue;
        }
        throw e;
      }
      if (!sameShape(hi, hl)) throw new NiftiError(p.mask, `label shape ${hl.dims.join('×')} does not match the image ${p.image} (${hi.dims.join('×')}, i×j×k); a label volume must have its image's voxel grid`);
      const d = maxAffineDiff(hi.affine, hl.affine);
      if (d > 1e-3) warn(`case '${p.id}': the label's affine differs from the image's (by up to ${d.toPrecision(3)}); the image's affine is used for predictions`);
      this.headers.set(p.id, hi);
      this.pairs.set(p.id, p);
      usable.push(p);
    }
    if (usable.length === 0) throw new DataError(`no readable image/label pairs in ${opts.imagesDir} and ${opts.labelsDir}`);
    const split = opts.split;
    if ('train' in split && Array.isArray(split.train)) {
      const { ids, unused } = resolveExplicitSplit(usable, { train: split.train, val: split.val, test: split.test ?? [] }, pairing.unpairedImages);
      if (unused.length) warn(`${unused.length} case${unused.length === 1 ? ' is' : 's are'} in no split and ${unused.length === 1 ? 'is' : 'are'} not used: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''}`);
      this.splits = ids;
    } else {
      const f = split as { val: number; test: number; seed: number };
      this.splits = splitByFraction(
        usable.map((p) => p.id),
        { val: f.val, test: f.test, seed: f.seed },
        warn,
      );
    }
    if (this.splits.train.length === 0) throw new DataError(`data.split: no training cases (${usable.length} usable pairs)`);
  }

  caseIds(split: SplitName): string[] {
    return this.splits[split].filter((id) => !this.skipped.has(id));
  }

  stepsPerEpoch(batchSize: number): number {
    return this.opts.stepsPerEpoch ?? Math.max(1, Math.ceil(this.caseIds('train').length / batchSize));
  }

  /** The header of a case's image (shape, spacing, affine), read at open. */
  header(id: string): NiftiHeaderInfo {
    const h = this.headers.get(id);
    if (!h) throw new DataError(`unknown case '${id}'`);
    return h;
  }

  /** Loads (or returns the cached) case; null when it is unreadable and skipUnreadable is on. */
  loadCase(id: string): VolumeCase | null {
    const hit = this.cache.get(id);
    if (hit) {
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    if (this.skipped.has(id)) return null;
    const p = this.pairs.get(id);
    if (!p) throw new DataError(`unknown case '${id}'`);
    let img;
    let lab;
    try {
      img = readNifti(p.image);
      lab = readNifti(p.mask);
    } catch (e) {
      if (this.opts.skipUnreadable && e instanceof NiftiError) {
        this.skipped.add(id);
        const m = `skipped case '${id}': ${e.message}`;
        this.warnings.push(m);
        this.opts.onWarning?.(m);
        return null;
      }
      throw e;
    }
    if (img.dims.join() !== lab.dims.join()) throw new NiftiError(p.mask, `label shape ${lab.dims.join('×')} does not match the image ${p.image} (${img.dims.join('×')}, i×j×k); a label volume must have its image's voxel grid`);
    const labels = labelsFromVolume(lab, this.classes);
    const image = img.data;
    normalizeVolume(image, this.opts.clip);
    const c: VolumeCase = {
      id,
      image,
      labels,
      spatial: img.spatial,
      foreground: foregroundIndex(labels, this.classes.length),
      meta: { kind: 'nifti', imagePath: p.image, labelPath: p.mask, affine: img.affine, spacing: img.spacing, sformCode: img.sformCode, qformCode: img.qformCode, xyztUnits: img.xyztUnits },
    };
    const bytes = image.byteLength + labels.byteLength + c.foreground.reduce((a, f) => a + f.byteLength, 0) + 512;
    if (bytes <= this.cacheLimit) {
      while (this.cacheBytes + bytes > this.cacheLimit && this.cache.size) {
        const [oldId, old] = this.cache.entries().next().value as [string, VolumeCase];
        this.cache.delete(oldId);
        this.cacheBytes -= old.image.byteLength + old.labels.byteLength + old.foreground.reduce((a, f) => a + f.byteLength, 0) + 512;
      }
      this.cache.set(id, c);
      this.cacheBytes += bytes;
    }
    return c;
  }

  /** The train case used for the k-th patch of an epoch. */
  private caseForPatch(epoch: number, k: number, ids: string[], orders: Map<number, string[]>): string {
    const n = ids.length;
    const pass = Math.floor(k / n);
    let order = orders.get(pass);
    if (!order) {
      order = new Rng(mixSeed(this.opts.seed, 0x3d0, epoch, pass)).shuffle(ids.slice());
      orders.set(pass, order);
    }
    return order[k % n] as string;
  }

  /** One training patch (k-th of the epoch) written into the batch arrays at position b. */
  private fillPatch(epoch: number, k: number, id: string, x: Float32Array, labels: Uint8Array, b: number): boolean {
    const c = this.loadCase(id);
    if (!c) return false;
    const patch = this.opts.patch;
    const rng = new Rng(mixSeed(this.opts.seed, 0x3d1, epoch, k));
    let origin = null;
    if (isForegroundPatch(k, this.opts.foregroundOversample)) {
      const v = randomForegroundVoxel(rng, c.foreground, c.spatial);
      if (v) origin = centredOrigin(v, c.spatial, patch);
    }
    origin ??= randomOrigin(rng, c.spatial, patch);
    const aug = this.opts.augment ? drawPatchAugment(rng) : NO_PATCH_AUGMENT;
    const pvox = patch[0] * patch[1] * patch[2];
    extractPatch(c.image, c.labels, c.spatial, 1, origin, patch, x, b * pvox, labels, b * pvox, aug);
    return true;
  }

  async *trainBatches(epoch: number, batchSize: number): AsyncIterable<Batch> {
    const steps = this.stepsPerEpoch(batchSize);
    const pvox = this.opts.patch[0] * this.opts.patch[1] * this.opts.patch[2];
    const orders = new Map<number, string[]>();
    let k = 0;
    for (let s = 0; s < steps; s++) {
      const ids: string[] = [];
      const x = new Float32Array(batchSize * pvox);
      const labels = new Uint8Array(batchSize * pvox);
      let guard = 0;
      while (ids.length < batchSize) {
        const train = this.caseIds('train');
        if (train.length === 0) throw new DataError('every training case was skipped as unreadable; nothing to train on');
        const id = this.caseForPatch(epoch, k, this.splits.train, orders);
        if (!this.skipped.has(id) && this.fillPatch(epoch, k, id, x, labels, ids.length)) ids.push(id);
        k++;
        if (++guard > 100 * batchSize + this.splits.train.length) throw new DataError('could not draw a training patch from a readable case');
      }
      yield { ids, x, labels, shape: [batchSize, ...this.opts.patch, 1] };
      // Let other work (IPC, stop requests) run between batches.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  async *evalCases(split: SplitName, limit?: number): AsyncIterable<EvalCase> {
    const ids = this.caseIds(split);
    for (const id of limit === undefined ? ids : ids.slice(0, limit)) {
      const c = this.loadCase(id);
      if (!c) continue;
      yield { id, image: c.image, labels: c.labels, spatial: [...c.spatial], meta: c.meta };
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  describe(): string {
    const p = this.opts.patch;
    return `3D NIfTI, patch ${p.join('×')}, 1 channel, ${this.classes.length} classes; cases train ${this.caseIds('train').length} / val ${this.caseIds('val').length} / test ${this.caseIds('test').length}; foreground oversampling ${this.opts.foregroundOversample}`;
  }
}

/** Opens the volumes a config describes (data.format nifti) as the trainer's TrainingData. */
export async function openVolumeData(config: ExperimentConfig, configPath: string, onWarning?: (m: string) => void): Promise<TrainingData> {
  return openVolumeDataset(config, configPath, onWarning);
}

/** openVolumeData with the concrete type (cases, headers). */
export function openVolumeDataset(config: ExperimentConfig, configPath: string, onWarning?: (m: string) => void): VolumeData {
  const d = config.data;
  const labels = d.labels ?? d.masks;
  if (!labels) throw new DataError(`${configPath}: data.labels (the folder of label volumes) is required for data.format nifti`);
  if (!d.patch) throw new DataError(`${configPath}: data.patch ([D, H, W], e.g. [32, 32, 32]) is required for data.format nifti`);
  if (d.channels !== 1) throw new DataError(`${configPath}: data.channels ${d.channels} is for RGB images; NIfTI volumes are read as 1 channel (remove data.channels)`);
  return new VolumeData({
    imagesDir: resolveConfigPath(configPath, d.images),
    labelsDir: resolveConfigPath(configPath, labels),
    classes: d.classes,
    patch: d.patch,
    split: d.split,
    seed: config.train.seed,
    augment: config.train.augment,
    foregroundOversample: d.foregroundOversample,
    clip: d.clip,
    stepsPerEpoch: config.train.stepsPerEpoch,
    skipUnreadable: d.skipUnreadable,
    cacheMB: d.cacheMB,
    onWarning,
  });
}
