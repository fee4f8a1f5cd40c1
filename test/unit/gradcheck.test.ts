// The wasm replacement kernels (src/core/compute/wasm-kernels.ts) against the cpu backend:
//  - each kernel on its own, over a table of strides, paddings (same, valid, explicit) and odd sizes;
//  - tf.grad of conv2d, conv2dTranspose and fused conv2d (bias + relu, bias + linear) through them;
//  - hand-computed max-pooling values where wasm's built-in pooling is wrong (all-negative windows);
//  - a small 2D U-Net's loss gradients (batch norm, ReLU, max-pool, conv2dTranspose, concat, softmax);
//  - no leaked wasm memory, and the built-in kernels that are replaced are still missing or wrong.
import { initialWeights, unetGrads } from '../helpers/unet-grads';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/core/compute/backend';
import { fusedConv2d } from '../../src/core/compute/conv2d';
import { checkOpGradients, checkReplacement, GRADCHECK_TOLERANCE, maxRelError, randomData, runKernelDirect, type ConvCase, type Pool3dCase, type PoolCase, type SliceCase, type SplitCase, type ConcatCase } from '../../src/core/compute/gradcheck';
import { builtinKernel, isReplaced, WASM_REPLACEMENTS, type ReplacementKernel } from '../../src/core/compute/wasm-kernels';
import type { UNetSpec } from '../../src/core/models/unet';
import { Rng } from '../../src/core/util/rng';

/** What the tests require: 1000× tighter than the start-up gate (GRADCHECK_TOLERANCE); measured errors are ~1e-7. */
const TOL = 1e-5;

type S4 = [number, number, number, number];
const SIZES: { name: string; x: S4 }[] = [
  { name: 'odd 7×9', x: [2, 7, 9, 3] },
  { name: 'even 8×8', x: [1, 8, 8, 2] },
  { name: 'mixed 9×6', x: [2, 9, 6, 3] },
];

/** strides 1, 2 × same, valid × the sizes above, 3×3 filters; plus 1×1, 2×2 (U-Net up-sampling) and 5×5 filters, asymmetric strides and explicit padding. */
const CONV_TABLE: ConvCase[] = [];
for (const strides of [1, 2]) for (const pad of ['same', 'valid'] as const) for (const s of SIZES) CONV_TABLE.push({ x: s.x, filter: [3, 3, s.x[3], 4], strides, pad });
CONV_TABLE.push(
  { x: [2, 5, 7, 3], filter: [1, 1, 3, 5], strides: 1, pad: 'valid' },
  { x: [2, 6, 6, 4], filter: [2, 2, 4, 3], strides: 2, pad: 'same' },
  { x: [1, 7, 7, 2], filter: [2, 2, 2, 3], strides: 2, pad: 'valid' },
  { x: [1, 9, 11, 2], filter: [5, 5, 2, 3], strides: 2, pad: 'same' },
  { x: [1, 9, 8, 2], filter: [3, 3, 2, 2], strides: [1, 2], pad: 'same' },
  { x: [1, 7, 9, 2], filter: [3, 3, 2, 2], strides: [2, 1], pad: 'valid' },
  { x: [1, 7, 9, 2], filter: [3, 3, 2, 2], strides: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [1, 6, 6, 2], filter: [3, 3, 2, 2], strides: 1, pad: [[0, 0], [3, 0], [0, 4], [0, 0]] },
  // Kernel 1 on an even axis with stride 2 next to kernel > 1: wasm's built-in 'same' convolutions shift these.
  { x: [2, 6, 5, 2], filter: [1, 2, 2, 3], strides: 2, pad: 'same' },
  { x: [1, 5, 6, 3], filter: [3, 1, 3, 2], strides: 2, pad: 'same' },
);

const POOL_TABLE: PoolCase[] = [
  { x: [2, 6, 6, 3], size: 2, strides: 2, pad: 'valid' },
  { x: [1, 4, 6, 1], size: 2, strides: 2, pad: 'valid' },
  { x: [1, 7, 9, 2], size: 2, strides: 2, pad: 'valid' },
  { x: [1, 7, 9, 2], size: 2, strides: 2, pad: 'same' },
  { x: [2, 7, 5, 2], size: 3, strides: 2, pad: 'same' },
  { x: [1, 6, 7, 2], size: 3, strides: 1, pad: 'same' },
  { x: [1, 8, 8, 2], size: [2, 3], strides: [2, 1], pad: 'valid' },
];

const POOL3D_TABLE: Pool3dCase[] = [
  { x: [2, 4, 6, 4, 3], size: 2, strides: 2, pad: 'valid' },
  { x: [1, 5, 7, 3, 2], size: 2, strides: 2, pad: 'valid' },
  { x: [1, 5, 7, 3, 2], size: 2, strides: 2, pad: 'same' },
  { x: [1, 5, 7, 3, 2], size: 3, strides: 2, pad: 'same' },
  { x: [2, 3, 5, 4, 2], size: 2, strides: 1, pad: 'valid' },
];

const SLICE_TABLE: SliceCase[] = [
  { x: [3, 7], begin: [1, 2], size: [2, 4] },
  { x: [5, 6, 3], begin: [1, 0, 1], size: [3, 6, 1] },
  { x: [2, 5, 6, 3], begin: [0, 1, 0, 0], size: [2, 3, 6, 3] },
  { x: [2, 5, 6, 3], begin: [1, 1, 2, 1], size: [1, 4, 3, 2] },
  { x: [4, 128, 128, 32], begin: [0, 0, 0, 16], size: [4, 128, 128, 16] },
  { x: [2, 3, 4, 5, 3], begin: [0, 1, 0, 2, 0], size: [2, 2, 4, 3, 3] },
  { x: [2, 3, 1, 4, 2, 3], begin: [1, 0, 0, 1, 0, 1], size: [1, 3, 1, 2, 2, 2] },
  { x: [4, 6], begin: [0, 0], size: [4, 6] },
  { x: [4, 6], begin: [2, 0], size: [0, 6] },
];
const SPLIT_TABLE: SplitCase[] = [
  { x: [2, 5, 6, 7], sizes: [3, 4], axis: 3 },
  { x: [2, 5, 6, 6], sizes: 3, axis: 3 },
  { x: [2, 5, 6, 3], sizes: [2, -1], axis: 1 },
  { x: [2, 3, 4, 5, 5], sizes: [1, 4], axis: 4 },
  { x: [4, 64, 64, 64], sizes: [32, 32], axis: 3 },
  { x: [7, 3], sizes: [1, 2, 4], axis: 0 },
];

const CONCAT_TABLE: ConcatCase[] = [
  { xs: [[2, 5, 6, 3], [2, 5, 6, 4]], axis: 3 },
  { xs: [[2, 5, 6, 3], [2, 5, 6, 4]], axis: -1 },
  { xs: [[2, 5, 6, 3], [2, 2, 6, 3], [2, 1, 6, 3]], axis: 1 },
  { xs: [[3, 4], [2, 4]], axis: 0 },
  { xs: [[4, 128, 128, 16], [4, 128, 128, 16]], axis: 3 },
  { xs: [[2, 3, 4, 5, 40], [2, 3, 4, 5, 1]], axis: 4 },
  { xs: [[2, 3], [2, 0], [2, 2]], axis: 1 },
];

function label(c: ConvCase): string {
  return `x [${c.x.join(', ')}] filter [${c.filter.join(', ')}] strides ${JSON.stringify(c.strides)} pad ${JSON.stringify(c.pad)}`;
}

test('wasm replacement kernels against cpu', async (t) => {
  const info = await selectBackend('wasm');

  await t.test('selectBackend registered every replacement after its start-up check', () => {
    assert.deepEqual(
      info.kernels.map((k) => k.name),
      WASM_REPLACEMENTS.map((r) => r.kernelName),
    );
    for (const k of info.kernels) assert.ok(k.maxRelError <= GRADCHECK_TOLERANCE, `${k.name}: ${k.maxRelError}`);
    for (const r of WASM_REPLACEMENTS) assert.ok(isReplaced(r.kernelName, 'wasm'), r.kernelName);
  });

  await t.test('each kernel over the full table of strides, paddings and sizes', () => {
    const rows: string[] = [];
    for (const r of WASM_REPLACEMENTS) {
      const c = checkReplacement(r, 'wasm', { conv: CONV_TABLE, pool: POOL_TABLE, pool3d: POOL3D_TABLE, slice: SLICE_TABLE, split: SPLIT_TABLE, concat: CONCAT_TABLE }, 42);
      assert.ok(c.cases.length >= 5, `${r.kernelName}: ${c.cases.length} cases`);
      for (const e of c.cases) {
        rows.push(`${r.kernelName.padEnd(21)} ${e.maxRelError.toExponential(1)}  ${e.case}`);
        assert.ok(e.maxRelError <= TOL, `${r.kernelName} ${e.case}: max relative error ${e.maxRelError}`);
      }
    }
    rows.forEach((r) => t.diagnostic(r));
  });

  await t.test('tf.grad of conv2d, conv2dTranspose, fused conv2d and our fusedConv2d on wasm match cpu', async () => {
    const rng = new Rng(7);
    const rows: string[] = [];
    for (const c of CONV_TABLE) {
      const x = randomData(c.x, rng);
      const w = randomData(c.filter, rng);
      const bias = randomData([c.filter[3]], rng);
      const yShape = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad).outShape;
      const dy = randomData(yShape, rng);
      const pad = c.pad as 'same' | 'valid';
      const checks = {
        conv2d: await checkOpGradients('wasm', (a, f) => tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, c.strides, pad), [x, w]),
        // conv2dTranspose maps dy's shape back to x's: its forward is the Conv2DBackpropInput kernel.
        conv2dTranspose: await checkOpGradients('wasm', (a, f) => tf.conv2dTranspose(a as tf.Tensor4D, f as tf.Tensor4D, c.x, c.strides, pad), [dy, w]),
        // Under a gradient tape tfjs-core runs a relu-fused conv2d unfused (conv2d, add, relu) ...
        'fused bias+relu': await checkOpGradients('wasm', (a, f, b) => tf.fused.conv2d({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, strides: c.strides, pad, bias: b, activation: 'relu' }), [x, w, bias]),
        // ... and a linear one through the FusedConv2D kernel and its custom gradient.
        'fused bias': await checkOpGradients('wasm', (a, f, b) => tf.fused.conv2d({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, strides: c.strides, pad, bias: b }), [x, w, bias]),
        // Ours: the FusedConv2D kernel with ReLU also under a tape, and its own gradient.
        'fusedConv2d relu': await checkOpGradients('wasm', (a, f, b) => fusedConv2d(a as tf.Tensor4D, f as tf.Tensor4D, b as tf.Tensor1D, { strides: c.strides, pad, activation: 'relu' }), [x, w, bias]),
        'fusedConv2d lin': await checkOpGradients('wasm', (a, f, b) => fusedConv2d(a as tf.Tensor4D, f as tf.Tensor4D, b as tf.Tensor1D, { strides: c.strides, pad, activation: 'linear' }), [x, w, bias]),
      };
      for (const [op, r] of Object.entries(checks)) {
        rows.push(`${op.padEnd(16)} forward ${r.forward.toExponential(1)} grads ${r.grads.map((g) => g.toExponential(1)).join(' ')}  ${label(c)}`);
        assert.ok(r.forward <= TOL, `${op} ${label(c)}: forward ${r.forward}`);
        r.grads.forEach((g, i) => assert.ok(g <= TOL, `${op} ${label(c)}: gradient ${i} ${g}`));
      }
    }
    rows.forEach((r) => t.diagnostic(r));
  });

  await t.test('max pooling where wasm built-ins are wrong: all-negative and all-zero windows (hand-computed)', async () => {
    await tf.setBackend('wasm');
    const v = [-5, -2, -3, -4, -1, -6, -7, -8];
    const x4 = tf.tensor4d(v, [1, 2, 4, 1]);
    const x5 = tf.tensor5d(v, [1, 2, 2, 2, 1]);
    const zeros = tf.zeros([1, 2, 4, 1]) as tf.Tensor4D;
    const pool2 = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid');
    const pool3 = (a: tf.Tensor) => tf.maxPool3d(a as tf.Tensor5D, 2, 2, 'valid');
    assert.deepEqual(Array.from(await pool2(x4).data()), [-1, -3]);
    assert.deepEqual(Array.from(await tf.grad(pool2)(x4, tf.tensor4d([10, 20], [1, 1, 2, 1])).data()), [0, 0, 20, 0, 10, 0, 0, 0]);
    // Ties: cpu sends a 2D window's gradient to its first maximum.
    assert.deepEqual(Array.from(await tf.grad(pool2)(zeros, tf.tensor4d([10, 20], [1, 1, 2, 1])).data()), [10, 0, 20, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(await pool3(x5).data()), [-1]);
    assert.deepEqual(Array.from(await tf.grad(pool3)(x5, tf.tensor5d([3], [1, 1, 1, 1, 1])).data()), [0, 0, 0, 0, 3, 0, 0, 0]);
  });

  await t.test('a 2D U-Net: loss gradients on wasm match cpu', async () => {
    const spec: UNetSpec = { dims: 2, inChannels: 1, numClasses: 2, depth: 3, filters: 4, norm: 'batch', dropout: 0, head: 'softmax', seed: 3 };
    const xShape = [2, 12, 20, 1];
    const rng = new Rng(11);
    const x = Float32Array.from({ length: 2 * 12 * 20 }, () => rng.normal());
    const labels = Uint8Array.from(x, (v) => (v > 0.3 ? 1 : 0));
    // Weights made once (on cpu) and loaded on both backends.
    const weights = await initialWeights(spec);
    const ref = await unetGrads('cpu', spec, weights, x, xShape, labels);
    const ours = await unetGrads('wasm', spec, weights, x, xShape, labels);
    assert.ok(Math.abs(ours.loss - ref.loss) <= TOL * Math.abs(ref.loss), `loss ${ours.loss} vs ${ref.loss}`);
    assert.deepEqual(Object.keys(ours.grads).sort(), Object.keys(ref.grads).sort());
    const errors = Object.keys(ref.grads).map((k) => ({ k, e: maxRelError(ours.grads[k]!, ref.grads[k]!) })).sort((p, q) => q.e - p.e);
    t.diagnostic(`worst gradient: ${errors[0]!.k} ${errors[0]!.e.toExponential(1)} over ${errors.length} weights`);
    for (const w of errors) assert.ok(w.e <= TOL, `${w.k}: ${w.e}`);
  });

  await t.test('no wasm memory is leaked by the replacement kernels', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const rng = new Rng(3);
    const x = tf.tensor(randomData([2, 9, 7, 3], rng).values, [2, 9, 7, 3]) as tf.Tensor4D;
    const w = tf.tensor(randomData([3, 3, 3, 4], rng).values, [3, 3, 3, 4]) as tf.Tensor4D;
    const wt = tf.tensor(randomData([3, 3, 5, 3], rng).values, [3, 3, 5, 3]) as tf.Tensor4D;
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), 2, 2, 'same'));
    tf.dispose(tf.grads(f)([x, w])); // warm-up
    const before = { tensors: tf.memory().numTensors, ids: backend.numDataIds() };
    tf.dispose(tf.grads(f)([x, w]));
    tf.dispose(tf.conv2dTranspose(x, wt, [2, 18, 14, 5], 2, 'same'));
    assert.deepEqual({ tensors: tf.memory().numTensors, ids: backend.numDataIds() }, before);
    tf.dispose([x, w, wt]);
  });

  await t.test("the built-in kernels we replace are still missing or wrong (if this fails, tfjs fixed them: drop the replacement)", () => {
    assert.equal(builtinKernel('Conv2DBackpropFilter', 'wasm'), null);
    const rows: string[] = [];
    for (const name of ['MaxPoolGrad', 'MaxPool3D', 'MaxPool3DGrad', 'Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative']) {
      const k = builtinKernel(name, 'wasm');
      assert.ok(k, `${name}: no built-in`);
      const asReplacement: ReplacementKernel = { kernelName: name, method: 'built-in', make: () => k.kernelFunc };
      const c = checkReplacement(asReplacement, 'wasm', {}, 1234);
      rows.push(`${name} built-in: max relative error ${c.maxRelError.toExponential(2)}`);
      assert.ok(c.maxRelError > 0.1, `${name}: built-in error ${c.maxRelError}`);
    }
    // The built-in Conv2DBackpropInput is right but a naive loop (speed: bench/step2d.bench.ts).
    const inputGrad = builtinKernel('Conv2DBackpropInput', 'wasm');
    assert.ok(inputGrad);
    const c = checkReplacement({ kernelName: 'Conv2DBackpropInput', method: 'built-in', make: () => inputGrad.kernelFunc }, 'wasm');
    rows.push(`Conv2DBackpropInput built-in: max relative error ${c.maxRelError.toExponential(2)}`);
    assert.ok(c.maxRelError <= TOL);
    rows.forEach((r) => t.diagnostic(r));
  });

  await t.test('runKernelDirect leaves no data on either backend', () => {
    const wasm = tf.findBackend('wasm') as unknown as { numDataIds(): number };
    const cpu = tf.findBackend('cpu') as unknown as { numDataIds(): number };
    const before = [wasm.numDataIds(), cpu.numDataIds()];
    const rng = new Rng(1);
    const inputs = { x: randomData([1, 5, 5, 2], rng), dy: randomData([1, 3, 3, 2], rng) };
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 2] } as unknown as tf.NamedAttrMap;
    const a = runKernelDirect('wasm', 'Conv2DBackpropFilter', inputs, attrs);
    const b = runKernelDirect('cpu', 'Conv2DBackpropFilter', inputs, attrs);
    assert.deepEqual(a.shape, [3, 3, 2, 2]);
    assert.deepEqual(b.shape, [3, 3, 2, 2]);
    assert.deepEqual([wasm.numDataIds(), cpu.numDataIds()], before);
  });
});
