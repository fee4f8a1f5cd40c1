// A short real 3D training run on wasm: five hippocampus cases (examples/hippocampus, MSD, CC-BY-SA 4.0),
// a 3D U-Net with instance norm and a softmax head on 16³ patches. The training loss falls; validation,
// the 3-plane previews, the test evaluation (per class, reliability per class) and the NIfTI predictions
// with the source affine are all produced. Kept small for CI (2 cores).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNifti } from '../../src/core/data/nifti';
import { decodeImage } from '../../src/core/data/image';
import { runExperiment } from '../../src/core/train/experiment';
import { epochRecords, readMetrics, readRunRecord } from '../../src/core/train/runs';
import type { EvaluationReport } from '../../src/protocol/evaluation';
import type { TrainingEvent } from '../../src/protocol/training';
import { REPO } from '../helpers/tiny';
import { selectBackend } from '../../src/core/compute/backend';
import { createLoss, LOSS_NAMES } from '../../src/core/losses';
import { UNet, type UNetSpec } from '../../src/core/models/unet';
import { oneHot, trainStep } from '../../src/core/train/trainer';
import { Rng } from '../../src/core/util/rng';

const HIPPO = join(REPO, 'examples', 'hippocampus');
/** The loss and the gradient of every weight of a 3D U-Net on one backend, from the given weights. */
async function unetGradients(backend: string, spec: UNetSpec, weights: Record<string, Float32Array>, x: Float32Array, labels: Uint8Array, shape: number[], loss: string): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  await tf.setBackend(backend);
  const model = new UNet(spec);
  try {
    for (const [name, v] of model.weights) v.assign(tf.tensor(weights[name]!, v.shape));
    const lossFn = createLoss(loss);
    const { value, grads } = tf.tidy(() => {
      const xt = tf.tensor(x, shape);
      const yt = tf.tensor(oneHot(labels, spec.numClasses), [...shape.slice(0, -1), spec.numClasses]);
      return tf.variableGrads(() => lossFn(yt, model.predict(xt, true)) as tf.Scalar, model.trainableVariables());
    });
    const out: Record<string, Float32Array> = {};
    for (const [k, g] of Object.entries(grads)) out[k] = (await g.data()) as Float32Array;
    const l = (await value.data())[0] as number;
    tf.dispose([value, ...Object.values(grads)]);
    return { loss: l, grads: out };
  } finally {
    model.dispose();
  }
}

test('3D U-Net gradients on wasm match cpu for every weight (instance norm, up-sampling, pooling, softmax; dice and dscpp)', async () => {
  await selectBackend('wasm'); // registers the checked replacement kernels
  const spec: UNetSpec = { dims: 3, inChannels: 1, numClasses: 3, depth: 2, filters: 2, norm: 'instance', dropout: 0, head: 'softmax', seed: 3 };
  const shape = [2, 6, 10, 4, 1]; // even (pooling) but not cubic
  const rng = new Rng(17);
  const n = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n }, () => rng.normal());
  const labels = Uint8Array.from({ length: n }, () => rng.int(3));
  // Weights drawn once (on cpu) and loaded on both backends.
  await tf.setBackend('cpu');
  const init = new UNet(spec);
  const weights: Record<string, Float32Array> = {};
  for (const [name, v] of init.weights) weights[name] = (await v.data()) as Float32Array;
  init.dispose();
  for (const loss of ['dice', 'dscpp']) {
    const ref = await unetGradients('cpu', spec, weights, x, labels, shape, loss);
    const got = await unetGradients('wasm', spec, weights, x, labels, shape, loss);
    assert.ok(Math.abs(got.loss - ref.loss) < 1e-5, `${loss}: loss ${got.loss} on wasm, ${ref.loss} on cpu`);
    assert.deepEqual(Object.keys(got.grads).sort(), Object.keys(ref.grads).sort());
    for (const [name, r] of Object.entries(ref.grads)) {
      const g = got.grads[name]!;
      let num = 0;
      let den = 0;
      for (let i = 0; i < r.length; i++) {
        num = Math.max(num, Math.abs((g[i] as number) - (r[i] as number)));
        den = Math.max(den, Math.abs(r[i] as number));
      }
      assert.ok(den > 0, `${loss}: gradient of ${name} is all zero on cpu`);
      assert.ok(num / den < 1e-3, `${loss}: gradient of ${name} differs: max |wasm − cpu| / max |cpu| = ${(num / den).toExponential(2)}`);
    }
  }
  await tf.setBackend('wasm');
});

test('every loss of the library trains the 3D U-Net multi-class on wasm: one step each, finite loss, non-zero gradient', async () => {
  await selectBackend('wasm');
  const spec: UNetSpec = { dims: 3, inChannels: 1, numClasses: 3, depth: 2, filters: 2, norm: 'instance', dropout: 0, head: 'softmax', seed: 8 };
  const shape = [2, 8, 8, 8, 1];
  const rng = new Rng(4);
  const n = 2 * 8 * 8 * 8;
  const batch = { ids: ['a', 'b'], x: Float32Array.from({ length: n }, () => rng.normal()), labels: Uint8Array.from({ length: n }, () => rng.int(3)), shape };
  for (const name of LOSS_NAMES) {
    const model = new UNet(spec);
    const opt = tf.train.adam(1e-3);
    try {
      const out = trainStep(model, opt, createLoss(name), model.trainableVariables(), batch, 3);
      const [loss, norm] = (await out.data()) as Float32Array;
      out.dispose();
      assert.ok(Number.isFinite(loss) && loss > 0, `${name}: loss ${loss}`);
      assert.ok(Number.isFinite(norm) && (norm as number) > 0, `${name}: gradient norm ${norm}`);
    } finally {
      model.dispose();
      opt.dispose();
    }
  }
});

const CASES = ['hippocampus_001', 'hippocampus_004', 'hippocampus_006', 'hippocampus_007', 'hippocampus_011'];

test('3D U-Net on hippocampus patches (wasm): the loss falls; previews, evaluation and NIfTI predictions are written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dscpp-train3d-'));
  try {
    for (const sub of ['images', 'labels']) {
      mkdirSync(join(dir, 'data', sub), { recursive: true });
      for (const id of CASES) copyFileSync(join(HIPPO, sub, `${id}.nii.gz`), join(dir, 'data', sub, `${id}.nii.gz`));
    }
    const config = join(dir, 'h3d.dscpp.yaml');
    writeFileSync(
      config,
      `name: h3d
data:
  format: nifti
  images: data/images
  labels: data/labels
  classes: [background, anterior, posterior]
  patch: [16, 16, 16]
  foregroundOversample: 0.5
  split: { train: [hippocampus_001, hippocampus_004, hippocampus_006], val: [hippocampus_007], test: [hippocampus_011] }
  previewCases: 1
model: { arch: unet3d, depth: 2, filters: 4, norm: instance, head: softmax }
losses: [{ name: dice }]
train: { epochs: 3, batchSize: 2, stepsPerEpoch: 8, lr: 0.01, seed: 5, augment: true, plateau: false }
eval: { previewCases: 1, overlap: 0.25, bins: 10 }
backend: wasm
`,
    );
    const events: TrainingEvent[] = [];
    const outcomes = await runExperiment({ configPath: config, signal: { requested: false }, emit: (e) => events.push(e) });
    const o = outcomes[0]!;
    assert.equal(o.status, 'completed', o.error);
    const rec = readRunRecord(o.runDir);
    assert.equal(rec.backend?.name, 'wasm');
    assert.equal(rec.stepsPerEpoch, 8);

    // The loss falls: the mean training loss of the last epoch is below the first epoch's, and the last
    // steps are below the first ones.
    const ep = epochRecords(readMetrics(o.runDir));
    assert.equal(ep.length, 3);
    assert.ok(ep[2]!.trainLoss < ep[0]!.trainLoss - 0.02, `train loss did not fall: ${ep.map((e) => e.trainLoss.toFixed(4)).join(' → ')}`);
    const steps = readMetrics(o.runDir).flatMap((m) => (m.kind === 'step' ? [m.loss] : []));
    assert.equal(steps.length, 24);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    assert.ok(mean(steps.slice(-4)) < mean(steps.slice(0, 4)), `steps: ${steps.map((l) => l.toFixed(3)).join(' ')}`);
    assert.equal(new Set(ep.map((e) => e.numTensors)).size, 1, `tensor count changed: ${ep.map((e) => e.numTensors).join(',')}`);
    // Validation: whole-volume metrics, one DSC per class.
    for (const e of ep) {
      assert.ok(Number.isFinite(e.val.loss) && Number.isFinite(e.val.nll) && Number.isFinite(e.val.brier));
      assert.equal(e.val.dscPerClass?.length, 3);
    }

    // Preview: axial, coronal and sagittal rows (hippocampus_007 is 34×47×40 voxels, i×j×k: D 40, H 47, W 34).
    const png = decodeImage(readFileSync(join(o.runDir, 'predictions', 'hippocampus_007.png')), 'preview');
    // Rows: axial H×W (47×34), coronal D×W (40×34), sagittal D×H (40×47); enlarged by floor(128 / 34) = 3.
    const zoom = 3;
    assert.equal(png.width, 4 * 47 * zoom + 3 * 2);
    assert.equal(png.height, (47 + 40 + 40) * zoom + 2 * 2);

    // Evaluation of the test case: per class and mean foreground, reliability per class.
    const report = JSON.parse(readFileSync(join(o.runDir, 'evaluation.json'), 'utf8')) as EvaluationReport;
    assert.equal(report.split, 'test');
    assert.equal(report.numCases, 1);
    assert.deepEqual(
      report.perClass.map((c) => c.name),
      ['background', 'anterior', 'posterior'],
    );
    for (const c of report.perClass) assert.ok(c.reliability.length > 0, `no reliability data for ${c.name}`);
    assert.ok(Number.isFinite(report.overall.nll) && Number.isFinite(report.overall.ece));

    // NIfTI predictions: the label map with the source's grid and affine; probabilities for the preview case.
    const src = readNifti(join(dir, 'data', 'images', 'hippocampus_011.nii.gz'));
    const pred = readNifti(join(o.runDir, 'predictions', 'nifti', 'hippocampus_011.pred.nii.gz'));
    assert.deepEqual(pred.dims, src.dims);
    assert.deepEqual(pred.affine, src.affine);
    assert.equal(pred.datatype, 'uint8');
    assert.ok(pred.data.every((v) => v === 0 || v === 1 || v === 2));
    const probs = readNifti(join(o.runDir, 'predictions', 'nifti', 'hippocampus_011.probs.nii.gz'), { allowMultiVolume: true });
    assert.equal(probs.volumes, 3);
    assert.ok(existsSync(join(o.runDir, 'checkpoints', 'best', 'model.json')));
    assert.ok(events.some((e) => e.type === 'evaluated'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
