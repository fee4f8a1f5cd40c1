// Regenerates the synthetic run folders in test/fixtures/runs/synthetic/ (node test/browser/run.mjs
// --make-fixtures). They follow src/protocol exactly; the core-produced runs sit in
// test/fixtures/runs/core/ (see test/browser/README.md).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './harness';
import { writeSyntheticRun } from './synthetic';

const out = join(ROOT, 'test', 'fixtures', 'runs', 'synthetic');
rmSync(out, { recursive: true, force: true });
// 2D binary runs (sigmoid head), used until the core trainer's runs replace them.
if (!process.argv.includes('--3d-only')) {
  for (const [loss, seed, sharp] of [
    ['dice', 3, 5],
    ['dscpp', 4, 2.5],
  ] as const) {
    writeSyntheticRun(join(out, `2d-${loss}`), { id: `synthetic-2d-${loss}`, experiment: 'synthetic-2d', loss, seed, epochs: 3, stepsPerEpoch: 8, previews: { ids: ['img_a', 'img_b', 'img_c'], spatial: [40, 48], numClasses: 2, sharpness: sharp } });
  }
}
writeSyntheticRun(join(out, '3d-volume-dscpp'), {
  id: 'synthetic-3d-dscpp',
  experiment: 'synthetic-3d',
  loss: 'dscpp',
  seed: 7,
  epochs: 2,
  stepsPerEpoch: 5,
  previews: { ids: ['vol_001', 'vol_002'], spatial: [12, 20, 16], numClasses: 3, sharpness: 3 },
});
console.log(`wrote ${out}`);
