// Bundles every entry point of the project. Entry points are discovered by convention, so adding a
// panel, a test file or a bench script needs no edit here:
//   src/core/index.ts            -> dist/core.js        (CommonJS library; @tensorflow/* external)
//   src/cli/main.ts              -> dist/cli.js
//   src/backend/main.ts          -> dist/backend.js     (the training process forked by the extension)
//   src/extension/extension.ts   -> dist/extension.js   (vscode external)
//   src/core/train/parallel-worker.ts -> dist/parallel-worker.js (data-parallel gradient worker thread)
//   webview/<panel>/main.ts      -> dist/webview/<panel>.js (+ .css), browser IIFE
//   test/**/*.test.ts            -> dist/test/**/*.test.cjs (only with --tests)
//   bench/*.bench.ts             -> dist/bench/*.cjs    (only with --bench)
// Flags: --tests, --bench, --watch, --production (minify), --quiet.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';

const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const quiet = args.has('--quiet');
const root = dirname(new URL(import.meta.url).pathname);

function walk(dir, pred, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, pred, out);
    else if (pred(p)) out.push(p);
  }
  return out;
}

// Everything that must stay a runtime require: tfjs (one shared instance, native/wasm assets),
// optional GPU backends resolved at run time, and the vscode API.
const nodeExternal = [
  '@tensorflow/*',
  'webgpu',
  'vscode',
  'playwright-core',
  'chromium-bidi/*',
];

// tfjs-core's node build (the external CommonJS package) does not register gradients; its ESM
// register_all_gradients module does. We bundle that module (and the ops it uses) into each node bundle.
// tfjs-core keeps the engine, the kernel and gradient registries and the environment on the global
// object, so the bundled gradient code and the external package share one engine.
const tfGradients = {
  name: 'tfjs-gradients',
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\/tfjs-core\/dist\/register_all_gradients$/ }, () => ({
      path: join(root, 'node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js'),
    }));
  },
};

const common = {
  bundle: true,
  sourcemap: 'linked',
  minify: production,
  logLevel: quiet ? 'error' : 'warning',
  legalComments: 'none',
};

const nodeBuilds = [];
const add = (entry, outfile, extra = {}) => {
  if (existsSync(join(root, entry))) {
    nodeBuilds.push({ ...common, plugins: [tfGradients], platform: 'node', target: 'node20', format: 'cjs', external: nodeExternal, entryPoints: [join(root, entry)], outfile: join(root, outfile), ...extra });
  }
};
add('src/core/index.ts', 'dist/core.js');
add('src/cli/main.ts', 'dist/cli.js');
add('src/backend/main.ts', 'dist/backend.js');
add('src/extension/extension.ts', 'dist/extension.js');
add('src/core/train/parallel-worker.ts', 'dist/parallel-worker.js');

if (args.has('--tests')) {
  for (const f of walk(join(root, 'test'), (p) => p.endsWith('.test.ts') || p.endsWith('.helper.ts'))) {
    const rel = relative(join(root, 'test'), f).replace(/\.ts$/, '.cjs');
    nodeBuilds.push({ ...common, plugins: [tfGradients], platform: 'node', target: 'node20', format: 'cjs', external: nodeExternal, entryPoints: [f], outfile: join(root, 'dist/test', rel) });
  }
}
if (args.has('--bench')) {
  for (const f of walk(join(root, 'bench'), (p) => p.endsWith('.bench.ts'))) {
    const rel = relative(join(root, 'bench'), f).replace(/\.bench\.ts$/, '.cjs');
    nodeBuilds.push({ ...common, plugins: [tfGradients], platform: 'node', target: 'node20', format: 'cjs', external: nodeExternal, entryPoints: [f], outfile: join(root, 'dist/bench', rel) });
  }
}

const webBuilds = [];
const webRoot = join(root, 'webview');
if (existsSync(webRoot)) {
  for (const name of readdirSync(webRoot)) {
    const entry = join(webRoot, name, 'main.ts');
    if (name !== 'shared' && existsSync(entry)) {
      webBuilds.push({ ...common, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: [entry], outfile: join(root, 'dist/webview', `${name}.js`), loader: { '.css': 'css', '.ttf': 'file' } });
    }
  }
}

const all = [...nodeBuilds, ...webBuilds];
if (args.has('--watch')) {
  const ctxs = await Promise.all(all.map((o) => esbuild.context(o)));
  await Promise.all(ctxs.map((c) => c.watch()));
  console.log(`[esbuild] watching ${ctxs.length} bundles`);
} else {
  const t0 = Date.now();
  await Promise.all(all.map((o) => esbuild.build(o)));
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist', 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
  // schemas/experiment.schema.json is generated from the same zod schema the validator uses.
  const core = join(root, 'dist', 'core.js');
  if (existsSync(core)) {
    const { createRequire } = await import('node:module');
    const { experimentJsonSchema } = createRequire(import.meta.url)(core);
    if (typeof experimentJsonSchema === 'function') {
      mkdirSync(join(root, 'schemas'), { recursive: true });
      const text = JSON.stringify(experimentJsonSchema(), null, 2) + '\n';
      const target = join(root, 'schemas', 'experiment.schema.json');
      const { readFileSync } = await import('node:fs');
      if (!existsSync(target) || readFileSync(target, 'utf8') !== text) writeFileSync(target, text);
    }
  }
  if (!quiet) console.log(`[esbuild] ${all.length} bundles in ${Date.now() - t0} ms`);
}
