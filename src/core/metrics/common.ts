// Shared input handling of the metrics. Layout (every metric in this folder):
//   labels: integer class ids 0..numClasses−1, one per voxel (Uint8Array, Int32Array, number[] …);
//   probs:  Float32Array channels-last [...shape, channels], channels = numClasses, or 1 for a sigmoid head
//           with numClasses = 2 (the foreground probability p; the background is 1 − p);
//   shape:  optional spatial shape including the batch, e.g. [N, H, W] or [N, D, H, W] (no channel axis):
//           prod(shape) = labels.length and probs.length = prod(shape)·channels.

export class MetricInputError extends Error {
  override name = 'MetricInputError';
}

/** Probabilities are clipped to [P_MIN, 1] inside logarithms (NLL). */
export const P_MIN = 1e-7;

export type Labels = ArrayLike<number>;

/** Mean of the values that are not NaN (null counts as NaN); NaN when there are none. */
export function nanMean(xs: readonly (number | null)[]): number {
  let s = 0;
  let n = 0;
  for (const x of xs) {
    if (x !== null && !Number.isNaN(x)) {
      s += x;
      n++;
    }
  }
  return n ? s / n : NaN;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checks numClasses, shape, labels and probs against each other and returns the voxel count and the
 * probabilities with numClasses channels (a one-channel sigmoid input is expanded to [1 − p, p]).
 */
export function resolveInput(what: string, probs: Float32Array, labels: Labels, numClasses: number, shape?: readonly number[]): { voxels: number; probs: Float32Array } {
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new MetricInputError(`${what}: numClasses must be an integer >= 2 (use 2 for a binary / sigmoid head), got ${numClasses}`);
  if (!(probs instanceof Float32Array)) throw new MetricInputError(`${what}: probs must be a Float32Array (channels-last), got ${Object.prototype.toString.call(probs)}`);
  if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') throw new MetricInputError(`${what}: labels must be an array of integer class ids, got ${String(labels)}`);
  const voxels = labels.length;
  if (shape !== undefined) {
    if (!Array.isArray(shape) || shape.some((s) => !Number.isInteger(s) || s < 0)) throw new MetricInputError(`${what}: shape must be a list of non-negative integers [N, ...spatial], got ${JSON.stringify(shape)}`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== voxels) throw new MetricInputError(`${what}: shape ${shapeText(shape)} has ${n} voxels but labels has ${voxels} values`);
  }
  if (probs.length === voxels * numClasses) return { voxels, probs };
  if (numClasses === 2 && probs.length === voxels) {
    const out = new Float32Array(voxels * 2);
    for (let i = 0; i < voxels; i++) {
      const p = probs[i] as number;
      out[2 * i] = 1 - p;
      out[2 * i + 1] = p;
    }
    return { voxels, probs: out };
  }
  const where = shape !== undefined ? `shape ${shapeText(shape)}` : `${voxels} labels`;
  throw new MetricInputError(
    `${what}: probs has ${probs.length} values but ${where} × ${numClasses} classes needs ${voxels * numClasses}${numClasses === 2 ? ` (or ${voxels} for a one-channel sigmoid head)` : ''}; probs is channels-last [...shape, numClasses]`,
  );
}

export function badLabel(what: string, label: number, index: number, numClasses: number): MetricInputError {
  return new MetricInputError(`${what}: label ${label} at voxel ${index} is not a class id 0..${numClasses - 1}`);
}
