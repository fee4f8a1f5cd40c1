// Builds the panel bundles and the browser tests, then runs the tests in headless Chromium.
//   node test/browser/run.mjs                 build + run every test/browser/*.test.ts
//   node test/browser/run.mjs curves          only curves.test.ts
//   node test/browser/run.mjs --make-fixtures regenerate test/fixtures/runs/synthetic
// The webview bundles are built with the same options as esbuild.mjs (which also builds them), so
// this runner works while unrelated parts of the tree do not build.
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const args = process.argv.slice(2);
const common = { bundle: true, sourcemap: 'linked', legalComments: 'none', logLevel: 'warning' };

const webview = readdirSync(join(root, 'webview'))
  .filter((n) => n !== 'shared' && existsSync(join(root, 'webview', n, 'main.ts')))
  .map((n) => ({ ...common, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: [join(root, 'webview', n, 'main.ts')], outfile: join(root, 'dist', 'webview', `${n}.js`), loader: { '.css': 'css', '.ttf': 'file' } }));
const node = (entry, out) => ({ ...common, platform: 'node', target: 'node20', format: 'cjs', external: ['@tensorflow/*', 'vscode', 'playwright-core', 'chromium-bidi/*'], entryPoints: [join(root, 'test', 'browser', entry)], outfile: join(root, 'dist', 'test', 'browser', out) });

if (args.includes('--make-fixtures')) {
  await esbuild.build(node('make-fixtures.ts', 'make-fixtures.cjs'));
  const r = spawnSync(process.execPath, [join(root, 'dist', 'test', 'browser', 'make-fixtures.cjs'), ...args], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const only = args.filter((a) => !a.startsWith('--'));
const tests = readdirSync(join(root, 'test', 'browser')).filter((f) => f.endsWith('.test.ts') && (only.length === 0 || only.some((o) => f.startsWith(o))));
const t0 = Date.now();
await Promise.all([...webview, ...tests.map((f) => node(f, f.replace(/\.ts$/, '.cjs')))].map((o) => esbuild.build(o)));
console.log(`[browser tests] built ${webview.length} panel bundles and ${tests.length} test files in ${Date.now() - t0} ms`);
const files = tests.map((f) => join(root, 'dist', 'test', 'browser', f.replace(/\.ts$/, '.cjs')));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
