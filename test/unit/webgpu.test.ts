// The webgpu backend against cpu: selection (auto only with a hardware adapter), the replacement
// convolution gradients, whole 2D and 3D U-Net gradients, and the trainer's step with async reads.
// Runs wherever Dawn finds an adapter (in CI: Mesa 25 lavapipe from bookworm-backports, installed by
// .ci/webgpu.sh); skipped with the reason printed otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { resetBackendSelection, selectBackend } from '../../src/core/compute/backend';
import { checkConvCases, GRADCHECK_TOLERANCE, maxRelError, type ConvCase } from '../../src/core/compute/gradcheck';
import { requestAdapter } from '../../src/core/compute/webgpu';
import { createLoss } from '../../src/core/losses';
import { UNet, type UNetSpec } from '../../src/core/models/unet';
import { oneHot, trainStep } from '../../src/core/train/trainer';
import { Rng } from '../../src/core/util/rng';

const req = createRequire(__filename);
const requireModule = (name: string) => ({ module: req(name) as unknown, path: req.resolve(name) });

/** Gradients of one training loss of a U-Net with the given weights, on one backend. */
async function unetGrads(backend: string, spec: UNetSpec, weights: Record<string, { values: Float32Array; shape: number[] }>, x: Float32Array, xShape: number[], labels: Uint8Array) {
  await tf.setBackend(backend);
  const model = new UNet(spec);
  const named: Record<string, tf.Tensor> = {};
  for (const [k, w] of Object.entries(weights)) named[k] = tf.tensor(w.values, w.shape);
  model.load(named, 'test weights');
  Object.values(named).forEach((t) => t.dispose());
  const lossFn = createLoss('dscpp');
  const vars = model.trainableVariables();
  const spatial = xShape.slice(0, -1);
  const { value, grads } = tf.variableGrads(() => lossFn(tf.tensor(oneHot(labels, spec.numClasses), [...spatial, spec.numClasses]), model.predict(tf.tensor(x, xShape), true)) as tf.Scalar, vars);
  model.discardStatistics();
  const out: Record<string, Float32Array> = {};
  for (const [k, g] of Object.entries(grads)) out[k] = (await g.data()) as Float32Array;
  const loss = ((await value.data()) as Float32Array)[0] as number;
  value.dispose();
  Object.values(grads).forEach((g) => g.dispose());
  model.dispose();
  return { loss, grads: out };
}

async function compareUnet(spec: UNetSpec, xShape: number[]) {
  const rng = new Rng(99);
  // Weights made on cpu, then loaded on both backends.
  await tf.setBackend('cpu');
  const ref = new UNet(spec);
  const weights: Record<string, { values: Float32Array; shape: number[] }> = {};
  for (const [k, t] of Object.entries(ref.namedTensors())) weights[k] = { values: (await t.data()) as Float32Array, shape: t.shape };
  ref.dispose();
  const n = xShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n }, () => rng.normal());
  const labels = Uint8Array.from({ length: n / (xShape[xShape.length - 1] as number) }, () => rng.int(spec.numClasses));
  const cpu = await unetGrads('cpu', spec, weights, x, xShape, labels);
  const gpu = await unetGrads('webgpu', spec, weights, x, xShape, labels);
  assert.ok(Math.abs(cpu.loss - gpu.loss) <= 1e-5 * Math.max(1, Math.abs(cpu.loss)), `loss: cpu ${cpu.loss}, webgpu ${gpu.loss}`);
  const errors = Object.keys(cpu.grads).map((k) => ({ k, e: maxRelError(gpu.grads[k] as Float32Array, cpu.grads[k] as Float32Array) }));
  const bad = errors.filter(({ e }) => !(e <= GRADCHECK_TOLERANCE));
  assert.deepEqual(bad, [], `gradients differing from cpu by more than ${GRADCHECK_TOLERANCE}: ${bad.map(({ k, e }) => `${k} ${e.toExponential(2)}`).join(', ')}`);
  assert.equal(errors.length, Object.keys(weights).filter((k) => !k.includes('moving')).length);
}

test('webgpu backend (against cpu)', async (t) => {
  const adapter = await requestAdapter(requireModule);
  if ('reason' in adapter) {
    console.log(`webgpu tests skipped: ${adapter.reason}`);
    t.skip(adapter.reason);
    return;
  }
  console.log(`webgpu adapter: ${adapter.description.text}${adapter.description.software ? ' (software)' : ''}`);

  await t.test('auto picks webgpu only with a hardware adapter', async () => {
    resetBackendSelection();
    const info = await selectBackend('auto', { gradientCheck: false });
    const skip = info.skipped.find((s) => s.name === 'webgpu');
    if (adapter.description.software) {
      assert.notEqual(info.name, 'webgpu');
      assert.equal(skip?.reason, `only a software adapter (${adapter.description.text}); auto skips it, set backend: webgpu to use it anyway`);
    } else if (info.name !== 'tensorflow' && info.name !== 'tensorflow-gpu') {
      assert.equal(info.name, 'webgpu');
    }
  });

  await t.test('backend: webgpu is selectable and reports its adapter', async () => {
    resetBackendSelection();
    const info = await selectBackend('webgpu');
    assert.equal(info.name, 'webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    assert.equal(info.versions['@tensorflow/tfjs-backend-webgpu'], '4.22.0');
    assert.equal(info.versions['webgpu adapter'], adapter.description.text);
    assert.match(info.versions.webgpu ?? '', /^0\.\d+\.\d+$/);
  });

  await t.test('conv2d gradients as forward convolutions match cpu kernels', async () => {
    await tf.setBackend('webgpu');
    const cases: ConvCase[] = [
      { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
      { x: [2, 7, 6, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'same' },
      { x: [1, 9, 7, 2], filter: [3, 3, 2, 3], strides: 2, pad: 'valid' },
      { x: [1, 8, 8, 4], filter: [2, 2, 4, 2], strides: 2, pad: 'same' },
      { x: [2, 5, 9, 3], filter: [1, 1, 3, 5], strides: 1, pad: 'valid' },
    ];
    const r = await checkConvCases(cases);
    assert.equal(tf.getBackend(), 'webgpu');
    for (const c of r) {
      assert.ok(c.filterError <= GRADCHECK_TOLERANCE, `filter gradient ${JSON.stringify(c.case)}: ${c.filterError}`);
      assert.ok(c.inputError <= GRADCHECK_TOLERANCE, `input gradient ${JSON.stringify(c.case)}: ${c.inputError}`);
    }
  });

  await t.test('2D U-Net gradients (batch norm, sigmoid head, conv2dTranspose) match cpu', async () => {
    await compareUnet({ dims: 2, inChannels: 1, numClasses: 2, depth: 2, filters: 4, norm: 'batch', dropout: 0, head: 'sigmoid', seed: 3 }, [2, 12, 10, 1]);
  });

  await t.test('3D U-Net gradients (composite conv3d, pooling, up-sampling, softmax) match cpu', async () => {
    await compareUnet({ dims: 3, inChannels: 1, numClasses: 3, depth: 2, filters: 2, norm: 'none', dropout: 0, head: 'softmax', seed: 4 }, [1, 6, 8, 4, 1]);
  });

  await t.test("the trainer's step runs with async reads and a constant tensor count", async () => {
    await tf.setBackend('webgpu');
    const spec: UNetSpec = { dims: 2, inChannels: 1, numClasses: 2, depth: 2, filters: 4, norm: 'none', dropout: 0, head: 'softmax', seed: 5 };
    const model = new UNet(spec);
    const optimizer = tf.train.adam(1e-2);
    const rng = new Rng(1);
    const labels = Uint8Array.from({ length: 2 * 16 * 16 }, (_, i) => (i % 16 > 7 ? 1 : 0));
    const x = Float32Array.from(labels, (l) => l * 2 - 1 + 0.3 * rng.normal());
    const batch = { ids: ['a', 'b'], x, labels, shape: [2, 16, 16, 1] };
    const losses: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = trainStep(model, optimizer, createLoss('dice'), model.trainableVariables(), batch, 2);
      const [loss, norm] = (await r.data()) as Float32Array;
      r.dispose();
      assert.ok(Number.isFinite(loss) && Number.isFinite(norm), `step ${i}: loss ${loss}, norm ${norm}`);
      losses.push(loss as number);
      counts.push(tf.memory().numTensors);
    }
    assert.ok((losses[5] as number) < (losses[0] as number), `the loss did not fall: ${losses.join(' → ')}`);
    assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts after each step: ${counts.join(', ')}`);
    model.dispose();
    optimizer.dispose();
  });
});
