// The 3D data set (data.format nifti): pairing by file name, the split, header checks at open with
// their error text, normalisation with clip, patch placement (uniform, foreground-centred, padded),
// flips, deterministic batches per (seed, epoch), whole-volume evaluation cases with their affine, the
// NIfTI prediction writer, the 3D preview, and the example folder itself (24 byte-identical cases).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfigText } from '../../src/core/config';
import { decodeImage } from '../../src/core/data/image';
import { readNifti, writeNifti, type Mat4 } from '../../src/core/data/nifti';
import { centredOrigin, extractPatch, foregroundIndex, isForegroundPatch, originRange, randomForegroundVoxel } from '../../src/core/data/patches';
import { isVolumeMeta, normalizeVolume, openVolumeData, openVolumeDataset, pairVolumes, VolumeData, type VolumeDataOptions } from '../../src/core/data/volume-data';
import { writeVolumePrediction } from '../../src/core/data/volume-predictions';
import { renderVolumePreview, volumeSlice } from '../../src/core/train/previews';
import type { Batch } from '../../src/core/train/data-source';
import { Rng } from '../../src/core/util/rng';

const REPO = resolve(__dirname, '..', '..', '..');
const HIPPO = join(REPO, 'examples', 'hippocampus');
const CLASSES = ['background', 'a', 'b'];
const AFFINE: Mat4 = [
  [0, 0, -1.5, 20],
  [2, 0, 0, -4],
  [0, 1, 0, 3],
  [0, 0, 0, 1],
];

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'dscpp-volume-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A case: image value = 1000 + voxel index (unique), labels: a 2×2×2 cube of class 1 and one voxel of class 2. */
function writeCase(dir: string, id: string, spatial: [number, number, number], opts: { fg?: [number, number, number]; labelSpatial?: [number, number, number]; labelValue?: number } = {}): void {
  const [D, H, W] = spatial;
  const vox = D * H * W;
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'labels'), { recursive: true });
  writeNifti(join(dir, 'images', `${id}.nii.gz`), { data: Float32Array.from({ length: vox }, (_, i) => 1000 + i), spatial, datatype: 'float32', affine: AFFINE });
  const ls = opts.labelSpatial ?? spatial;
  const lab = new Uint8Array(ls[0] * ls[1] * ls[2]);
  const [fz, fy, fx] = opts.fg ?? [1, 1, 1];
  for (let z = fz; z < Math.min(fz + 2, ls[0]); z++) for (let y = fy; y < Math.min(fy + 2, ls[1]); y++) for (let x = fx; x < Math.min(fx + 2, ls[2]); x++) lab[(z * ls[1] + y) * ls[2] + x] = 1;
  lab[lab.length - 1] = opts.labelValue ?? 2;
  writeNifti(join(dir, 'labels', `${id}.nii.gz`), { data: lab, spatial: ls, datatype: 'uint8', affine: AFFINE });
}

function options(dir: string, over: Partial<VolumeDataOptions> = {}): VolumeDataOptions {
  return { imagesDir: join(dir, 'images'), labelsDir: join(dir, 'labels'), classes: CLASSES, patch: [4, 4, 4], split: { val: 0.2, test: 0.2, seed: 42 }, seed: 1, augment: false, foregroundOversample: 0.33, ...over };
}

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('patch placement', () => {
  test('originRange: inside the volume, or holding all of a smaller volume', () => {
    assert.deepEqual(originRange(10, 4), [0, 6]);
    assert.deepEqual(originRange(4, 4), [0, 0]);
    assert.deepEqual(originRange(3, 8), [-5, 0]);
  });

  test('centredOrigin clamps; foreground voxels are drawn from the present classes', () => {
    assert.deepEqual(centredOrigin([5, 0, 9], [10, 10, 10], [4, 4, 4]), [3, 0, 6]);
    assert.deepEqual(centredOrigin([1, 1, 1], [3, 10, 3], [8, 4, 8]), [-3, 0, -3]);
    assert.deepEqual(centredOrigin([0, 9, 2], [3, 10, 3], [8, 4, 8]), [-4, 6, -2]);
    const labels = new Uint8Array(3 * 4 * 5);
    labels[(1 * 4 + 2) * 5 + 3] = 2;
    const fg = foregroundIndex(labels, 3);
    assert.deepEqual(fg.map((a) => Array.from(a)), [[], [33]]);
    const rng = new Rng(3);
    for (let i = 0; i < 5; i++) assert.deepEqual(randomForegroundVoxel(rng, fg, [3, 4, 5]), [1, 2, 3]);
    assert.equal(randomForegroundVoxel(rng, foregroundIndex(new Uint8Array(8), 3), [2, 2, 2]), null);
  });

  test('isForegroundPatch: exactly the fraction, evenly spread', () => {
    for (const f of [0, 0.33, 0.5, 1]) {
      const n = Array.from({ length: 300 }, (_, k) => isForegroundPatch(k, f)).filter(Boolean).length;
      assert.equal(n, Math.floor(300 * f));
    }
    assert.deepEqual(Array.from({ length: 6 }, (_, k) => isForegroundPatch(k, 0.5)), [false, true, false, true, false, true]);
  });

  test('extractPatch: copies, pads outside the volume with 0 / background, and flips image and labels together', () => {
    const spatial = [3, 4, 5];
    const image = Float32Array.from({ length: 60 }, (_, i) => i + 1);
    const labels = Uint8Array.from({ length: 60 }, (_, i) => i % 3);
    const x = new Float32Array(2 * 27);
    const y = new Uint8Array(2 * 27);
    extractPatch(image, labels, spatial, 1, [-1, 2, 3], [3, 3, 3], x, 27, y, 27);
    // Patch voxel (z, y, x) ← volume (z − 1, y + 2, x + 3).
    for (let z = 0; z < 3; z++)
      for (let yy = 0; yy < 3; yy++)
        for (let xx = 0; xx < 3; xx++) {
          const [sz, sy, sx] = [z - 1, yy + 2, xx + 3];
          const inside = sz >= 0 && sz < 3 && sy < 4 && sx < 5;
          const s = (sz * 4 + sy) * 5 + sx;
          assert.equal(x[27 + (z * 3 + yy) * 3 + xx], inside ? s + 1 : 0);
          assert.equal(y[27 + (z * 3 + yy) * 3 + xx], inside ? s % 3 : 0);
        }
    assert.deepEqual(Array.from(x.subarray(0, 27)), new Array(27).fill(0), 'wrote outside its slot');
    // Flips mirror the patch: flipped[z][y][x] = plain[2 − z][y][2 − x]; labels follow the image.
    const plain = new Float32Array(27);
    const flipped = new Float32Array(27);
    const flippedLabels = new Uint8Array(27);
    extractPatch(image, labels, spatial, 1, [0, 1, 1], [3, 3, 3], plain, 0, null, 0);
    extractPatch(image, labels, spatial, 1, [0, 1, 1], [3, 3, 3], flipped, 0, flippedLabels, 0, { flip: [true, false, true], scale: 2, shift: 0.5 });
    for (let z = 0; z < 3; z++)
      for (let yy = 0; yy < 3; yy++)
        for (let xx = 0; xx < 3; xx++) {
          const o = (z * 3 + yy) * 3 + xx;
          const m = ((2 - z) * 3 + yy) * 3 + (2 - xx);
          assert.equal(flipped[o], (plain[m] as number) * 2 + 0.5);
          assert.equal(flippedLabels[o], ((plain[m] as number) - 1) % 3);
        }
  });
});

describe('VolumeData', () => {
  test('pairing: by file name, suffixed labels, ignored and unpaired files named', () => {
    const dir = join(tmp, 'pairing');
    for (const id of ['c1', 'c2', 'c3']) writeCase(dir, id, [4, 5, 6]);
    copyFileSync(join(dir, 'labels', 'c3.nii.gz'), join(dir, 'labels', 'c4_seg.nii.gz'));
    copyFileSync(join(dir, 'images', 'c3.nii.gz'), join(dir, 'images', 'c4.nii'));
    copyFileSync(join(dir, 'images', 'c3.nii.gz'), join(dir, 'images', 'c5.nii.gz'));
    copyFileSync(join(dir, 'labels', 'c3.nii.gz'), join(dir, 'labels', 'c6.nii.gz'));
    writeFileSync(join(dir, 'images', 'notes.txt'), 'x');
    const p = pairVolumes(join(dir, 'images'), join(dir, 'labels'));
    assert.deepEqual(
      p.pairs.map((x) => [x.id, x.image.slice(dir.length + 1), x.mask.slice(dir.length + 1)]),
      [
        ['c1', 'images/c1.nii.gz', 'labels/c1.nii.gz'],
        ['c2', 'images/c2.nii.gz', 'labels/c2.nii.gz'],
        ['c3', 'images/c3.nii.gz', 'labels/c3.nii.gz'],
        ['c4', 'images/c4.nii', 'labels/c4_seg.nii.gz'],
      ],
    );
    assert.deepEqual(p.warnings, [
      `ignored 1 file that are not .nii or .nii.gz: ${join(dir, 'images', 'notes.txt')}`,
      `1 image has no label volume in ${join(dir, 'labels')} and is left out: ${join(dir, 'images', 'c5.nii.gz')}`,
      `1 label volume has no image in ${join(dir, 'images')}: ${join(dir, 'labels', 'c6.nii.gz')}`,
    ]);
    const empty = join(tmp, 'nopairs');
    writeCase(join(empty, 'x'), 'img1', [2, 2, 2]);
    mkdirSync(join(empty, 'labels'), { recursive: true });
    copyFileSync(join(empty, 'x', 'labels', 'img1.nii.gz'), join(empty, 'labels', 'img2.nii.gz'));
    assert.throws(() => pairVolumes(join(empty, 'x', 'images'), join(empty, 'labels')), {
      message: `no image/label pairs: 1 NIfTI image in ${join(empty, 'x', 'images')} and 1 label volume in ${join(empty, 'labels')}, none with the same file name (e.g. image 'img1' and label 'img2'); labels must have their image's file name`,
    });
  });

  test('an image and label of different shapes fail at open, naming both files', () => {
    const dir = join(tmp, 'mismatch');
    writeCase(dir, 'ok', [4, 5, 6]);
    writeCase(dir, 'bad', [4, 5, 6], { labelSpatial: [4, 5, 7] });
    assert.throws(() => new VolumeData(options(dir)), {
      message: `${join(dir, 'labels', 'bad.nii.gz')}: label shape 7×5×4 does not match the image ${join(dir, 'images', 'bad.nii.gz')} (6×5×4, i×j×k); a label volume must have its image's voxel grid`,
    });
  });

  test('a label outside the classes fails when the case is loaded; a truncated file is skipped with skipUnreadable', () => {
    const dir = join(tmp, 'badlabel');
    writeCase(dir, 'k1', [4, 5, 6]);
    writeCase(dir, 'k2', [4, 5, 6], { labelValue: 5 });
    const ds = new VolumeData(options(dir, { split: { val: 0, test: 0, seed: 1 } }));
    assert.throws(() => ds.loadCase('k2'), {
      message: `${join(dir, 'labels', 'k2.nii.gz')}: label value 5 at voxel (i, j, k) = (5, 4, 3) is outside the classes 0..2 (data.classes: background, a, b); fix the label file or add the missing class names to data.classes`,
    });
    const cut = join(tmp, 'cut');
    writeCase(cut, 'k1', [4, 5, 6]);
    writeCase(cut, 'k2', [4, 5, 6]);
    writeCase(cut, 'k3', [4, 5, 6]);
    const full = readFileSync(join(cut, 'images', 'k2.nii.gz'));
    writeFileSync(join(cut, 'images', 'k2.nii.gz'), full.subarray(0, full.length - 30));
    const strict = new VolumeData(options(cut, { split: { val: 0, test: 0, seed: 1 } }));
    assert.throws(() => strict.loadCase('k2'), { message: `${join(cut, 'images', 'k2.nii.gz')}: truncated or corrupt gzip data (the gzip stream ends early); the file may be incompletely downloaded or copied` });
    const warnings: string[] = [];
    const lenient = new VolumeData(options(cut, { split: { val: 0, test: 0, seed: 1 }, skipUnreadable: true, onWarning: (m) => warnings.push(m) }));
    assert.equal(lenient.loadCase('k2'), null);
    assert.deepEqual(lenient.caseIds('train'), ['k1', 'k3']);
    assert.deepEqual(warnings, [`skipped case 'k2': ${join(cut, 'images', 'k2.nii.gz')}: truncated or corrupt gzip data (the gzip stream ends early); the file may be incompletely downloaded or copied`]);
  });

  test('cases: clip + z-score, labels, the affine kept in meta; evalCases gives whole volumes', async () => {
    const dir = join(tmp, 'cases');
    for (const id of ['v1', 'v2', 'v3', 'v4', 'v5']) writeCase(dir, id, [3, 4, 5]);
    const ds = new VolumeData(options(dir, { clip: [1010, 1049] }));
    assert.deepEqual([ds.caseIds('train').length, ds.caseIds('val').length, ds.caseIds('test').length], [3, 1, 1]);
    const c = ds.loadCase('v1')!;
    const expect = Float32Array.from({ length: 60 }, (_, i) => Math.min(1049, Math.max(1010, 1000 + i)));
    normalizeVolume(expect);
    assert.deepEqual(Array.from(c.image), Array.from(expect));
    assert.deepEqual(c.spatial, [3, 4, 5]);
    assert.equal(c.labels.reduce((a, b) => a + (b === 1 ? 1 : 0), 0), 8);
    assert.deepEqual(c.meta.affine, AFFINE);
    assert.equal(c.meta.sformCode, 2);
    const val = [];
    for await (const e of ds.evalCases('val')) val.push(e);
    assert.equal(val.length, 1);
    assert.deepEqual(val[0]!.spatial, [3, 4, 5]);
    assert.equal(val[0]!.image.length, 60);
    assert.ok(isVolumeMeta(val[0]!.meta));
    // normalizeVolume: clip then z-score, exact values.
    const v = Float32Array.from([0, 10, 20, 30]);
    assert.deepEqual(normalizeVolume(v, [10, 20]), { mean: 15, std: Math.sqrt(25) });
    assert.deepEqual(Array.from(v), [-1, -1, 1, 1]);
  });

  test('batches: deterministic per (seed, epoch), patch-sized, foreground-centred at the configured fraction, small volumes padded', async () => {
    const dir = join(tmp, 'batches');
    writeCase(dir, 'big1', [10, 12, 14], { fg: [6, 7, 9] });
    writeCase(dir, 'big2', [11, 9, 13], { fg: [2, 3, 4] });
    writeCase(dir, 'small', [3, 2, 5], { fg: [0, 0, 1] }); // smaller than the patch on every axis
    const split = { train: ['big1', 'big2', 'small'], val: [], test: [] } as unknown as VolumeDataOptions['split'];
    const mk = (over: Partial<VolumeDataOptions> = {}) => new VolumeData(options(dir, { split, patch: [4, 6, 6], stepsPerEpoch: 12, foregroundOversample: 1, augment: true, ...over }));
    const a = await collect(mk().trainBatches(1, 2));
    const b = await collect(mk().trainBatches(1, 2));
    const c = await collect(mk().trainBatches(2, 2));
    assert.equal(a.length, 12);
    assert.deepEqual(a[0]!.shape, [2, 4, 6, 6, 1]);
    assert.equal(a[0]!.x.length, 2 * 4 * 6 * 6);
    assert.deepEqual(a, b, 'same seed and epoch gave different batches');
    assert.notDeepEqual(
      a.map((x) => Array.from(x.x)),
      c.map((x) => Array.from(x.x)),
    );
    // Every case is used equally often per pass.
    const counts = new Map<string, number>();
    for (const batch of a) for (const id of batch.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.deepEqual([...counts.entries()].sort(), [['big1', 8], ['big2', 8], ['small', 8]]);
    // foregroundOversample 1: every patch holds foreground (the 2×2×2 cube or the class-2 voxel).
    for (const batch of a) for (let s = 0; s < 2; s++) assert.ok(batch.labels.subarray(s * 144, (s + 1) * 144).some((v) => v > 0), `a patch of ${batch.ids[s]} has no foreground`);
    // The small case (3·2·5 voxels) lies wholly inside each of its patches; the rest is padding.
    for (const batch of a)
      batch.ids.forEach((id, s) => {
        if (id !== 'small') return;
        const lab = batch.labels.subarray(s * 144, (s + 1) * 144);
        assert.equal(lab.filter((v) => v === 1).length, 8); // the whole case is inside the patch
        assert.equal(lab.filter((v) => v === 2).length, 1);
      });
    // Without augmentation and with foregroundOversample 0, all patches are plain copies at random origins.
    const plain = await collect(mk({ augment: false, foregroundOversample: 0 }).trainBatches(1, 3));
    const ds = mk();
    for (const batch of plain)
      batch.ids.forEach((id, s) => {
        const cs = ds.loadCase(id)!;
        const x = batch.x.subarray(s * 144, (s + 1) * 144);
        // Every image value in the patch is a voxel of the case, or padding 0.
        const values = new Set(Array.from(cs.image));
        assert.ok(Array.from(x).every((v) => v === 0 || values.has(v)));
      });
    assert.equal(ds.stepsPerEpoch(2), 12);
    assert.equal(new VolumeData(options(dir, { split })).stepsPerEpoch(2), 2);
  });

  test('openVolumeData from a config: paths relative to the config, patch, classes, split', async () => {
    const dir = join(tmp, 'config');
    for (const id of ['p1', 'p2', 'p3', 'p4']) writeCase(join(dir, 'data'), id, [4, 4, 4]);
    const text = [
      'name: vol',
      'data:',
      '  format: nifti',
      '  images: data/images',
      '  labels: data/labels',
      '  classes: [background, a, b]',
      '  patch: [4, 4, 4]',
      '  split: { val: 0.25, test: 0.25, seed: 3 }',
      'model: { arch: unet3d, depth: 2, filters: 4, norm: instance }',
      'loss: { name: dice }',
      'train: { stepsPerEpoch: 3 }',
    ].join('\n');
    const file = join(dir, 'vol.dscpp.yaml');
    writeFileSync(file, text);
    const { config, diagnostics } = parseConfigText(text, file);
    assert.ok(config, JSON.stringify(diagnostics));
    const data = await openVolumeData(config, file);
    assert.equal(data.dims, 3);
    assert.equal(data.channels, 1);
    assert.deepEqual(data.inputSpatial, [4, 4, 4]);
    assert.deepEqual(data.classes, ['background', 'a', 'b']);
    assert.equal(data.stepsPerEpoch(2), 3);
    assert.deepEqual([data.caseIds('train').length, data.caseIds('val').length, data.caseIds('test').length], [2, 1, 1]);
    assert.equal(data.describe(), '3D NIfTI, patch 4×4×4, 1 channel, 3 classes; cases train 2 / val 1 / test 1; foreground oversampling 0.33');
    assert.throws(() => openVolumeDataset({ ...config, data: { ...config.data, channels: 3 } }, file), { message: `${file}: data.channels 3 is for RGB images; NIfTI volumes are read as 1 channel (remove data.channels)` });
  });
});

describe('predictions and previews', () => {
  test('writeVolumePrediction: label map (argmax) and probabilities with the source affine', () => {
    const dir = join(tmp, 'pred');
    const spatial: [number, number, number] = [3, 4, 5];
    const vox = 60;
    const probs = new Float32Array(vox * 3);
    const r = new Rng(9);
    for (let i = 0; i < vox; i++) {
      const a = r.next();
      const b = r.next() * (1 - a);
      probs.set([a, b, 1 - a - b], i * 3);
    }
    const meta = { kind: 'nifti' as const, imagePath: 'x', labelPath: 'y', affine: AFFINE, spacing: [2, 1, 1.5] as [number, number, number], sformCode: 1, qformCode: 1, xyztUnits: 10 };
    const files = writeVolumePrediction(dir, { id: 'case 1', spatial, meta }, probs, 3, { probabilities: true });
    assert.deepEqual(files, { labels: join(dir, 'case_1.pred.nii.gz'), probabilities: join(dir, 'case_1.probs.nii.gz') });
    const lab = readNifti(files.labels);
    assert.equal(lab.datatype, 'uint8');
    assert.deepEqual(lab.spatial, spatial);
    assert.deepEqual(lab.affine, AFFINE);
    assert.deepEqual(lab.spacing, [2, 1, 1.5]);
    assert.equal(lab.sformCode, 1);
    for (let i = 0; i < vox; i++) {
      const p = Array.from(probs.subarray(i * 3, i * 3 + 3));
      assert.equal(lab.data[i], p.indexOf(Math.max(...p)));
    }
    const pr = readNifti(files.probabilities!, { allowMultiVolume: true });
    assert.equal(pr.volumes, 3);
    assert.deepEqual(pr.affine, AFFINE);
    for (let i = 0; i < vox; i++) for (let k = 0; k < 3; k++) assert.equal(pr.data[k * vox + i], probs[i * 3 + k]);
  });

  test('volumeSlice: axial, coronal and sagittal planes with the highest index at the top', () => {
    const spatial = [2, 3, 4];
    const v = Float32Array.from({ length: 24 }, (_, i) => i);
    assert.deepEqual(volumeSlice(v, spatial, 1, 'axial', 1), { data: Float32Array.from([20, 21, 22, 23, 16, 17, 18, 19, 12, 13, 14, 15]), rows: 3, cols: 4 });
    assert.deepEqual(volumeSlice(v, spatial, 1, 'coronal', 2), { data: Float32Array.from([20, 21, 22, 23, 8, 9, 10, 11]), rows: 2, cols: 4 });
    assert.deepEqual(volumeSlice(v, spatial, 1, 'sagittal', 3), { data: Float32Array.from([15, 19, 23, 3, 7, 11]), rows: 2, cols: 3 });
  });

  test('renderVolumePreview: three rows (axial, coronal, sagittal) of four panels, enlarged and spacing-aware', () => {
    const spatial = [6, 8, 10];
    const vox = 480;
    const image = Float32Array.from({ length: vox }, (_, i) => Math.sin(i));
    const truth = Uint8Array.from({ length: vox }, (_, i) => i % 3);
    const probs = new Float32Array(vox * 3);
    for (let i = 0; i < vox; i++) probs[i * 3 + (i % 3)] = 1;
    const png = renderVolumePreview({ image, truth, probs, spatial, channels: 1, numClasses: 3, minSide: 12 });
    const img = decodeImage(png, 'preview.png');
    // zoom = floor(12 / 6) = 2: axial 16×20, coronal 12×20, sagittal 12×16 per panel; width = 4·20 + 3·2.
    assert.equal(img.width, 4 * 20 + 3 * 2);
    assert.equal(img.height, 16 + 12 + 12 + 2 * 2);
    // Spacing (i, j, k) = (1, 1, 2): rows along D are drawn twice as tall.
    const aniso = decodeImage(renderVolumePreview({ image, truth, probs, spatial, channels: 1, numClasses: 3, minSide: 12, spacing: [1, 1, 2] }), 'p.png');
    assert.equal(aniso.height, 16 + 24 + 24 + 2 * 2);
    assert.throws(() => renderVolumePreview({ image, truth, probs: probs.subarray(1), spatial, channels: 1, numClasses: 3 }), { message: 'renderVolumePreview: for spatial [6, 8, 10] expected image 480, truth 480 and probs 1440 values, got 480, 480 and 1439' });
  });
});

describe('examples/hippocampus', () => {
  test('24 cases, byte-identical to the shared MSD subset (SHA-256 from its manifest), with the README and config', () => {
    const images = readdirSync(join(HIPPO, 'images')).sort();
    const labels = readdirSync(join(HIPPO, 'labels')).sort();
    assert.equal(images.length, 24);
    assert.deepEqual(labels, images);
    const manifest = JSON.parse(readFileSync(join(HIPPO, 'manifest.json'), 'utf8')) as { cases: { image: string; label: string; image_sha256: string; label_sha256: string }[] };
    assert.equal(manifest.cases.length, 24);
    for (const c of manifest.cases) {
      assert.equal(createHash('sha256').update(readFileSync(join(HIPPO, c.image))).digest('hex'), c.image_sha256, c.image);
      assert.equal(createHash('sha256').update(readFileSync(join(HIPPO, c.label))).digest('hex'), c.label_sha256, c.label);
    }
    const readme = readFileSync(join(HIPPO, 'README.md'), 'utf8');
    for (const s of ['CC-BY-SA 4.0', 'https://creativecommons.org/licenses/by-sa/4.0/', 'Medical Segmentation Decathlon', 'Vanderbilt University Medical Center', 'doi:10.1038/s41467-022-30695-9', 'arXiv:1902.09063', 'ShareAlike']) {
      assert.ok(readme.includes(s), `README lacks '${s}'`);
    }
    const cfgPath = join(HIPPO, 'hippocampus.dscpp.yaml');
    const { config, diagnostics } = parseConfigText(readFileSync(cfgPath, 'utf8'), cfgPath);
    assert.ok(config, JSON.stringify(diagnostics));
    assert.deepEqual(
      config.losses.map((l) => l.name),
      ['dice', 'dscpp'],
    );
    assert.equal(config.model.arch, 'unet3d');
  });
});
