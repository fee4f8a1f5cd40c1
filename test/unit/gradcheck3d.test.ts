// The 3D operations of src/core/compute/ops3d.ts on wasm against cpu (value and gradients of every input),
// the composites against tfjs-core's own 3D ops on cpu (the ground truth), hand-computed up-sampling, and
// a small 3D U-Net (conv3d + instance norm + ReLU + max-pool + up-sampling + concat + softmax).
import { initialWeights, unetGrads } from '../helpers/unet-grads';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/core/compute/backend';
import { checkOpGradients, maxRelError, randomData, type Data } from '../../src/core/compute/gradcheck';
import * as ops3d from '../../src/core/compute/ops3d';
import type { UNetSpec } from '../../src/core/models/unet';
import { Rng } from '../../src/core/util/rng';

/** Measured errors are ~1e-7; this is 100× below the start-up gate of the kernels (1e-3). */
const TOL = 1e-5;
type S5 = [number, number, number, number, number];

interface ConvCase {
  x: S5;
  k: [number, number, number];
  co: number;
  strides: number;
  pad: 'same' | 'valid';
}
const CONV3D_TABLE: ConvCase[] = [];
for (const strides of [1, 2]) {
  for (const pad of ['same', 'valid'] as const) {
    CONV3D_TABLE.push({ x: [2, 5, 7, 6, 2], k: [3, 3, 3], co: 3, strides, pad }); // odd D, H
    CONV3D_TABLE.push({ x: [1, 6, 4, 5, 3], k: [3, 3, 3], co: 2, strides, pad });
    CONV3D_TABLE.push({ x: [1, 4, 5, 5, 2], k: [2, 2, 2], co: 2, strides, pad });
  }
}
CONV3D_TABLE.push({ x: [2, 3, 4, 5, 3], k: [1, 1, 1], co: 4, strides: 1, pad: 'valid' }, { x: [1, 7, 6, 5, 2], k: [3, 1, 2], co: 2, strides: 2, pad: 'same' });

const caseText = (c: ConvCase) => `x [${c.x.join(', ')}] kernel [${c.k.join(', ')}] strides ${c.strides} pad ${c.pad}`;

/** f and g (same inputs) on cpu: value and gradients of sum(f · r). */
async function compareOnCpu(f: (...xs: tf.Tensor[]) => tf.Tensor, g: (...xs: tf.Tensor[]) => tf.Tensor, inputs: Data[]) {
  await tf.setBackend('cpu');
  const run = async (fn: (...xs: tf.Tensor[]) => tf.Tensor) => {
    const xs = inputs.map((d) => tf.tensor(d.values, d.shape));
    const y = fn(...xs);
    const r = tf.tensor(randomData(y.shape, new Rng(5)).values, y.shape);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(fn(...a), r)))(xs);
    const out = { y: (await y.data()) as Float32Array, shape: y.shape, g: await Promise.all(grads.map(async (t) => (await t.data()) as Float32Array)) };
    tf.dispose([...xs, y, r, ...grads]);
    return out;
  };
  const a = await run(f);
  const b = await run(g);
  assert.deepEqual(a.shape, b.shape);
  return { forward: maxRelError(a.y, b.y), grads: a.g.map((v, i) => maxRelError(v, b.g[i]!)) };
}

function assertSmall(name: string, r: { forward: number; grads: number[] }, tol = TOL): void {
  assert.ok(r.forward <= tol, `${name}: forward ${r.forward}`);
  r.grads.forEach((e, i) => assert.ok(e <= tol, `${name}: gradient of input ${i}: ${e}`));
}

const fmt = (r: { forward: number; grads: number[] }) => `forward ${r.forward.toExponential(1)} grads ${r.grads.map((e) => e.toExponential(1)).join(' ')}`;

test('3D operations: wasm against cpu, composites against tfjs-core on cpu', async (t) => {
  await selectBackend('wasm');
  const rng = new Rng(21);

  await t.test('conv3d (strides 1, 2 × same, valid × odd sizes) equals tf.conv3d on cpu, value and gradients', async () => {
    for (const c of CONV3D_TABLE) {
      const x = randomData(c.x, rng);
      const w = randomData([...c.k, c.x[4], c.co], rng);
      // The reference pads explicitly, then runs tf.conv3d 'valid': tfjs-core 4.22's computeConv3DInfo
      // does not clamp the 'same' padding at 0 (e.g. H 4, kernel 1, stride 2 gives top = −1), so its
      // 'same' conv3d shifts the output wherever (out − 1)·s + k < in. TensorFlow (and tfjs's conv2d) clamp.
      const pads = c.x.slice(1, 4).map((size, i) => {
        if (c.pad === 'valid') return [0, 0] as [number, number];
        const out = Math.ceil(size / c.strides);
        const total = Math.max((out - 1) * c.strides + c.k[i]! - size, 0);
        return [Math.floor(total / 2), total - Math.floor(total / 2)] as [number, number];
      });
      const reference = (a: tf.Tensor, f: tf.Tensor) => tf.conv3d(tf.pad(a, [[0, 0], ...pads, [0, 0]]) as tf.Tensor5D, f as tf.Tensor5D, c.strides, 'valid');
      const r = await compareOnCpu((a, f) => ops3d.conv3d(a as tf.Tensor5D, f as tf.Tensor5D, { strides: c.strides, pad: c.pad }), (a, f) => reference(a!, f!), [x, w]);
      t.diagnostic(`conv3d vs tf.conv3d (cpu) ${fmt(r)}  ${caseText(c)}`);
      assertSmall(caseText(c), r);
    }
  });

  await t.test('conv3d, plain and with bias + ReLU: wasm matches cpu', async () => {
    for (const c of CONV3D_TABLE) {
      const x = randomData(c.x, rng);
      const w = randomData([...c.k, c.x[4], c.co], rng);
      const b = randomData([c.co], rng);
      const plain = await checkOpGradients('wasm', (a, f) => ops3d.conv3d(a as tf.Tensor5D, f as tf.Tensor5D, { strides: c.strides, pad: c.pad }), [x, w]);
      const fused = await checkOpGradients('wasm', (a, f, bb) => ops3d.conv3d(a as tf.Tensor5D, f as tf.Tensor5D, { strides: c.strides, pad: c.pad, bias: bb, activation: 'relu' }), [x, w, b]);
      t.diagnostic(`conv3d          ${fmt(plain)}  ${caseText(c)}`);
      t.diagnostic(`conv3d bias+relu ${fmt(fused)}  ${caseText(c)}`);
      assertSmall(`conv3d ${caseText(c)}`, plain);
      assertSmall(`conv3d bias+relu ${caseText(c)}`, fused);
    }
  });

  await t.test('maxPool3d (sizes 2 and 3, strides 1 and 2, same and valid, odd sizes, negative windows): wasm matches cpu', async () => {
    const cases: { x: S5; size: number; strides: number; pad: 'same' | 'valid' }[] = [
      { x: [2, 4, 6, 4, 3], size: 2, strides: 2, pad: 'valid' },
      { x: [1, 5, 7, 3, 2], size: 2, strides: 2, pad: 'valid' },
      { x: [1, 5, 7, 3, 2], size: 2, strides: 2, pad: 'same' },
      { x: [2, 5, 5, 5, 2], size: 3, strides: 2, pad: 'same' },
      { x: [1, 4, 5, 3, 2], size: 2, strides: 1, pad: 'valid' },
    ];
    for (const c of cases) {
      const r = await checkOpGradients('wasm', (a) => ops3d.maxPool3d(a as tf.Tensor5D, c.size, c.strides, c.pad), [randomData(c.x, rng, -1.5, 0.5)]);
      t.diagnostic(`maxPool3d ${fmt(r)}  x [${c.x.join(', ')}] size ${c.size} strides ${c.strides} pad ${c.pad}`);
      assertSmall(`maxPool3d x [${c.x.join(', ')}] size ${c.size}`, r);
    }
  });

  await t.test('upsample3d: hand-computed values and gradient; wasm matches cpu for factors 2, 3 and odd sizes', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor5d([1, 2, 3, 4], [1, 2, 1, 2, 1]);
    const y = ops3d.upsample3d(x, 2);
    assert.deepEqual(y.shape, [1, 4, 2, 4, 1]);
    assert.deepEqual(Array.from(await y.data()), [1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4, 3, 3, 4, 4, 3, 3, 4, 4]);
    // The gradient of nearest up-sampling sums dy over each 2×2×2 block.
    const dy = tf.tensor5d(Array.from({ length: 32 }, (_, i) => i), [1, 4, 2, 4, 1]);
    const g = tf.grad((a: tf.Tensor) => ops3d.upsample3d(a as tf.Tensor5D, 2))(x, dy);
    assert.deepEqual(Array.from(await g.data()), [0 + 1 + 4 + 5 + 8 + 9 + 12 + 13, 2 + 3 + 6 + 7 + 10 + 11 + 14 + 15, 16 + 17 + 20 + 21 + 24 + 25 + 28 + 29, 18 + 19 + 22 + 23 + 26 + 27 + 30 + 31]);
    tf.dispose([x, y, dy, g]);
    for (const [shape, f] of [
      [[2, 3, 5, 4, 3], 2],
      [[2, 2, 3, 3, 2], 3],
      [[1, 3, 1, 2, 1], 2],
    ] as [S5, number][]) {
      const r = await checkOpGradients('wasm', (a) => ops3d.upsample3d(a as tf.Tensor5D, f), [randomData(shape, rng)]);
      assert.deepEqual(r.shape, [shape[0], shape[1] * f, shape[2] * f, shape[3] * f, shape[4]]);
      t.diagnostic(`upsample3d ×${f} ${fmt(r)}  x [${shape.join(', ')}]`);
      assertSmall(`upsample3d ×${f} [${shape.join(', ')}]`, r);
    }
  });

  await t.test('concatChannels equals tf.concat on the last axis; wasm matches cpu', async () => {
    const a = randomData([2, 3, 4, 5, 2], rng);
    const b = randomData([2, 3, 4, 5, 3], rng);
    const cpu = await compareOnCpu((p, q) => ops3d.concatChannels([p!, q!]), (p, q) => tf.concat([p!, q!], -1), [a, b]);
    assert.deepEqual(cpu, { forward: 0, grads: [0, 0] });
    const r = await checkOpGradients('wasm', (p, q) => ops3d.concatChannels([p!, q!]), [a, b]);
    assert.deepEqual(r.shape, [2, 3, 4, 5, 5]);
    assertSmall('concatChannels', r);
    assert.throws(() => ops3d.concatChannels([tf.zeros([1, 2, 2, 2, 1]), tf.zeros([1, 2, 3, 2, 1])]), { message: 'concatChannels: all tensors must agree on every axis but the last, got shapes [1, 2, 2, 2, 1] and [1, 2, 3, 2, 1]' });
  });

  await t.test('instance norm + ReLU and softmax over channels (rank 5): wasm matches cpu', async () => {
    const x = randomData([2, 3, 4, 5, 3], rng);
    const gamma = randomData([3], rng, 0.5, 1.5);
    const beta = randomData([3], rng);
    const norm = await checkOpGradients('wasm', (a, g, b) => tf.relu(ops3d.instanceNorm(a!, g!, b!)), [x, gamma, beta]);
    t.diagnostic(`instanceNorm+relu ${fmt(norm)}`);
    assertSmall('instanceNorm + relu', norm);
    const sm = await checkOpGradients('wasm', (a) => tf.softmax(a!, -1), [x]);
    t.diagnostic(`softmax ${fmt(sm)}`);
    assertSmall('softmax', sm);
  });

  await t.test("tf.conv3d's wrong wasm gradient kernels are disabled with an explanation", async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([1, 4, 4, 4, 1]) as tf.Tensor5D;
    const w = tf.ones([2, 2, 2, 1, 1]) as tf.Tensor5D;
    assert.equal((await tf.conv3d(x, w, 1, 'valid').data())[0], 8); // the forward still runs
    assert.throws(() => tf.grad((a: tf.Tensor) => tf.conv3d(a as tf.Tensor5D, w, 2, 'valid'))(x), {
      message:
        "Conv3DBackpropInputV2 on wasm: tfjs-backend-wasm's kernel gives wrong values at every stride, so it is disabled. tf.conv3d can run forward on wasm but not be trained, and tf.conv3dTranspose does not run; use ops3d.conv3d and ops3d.upsample3d from src/core/compute/ops3d.ts (correct gradients on every backend), or the cpu backend",
    });
    tf.dispose([x, w]);
  });

  await t.test('argument errors name the shapes', () => {
    const x = tf.zeros([1, 4, 4, 4, 2]) as tf.Tensor5D;
    assert.throws(() => ops3d.conv3d(x, tf.zeros([3, 3, 3, 3, 4]) as tf.Tensor5D), { message: 'conv3d: filter shape [3, 3, 3, 3, 4] expects 3 input channels but x shape [1, 4, 4, 4, 2] has 2' });
    assert.throws(() => ops3d.conv3d(x, tf.zeros([3, 3, 3, 2, 4]) as tf.Tensor5D, { bias: tf.zeros([3]) }), { message: "conv3d: bias must have shape [4] (the filter's output channels), got [3]" });
    assert.throws(() => ops3d.conv3d(x, tf.zeros([5, 3, 3, 2, 4]) as tf.Tensor5D, { pad: 'valid' }), { message: "conv3d: 'valid' padding needs x at least as large as the kernel [5, 3, 3], got x shape [1, 4, 4, 4, 2]" });
    assert.throws(() => ops3d.upsample3d(x, 1.5), { message: 'upsample3d: factor must be a positive integer, got 1.5' });
  });

  await t.test('a 3D U-Net (instance norm, softmax): loss gradients on wasm match cpu', async () => {
    const spec: UNetSpec = { dims: 3, inChannels: 1, numClasses: 3, depth: 2, filters: 2, norm: 'instance', dropout: 0, head: 'softmax', seed: 4 };
    const xShape = [2, 6, 8, 4, 1];
    const n = 2 * 6 * 8 * 4;
    const r2 = new Rng(9);
    const x = Float32Array.from({ length: n }, () => r2.normal());
    const labels = Uint8Array.from(x, (v) => (v > 0.5 ? 2 : v < -0.5 ? 1 : 0));
    const weights = await initialWeights(spec);
    const ref = await unetGrads('cpu', spec, weights, x, xShape, labels);
    const ours = await unetGrads('wasm', spec, weights, x, xShape, labels);
    assert.ok(Math.abs(ours.loss - ref.loss) <= TOL * Math.abs(ref.loss), `loss ${ours.loss} vs ${ref.loss}`);
    const errors = Object.keys(ref.grads).map((k) => ({ k, e: maxRelError(ours.grads[k]!, ref.grads[k]!) })).sort((p, q) => q.e - p.e);
    t.diagnostic(`worst gradient: ${errors[0]!.k} ${errors[0]!.e.toExponential(1)} over ${errors.length} weights`);
    for (const w of errors) assert.ok(w.e <= TOL, `${w.k}: ${w.e}`);
  });
});
