// Batch arrays → tensors, shared by the trainer (main thread) and the data-parallel gradient workers.
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './data-source';

/** Float one-hot built on the JS side (also avoids tf.oneHot's int32 path, which is broken on webgpu). */
export function oneHot(labels: Uint8Array, numClasses: number): Float32Array {
  const out = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) out[i * numClasses + (labels[i] as number)] = 1;
  return out;
}

/** x [B, ...spatial, C] and the one-hot target [B, ...spatial, numClasses]. */
export function batchTensors(b: Pick<Batch, 'x' | 'labels' | 'shape'>, numClasses: number): { x: tf.Tensor; y: tf.Tensor } {
  const spatialShape = b.shape.slice(0, -1);
  return { x: tf.tensor(b.x, b.shape), y: tf.tensor(oneHot(b.labels, numClasses), [...spatialShape, numClasses]) };
}

/**
 * Splits a batch into `parts` consecutive slices along the batch axis, as equal as possible (the first
 * slices get the extra case); fewer slices when the batch has fewer cases than `parts`.
 */
export function splitBatch(b: Pick<Batch, 'x' | 'labels' | 'shape'>, parts: number): { x: Float32Array; labels: Uint8Array; shape: number[] }[] {
  const n = b.shape[0] as number;
  const xPer = b.x.length / n;
  const lPer = b.labels.length / n;
  const k = Math.max(1, Math.min(parts, n));
  const out: { x: Float32Array; labels: Uint8Array; shape: number[] }[] = [];
  let start = 0;
  for (let i = 0; i < k; i++) {
    const m = Math.floor(n / k) + (i < n % k ? 1 : 0);
    out.push({ x: b.x.subarray(start * xPer, (start + m) * xPer), labels: b.labels.subarray(start * lPer, (start + m) * lPer), shape: [m, ...b.shape.slice(1)] });
    start += m;
  }
  return out;
}
