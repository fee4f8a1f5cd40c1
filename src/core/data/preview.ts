// Preview images for run folders (predictions/): the input image, the truth and the prediction as colour
// overlays on it, and the probability as a heat map, side by side in one RGB PNG.

import { DataError } from './errors';
import { encodePngGrey, encodePngRgb } from './image';

/** Overlay colours for class ids 1.. (class 0, the background, is not coloured); cycles after 8. */
export const CLASS_COLOURS: readonly (readonly [number, number, number])[] = [
  [255, 64, 64],
  [64, 200, 255],
  [255, 210, 0],
  [80, 220, 80],
  [200, 90, 255],
  [255, 140, 40],
  [0, 220, 200],
  [255, 100, 200],
];

// Heat-map anchors at 0, 0.25, 0.5, 0.75 and 1 (the values of matplotlib's "inferno" map at those points),
// interpolated linearly between them.
const HEAT: readonly (readonly [number, number, number])[] = [
  [0, 0, 4],
  [87, 16, 110],
  [188, 55, 84],
  [249, 142, 9],
  [252, 255, 164],
];

/** The heat-map colour of a value in [0, 1] (clamped; NaN is black). */
export function heatColour(v: number): [number, number, number] {
  if (!(v >= 0)) v = 0;
  if (v > 1) v = 1;
  const t = v * (HEAT.length - 1);
  const i = Math.min(Math.floor(t), HEAT.length - 2);
  const f = t - i;
  const a = HEAT[i] as readonly number[];
  const b = HEAT[i + 1] as readonly number[];
  return [0, 1, 2].map((c) => Math.round((a[c] as number) + ((b[c] as number) - (a[c] as number)) * f)) as [number, number, number];
}

export interface PreviewInput {
  /** Image, HWC (C = channels, 1 or 3), any range (e.g. z-scored): shown with a 0.5–99.5 percentile stretch. */
  image: Float32Array;
  /** Truth class ids, HW. */
  truth: Uint8Array;
  /** Predicted class ids, HW. */
  pred: Uint8Array;
  /** Probability shown as a heat map, HW, in [0, 1] (e.g. the foreground probability). */
  prob: Float32Array;
  width: number;
  height: number;
  /** Channels of `image` (default: inferred from its length). */
  channels?: 1 | 3;
  /** Overlay opacity (default 0.45). */
  alpha?: number;
}

export interface PreviewPanels {
  width: number;
  height: number;
  /** Each panel is RGB, HWC, 8-bit. */
  image: Uint8Array;
  truth: Uint8Array;
  pred: Uint8Array;
  prob: Uint8Array;
}

function percentile(sorted: Float32Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/** The image as 8-bit grey (mean of the channels), stretched between its 0.5th and 99.5th percentiles. */
export function toDisplayGrey(image: Float32Array, height: number, width: number, channels: number): Uint8Array {
  const n = height * width;
  const grey = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += image[i * channels + c] as number;
    grey[i] = s / channels;
  }
  const sorted = grey.slice().sort();
  const lo = percentile(sorted, 0.005);
  const hi = percentile(sorted, 0.995);
  const out = new Uint8Array(n);
  const range = hi - lo;
  for (let i = 0; i < n; i++) {
    const v = range > 0 ? ((grey[i] as number) - lo) / range : 0;
    out[i] = Math.round(Math.min(1, Math.max(0, v)) * 255);
  }
  return out;
}

function overlay(grey: Uint8Array, ids: Uint8Array, alpha: number): Uint8Array {
  const n = grey.length;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const g = grey[i] as number;
    const id = ids[i] as number;
    if (id === 0) {
      out[i * 3] = g;
      out[i * 3 + 1] = g;
      out[i * 3 + 2] = g;
    } else {
      const col = CLASS_COLOURS[(id - 1) % CLASS_COLOURS.length] as readonly number[];
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(g * (1 - alpha) + (col[c] as number) * alpha);
    }
  }
  return out;
}

function checkPreview(input: PreviewInput): 1 | 3 {
  const { width, height } = input;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new DataError(`renderPreview: width and height must be positive integers, got ${width}x${height}`);
  }
  const n = width * height;
  const channels = input.channels ?? (input.image.length === n * 3 ? 3 : 1);
  if (input.image.length !== n * channels) throw new DataError(`renderPreview: image has ${input.image.length} values, expected [${height}, ${width}, ${channels}] = ${n * channels}`);
  for (const k of ['truth', 'pred', 'prob'] as const) {
    if (input[k].length !== n) throw new DataError(`renderPreview: ${k} has ${input[k].length} values, expected [${height}, ${width}] = ${n}`);
  }
  return channels;
}

/** The four preview panels as RGB arrays. */
export function renderPanels(input: PreviewInput): PreviewPanels {
  const channels = checkPreview(input);
  const { width, height } = input;
  const alpha = input.alpha ?? 0.45;
  const grey = toDisplayGrey(input.image, height, width, channels);
  const image = overlay(grey, new Uint8Array(grey.length), 0);
  const prob = new Uint8Array(grey.length * 3);
  for (let i = 0; i < grey.length; i++) prob.set(heatColour(input.prob[i] as number), i * 3);
  return { width, height, image, truth: overlay(grey, input.truth, alpha), pred: overlay(grey, input.pred, alpha), prob };
}

/** Gap between panels, in pixels, and its grey level. */
export const PREVIEW_GAP = 2;
const GAP_GREY = 128;

/** The four panels side by side (image | truth | prediction | probability) as one RGB PNG. */
export function renderPreview(input: PreviewInput): Uint8Array {
  const p = renderPanels(input);
  const { width, height } = p;
  const panels = [p.image, p.truth, p.pred, p.prob];
  const outW = width * panels.length + PREVIEW_GAP * (panels.length - 1);
  const out = new Uint8Array(outW * height * 3).fill(GAP_GREY);
  panels.forEach((panel, k) => {
    const x0 = k * (width + PREVIEW_GAP);
    for (let y = 0; y < height; y++) out.set(panel.subarray(y * width * 3, (y + 1) * width * 3), (y * outW + x0) * 3);
  });
  return encodePngRgb(out, outW, height);
}

/** Each panel as its own PNG (image as 8-bit grey, the others RGB). */
export function renderPreviewPngs(input: PreviewInput): { image: Uint8Array; truth: Uint8Array; pred: Uint8Array; prob: Uint8Array } {
  const channels = checkPreview(input);
  const p = renderPanels(input);
  return {
    image: encodePngGrey(toDisplayGrey(input.image, input.height, input.width, channels), p.width, p.height),
    truth: encodePngRgb(p.truth, p.width, p.height),
    pred: encodePngRgb(p.pred, p.width, p.height),
    prob: encodePngRgb(p.prob, p.width, p.height),
  };
}
