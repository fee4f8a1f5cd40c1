// Sliding-window inference: window placement, the Gaussian importance map, and exact reconstruction of
// a volume when the "model" is the identity (Gaussian and uniform weights; volumes that are not
// multiples of the patch, and volumes smaller than the patch along some or all axes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { gaussianImportance, slidingWindowPredict, windowStarts } from '../../src/core/train/sliding-window';
import { Rng } from '../../src/core/util/rng';

test('windowStarts: even placement, first at 0, last at size − patch, step ≤ patch·(1 − overlap)', () => {
  const table: [number, number, number, number[]][] = [
    [32, 32, 0.5, [0]],
    [20, 32, 0.5, [0]],
    [33, 32, 0.5, [0, 1]],
    [50, 32, 0.5, [0, 9, 18]],
    [64, 32, 0.5, [0, 16, 32]],
    [64, 32, 0, [0, 32]],
    [65, 32, 0, [0, 16, 33]],
    [100, 16, 0.75, Array.from({ length: 22 }, (_, i) => Math.floor((i * 84) / 21))],
    [10, 3, 0.9, [0, 1, 2, 3, 4, 5, 6, 7]],
  ];
  for (const [size, patch, overlap, want] of table) {
    const got = windowStarts(size, patch, overlap);
    assert.deepEqual(got, want, `windowStarts(${size}, ${patch}, ${overlap})`);
    for (let i = 1; i < got.length; i++) assert.ok((got[i] as number) - (got[i - 1] as number) <= Math.max(1, Math.floor(patch * (1 - overlap))));
  }
  assert.throws(() => windowStarts(10, 4, 1), { message: 'windowStarts: overlap must be in [0, 1), got 1' });
  assert.throws(() => windowStarts(0, 4, 0.5), { message: 'windowStarts: size and patch must be positive integers, got 0 and 4' });
});

test('gaussianImportance: maximum 1 at the centre, symmetric, floor 1e-3; sigmaScale 0 is uniform', () => {
  const g = gaussianImportance([5, 6, 7]);
  assert.equal(g.length, 5 * 6 * 7);
  const at = (z: number, y: number, x: number) => g[(z * 6 + y) * 7 + x] as number;
  assert.equal(Math.max(...g), 1);
  assert.equal(at(2, 2, 3), at(2, 3, 3)); // even axis: the two central rows tie
  assert.ok(at(2, 2, 3) > 0.9);
  for (let z = 0; z < 5; z++) for (let y = 0; y < 6; y++) for (let x = 0; x < 7; x++) assert.equal(at(z, y, x), at(4 - z, 5 - y, 6 - x));
  // The corners are far out in the tails: floored.
  assert.equal(Math.min(...g), Math.fround(1e-3));
  assert.equal(at(0, 0, 0), Math.fround(1e-3));
  // sigma = 1/8 of the patch: on a 17-long axis (centre 8, sigma 2.125), 2 voxels out the weight is exp(−2²/(2·2.125²)).
  const line = gaussianImportance([1, 1, 17]);
  assert.equal(line[8], 1);
  assert.ok(Math.abs((line[10] as number) - Math.exp(-4 / (2 * 2.125 ** 2))) < 1e-7);
  assert.equal(line[6], line[10]);
  assert.deepEqual(Array.from(gaussianImportance([2, 3, 4], 0)), new Array(24).fill(1));
});

/** The most windows that cover one voxel. */
function maxCoverage(spatial: number[], patch: number[], overlap: number): number {
  let n = 1;
  for (let a = 0; a < 3; a++) {
    const size = Math.max(spatial[a] as number, patch[a] as number);
    const cover = new Array<number>(size).fill(0);
    for (const s of windowStarts(size, patch[a] as number, overlap)) for (let i = s; i < s + (patch[a] as number); i++) cover[i]!++;
    n *= Math.max(...cover);
  }
  return n;
}

function randomVolume(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.uniform(-3, 3));
}

test('the identity model gives the volume back exactly (to float rounding): Gaussian and uniform weights, odd sizes, small volumes', async () => {
  await tf.setBackend('cpu');
  const identity = (x: tf.Tensor) => tf.mul(x, 1);
  const cases: { spatial: [number, number, number]; patch: [number, number, number]; overlap: number; c: number }[] = [
    { spatial: [37, 45, 29], patch: [16, 16, 16], overlap: 0.5, c: 3 }, // not multiples of the patch
    { spatial: [32, 32, 32], patch: [16, 16, 16], overlap: 0.5, c: 2 }, // multiples
    { spatial: [20, 9, 7], patch: [16, 16, 8], overlap: 0.5, c: 3 }, // smaller than the patch on two axes
    { spatial: [5, 6, 7], patch: [8, 8, 8], overlap: 0.5, c: 1 }, // smaller on every axis
    { spatial: [23, 17, 19], patch: [8, 8, 8], overlap: 0, c: 2 }, // no overlap
    { spatial: [23, 17, 19], patch: [8, 4, 8], overlap: 0.75, c: 4 }, // large overlap
  ];
  for (const { spatial, patch, overlap, c } of cases) {
    const vox = spatial[0] * spatial[1] * spatial[2];
    const image = randomVolume(vox * c, vox + c);
    for (const sigmaScale of [1 / 8, 0]) {
      for (const batchSize of [1, 3]) {
        const out = await slidingWindowPredict(identity, image, spatial, c, c, patch, { overlap, sigmaScale, batchSize });
        assert.equal(out.length, image.length);
        // Float32 rounding, to first order: n products w·v and n − 1 additions in the numerator, n − 1
        // additions in the weight sum, one division: |error| ≤ (3n)·2⁻²⁴·|v|, n = the most windows covering a voxel.
        const n = maxCoverage(spatial, patch, overlap);
        let worst = 0;
        for (let i = 0; i < out.length; i++) {
          const v = image[i] as number;
          worst = Math.max(worst, Math.abs((out[i] as number) - v) / (3 * n * 2 ** -24 * Math.abs(v)));
        }
        assert.ok(worst <= 1, `spatial ${spatial} patch ${patch} overlap ${overlap} sigma ${sigmaScale} batch ${batchSize}: error ${worst.toFixed(2)}× the float32 bound (n = ${n})`);
      }
    }
  }
});

test('windows see the right part of the volume: a position-dependent model blends to its value at each voxel', async () => {
  await tf.setBackend('cpu');
  // The "model" outputs, per voxel, the input channel (its global linear index) and a constant 1:
  // the blend must give back the index (window placement and cropping are right) and exactly 1.
  const spatial: [number, number, number] = [11, 13, 6];
  const vox = spatial[0] * spatial[1] * spatial[2];
  const image = Float32Array.from({ length: vox }, (_, i) => i);
  const model = (x: tf.Tensor) => tf.concat([x, tf.onesLike(x)], -1);
  const out = await slidingWindowPredict(model, image, spatial, 1, 2, [8, 8, 8], { overlap: 0.5 });
  for (let i = 0; i < vox; i++) {
    assert.ok(Math.abs((out[2 * i] as number) - i) <= i * 2 ** -21, `voxel ${i}: ${out[2 * i]}`);
    assert.ok(Math.abs((out[2 * i + 1] as number) - 1) < 1e-6);
  }
});

test('sliding window errors quote the shapes', async () => {
  await tf.setBackend('cpu');
  const image = new Float32Array(4 * 4 * 4);
  await assert.rejects(slidingWindowPredict((x) => tf.mul(x, 1), image, [4, 4, 4], 1, 3, [4, 4, 4]), { message: 'sliding window: the model returned shape [1, 4, 4, 4, 1] for windows [1, 4, 4, 4, 1]; expected [1, 4, 4, 4, 3]' });
  await assert.rejects(slidingWindowPredict((x) => x, image, [4, 4, 5], 1, 1, [4, 4, 4]), { message: 'sliding window: image has 64 values but shape [4, 4, 5, 1] needs 80' });
  await assert.rejects(slidingWindowPredict((x) => x, image, [4, 4, 4], 1, 1, [4, 4, 4], { overlap: 1 }), { message: 'sliding window: overlap must be in [0, 1), got 1' });
  await assert.rejects(slidingWindowPredict((x) => x, image, [16, 4], 1, 1, [4, 4, 4]), { message: 'sliding window: expected 3D spatial and patch shapes, got [16, 4] and [4, 4, 4]' });
  assert.equal(tf.memory().numTensors, 0);
});
