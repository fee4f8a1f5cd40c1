// Data-parallel training on worker threads (src/core/train/parallel.ts): batch slicing, how many slices a
// run uses, a data-parallel step against the single-thread step on the same batch, worker failures with
// their text, and whole runs with train.workers 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/core/compute/backend';
import { createLoss } from '../../src/core/losses';
import { UNet, type UNetSpec } from '../../src/core/models/unet';
import { splitBatch } from '../../src/core/train/batch';
import { DataParallel, resolveWorkers, workerScriptPath } from '../../src/core/train/parallel';
import { runExperiment } from '../../src/core/train/experiment';
import { epochRecords, readMetrics, readRunRecord } from '../../src/core/train/runs';
import type { TrainingEvent } from '../../src/protocol/training';
import { trainStep } from '../../src/core/train/trainer';
import type { Batch } from '../../src/core/train/data-source';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyWorkspace } from '../helpers/tiny';
import { Rng } from '../../src/core/util/rng';

test('splitBatch: slices along the batch axis, as equal as possible, first slices larger', () => {
  const cases: { n: number; parts: number; sizes: number[] }[] = [
    { n: 4, parts: 2, sizes: [2, 2] },
    { n: 5, parts: 2, sizes: [3, 2] },
    { n: 7, parts: 3, sizes: [3, 2, 2] },
    { n: 1, parts: 2, sizes: [1] },
    { n: 3, parts: 4, sizes: [1, 1, 1] },
    { n: 4, parts: 1, sizes: [4] },
  ];
  for (const c of cases) {
    const per = 6; // 2×3 pixels, 1 channel
    const x = Float32Array.from({ length: c.n * per }, (_, i) => i);
    const labels = Uint8Array.from({ length: c.n * per }, (_, i) => i % 2);
    const s = splitBatch({ x, labels, shape: [c.n, 2, 3, 1] }, c.parts);
    assert.deepEqual(s.map((p) => p.shape[0]), c.sizes, `n ${c.n}, parts ${c.parts}`);
    assert.deepEqual(s.map((p) => p.shape.slice(1)), c.sizes.map(() => [2, 3, 1]));
    // Concatenated back, the slices are the batch.
    assert.deepEqual(Float32Array.from(s.flatMap((p) => [...p.x])), x);
    assert.deepEqual(Uint8Array.from(s.flatMap((p) => [...p.labels])), labels);
  }
});

test('resolveWorkers: slices per backend, batch size and loss, with the reason when fewer than asked', () => {
  const dice = { name: 'dice', options: {} };
  const cases: { in: Parameters<typeof resolveWorkers>[0]; workers: number; note: string | null }[] = [
    { in: { workers: 'auto', backend: 'wasm', batchSize: 4, loss: dice, cores: 2 }, workers: 2, note: null },
    { in: { workers: 'auto', backend: 'cpu', batchSize: 8, loss: dice, cores: 16 }, workers: 4, note: null },
    { in: { workers: 'auto', backend: 'wasm', batchSize: 1, loss: dice, cores: 2 }, workers: 1, note: null },
    { in: { workers: 'auto', backend: 'tensorflow', batchSize: 4, loss: dice, cores: 2 }, workers: 1, note: null },
    { in: { workers: 1, backend: 'wasm', batchSize: 4, loss: dice, cores: 2 }, workers: 1, note: null },
    { in: { workers: 3, backend: 'wasm', batchSize: 4, loss: dice, cores: 2 }, workers: 3, note: null },
    { in: { workers: 6, backend: 'wasm', batchSize: 4, loss: dice, cores: 2 }, workers: 4, note: 'train.workers 6 reduced to 4: a batch of 4 has no more slices' },
    { in: { workers: 2, backend: 'webgpu', batchSize: 4, loss: dice, cores: 2 }, workers: 1, note: 'train.workers 2 ignored: the webgpu backend uses the cores (or the GPU) itself' },
    { in: { workers: 'auto', backend: 'wasm', batchSize: 4, loss: { name: 'dscpp', options: { batchDice: true } }, cores: 2 }, workers: 1, note: null },
    { in: { workers: 2, backend: 'wasm', batchSize: 4, loss: { name: 'dscpp', options: { batchDice: true } }, cores: 2 }, workers: 1, note: 'train.workers 2 ignored: with batchDice the dscpp loss sums over the whole batch, so it cannot be split into slices' },
  ];
  for (const c of cases) assert.deepEqual(resolveWorkers(c.in), { workers: c.workers, note: c.note }, JSON.stringify(c.in));
});

test('workerScriptPath finds dist/parallel-worker.js from a test bundle, and says what to do when it is missing', () => {
  assert.match(workerScriptPath(), /dist\/parallel-worker\.js$/);
  assert.throws(() => workerScriptPath('/nonexistent/dir'), {
    message: 'data-parallel training needs parallel-worker.js next to the running bundle (looked in /nonexistent/dir and two folders up); run npm run build, or set train.workers: 1',
  });
});

function randomBatch(n: number, size: number, seed: number): Batch {
  const rng = new Rng(seed);
  const vox = n * size * size;
  const x = Float32Array.from({ length: vox }, () => rng.normal());
  const labels = Uint8Array.from({ length: vox }, (_, i) => ((x[i] as number) > 0.3 ? 1 : 0));
  return { ids: Array.from({ length: n }, (_, i) => `c${i}`), x, labels, shape: [n, size, size, 1] };
}

// Without batch norm the slices do not interact, so a data-parallel step is the single-thread step up
// to float summation order. Cases: equal and unequal slices, mean and sum reduction, 2 and 3 slices.
const STEP_CASES: { name: string; n: number; slices: number; loss: string; options: Record<string, unknown> }[] = [
  { name: 'dscpp, batch 4 in 2 slices', n: 4, slices: 2, loss: 'dscpp', options: {} },
  { name: 'ce, batch 3 in 2 slices (2 + 1)', n: 3, slices: 2, loss: 'ce', options: {} },
  { name: 'dice with reduction sum, batch 4 in 2 slices', n: 4, slices: 2, loss: 'dice', options: { reduction: 'sum' } },
  { name: 'combo++, batch 5 in 3 slices (2 + 2 + 1)', n: 5, slices: 3, loss: 'combo++', options: {} },
];

for (const c of STEP_CASES) {
  test(`a data-parallel step equals the single-thread step without batch norm: ${c.name}`, async () => {
    await selectBackend('wasm');
    const spec: UNetSpec = { dims: 2, inChannels: 1, numClasses: 2, depth: 2, filters: 4, norm: 'none', dropout: 0, head: 'softmax', seed: 5 };
    const lossFn = createLoss(c.loss, c.options);
    const batches = [0, 1, 2].map((s) => randomBatch(c.n, 16, 100 + s));
    // Variable names are global in tfjs: one model at a time, each trained from the same seeded init.
    const trainThree = async (dp: DataParallel | null) => {
      const model = new UNet(spec);
      const opt = tf.train.adam(0.01);
      const readouts: number[][] = [];
      try {
        for (const batch of batches) {
          const r = dp ? await dp.step(model, opt, lossFn, model.trainableVariables(), batch, 2) : trainStep(model, opt, lossFn, model.trainableVariables(), batch, 2);
          model.commitStatistics();
          readouts.push([...((await r.data()) as Float32Array)]);
          r.dispose();
        }
        return { readouts, weights: model.trainableVariables().map((v) => ({ name: v.name, values: v.dataSync() as Float32Array })) };
      } finally {
        model.dispose();
        opt.dispose();
      }
    };
    const single = await trainThree(null);
    const dp = await DataParallel.start({ workers: c.slices, backend: 'wasm', spec, loss: { name: c.loss, options: c.options } });
    let parallel: Awaited<ReturnType<typeof trainThree>>;
    try {
      assert.equal(dp.slices, c.slices);
      parallel = await trainThree(dp);
    } finally {
      await dp.dispose();
    }
    single.readouts.forEach(([la, na], s) => {
      const [lb, nb] = parallel.readouts[s] as number[];
      assert.ok(Math.abs((la as number) - (lb as number)) <= 1e-5 * Math.max(1, Math.abs(la as number)), `step ${s}: loss ${la} vs ${lb}`);
      assert.ok(Math.abs((na as number) - (nb as number)) <= 1e-4 * Math.max(1, Math.abs(na as number)), `step ${s}: gradient norm ${na} vs ${nb}`);
    });
    single.weights.forEach((w, i) => {
      const y = (parallel.weights[i] as (typeof parallel.weights)[number]).values;
      let worst = 0;
      for (let k = 0; k < w.values.length; k++) worst = Math.max(worst, Math.abs((w.values[k] as number) - (y[k] as number)));
      assert.ok(worst <= 1e-4, `${w.name}: weights differ by up to ${worst} after 3 steps`);
    });
  });
}

test('a worker that cannot build its replica fails DataParallel.start with its reason', async () => {
  await selectBackend('wasm');
  const spec: UNetSpec = { dims: 2, inChannels: 1, numClasses: 2, depth: 2, filters: 4, norm: 'none', dropout: 0, head: 'softmax', seed: 5 };
  await assert.rejects(DataParallel.start({ workers: 2, backend: 'wasm', spec, loss: { name: 'dscp', options: {} } }), (e: Error) => {
    assert.match(e.message, /^data-parallel worker 1 failed: unknown loss 'dscp'/);
    return true;
  });
  await assert.rejects(DataParallel.start({ workers: 1, backend: 'wasm', spec, loss: { name: 'dice', options: {} } }), { message: 'DataParallel needs at least 2 slices, got 1' });
});

test('a run with train.workers 2 trains, logs its slices, holds its tensor count and is deterministic', async () => {
  const { config } = tinyWorkspace({ cases: 12, epochs: 3, train: '{ epochs: 3, batchSize: 4, lr: 0.01, seed: 7, workers: 2 }' });
  const started: TrainingEvent[] = [];
  const run = async () => {
    const outcomes = await runExperiment({ configPath: config, signal: { requested: false }, emit: (e) => (e.type === 'started' ? started.push(e) : undefined) });
    const o = outcomes[0]!;
    assert.equal(o.status, 'completed', o.error);
    return o.runDir;
  };
  const d1 = await run();
  const d2 = await run();
  const log = readFileSync(join(d1, 'log.txt'), 'utf8');
  assert.match(log, /data-parallel: each batch of 4 is cut into 2 slices, one on this thread and 1 on worker thread \(train\.workers: 2\)/);
  // The slice count is part of what a run's numbers depend on: in run.json and in the started event.
  assert.equal(readRunRecord(d1).slices, 2);
  assert.deepEqual(started.map((e) => (e.type === 'started' ? e.slices : null)), [2, 2]);
  const ep = epochRecords(readMetrics(d1));
  assert.equal(ep.length, 3);
  assert.ok(ep[2]!.trainLoss < ep[0]!.trainLoss, `train loss did not fall: ${ep.map((e) => e.trainLoss).join(' → ')}`);
  assert.equal(new Set(ep.map((e) => e.numTensors)).size, 1, `numTensors: ${ep.map((e) => e.numTensors).join(',')}`);
  const timeless = (dir: string) => readMetrics(dir).map((m) => ({ ...m, elapsedMs: 0, time: '', epochMs: 0, numTensors: 0 }));
  assert.deepEqual(timeless(d1), timeless(d2));
});
