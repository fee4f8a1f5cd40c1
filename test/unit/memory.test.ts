// Training holds a constant tensor count (issue 7, memory): the trainer's step on the default backend
// (wasm) leaves the number of live tensors unchanged from the second step on (the first creates the
// optimizer's slots), for 2D with batch norm and for 3D, and disposing the model and the optimizer
// returns to the count before they were made. The RSS figures (growth between steps 100 and 1000,
// streaming 5,000 images) are measured by the benchmark: `npm run bench -- --only memory,stream`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/core/compute/backend';
import { createLoss } from '../../src/core/losses';
import { UNet, type UNetSpec } from '../../src/core/models/unet';
import { trainStep } from '../../src/core/train/trainer';
import { Rng } from '../../src/core/util/rng';

async function countsOverSteps(spec: UNetSpec, inputShape: number[], steps: number): Promise<{ baseline: number; perStep: number[]; afterDispose: number; losses: number[] }> {
  await selectBackend('wasm');
  const baseline = tf.memory().numTensors;
  const model = new UNet(spec);
  const optimizer = tf.train.adam(1e-2);
  const loss = createLoss('dscpp');
  const rng = new Rng(2);
  const voxels = inputShape.slice(0, -1).reduce((a, b) => a * b, 1);
  const labels = Uint8Array.from({ length: voxels }, (_, i) => (i % 7 < 3 ? 1 : 0) * (1 + (i % (spec.numClasses - 1))));
  const x = Float32Array.from(labels, (l) => l - 0.5 + 0.2 * rng.normal());
  const batch = { ids: ['a'], x, labels, shape: inputShape };
  const perStep: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const r = trainStep(model, optimizer, loss, model.trainableVariables(), batch, spec.numClasses);
    model.commitStatistics();
    losses.push(((await r.data()) as Float32Array)[0] as number);
    r.dispose();
    perStep.push(tf.memory().numTensors);
  }
  model.dispose();
  optimizer.dispose();
  return { baseline, perStep, afterDispose: tf.memory().numTensors, losses };
}

test('2D (batch norm): constant tensor count over training steps, nothing left after dispose', async () => {
  const spec: UNetSpec = { dims: 2, inChannels: 1, numClasses: 2, depth: 2, filters: 4, norm: 'batch', dropout: 0.1, head: 'softmax', seed: 1 };
  const r = await countsOverSteps(spec, [2, 16, 16, 1], 6);
  assert.equal(new Set(r.perStep.slice(1)).size, 1, `tensor counts after each step: ${r.perStep.join(', ')}`);
  // Weights (2 per conv + gamma/beta instead of bias) and Adam's 2 slots each, plus batch-norm state.
  assert.ok((r.perStep[0] as number) > r.baseline);
  assert.equal(r.afterDispose, r.baseline, `tensors before the model ${r.baseline}, after disposing it ${r.afterDispose}`);
  assert.ok(r.losses.every(Number.isFinite), `losses ${r.losses.join(', ')}`);
});

test('3D: constant tensor count over training steps, nothing left after dispose', async () => {
  const spec: UNetSpec = { dims: 3, inChannels: 1, numClasses: 3, depth: 2, filters: 2, norm: 'none', dropout: 0, head: 'softmax', seed: 1 };
  const r = await countsOverSteps(spec, [1, 8, 8, 8, 1], 4);
  assert.equal(new Set(r.perStep.slice(1)).size, 1, `tensor counts after each step: ${r.perStep.join(', ')}`);
  assert.equal(r.afterDispose, r.baseline, `tensors before the model ${r.baseline}, after disposing it ${r.afterDispose}`);
  assert.ok(r.losses.every(Number.isFinite), `losses ${r.losses.join(', ')}`);
});
