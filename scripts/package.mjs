// npm run package: packs the extension with @vscode/vsce into dscpp-lab-<version>.vsix, then checks that
// what runs is inside (bundles, panels, schema, media, examples, the tfjs runtime) and that tests and
// sources are not, and prints the size.
//   node scripts/package.mjs [--out file.vsix]
//
// It works in a staging folder (.tools/package/stage), so that the minified build never replaces the
// development bundles in dist/ and a concurrent build in the shared checkout cannot leak into the
// package:
//   1. copy the sources, esbuild.mjs and the shipped folders, link node_modules, run
//      `esbuild.mjs --production` there;
//   2. replace the link with copies of the runtime dependencies only (tfjs-core, tfjs-backend-cpu,
//      tfjs-backend-wasm and what they depend on: everything else is bundled), with a package.json whose
//      `dependencies` name just those;
//   3. `vsce package` there; .vscodeignore trims each package to the files that load at run time.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outIdx = args.indexOf('--out');
const out = resolve(root, outIdx >= 0 ? args[outIdx + 1] : `${pkg.name}-${pkg.version}.vsix`);
const stage = join(root, '.tools', 'package', 'stage');
/** The packages the training process requires at run time (esbuild keeps them external). */
const RUNTIME = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm'];

function run(cmd, argv, cwd) {
  const r = spawnSync(cmd, argv, { cwd, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`package: ${cmd} ${argv.join(' ')} failed (exit ${r.status})`);
    process.exit(1);
  }
}

/** The folder of package `name` as Node resolves it from `fromDir` (a package folder or the root). */
function packageDir(name, fromDir) {
  for (let d = fromDir; ; d = dirname(d)) {
    const p = join(d, 'node_modules', name);
    if (existsSync(join(p, 'package.json'))) return p;
    if (d === root || dirname(d) === d) break;
  }
  throw new Error(`package: cannot find ${name} (needed from ${relative(root, fromDir) || 'the project'}); run npm ci`);
}

/** RUNTIME and their dependencies, transitively: [package folder] (absolute, under root/node_modules). */
function runtimeClosure() {
  const seen = new Map();
  const queue = RUNTIME.map((name) => packageDir(name, root));
  while (queue.length) {
    const dir = queue.shift();
    if (seen.has(dir)) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    seen.set(dir, manifest);
    for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push(packageDir(dep, dir));
  }
  return [...seen.keys()];
}

const t0 = Date.now();
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
const skipRuns = (src) => !relative(root, src).split(sep).includes('runs');
for (const p of ['src', 'webview', 'media', 'schemas', 'examples']) if (existsSync(join(root, p))) cpSync(join(root, p), join(stage, p), { recursive: true, filter: skipRuns });
for (const f of ['esbuild.mjs', 'tsconfig.json', 'README.md', '.vscodeignore']) cpSync(join(root, f), join(stage, f));
writeFileSync(join(stage, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');

// 1. The minified build, from the staged sources.
symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'), 'dir');
run(process.execPath, ['esbuild.mjs', '--production', '--quiet'], stage);
unlinkSync(join(stage, 'node_modules'));

// 2. The runtime dependencies, copied, and a manifest that names only them.
for (const dir of runtimeClosure()) cpSync(dir, join(stage, relative(root, dir)), { recursive: true });
const staged = { ...pkg, dependencies: Object.fromEntries(RUNTIME.map((n) => [n, pkg.dependencies[n]])) };
delete staged.devDependencies;
delete staged.optionalDependencies;
delete staged.scripts;
writeFileSync(join(stage, 'package.json'), JSON.stringify(staged, null, 2) + '\n');

// 3. Pack. No repository/LICENSE file in this project: skip those prompts and the README link rewrite.
mkdirSync(dirname(out), { recursive: true });
run(process.execPath, [join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '--out', out], stage);

const list = spawnSync('unzip', ['-Z1', out], { encoding: 'utf8' });
if (list.status !== 0) {
  console.error(`package: cannot list ${out}: ${list.stderr}`);
  process.exit(1);
}
const files = list.stdout.split('\n').filter(Boolean);
const must = [
  'extension/package.json',
  'extension/dist/extension.js',
  'extension/dist/backend.js',
  'extension/dist/cli.js',
  'extension/dist/parallel-worker.js',
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
const forbidden = files.filter((f) => /^extension\/(src|test|webview|bench|scripts|\.tools|dist\/test)\//.test(f) || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f === 'extension/dist/core.js');
if (missing.length || forbidden.length) {
  if (missing.length) console.error(`package: missing from the .vsix:\n  ${missing.join('\n  ')}`);
  if (forbidden.length) console.error(`package: should not be in the .vsix:\n  ${forbidden.slice(0, 20).join('\n  ')}`);
  process.exit(1);
}
rmSync(stage, { recursive: true, force: true });
const size = statSync(out).size;
console.log(`package: ${out} — ${(size / 1024 / 1024).toFixed(2)} MiB (${size} bytes), ${files.length} files, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
