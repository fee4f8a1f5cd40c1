// npm run package: builds the bundles (minified) and packs the extension with @vscode/vsce into
// dscpp-lab-<version>.vsix, then checks that what runs is inside (bundles, panels, schema, media,
// examples, the tfjs runtime) and that tests and sources are not. Prints the size.
//   node scripts/package.mjs [--out file.vsix] [--no-build]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outIdx = args.indexOf('--out');
const out = resolve(root, outIdx >= 0 ? args[outIdx + 1] : `${pkg.name}-${pkg.version}.vsix`);

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`package: ${cmd} ${argv.join(' ')} failed (exit ${r.status})`);
    process.exit(1);
  }
}

const BUNDLES = ['dist/extension.js', 'dist/backend.js', 'dist/cli.js', 'dist/webview/curves.js', 'dist/webview/calibration.js', 'dist/webview/masks.js'];
const sha = (buf) => createHash('sha256').update(buf).digest('hex');

function listVsix() {
  const list = spawnSync('unzip', ['-Z1', out], { encoding: 'utf8' });
  if (list.status !== 0) {
    console.error(`package: cannot list ${out}: ${list.stderr}`);
    process.exit(1);
  }
  return list.stdout.split('\n').filter(Boolean);
}

const t0 = Date.now();
let files = [];
// Several people may rebuild dist/ in a shared checkout while vsce runs: the bundles in the .vsix must
// be the ones this build made (same hash), else build and pack again.
for (let attempt = 1; ; attempt++) {
  if (!args.includes('--no-build')) run(process.execPath, ['esbuild.mjs', '--production', '--quiet']);
  const built = new Map(BUNDLES.filter((f) => existsSync(join(root, f))).map((f) => [f, sha(readFileSync(join(root, f)))]));
  // Production dependencies are collected by vsce (npm list) and cut down by .vscodeignore to the tfjs
  // runtime; everything else is bundled. No repository/LICENSE file in this project: skip those prompts.
  run(process.execPath, [join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '--out', out]);
  files = listVsix();
  const changed = [...built].filter(([f, h]) => {
    const r = spawnSync('unzip', ['-p', out, `extension/${f}`], { maxBuffer: 64 * 1024 * 1024 });
    return r.status !== 0 || sha(r.stdout) !== h;
  });
  if (!changed.length) break;
  if (attempt >= 3 || args.includes('--no-build')) {
    console.error(`package: ${changed.map(([f]) => f).join(', ')} changed on disk while packaging (a concurrent build?); run npm run package again`);
    process.exit(1);
  }
  console.error(`package: ${changed.map(([f]) => f).join(', ')} changed while packaging; building again`);
}
const must = [
  'extension/package.json',
  'extension/dist/extension.js',
  'extension/dist/backend.js',
  'extension/dist/cli.js',
  'extension/dist/webview/curves.js',
  'extension/dist/webview/calibration.js',
  'extension/dist/webview/masks.js',
  'extension/schemas/experiment.schema.json',
  'extension/media/dscpp-lab.svg',
  'extension/examples/bbbc039/quickstart.dscpp.yaml',
  'extension/examples/bbbc039/README.md',
  'extension/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js',
  'extension/node_modules/@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.node.js',
  'extension/node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js',
  'extension/node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
  'extension/node_modules/seedrandom/index.js',
];
const missing = must.filter((f) => !files.includes(f));
const forbidden = files.filter((f) => /^extension\/(src|test|webview|bench|\.tools|dist\/test)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'));
if (missing.length || forbidden.length) {
  if (missing.length) console.error(`package: missing from the .vsix:\n  ${missing.join('\n  ')}`);
  if (forbidden.length) console.error(`package: should not be in the .vsix:\n  ${forbidden.slice(0, 20).join('\n  ')}`);
  process.exit(1);
}
const size = statSync(out).size;
console.log(`package: ${out} — ${(size / 1024 / 1024).toFixed(2)} MiB (${size} bytes), ${files.length} files, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
