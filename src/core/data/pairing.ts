// Pairing of 2D images with their masks by file stem.
//
// Rules:
// - Image files: .png, .jpg, .jpeg (case-insensitive). Mask files: the same extensions (a JPEG mask is
//   refused later, when it is decoded, with a message saying why).
// - A mask pairs with the image of the same stem, either exactly (images/a.png + masks/a.png) or with one
//   of MASK_SUFFIXES after the stem (masks/a_mask.png, a_seg.png, a_label.png, a-mask.png ...). An exact
//   stem match wins over a suffixed one; two suffixed candidates for one image are an error.
// - When the images and masks folders are the same folder, files whose stem ends in a mask suffix are
//   masks and the others are images.
// - Hidden files (.DS_Store ...) and sub-folders are skipped silently. Other files (.tif, .txt ...) are
//   listed as ignored in a warning. Images without a mask and masks without an image are named in
//   warnings; nothing pairing at all is an error.
// - Stems are compared exactly (case-sensitive), and listed in code-unit order.

import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { DataError } from './errors';

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];
export const MASK_SUFFIXES: readonly string[] = ['_mask', '_seg', '_label', '_labels', '-mask', '-seg', '-label'];

export interface CasePair {
  /** The image's file stem: the case id. */
  id: string;
  image: string;
  mask: string;
}

export interface PairingResult {
  /** Pairs, sorted by id. */
  pairs: CasePair[];
  /** Human-readable warnings: ignored files, unpaired images and masks. */
  warnings: string[];
  /** Images with no mask (full paths). */
  unpairedImages: string[];
  /** Masks with no image (full paths). */
  unpairedMasks: string[];
  /** Files that are neither PNG nor JPEG (full paths). */
  ignored: string[];
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function listFiles(dir: string, what: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : (e as Error).message;
    throw new DataError(`data.${what}: cannot list ${dir} (${why}); check the path (it is relative to the config file)`);
  }
  const out: string[] = [];
  for (const name of names.sort(byCodeUnit)) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    try {
      if (!statSync(p).isFile()) continue;
    } catch {
      continue;
    }
    out.push(p);
  }
  return out;
}

function isImageFile(p: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(p).toLowerCase());
}

function stemOf(p: string): string {
  const b = basename(p);
  return b.slice(0, b.length - extname(b).length);
}

/** The stem with a mask suffix removed, or null when it has none. */
export function stripMaskSuffix(stem: string): string | null {
  const lower = stem.toLowerCase();
  for (const s of MASK_SUFFIXES) {
    if (lower.endsWith(s) && stem.length > s.length) return stem.slice(0, stem.length - s.length);
  }
  return null;
}

function listNames(paths: string[], max = 5): string {
  const names = paths.map((p) => basename(p));
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** Pairs every image in `imagesDir` with its mask in `masksDir` (see the rules at the top of this file). */
export function pairByStem(imagesDir: string, masksDir: string): PairingResult {
  const sameDir = resolve(imagesDir) === resolve(masksDir);
  const imgFiles = listFiles(imagesDir, 'images');
  const maskFiles = sameDir ? imgFiles : listFiles(masksDir, 'masks');
  const warnings: string[] = [];
  const ignored = [...new Set([...imgFiles, ...maskFiles])].filter((p) => !isImageFile(p));
  if (ignored.length > 0) {
    const tif = ignored.some((p) => /\.tiff?$/i.test(p));
    warnings.push(
      `ignored ${ignored.length} file${ignored.length === 1 ? ' that is' : 's that are'} not PNG or JPEG: ${listNames(ignored)}` +
        (tif ? ' (TIFF is not supported; convert to PNG, which keeps 16-bit data)' : ''),
    );
  }

  const images = new Map<string, string>();
  const masksExact = new Map<string, string>();
  const masksSuffixed = new Map<string, string[]>();
  const dupes: string[] = [];
  for (const p of imgFiles) {
    if (!isImageFile(p)) continue;
    const stem = stemOf(p);
    if (sameDir && stripMaskSuffix(stem) !== null) continue;
    const prev = images.get(stem);
    if (prev !== undefined) dupes.push(`${basename(prev)} and ${basename(p)}`);
    else images.set(stem, p);
  }
  if (dupes.length > 0) {
    throw new DataError(`data.images: two images share a stem (${dupes.join('; ')}) in ${imagesDir}; rename or remove one of each`);
  }
  for (const p of maskFiles) {
    if (!isImageFile(p)) continue;
    const stem = stemOf(p);
    const stripped = stripMaskSuffix(stem);
    if (sameDir && stripped === null) continue;
    if (!sameDir) {
      if (masksExact.has(stem)) {
        throw new DataError(`data.masks: two masks share the stem '${stem}' (${basename(masksExact.get(stem) as string)} and ${basename(p)}) in ${masksDir}; remove one`);
      }
      masksExact.set(stem, p);
    }
    if (stripped !== null) {
      const list = masksSuffixed.get(stripped) ?? [];
      list.push(p);
      masksSuffixed.set(stripped, list);
    }
  }

  const pairs: CasePair[] = [];
  const used = new Set<string>();
  const unpairedImages: string[] = [];
  for (const [stem, image] of [...images].sort((a, b) => byCodeUnit(a[0], b[0]))) {
    let mask = masksExact.get(stem);
    if (mask === undefined) {
      const cands = masksSuffixed.get(stem) ?? [];
      if (cands.length > 1) {
        throw new DataError(`data.masks: image ${basename(image)} has ${cands.length} candidate masks (${listNames(cands, 10)}) in ${masksDir}; keep one`);
      }
      mask = cands[0];
    }
    if (mask === undefined) unpairedImages.push(image);
    else {
      used.add(mask);
      pairs.push({ id: stem, image, mask });
    }
  }
  const unpairedMasks = maskFiles.filter((p) => isImageFile(p) && !used.has(p) && !(sameDir && stripMaskSuffix(stemOf(p)) === null));

  if (unpairedImages.length > 0) {
    warnings.push(
      `${unpairedImages.length} image${unpairedImages.length === 1 ? ' has' : 's have'} no mask and ${unpairedImages.length === 1 ? 'is' : 'are'} skipped: ${listNames(unpairedImages)} ` +
        `(a mask must be named <stem>.png or <stem>${MASK_SUFFIXES.slice(0, 3).join('/')}.png in ${masksDir})`,
    );
  }
  if (unpairedMasks.length > 0) {
    warnings.push(`${unpairedMasks.length} mask${unpairedMasks.length === 1 ? ' has' : 's have'} no image and ${unpairedMasks.length === 1 ? 'is' : 'are'} skipped: ${listNames(unpairedMasks)}`);
  }
  if (pairs.length === 0) {
    throw new DataError(
      `no image/mask pairs: ${images.size} image${images.size === 1 ? '' : 's'} in ${imagesDir} and ${maskFiles.filter(isImageFile).length} mask file(s) in ${masksDir} share no file stem` +
        (unpairedImages.length > 0 ? ` (e.g. image ${basename(unpairedImages[0] as string)}` + (unpairedMasks.length > 0 ? `, mask ${basename(unpairedMasks[0] as string)})` : ')') : '') +
        `; name each mask like its image, optionally with a suffix _mask, _seg or _label (a.png -> a.png or a_mask.png)`,
    );
  }
  return { pairs, warnings, unpairedImages, unpairedMasks, ignored };
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** The closest candidate to `s` when it is close enough to be a likely typo. */
export function closestName(s: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(s, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(s.length / 4)) ? best : null;
}

export type SplitName = 'train' | 'val' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

export interface ExplicitSplit {
  train: string[];
  val: string[];
  test: string[];
}

/**
 * Resolves explicit split lists against the pairs. Entries are case stems; a file name with an image
 * extension (a.png) is accepted too. Unknown entries and entries listed twice are errors naming the
 * field; pairs listed in no split are reported in `unused`.
 */
export function resolveExplicitSplit(pairs: readonly CasePair[], split: ExplicitSplit, unpairedImages: readonly string[] = []): { ids: Record<SplitName, string[]>; unused: string[] } {
  const known = new Set(pairs.map((p) => p.id));
  const noMask = new Set(unpairedImages.map(stemOf));
  const seen = new Map<string, string>();
  const ids: Record<SplitName, string[]> = { train: [], val: [], test: [] };
  for (const name of SPLIT_NAMES) {
    const list = split[name];
    if (!Array.isArray(list)) throw new DataError(`data.split.${name} must be a list of case stems`);
    list.forEach((entry, i) => {
      const id = isImageFile(entry) ? stemOf(entry) : entry;
      const field = `data.split.${name}[${i}]`;
      if (!known.has(id)) {
        if (noMask.has(id)) throw new DataError(`${field}: case '${id}' has an image but no mask; add its mask or remove it from the list`);
        const near = closestName(id, known);
        throw new DataError(`${field}: no image/mask pair has the stem '${id}'` + (near ? `; did you mean '${near}'?` : ''));
      }
      const prev = seen.get(id);
      if (prev !== undefined) throw new DataError(`${field}: case '${id}' is already listed in ${prev}; each case belongs to one split`);
      seen.set(id, field);
      ids[name].push(id);
    });
  }
  const unused = pairs.map((p) => p.id).filter((id) => !seen.has(id));
  return { ids, unused };
}
