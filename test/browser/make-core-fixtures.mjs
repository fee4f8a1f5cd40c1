// Produces the core-made fixtures in test/fixtures/runs/core/: tiny real trainings by the DSC++ Lab
// CLI (needs dist/cli.js: `npm run build`). Checkpoints are dropped to keep the fixtures small.
//   node test/browser/make-core-fixtures.mjs          2D bbbc039 (dice + dscpp) and, if supported, 3D
//   node test/browser/make-core-fixtures.mjs --2d     2D only
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const out = join(root, 'test', 'fixtures', 'runs', 'core');
const work = mkdtempSync(join(tmpdir(), 'dscpp-fixtures-'));
const want3d = !process.argv.includes('--2d');

function train(name, yaml) {
  const cfg = join(work, `${name}.dscpp.yaml`);
  writeFileSync(cfg, yaml);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(root, 'bin', 'dscpp-lab.js'), 'train', cfg], { cwd: work, stdio: 'inherit', env: { ...process.env, DSCPP_BACKEND: process.env.DSCPP_BACKEND ?? '' } });
  console.log(`[fixtures] ${name}: exit ${r.status} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r.status === 0;
}

function collect(runsRoot, into) {
  for (const exp of readdirSync(runsRoot)) {
    for (const run of readdirSync(join(runsRoot, exp))) {
      const src = join(runsRoot, exp, run);
      if (!existsSync(join(src, 'run.json'))) continue;
      const dst = join(into, exp, run);
      cpSync(src, dst, { recursive: true, filter: (p) => basename(p) !== 'checkpoints' });
    }
  }
}

function size(dir) {
  let n = 0;
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    n += statSync(p).isDirectory() ? size(p) : statSync(p).size;
  }
  return n;
}

const images = join(root, 'examples', 'bbbc039', 'images');
const stems = readdirSync(images).filter((f) => f.endsWith('.png')).map((f) => f.replace(/\.png$/, '')).sort();
const ids = (a, b) => `[${stems.slice(a, b).map((s) => JSON.stringify(s)).join(', ')}]`;
const ok2d = train(
  'fixture-2d',
  `name: fixture-2d
description: Tiny DSC vs DSC++ run for the browser-test fixtures (BBBC039, CC0; see examples/bbbc039/README.md).
data:
  format: png
  images: ${relative(work, images)}
  masks: ${relative(work, join(root, 'examples', 'bbbc039', 'masks'))}
  classes: [background, nucleus]
  size: [32, 32]
  split: { train: ${ids(0, 8)}, val: ${ids(8, 10)}, test: ${ids(10, 13)} }
  previewCases: 2
model: { arch: unet2d, depth: 2, filters: 4, norm: batch, dropout: 0, head: softmax }
losses:
  - { name: dice }
  - { name: dscpp, gamma: 2 }
train: { epochs: 2, batchSize: 4, optimizer: adam, lr: 0.003, seed: 1, augment: false }
eval: { split: test, bins: 15, previewCases: 3 }
backend: cpu
output: runs
`,
);
let ok3d = false;
if (want3d) {
  const hip = join(root, 'examples', 'hippocampus');
  const vols = readdirSync(join(hip, 'images')).filter((f) => f.endsWith('.nii.gz')).map((f) => f.replace(/\.nii\.gz$/, '')).sort();
  const v = (a, b) => `[${vols.slice(a, b).map((s) => JSON.stringify(s)).join(', ')}]`;
  ok3d = train(
    'fixture-3d',
    `name: fixture-3d
description: Tiny 3D run for the browser-test fixtures (MSD Hippocampus, CC-BY-SA 4.0; see its README).
data:
  format: nifti
  images: ${relative(work, join(hip, 'images'))}
  labels: ${relative(work, join(hip, 'labels'))}
  classes: [background, anterior, posterior]
  patch: [16, 16, 16]
  split: { train: ${v(0, 3)}, val: ${v(3, 4)}, test: ${v(4, 5)} }
  previewCases: 1
model: { arch: unet3d, depth: 2, filters: 4, norm: instance, dropout: 0, head: softmax }
losses:
  - { name: dscpp, gamma: 2 }
train: { epochs: 1, batchSize: 2, stepsPerEpoch: 3, optimizer: adam, lr: 0.003, seed: 1, augment: false }
eval: { split: test, bins: 15, previewCases: 1 }
backend: cpu
output: runs
`,
  );
}
if (ok2d || ok3d) {
  rmSync(out, { recursive: true, force: true });
  collect(join(work, 'runs'), out);
  console.log(`[fixtures] wrote ${relative(root, out)}: ${(size(out) / 1024).toFixed(0)} KiB (2D ${ok2d ? 'ok' : 'FAILED'}, 3D ${want3d ? (ok3d ? 'ok' : 'FAILED') : 'skipped'})`);
}
rmSync(work, { recursive: true, force: true });
process.exit(ok2d ? 0 : 1);
