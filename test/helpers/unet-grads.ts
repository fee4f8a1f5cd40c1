// A U-Net's loss gradients on one backend from fixed weights: the gradient checks of the whole model
// (gradcheck, gradcheck3d, webgpu) compare two backends with it.
import * as tf from '@tensorflow/tfjs-core';
import { createLoss } from '../../src/core/losses';
import { UNet, type UNetSpec } from '../../src/core/models/unet';
import { oneHot } from '../../src/core/train/batch';

export type Weights = Record<string, { values: Float32Array; shape: number[] }>;

/** The seeded initial weights of `spec`, made on cpu (then loaded on each backend compared). */
export async function initialWeights(spec: UNetSpec): Promise<Weights> {
  await tf.setBackend('cpu');
  const init = new UNet(spec);
  try {
    const weights: Weights = {};
    for (const [k, v] of Object.entries(init.namedTensors())) weights[k] = { values: (await v.data()) as Float32Array, shape: v.shape };
    return weights;
  } finally {
    init.dispose();
  }
}

/** The dscpp loss of one training-mode forward pass and its gradient for every trainable weight, on `backend`. */
export async function unetGrads(backend: string, spec: UNetSpec, weights: Weights, x: Float32Array, xShape: number[], labels: Uint8Array): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  await tf.setBackend(backend);
  const model = new UNet(spec);
  try {
    const named: Record<string, tf.Tensor> = {};
    for (const [k, w] of Object.entries(weights)) named[k] = tf.tensor(w.values, w.shape);
    model.load(named, 'test weights');
    tf.dispose(Object.values(named));
    const lossFn = createLoss('dscpp');
    const spatial = xShape.slice(0, -1);
    const { value, grads } = tf.tidy(() => tf.variableGrads(() => lossFn(tf.tensor(oneHot(labels, spec.numClasses), [...spatial, spec.numClasses]), model.predict(tf.tensor(x, xShape), true)) as tf.Scalar, model.trainableVariables()));
    model.discardStatistics();
    const out: Record<string, Float32Array> = {};
    for (const [k, g] of Object.entries(grads)) out[k] = (await g.data()) as Float32Array;
    const loss = ((await value.data()) as Float32Array)[0] as number;
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, grads: out };
  } finally {
    model.dispose();
  }
}
