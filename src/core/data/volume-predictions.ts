// Writes 3D predictions back as NIfTI next to their run: the label map (argmax, uint8) and optionally
// the class probabilities (float32, a 4D file with one volume per class), both with the source image's
// affine, spacing and sform/qform codes, so that they overlay the source in any viewer.
import { join } from 'node:path';
import { argmax } from '../train/previews';
import { writeNifti } from './nifti';
import type { VolumeMeta } from './volume-data';

export interface VolumePredictionFiles {
  labels: string;
  probabilities?: string;
}

/** File-name-safe case id. */
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * Writes `<dir>/<id>.pred.nii.gz` (class ids) and, with `probabilities`, `<dir>/<id>.probs.nii.gz`
 * ([i, j, k, class] float32). `probs` is channels-last [D, H, W, numClasses].
 */
export function writeVolumePrediction(
  dir: string,
  c: { id: string; spatial: readonly number[]; meta: VolumeMeta },
  probs: Float32Array,
  numClasses: number,
  opts: { probabilities?: boolean } = {},
): VolumePredictionFiles {
  const [D, H, W] = c.spatial as [number, number, number];
  if (probs.length !== D * H * W * numClasses) throw new Error(`writeVolumePrediction ${c.id}: probs has ${probs.length} values, expected [${c.spatial.join(', ')}, ${numClasses}] = ${D * H * W * numClasses}`);
  if (numClasses > 256) throw new Error(`writeVolumePrediction ${c.id}: ${numClasses} classes do not fit a uint8 label map`);
  const common = { spatial: [D, H, W], affine: c.meta.affine, spacing: c.meta.spacing, sformCode: c.meta.sformCode > 0 ? c.meta.sformCode : 2, qformCode: c.meta.qformCode > 0 ? c.meta.qformCode : 2, xyztUnits: (c.meta.xyztUnits & 7) || 2 };
  const files: VolumePredictionFiles = { labels: join(dir, `${safeName(c.id)}.pred.nii.gz`) };
  writeNifti(files.labels, { ...common, data: argmax(probs, numClasses), datatype: 'uint8', description: 'DSC++ Lab prediction: class ids (argmax)' });
  if (opts.probabilities) {
    files.probabilities = join(dir, `${safeName(c.id)}.probs.nii.gz`);
    writeNifti(files.probabilities, { ...common, data: probs, channels: numClasses, datatype: 'float32', description: `DSC++ Lab prediction: ${numClasses} class probabilities` });
  }
  return files;
}
