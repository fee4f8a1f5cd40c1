// PNG previews of a fixed set of validation cases, refreshed every epoch: predictions/<case>.png shows
// image | truth | prediction | probability side by side. 3D volumes: three rows, the axial, coronal and
// sagittal mid-slices (renderVolumePreview).
import { join } from 'node:path';
import type { UNet } from '../models/unet';
import { PREVIEW_GAP, renderPanels, renderPreview } from '../data/preview';
import { encodePngRgb } from '../data/image';
import { resizeNearest } from '../data/resize';
import { writeFileAtomic } from '../util/fsx';
import type { TrainingData } from './data-source';
import { predictCase } from './predict';
import { RUN_FILES } from './runs';

export function argmax(probs: Float32Array, numClasses: number): Uint8Array {
  const n = probs.length / numClasses;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = probs[i * numClasses] as number;
    for (let k = 1; k < numClasses; k++) {
      const v = probs[i * numClasses + k] as number;
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    out[i] = best;
  }
  return out;
}

export type VolumeView = 'axial' | 'coronal' | 'sagittal';
export const VOLUME_VIEWS: readonly VolumeView[] = ['axial', 'coronal', 'sagittal'];

/**
 * One plane of a channels-last volume [D, H, W, C] (D = k, H = j, W = i in NIfTI terms) as a 2D image
 * [rows, cols, C]: axial fixes k (rows j, cols i), coronal fixes j (rows k, cols i), sagittal fixes i
 * (rows k, cols j). Rows run from the highest index down (superior / anterior at the top, as in viewers).
 */
export function volumeSlice<T extends Float32Array | Uint8Array>(v: T, spatial: readonly number[], channels: number, view: VolumeView, index: number): { data: T; rows: number; cols: number } {
  const [D, H, W] = spatial as [number, number, number];
  const [rows, cols] = view === 'axial' ? [H, W] : view === 'coronal' ? [D, W] : [D, H];
  const out = (v instanceof Uint8Array ? new Uint8Array(rows * cols * channels) : new Float32Array(rows * cols * channels)) as T;
  for (let r = 0; r < rows; r++) {
    const rr = rows - 1 - r;
    for (let q = 0; q < cols; q++) {
      const [z, y, x] = view === 'axial' ? [index, rr, q] : view === 'coronal' ? [rr, index, q] : [rr, q, index];
      const s = ((z * H + y) * W + x) * channels;
      for (let c = 0; c < channels; c++) out[(r * cols + q) * channels + c] = v[s + c] as number;
    }
  }
  return { data: out, rows, cols };
}

export interface VolumePreviewInput {
  /** [D, H, W, channels]. */
  image: Float32Array;
  /** [D, H, W] class ids. */
  truth: Uint8Array;
  /** [D, H, W, numClasses] probabilities. */
  probs: Float32Array;
  spatial: readonly number[];
  channels: 1 | 3;
  numClasses: number;
  /** Voxel sizes along (W, H, D) = (i, j, k), to draw anisotropic voxels with their true aspect. Default isotropic. */
  spacing?: readonly number[];
  /** Smallest drawn side of a slice in pixels: small volumes are enlarged by an integer factor (default 128). */
  minSide?: number;
}

/**
 * A 3D preview as one RGB PNG: rows axial, coronal and sagittal (mid-slices), each image | truth |
 * prediction (argmax) | foreground probability (1 − P(background)).
 */
export function renderVolumePreview(input: VolumePreviewInput): Uint8Array {
  const { spatial, channels, numClasses: k } = input;
  if (spatial.length !== 3) throw new Error(`renderVolumePreview: expected spatial [D, H, W], got [${spatial.join(', ')}]`);
  const [D, H, W] = spatial as [number, number, number];
  const vox = D * H * W;
  if (input.image.length !== vox * channels || input.truth.length !== vox || input.probs.length !== vox * k) {
    throw new Error(`renderVolumePreview: for spatial [${spatial.join(', ')}] expected image ${vox * channels}, truth ${vox} and probs ${vox * k} values, got ${input.image.length}, ${input.truth.length} and ${input.probs.length}`);
  }
  const pred = argmax(input.probs, k);
  const fg = new Float32Array(vox);
  for (let i = 0; i < vox; i++) fg[i] = 1 - (input.probs[i * k] as number);
  // Pixel size per axis (D, H, W), relative to the finest.
  const sp = input.spacing ?? [1, 1, 1];
  const size = { D: Math.abs(sp[2] ?? 1) || 1, H: Math.abs(sp[1] ?? 1) || 1, W: Math.abs(sp[0] ?? 1) || 1 };
  const finest = Math.min(size.D, size.H, size.W);
  const zoom = Math.max(1, Math.floor((input.minSide ?? 128) / Math.max(1, Math.min(D, H, W))));
  const rowsOut: { rgb: Uint8Array[]; width: number; height: number }[] = [];
  for (const view of VOLUME_VIEWS) {
    const index = view === 'axial' ? Math.floor(D / 2) : view === 'coronal' ? Math.floor(H / 2) : Math.floor(W / 2);
    const im = volumeSlice(input.image, spatial, channels, view, index);
    const tr = volumeSlice(input.truth, spatial, 1, view, index);
    const pr = volumeSlice(pred, spatial, 1, view, index);
    const pb = volumeSlice(fg, spatial, 1, view, index);
    const panels = renderPanels({ image: im.data, truth: tr.data, pred: pr.data, prob: pb.data, width: im.cols, height: im.rows, channels });
    const [rowAxis, colAxis] = view === 'axial' ? (['H', 'W'] as const) : view === 'coronal' ? (['D', 'W'] as const) : (['D', 'H'] as const);
    const outH = Math.max(1, Math.round(im.rows * zoom * (size[rowAxis] / finest)));
    const outW = Math.max(1, Math.round(im.cols * zoom * (size[colAxis] / finest)));
    const rgb = [panels.image, panels.truth, panels.pred, panels.prob].map((p) => resizeNearest(p, im.rows, im.cols, outH, outW, 3));
    rowsOut.push({ rgb, width: outW, height: outH });
  }
  const canvasW = Math.max(...rowsOut.map((r) => r.width * 4 + PREVIEW_GAP * 3));
  const canvasH = rowsOut.reduce((a, r) => a + r.height, 0) + PREVIEW_GAP * (rowsOut.length - 1);
  const out = new Uint8Array(canvasW * canvasH * 3).fill(128);
  let y0 = 0;
  for (const r of rowsOut) {
    r.rgb.forEach((panel, p) => {
      const x0 = p * (r.width + PREVIEW_GAP);
      for (let y = 0; y < r.height; y++) out.set(panel.subarray(y * r.width * 3, (y + 1) * r.width * 3), ((y0 + y) * canvasW + x0) * 3);
    });
    y0 += r.height + PREVIEW_GAP;
  }
  return encodePngRgb(out, canvasW, canvasH);
}

function spacingOf(meta: unknown): number[] | undefined {
  const s = (meta as { spacing?: unknown } | null | undefined)?.spacing;
  return Array.isArray(s) && s.length === 3 && s.every((v) => typeof v === 'number') ? (s as number[]) : undefined;
}

/**
 * The epoch's preview images of the first `count` validation cases. `predicted` holds probabilities the
 * validation pass already computed with this model, by case id (a 3D sliding window is not run twice).
 */
export async function writeEpochPreviews(model: UNet, data: TrainingData, runDir: string, count: number, overlap = 0.5, predicted?: ReadonlyMap<string, Float32Array>): Promise<void> {
  if (count <= 0) return;
  const k = data.classes.length;
  for await (const c of data.evalCases('val', count)) {
    const probs = predicted?.get(c.id) ?? (await predictCase(model, c, data, overlap));
    let png: Uint8Array;
    if (data.dims === 3) {
      png = renderVolumePreview({ image: c.image, truth: c.labels, probs, spatial: c.spatial, channels: data.channels as 1 | 3, numClasses: k, spacing: spacingOf(c.meta) });
    } else {
      const [height, width] = c.spatial as [number, number];
      const pred = argmax(probs, k);
      // Heat map of the foreground probability (1 − P(background)).
      const fg = new Float32Array(height * width);
      for (let i = 0; i < fg.length; i++) fg[i] = 1 - (probs[i * k] as number);
      png = renderPreview({ image: c.image, truth: c.labels, pred, prob: fg, width, height, channels: data.channels as 1 | 3 });
    }
    writeFileAtomic(join(runDir, RUN_FILES.predictions, `${c.id}.png`), png);
  }
}
