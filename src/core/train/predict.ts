// Whole-case prediction: a direct forward pass for 2D images (already resized to the model's size),
// Gaussian-weighted sliding windows for 3D volumes.
import * as tf from '@tensorflow/tfjs-core';
import type { UNet } from '../models/unet';
import type { EvalCase, TrainingData } from './data-source';
import { slidingWindowPredict } from './sliding-window';

/** Softmax probabilities of one case, channels-last [...spatial, numClasses]. */
export async function predictCase(model: UNet, c: EvalCase, data: TrainingData, overlap = 0.5): Promise<Float32Array> {
  if (data.dims === 2) {
    const p = tf.tidy(() => model.predict(tf.tensor(c.image, [1, ...c.spatial, data.channels]), false));
    const out = (await p.data()) as Float32Array;
    p.dispose();
    return out;
  }
  return slidingWindowPredict((x) => model.predict(x, false), c.image, c.spatial, data.channels, data.classes.length, data.inputSpatial, { overlap });
}
