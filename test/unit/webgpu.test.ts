// The webgpu backend against cpu: selection (auto only with a hardware adapter), the replacement
// convolution gradients, whole 2D and 3D U-Net gradients, and the trainer's step with async reads.
// Runs wherever Dawn finds an adapter (in CI: Mesa 25 lavapipe from bookworm-backports, installed by
// .ci/webgpu.sh); skipped with the reason printed otherwise.
import { initialWeights, unetGrads } from '../helpers/unet-grads';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { resetBackendSelection, selectBackend } from '../../src/core/compute/backend';
import { checkConvCases, GRADCHECK_TOLERANCE, maxRelError, type ConvCase } from '../../src/core/compute/gradcheck';
import { collapsePadding, describeAdapter, requestAdapter } from '../../src/core/compute/webgpu';
import { createLoss } from '../../src/core/losses';
import { UNet, type UNetSpec } from '../../src/core/models/unet';
import { trainStep } from '../../src/core/train/trainer';
import { Rng } from '../../src/core/util/rng';

const req = createRequire(__filename);
const requireModule = (name: string) => ({ module: req(name) as unknown, path: req.resolve(name) });

/** The same op on webgpu and cpu, from the same inputs: max relative error and the shapes. */
async function opAgainstCpu(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: { values: Float32Array; shape: number[] }[]) {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const ts = inputs.map((i) => tf.tensor(i.values, i.shape));
    const y = f(...ts);
    const out = { values: (await y.data()) as Float32Array, shape: y.shape };
    [...ts, y].forEach((t) => t.dispose());
    return out;
  };
  const ref = await run('cpu');
  const gpu = await run('webgpu');
  return { error: maxRelError(gpu.values, ref.values), shape: gpu.shape, refShape: ref.shape };
}

/**
 * Gradients of a small U-Net on webgpu against a reference backend. The 3D reference is wasm, not cpu:
 * tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad reads dy at the wrong offset for batch > 1 (it
 * uses the image's batch stride), and ops3d.upsample3d resizes a [N·D, H, W, C] batch.
 */
async function compareUnet(spec: UNetSpec, xShape: number[], reference: 'cpu' | 'wasm') {
  const rng = new Rng(99);
  if (reference === 'wasm') {
    resetBackendSelection();
    await selectBackend('wasm', { gradientCheck: false });
    resetBackendSelection();
    await selectBackend('webgpu');
  }
  // Weights made on cpu, then loaded on both backends.
  const weights = await initialWeights(spec);
  const n = xShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n }, () => rng.normal());
  const labels = Uint8Array.from({ length: n / (xShape[xShape.length - 1] as number) }, () => rng.int(spec.numClasses));
  const cpu = await unetGrads(reference, spec, weights, x, xShape, labels);
  const gpu = await unetGrads('webgpu', spec, weights, x, xShape, labels);
  assert.ok(Math.abs(cpu.loss - gpu.loss) <= 1e-5 * Math.max(1, Math.abs(cpu.loss)), `loss: ${reference} ${cpu.loss}, webgpu ${gpu.loss}`);
  const errors = Object.keys(cpu.grads).map((k) => ({ k, e: maxRelError(gpu.grads[k] as Float32Array, cpu.grads[k] as Float32Array) }));
  const bad = errors.filter(({ e }) => !(e <= GRADCHECK_TOLERANCE));
  assert.deepEqual(bad, [], `gradients differing from ${reference} by more than ${GRADCHECK_TOLERANCE}: ${bad.map(({ k, e }) => `${k} ${e.toExponential(2)}`).join(', ')}`);
  assert.equal(errors.length, Object.keys(weights).filter((k) => !k.includes('moving')).length);
}

test('collapsePadding merges unpadded axes into the axis outside them', () => {
  const table: { shape: number[]; paddings: [number, number][]; want: { shape: number[]; paddings: [number, number][] } }[] = [
    // conv2dTranspose's zero insertion: [n, h, 1, w, 1, c] padded after the two unit axes
    { shape: [4, 64, 1, 64, 1, 32], paddings: [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]], want: { shape: [256, 64, 32], paddings: [[0, 0], [0, 64], [0, 32]] } },
    // 3D depth padding of [n, d, h, w, c]
    { shape: [2, 32, 32, 32, 8], paddings: [[0, 0], [1, 1], [0, 0], [0, 0], [0, 0]], want: { shape: [2, 32 * 8192], paddings: [[0, 0], [8192, 8192]] } },
    // the outermost axis is kept even without padding; nothing to merge into
    { shape: [3, 5], paddings: [[0, 0], [2, 0]], want: { shape: [3, 5], paddings: [[0, 0], [2, 0]] } },
    { shape: [2, 3, 4], paddings: [[0, 0], [0, 0], [0, 0]], want: { shape: [24], paddings: [[0, 0]] } },
    { shape: [2, 3, 4, 5, 6], paddings: [[1, 0], [0, 1], [1, 1], [0, 2], [3, 0]], want: { shape: [2, 3, 4, 5, 6], paddings: [[1, 0], [0, 1], [1, 1], [0, 2], [3, 0]] } },
  ];
  for (const row of table) assert.deepEqual(collapsePadding(row.shape, row.paddings), row.want, JSON.stringify(row));
});

test('describeAdapter: software adapters are recognised, hardware ones are not', () => {
  const none = { features: { has: () => false }, limits: {}, requestDevice: async () => ({}) };
  const table: { info: Record<string, string | boolean>; fallback?: boolean; text: string; software: boolean }[] = [
    { info: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7' }, text: 'mesa, software, llvmpipe-llvm-15-0-6-256-bits-, llvmpipe: Mesa 25.0.7', software: true },
    { info: { vendor: 'google', architecture: '', device: 'swiftshader', description: 'SwiftShader device' }, text: 'google, swiftshader, SwiftShader device', software: true },
    { info: { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA: 550.54' }, text: 'nvidia, hopper, NVIDIA H100 80GB HBM3, NVIDIA: 550.54', software: false },
    { info: { vendor: 'amd', description: 'AMD Radeon' }, fallback: true, text: 'amd, AMD Radeon', software: true },
    { info: {}, text: 'unknown adapter', software: false },
  ];
  for (const row of table) assert.deepEqual(describeAdapter({ ...none, info: row.info, isFallbackAdapter: row.fallback }), { text: row.text, software: row.software });
});

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

  // Invalid shaders and bind groups do not throw: Dawn reports them as uncaptured errors and the
  // results are silently wrong. Every one raised during these tests is collected and fails the last test.
  const deviceErrors: string[] = [];

  await t.test('backend: webgpu is selectable and reports its adapter', async () => {
    resetBackendSelection();
    const info = await selectBackend('webgpu');
    const device = (tf.backend() as unknown as { device: { addEventListener(type: string, f: (e: { error: { message: string } }) => void): void } }).device;
    device.addEventListener('uncapturederror', (e) => deviceErrors.push(e.error.message.split('\n')[0] ?? ''));
    assert.equal(info.name, 'webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    assert.equal(info.versions['@tensorflow/tfjs-backend-webgpu'], '4.22.0');
    assert.equal(info.versions['webgpu adapter'], adapter.description.text);
    assert.match(info.versions.webgpu ?? '', /^0\.\d+\.\d+$/);
  });

  await t.test('wrapped webgpu kernels match cpu: pad, where and vector-broadcast binary ops of rank 5 and 6, addN of many tensors', async () => {
    const rng = new Rng(3);
    const rand = (shape: number[]) => ({ values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape });
    const cases: { name: string; f: (...xs: tf.Tensor[]) => tf.Tensor; inputs: ReturnType<typeof rand>[]; shape: number[] }[] = [
      { name: 'pad rank 6 (zero insertion of conv2dTranspose)', f: (x) => tf.pad(x as tf.Tensor, [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]]), inputs: [rand([2, 3, 1, 4, 1, 3])], shape: [2, 3, 2, 4, 2, 3] },
      { name: 'pad rank 5, depth and width', f: (x) => tf.pad(x as tf.Tensor, [[0, 0], [1, 2], [0, 0], [2, 1], [0, 0]], 0.5), inputs: [rand([2, 3, 4, 5, 2])], shape: [2, 6, 4, 8, 2] },
      { name: 'pad rank 5, batch axis', f: (x) => tf.pad(x as tf.Tensor, [[1, 0], [0, 0], [0, 0], [0, 0], [0, 1]]), inputs: [rand([1, 2, 3, 2, 2])], shape: [2, 2, 3, 2, 3] },
      { name: 'bias add rank 5', f: (a, b) => tf.add(a as tf.Tensor, b as tf.Tensor), inputs: [rand([2, 3, 4, 5, 6]), rand([6])], shape: [2, 3, 4, 5, 6] },
      { name: 'vector times rank 5', f: (a, b) => tf.mul(a as tf.Tensor, b as tf.Tensor), inputs: [rand([3]), rand([2, 3, 4, 5, 3])], shape: [2, 3, 4, 5, 3] },
      { name: 'vector minus rank 6', f: (a, b) => tf.sub(a as tf.Tensor, b as tf.Tensor), inputs: [rand([4]), rand([2, 1, 3, 2, 2, 4])], shape: [2, 1, 3, 2, 2, 4] },
      { name: 'addN of 5 tensors', f: (...xs) => tf.addN(xs), inputs: [1, 2, 3, 4, 5].map(() => rand([3, 4])), shape: [3, 4] },
      { name: 'addN of 17 tensors (a gradient norm)', f: (...xs) => tf.addN(xs), inputs: Array.from({ length: 17 }, () => rand([2, 3])), shape: [2, 3] },
      { name: 'where rank 5', f: (a, b) => tf.where(tf.greater(a as tf.Tensor, 0), a as tf.Tensor, b as tf.Tensor), inputs: [rand([2, 3, 4, 5, 2]), rand([2, 3, 4, 5, 2])], shape: [2, 3, 4, 5, 2] },
      { name: 'gradient of clipByValue rank 5', f: (a) => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(x, -0.5, 0.5), x)))(a as tf.Tensor), inputs: [rand([2, 3, 4, 5, 2])], shape: [2, 3, 4, 5, 2] },
    ];
    for (const c of cases) {
      const r = await opAgainstCpu(c.f, c.inputs);
      assert.deepEqual(r.shape, c.shape, c.name);
      assert.deepEqual(r.refShape, c.shape, c.name);
      // Exact, up to float rounding where the summation order differs (addN).
      assert.ok(r.error <= 1e-6, `${c.name}: max relative error ${r.error}`);
    }
  });

  await t.test('conv2d gradient kernels (Conv2DBackpropFilter, Conv2DBackpropInput) match cpu', async () => {
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
    await compareUnet({ dims: 2, inChannels: 1, numClasses: 2, depth: 2, filters: 4, norm: 'batch', dropout: 0, head: 'sigmoid', seed: 3 }, [2, 12, 10, 1], 'cpu');
  });

  await t.test('nearest-neighbour resize gradient, batch 2 (hand-computed)', async () => {
    await tf.setBackend('webgpu');
    const x = tf.zeros([2, 2, 2, 3]);
    const dy = tf.tensor(Array.from({ length: 96 }, (_, i) => (i * 7) % 13), [2, 4, 4, 3]);
    const g = tf.engine().runKernel('ResizeNearestNeighborGrad', { images: x, dy }, { alignCorners: false, halfPixelCenters: false }) as tf.Tensor;
    // dx[b, r, c, d] = Σ over the 2×2 block of dy[b, 2r + i, 2c + j, d]
    assert.deepEqual(Array.from(await g.data()), [15, 17, 19, 27, 29, 31, 24, 26, 15, 23, 25, 27, 33, 22, 24, 19, 21, 23, 29, 31, 33, 15, 17, 19]);
    [x, dy, g].forEach((t) => t.dispose());
  });

  await t.test('3D U-Net gradients (composite conv3d, pooling, up-sampling, softmax) match wasm', async () => {
    await compareUnet({ dims: 3, inChannels: 1, numClasses: 3, depth: 2, filters: 2, norm: 'none', dropout: 0, head: 'softmax', seed: 4 }, [2, 6, 8, 4, 1], 'wasm');
  });

  await t.test("the trainer's step runs with async reads and a constant tensor count", async () => {
    await tf.setBackend('webgpu');
    const spec: UNetSpec = { dims: 2, inChannels: 1, numClasses: 2, depth: 2, filters: 4, norm: 'none', dropout: 0, head: 'softmax', seed: 5 };
    const model = new UNet(spec);
    const optimizer = tf.train.adam(1e-2);
    t.after(() => {
      model.dispose();
      optimizer.dispose();
    });
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
  });

  await t.test('no WebGPU validation errors were raised', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(deviceErrors, []);
  });
});
