// Builds small, real experiment folders for tests: a few bbbc039 cases from examples/ and a config.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Repo root, from dist/test/unit/*.cjs or test/**. */
export const REPO = resolve(__dirname, '..', '..', '..');
export const EXAMPLE_2D = join(REPO, 'examples', 'bbbc039');

export interface TinyOptions {
  cases?: number;
  size?: number;
  epochs?: number;
  losses?: string;
  extra?: string;
  train?: string;
  model?: string;
}

/** A temp workspace with `cases` bbbc039 pairs and tiny.dscpp.yaml; returns the config path. */
export function tinyWorkspace(o: TinyOptions = {}): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dscpp-tiny-'));
  const names = readdirSync(join(EXAMPLE_2D, 'images')).sort().slice(0, o.cases ?? 12);
  mkdirSync(join(dir, 'data', 'images'), { recursive: true });
  mkdirSync(join(dir, 'data', 'masks'), { recursive: true });
  for (const n of names) {
    copyFileSync(join(EXAMPLE_2D, 'images', n), join(dir, 'data', 'images', n));
    copyFileSync(join(EXAMPLE_2D, 'masks', n), join(dir, 'data', 'masks', n));
  }
  const size = o.size ?? 32;
  const config = join(dir, 'tiny.dscpp.yaml');
  writeFileSync(
    config,
    `name: tiny
data:
  images: data/images
  masks: data/masks
  classes: [background, nucleus]
  size: [${size}, ${size}]
  split: { val: 0.25, test: 0.25, seed: 3 }
  previewCases: 1
model: ${o.model ?? '{ arch: unet2d, depth: 2, filters: 4, norm: batch }'}
losses: ${o.losses ?? '[{ name: dice }]'}
train: ${o.train ?? `{ epochs: ${o.epochs ?? 2}, batchSize: 2, lr: 0.01, seed: 7 }`}
eval: { previewCases: 1 }
backend: wasm
${o.extra ?? ''}
`,
  );
  return { dir, config };
}
