// PNG previews of a fixed set of validation cases, refreshed every epoch: predictions/<case>.png shows
// image | truth | prediction | probability side by side (3D: the middle axial slice).
import { join } from 'node:path';
import type { UNet } from '../models/unet';
import { renderPreview } from '../data/preview';
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

/** Slices a channels-last volume [D, H, W, C] at depth z into [H, W, C]. */
function axialSlice<T extends Float32Array | Uint8Array>(v: T, spatial: number[], channels: number, z: number): T {
  const [, h, w] = spatial as [number, number, number];
  const plane = h * w * channels;
  return v.slice(z * plane, (z + 1) * plane) as T;
}

export async function writeEpochPreviews(model: UNet, data: TrainingData, runDir: string, count: number): Promise<void> {
  if (count <= 0) return;
  const k = data.classes.length;
  for await (const c of data.evalCases('val', count)) {
    const probs = await predictCase(model, c, data);
    let image = c.image;
    let truth = c.labels;
    let p = probs;
    let [height, width] = c.spatial as [number, number];
    if (data.dims === 3) {
      const z = Math.floor((c.spatial[0] as number) / 2);
      image = axialSlice(c.image, c.spatial, data.channels, z);
      truth = axialSlice(c.labels, c.spatial, 1, z);
      p = axialSlice(probs, c.spatial, k, z);
      [height, width] = [c.spatial[1] as number, c.spatial[2] as number];
    }
    const pred = argmax(p, k);
    // Heat map of the foreground probability (1 − P(background)).
    const fg = new Float32Array(height * width);
    for (let i = 0; i < fg.length; i++) fg[i] = 1 - (p[i * k] as number);
    const png = renderPreview({ image, truth, pred, prob: fg, width, height, channels: data.channels as 1 | 3 });
    writeFileAtomic(join(runDir, RUN_FILES.predictions, `${c.id}.png`), png);
  }
}
