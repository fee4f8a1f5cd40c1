// Experiment config validation: a table of bad configs, each with its exact message and position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, loadConfig, ConfigError, formatDiagnostic, experimentJsonSchema } from '../../src/core/config';

const GOOD = `name: demo
data:
  format: png
  images: data/images
  masks: data/masks
  classes: [background, nucleus]
  size: [128, 128]
  split: { val: 0.2, test: 0.2, seed: 42 }
model: { arch: unet2d, depth: 3, filters: 16, norm: batch, dropout: 0 }
losses:
  - { name: dice }
  - { name: dscpp, gamma: 2 }
train: { epochs: 20, batchSize: 4, optimizer: adam, lr: 0.001, seed: 1, augment: true }
backend: auto
output: runs
`;

test('the example config of the issue validates and gets defaults', () => {
  const { config, diagnostics } = parseConfigText(GOOD, 'demo.dscpp.yaml');
  assert.deepEqual(diagnostics, []);
  assert.ok(config);
  assert.equal(config.losses.length, 2);
  assert.deepEqual(config.losses[1], { name: 'dscpp', gamma: 2 });
  assert.equal(config.model.head, 'softmax');
  assert.equal(config.train.momentum, 0.9);
  assert.equal(config.eval.bins, 15);
  assert.deepEqual(config.train.plateau, { factor: 0.5, patience: 5, minLr: 1e-6 });
});

test('a single `loss:` entry becomes losses[0]; JSON configs are accepted', () => {
  const json = JSON.stringify({ name: 'j', data: { images: 'a', masks: 'b', classes: ['bg', 'fg'], size: [64, 64] }, loss: { name: 'dscpp', gamma: 3 } }, null, 2);
  const { config, diagnostics } = parseConfigText(json, 'x.dscpp.json');
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(config?.losses, [{ name: 'dscpp', gamma: 3 }]);
});

// [description, replace this line fragment (in GOOD), by this, expected line, column, path, message]
const BAD: [string, string, string, number, number, string, string][] = [
  ['unknown loss with a suggestion', '{ name: dscpp, gamma: 2 }', '{ name: dscp, gamma: 2 }', 12, 13, 'losses[1].name', "unknown loss 'dscp'; did you mean 'dscpp'? (known: dice, dscpp, tversky, tversky++, focal_tversky, focal_tversky++, ce, focal, combo, combo++, unified_focal, unified_focal++)"],
  ['bad loss option', 'gamma: 2 }', 'gamma: -1 }', 12, 27, 'losses[1].gamma', "dscpp: option 'gamma' must be a number > 0, got -1"],
  ['wrong type', 'epochs: 20', 'epochs: twenty', 13, 18, 'train.epochs', "expected a number, found 'twenty'"],
  ['non-integer', 'batchSize: 4', 'batchSize: 2.5', 13, 33, 'train.batchSize', 'expected an integer, found number 2.5'],
  ['enum with a suggestion', 'optimizer: adam', 'optimizer: adma', 13, 47, 'train.optimizer', "expected one of 'adam', 'sgd', found 'adma'; did you mean 'adam'?"],
  ['unknown field with a suggestion', '  masks: data/masks', '  maks: data/masks', 5, 3, 'data.maks', "unknown field 'maks'; did you mean 'masks'? (allowed: format, images, masks, labels, classes, size, channels, split, skipUnreadable, patch, foregroundOversample, clip, cacheMB, previewCases)"],
  ['too few classes', 'classes: [background, nucleus]', 'classes: [nucleus]', 6, 12, 'data.classes', 'expected a list of at least 2 items, found a list of 1'],
  ['out of range', 'val: 0.2', 'val: 1.5', 8, 17, 'data.split.val', 'expected a number <= 0.9, found number 1.5'],
  ['size not divisible by 2^(depth-1)', 'size: [128, 128]', 'size: [128, 130]', 7, 15, 'data.size[1]', 'expected a multiple of 4 (2^(depth-1) for model.depth 3), found 130; try 132'],
  ['backend enum', 'backend: auto', 'backend: gpu', 14, 10, 'backend', "expected one of 'auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'webgpu', found 'gpu'; did you mean 'webgpu'?"],
  ['arch does not match format', 'arch: unet2d', 'arch: unet3d', 9, 16, 'model.arch', "expected 'unet2d' for data.format png, found 'unet3d'"],
  ['val + test leave no training cases', 'split: { val: 0.2, test: 0.2, seed: 42 }', 'split: { val: 0.5, test: 0.5, seed: 42 }', 8, 10, 'data.split', 'val + test must leave cases for training: found val 0.5 + test 0.5 >= 1'],
  ['bad name', 'name: demo', 'name: my demo', 1, 7, 'name', "expected letters, digits, \".\", \"_\" and \"-\" only, starting with a letter or digit, found 'my demo'"],
];

for (const [what, from, to, line, column, path, message] of BAD) {
  test(`bad config: ${what}`, () => {
    assert.ok(GOOD.includes(from), `fixture fragment not found: ${from}`);
    const text = GOOD.replace(from, to);
    const { config, diagnostics } = parseConfigText(text, 'bad.dscpp.yaml');
    assert.equal(config, null);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    assert.equal(errors.length, 1, JSON.stringify(errors, null, 1));
    const d = errors[0]!;
    assert.equal(d.message, message);
    assert.equal(d.path, path);
    assert.deepEqual([d.line, d.column], [line, column]);
    assert.equal(formatDiagnostic(d), `bad.dscpp.yaml:${line}:${column}: error: ${path}: ${message}`);
  });
}

test('bad config: a missing required field points at its parent', () => {
  const text = GOOD.replace('  images: data/images\n', '');
  const { diagnostics } = parseConfigText(text, 'bad.dscpp.yaml');
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]!.message, 'required field is missing: expected a string');
  assert.equal(diagnostics[0]!.path, 'data.images');
  assert.deepEqual([diagnostics[0]!.line, diagnostics[0]!.column], [3, 3]);
});

test('bad config: no loss at all', () => {
  const text = GOOD.replace(/losses:\n( {2}- .*\n)+/, '');
  const { diagnostics } = parseConfigText(text, 'bad.dscpp.yaml');
  assert.equal(diagnostics[0]!.message, "required field is missing: 'loss' (one entry) or 'losses' (a list), e.g. losses: [{ name: dice }, { name: dscpp, gamma: 2 }]");
  assert.equal(diagnostics[0]!.line, 1);
});

test('bad config: YAML errors carry their line (duplicate key)', () => {
  const text = GOOD.replace('output: runs', 'output: runs\nbackend: wasm');
  const { config, diagnostics } = parseConfigText(text, 'bad.dscpp.yaml');
  assert.equal(config, null);
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]!.message, 'YAML syntax error: Map keys must be unique');
  assert.deepEqual([diagnostics[0]!.line, diagnostics[0]!.column], [16, 1]);
});

test('loadConfig: missing data folders are errors at the right line; exit-code-2 error type', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dscpp-config-'));
  const file = join(dir, 'demo.dscpp.yaml');
  writeFileSync(file, GOOD);
  mkdirSync(join(dir, 'data', 'images'), { recursive: true });
  assert.throws(
    () => loadConfig(file),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `${file}:5:10: error: data.masks: folder not found: ${join(dir, 'data', 'masks')} (paths are relative to the config file)`);
      return true;
    },
  );
  mkdirSync(join(dir, 'data', 'masks'));
  assert.equal(loadConfig(file).name, 'demo');
  assert.throws(() => loadConfig(join(dir, 'nope.dscpp.yaml')), /nope\.dscpp\.yaml:1:1: error: cannot read config: file not found/);
});

test('the committed JSON schema is the one generated from the zod schema', () => {
  const committed = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'schemas', 'experiment.schema.json'), 'utf8')) as unknown;
  assert.deepEqual(committed, JSON.parse(JSON.stringify(experimentJsonSchema())));
});
