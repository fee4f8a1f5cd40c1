// Installs the end-to-end test tools into a cached folder outside the extension's own dependencies:
// code-server 4.100.3 from npm (real VS Code 1.100 with a Node extension host). Measured recipe:
// ../shared/docs/e2e-notes.md. Re-running is cheap: a finished install is recognised by a stamp file.
//   node test/e2e/tools.mjs            -> installs (or reuses) .tools/e2e, prints the code-server path
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';
// From code-server 4.100.3's npm-shrinkwrap (@vscode/ripgrep) and @vscode/ripgrep's lib/postinstall.js.
// Re-check both if CODE_SERVER_VERSION changes.
const RIPGREP_PACKAGE_VERSION = '1.15.11';
const RIPGREP_ASSET = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TOOLS_DIR = process.env.DSCPP_E2E_TOOLS ?? join(ROOT, '.tools', 'e2e');
export const CODE_SERVER_BIN = join(TOOLS_DIR, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const STAMP = join(TOOLS_DIR, `.installed-code-server-${CODE_SERVER_VERSION}`);

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Installs code-server once; returns the path of its Node entry point. */
export function ensureTools(log = (m) => process.stderr.write(m + '\n')) {
  if (existsSync(STAMP) && existsSync(CODE_SERVER_BIN)) return CODE_SERVER_BIN;
  const missing = ['rg', 'chromium', 'make', 'g++', 'python3'].filter((c) => !which(c));
  if (missing.length) {
    throw new Error(`e2e tools: missing ${missing.join(', ')}; install the Debian packages with: bash .ci/apt.sh (chromium ripgrep libkrb5-dev python3 make g++ zip)`);
  }
  mkdirSync(TOOLS_DIR, { recursive: true });
  if (!existsSync(join(TOOLS_DIR, 'package.json'))) {
    writeFileSync(join(TOOLS_DIR, 'package.json'), JSON.stringify({ name: 'dscpp-e2e-tools', private: true, description: 'code-server for the DSC++ Lab end-to-end tests (not shipped)' }, null, 2) + '\n');
  }
  // @vscode/ripgrep's postinstall downloads ripgrep from GitHub unless this cache file exists:
  // seed it with Debian's rg.
  const tmp = mkdtempSync(join(tmpdir(), 'dscpp-e2e-install-'));
  const cache = join(tmp, `vscode-ripgrep-cache-${RIPGREP_PACKAGE_VERSION}`);
  mkdirSync(cache, { recursive: true });
  const stage = join(tmp, 'stage');
  mkdirSync(stage);
  copyFileSync(which('rg'), join(stage, 'rg'));
  execFileSync('tar', ['-czf', join(cache, RIPGREP_ASSET), '-C', stage, 'rg']);
  log(`e2e tools: npm install code-server@${CODE_SERVER_VERSION} into ${TOOLS_DIR} (a few minutes the first time)`);
  const t0 = Date.now();
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--loglevel=error', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: TOOLS_DIR,
    stdio: 'inherit',
    env: {
      ...process.env,
      TMPDIR: tmp,
      npm_config_unsafe_perm: 'true', // code-server's postinstall refuses root without it
      npm_config_yes: 'true', // node-pty's postinstall runs `npx node-gyp`
      npm_config_nodedir: '/usr', // local Node headers, nothing downloaded
    },
  });
  rmSync(tmp, { recursive: true, force: true });
  if (r.status !== 0 || !existsSync(CODE_SERVER_BIN)) {
    throw new Error(`e2e tools: npm install code-server@${CODE_SERVER_VERSION} failed (exit ${r.status}); see the npm output above`);
  }
  const version = JSON.parse(readFileSync(join(TOOLS_DIR, 'node_modules', 'code-server', 'package.json'), 'utf8')).version;
  if (version !== CODE_SERVER_VERSION) throw new Error(`e2e tools: installed code-server ${version}, expected ${CODE_SERVER_VERSION}`);
  writeFileSync(STAMP, new Date().toISOString() + '\n');
  log(`e2e tools: code-server ${version} installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return CODE_SERVER_BIN;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    console.log(ensureTools());
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
