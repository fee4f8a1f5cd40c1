// End-to-end tests of the DSC++ Lab extension in real VS Code: code-server 4.100.3 (VS Code 1.100 with a
// Node extension host) driven by playwright-core and Debian's chromium. Recipe and measured facts:
// ../shared/docs/e2e-notes.md.
//   npm run test:e2e                 package, install tools (cached in .tools/e2e), run every check
//   node test/e2e/run.mjs --no-package   reuse the last .vsix (.tools/e2e/dscpp-lab-e2e.vsix)
//   node test/e2e/run.mjs --keep         keep the temporary workspace, profile and logs
// Screenshots and timings go to test-results/e2e/.
/* global fetch, window, document, MutationObserver, getComputedStyle -- fetch is Node 20's; the others run inside the page (page.evaluate) */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CODE_SERVER_VERSION, ensureTools, TOOLS_DIR } from './tools.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = new Set(process.argv.slice(2));
const RESULTS = join(ROOT, 'test-results', 'e2e');
const VSIX = join(TOOLS_DIR, 'dscpp-lab-e2e.vsix');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const t0 = Date.now();
const timings = [];
const log = (m) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}`);

// ---- workspace ------------------------------------------------------------------------------------

const TINY = (epochs) => `# End-to-end test config: 8 BBBC039 nuclei images (CC0; source and citations in
# examples/bbbc039/README.md of DSC++ Lab), a small U-Net, short epochs at 64x64 on wasm.
name: e2e-tiny
data:
  format: png
  images: data/images
  masks: data/masks
  classes: [background, nucleus]
  size: [64, 64]
  split: { val: 0.25, test: 0.25, seed: 3 }
  previewCases: 1
model: { arch: unet2d, depth: 2, filters: 4, norm: batch }
loss: { name: dice }
train: { epochs: ${epochs}, batchSize: 2, lr: 0.01, seed: 7 }
eval: { previewCases: 1 }
backend: wasm
`;

// The unknown loss is on line 11, column 15 (1-based), where the validator must point.
const INVALID = `# End-to-end test config with a mistake: the loss name on line 11 is misspelt.
name: e2e-invalid
data:
  format: png
  images: data/images
  masks: data/masks
  classes: [background, nucleus]
  size: [64, 64]
model: { arch: unet2d, depth: 2, filters: 4 }
train: { epochs: 1 }
loss: { name: dscp, gamma: 2 }
`;
const INVALID_LINE = 11;

// The panels' run: the DSC++ loss on the same data, long enough (LIVE_EPOCHS of about half a second each with two slices
// here) to watch the loss curves panel grow while it trains.
const LIVE_EPOCHS = 30;
const LIVE = TINY(LIVE_EPOCHS).replace('name: e2e-tiny', 'name: e2e-live').replace('loss: { name: dice }', 'loss: { name: dscpp, gamma: 2 }');
const INVALID_COLUMN = 15;

function makeWorkspace(dir) {
  const src = join(ROOT, 'examples', 'bbbc039');
  const names = readdirSync(join(src, 'images')).filter((n) => n.endsWith('.png')).sort().slice(0, 8);
  if (names.length < 8) throw new Error(`e2e: expected bbbc039 images in ${src}/images`);
  for (const sub of ['images', 'masks']) {
    mkdirSync(join(dir, 'data', sub), { recursive: true });
    for (const n of names) copyFileSync(join(src, sub, n), join(dir, 'data', sub, n));
  }
  writeFileSync(join(dir, 'tiny.dscpp.yaml'), TINY(2));
  writeFileSync(join(dir, 'invalid.dscpp.yaml'), INVALID);
  writeFileSync(join(dir, 'live.dscpp.yaml'), LIVE);
}

function writeUserSettings(userDir) {
  mkdirSync(join(userDir, 'User'), { recursive: true });
  // A fresh profile's welcome page would steal focus from the command palette.
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'update.mode': 'none',
    'security.workspace.trust.enabled': false,
    'window.commandCenter': false,
    'chat.commandCenter.enabled': false,
    'workbench.editor.enablePreview': false,
    'files.autoSave': 'off',
  };
  writeFileSync(join(userDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
}

// ---- processes ------------------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Training processes started from the installed extension (argv has its dist/backend.js). */
function backendPids(extensionsDir) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmd;
    try {
      cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (cmd.some((a) => a.startsWith(extensionsDir) && a.endsWith(join('dist', 'backend.js')))) out.push(Number(name));
  }
  return out;
}

function codeServerEnv(d) {
  return { ...process.env, XDG_CONFIG_HOME: join(d, 'xdg-config'), XDG_DATA_HOME: join(d, 'xdg-data'), XDG_CACHE_HOME: join(d, 'xdg-cache') };
}

/** code-server on a free port; `trust` keeps workspace trust on (Restricted Mode for an untrusted folder). */
async function startCodeServer(entry, d, ws, { userDir = join(d, 'user'), trust = false } = {}) {
  const port = await freePort();
  const out = join(d, trust ? 'code-server-trust.log' : 'code-server.log');
  const child = spawn(
    process.execPath,
    [entry, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', ...(trust ? [] : ['--disable-workspace-trust']), '--user-data-dir', userDir, '--extensions-dir', join(d, 'extensions'), ws],
    { env: codeServerEnv(d), detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const chunks = [];
  child.stdout.on('data', (b) => chunks.push(b));
  child.stderr.on('data', (b) => chunks.push(b));
  child.on('exit', () => writeFileSync(out, Buffer.concat(chunks)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}:\n${Buffer.concat(chunks).toString().slice(-3000)}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) return { child, url, log: () => Buffer.concat(chunks).toString() };
    } catch {
      /* not up yet */
    }
    await sleep(250);
  }
  throw new Error('code-server did not answer /healthz within 60 s');
}

/** Stops code-server and everything in its process group. */
async function stopCodeServer(cs) {
  if (!cs || cs.child.exitCode !== null) return;
  try {
    process.kill(-cs.child.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  for (let i = 0; i < 40 && cs.child.exitCode === null; i++) await sleep(250);
  try {
    process.kill(-cs.child.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

const fmt4 = (v) => (v === null || v === undefined ? '—' : Number(v.toPrecision(4)).toString());

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- browser helpers ------------------------------------------------------------------------------

/** Debian's chromium, headless, with a profile of its own. */
function launchBrowser(profileDir) {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

async function waitForWorkbench(page) {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  await page.locator('.part.activitybar').waitFor({ state: 'visible', timeout: 60_000 });
  // Record every text the DSC++ status bar item shows (runs are short: poll-free).
  await page.evaluate(() => {
    const w = window;
    w.__dscppStatus = w.__dscppStatus ?? [];
    const scan = () => {
      for (const el of document.querySelectorAll('.statusbar-item')) {
        const t = (el.textContent ?? '').trim();
        if (t.includes('DSC++') && w.__dscppStatus.at(-1) !== t) w.__dscppStatus.push(t);
      }
    };
    new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, characterData: true });
    scan();
  });
}

async function statusTexts(page) {
  return page.evaluate(() => window.__dscppStatus ?? []);
}

/** Runs a command from the palette by its title (retrying while the extension host registers it). */
async function palette(page, title, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  while (Date.now() < deadline) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    try {
      await input.waitFor({ state: 'visible', timeout: 5_000 });
      await input.fill(`>${title}`);
      const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
      await row.waitFor({ state: 'visible', timeout: 5_000 });
      await page.keyboard.press('Enter');
      return;
    } catch (e) {
      lastError = e;
      await sleep(1_000);
    }
  }
  throw new Error(`command "${title}" did not appear in the command palette: ${lastError?.message ?? ''}`);
}

/** Picks the row of the open quick pick that contains `text`. */
async function quickPick(page, text) {
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: text }).first();
  await row.waitFor({ state: 'visible', timeout: 15_000 });
  await row.click();
}

/**
 * Sets the colour theme in the workspace's .vscode/settings.json, as a user may (VS Code applies it live).
 * The theme picker is no use here: typing in it searches the extension marketplace, which this machine
 * cannot reach.
 */
function setColorTheme(ws, theme) {
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'workbench.colorTheme': theme }, null, 2));
}

/** Right-clicks a tree row and runs an item of its context menu. */
async function contextMenu(page, row, item) {
  await row.click({ button: 'right' });
  const entry = page.locator('.context-view .action-menu-item', { hasText: item }).first();
  await entry.waitFor({ state: 'visible', timeout: 10_000 });
  // VS Code ignores a mouse-up that comes right after the menu opened (the right-click's own).
  await sleep(500);
  await entry.hover();
  await entry.click();
}

function treeRow(page, ariaPrefix) {
  return page.locator(`.monaco-list-row[aria-label^="${ariaPrefix}"]`);
}

async function openExperimentsView(page) {
  const tab = page.locator('.part.activitybar .action-item [aria-label^="DSC++ Lab"]').first();
  await tab.waitFor({ state: 'visible', timeout: 60_000 });
  // The side bar's title reads "DSC++ Lab: Experiments" when the view is open (clicking again would close it).
  // After a reload the side bar restores itself a moment later: look before clicking.
  const title = page.locator('.part.sidebar .composite.title', { hasText: /DSC\+\+ Lab/i }).first();
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await title.waitFor({ state: 'visible', timeout: 3_000 });
      return;
    } catch {
      await tab.click();
    }
  }
  await title.waitFor({ state: 'visible', timeout: 10_000 });
}

function runRecords(ws, experiment) {
  const dir = join(ws, 'runs', experiment);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => existsSync(join(dir, n, 'run.json')))
    .sort()
    .map((n) => JSON.parse(readFileSync(join(dir, n, 'run.json'), 'utf8')));
}

async function waitUntil(what, fn, timeoutMs, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

/** The webview content frame that holds `[data-testid=testid]` (several panels may be open side by side). */
async function panelFrame(page, testid, timeoutMs = 30_000) {
  return waitUntil(`a webview with data-testid="${testid}"`, async () => {
    const n = await page.locator('iframe.webview.ready').count();
    for (let i = 0; i < n; i++) {
      const f = page.frameLocator(`iframe.webview.ready >> nth=${i}`).frameLocator('#active-frame');
      if ((await f.locator(`[data-testid="${testid}"]`).count()) > 0) return f;
    }
    return null;
  }, timeoutMs);
}

const dataValue = async (frame, testid) => frame.locator(`[data-testid="${testid}"]`).first().getAttribute('data-value');
const textOf = async (frame, testid) => ((await frame.locator(`[data-testid="${testid}"]`).first().textContent()) ?? '').trim();
const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
const metricsLines = (dir) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

/** A number as the panels print it (webview/shared/format.ts: 4 significant digits) equals v to the digits shown. */
function shownEquals(text, v) {
  const decimals = (text.split('.')[1] ?? '').length;
  return /^-?\d+(\.\d+)?$/.test(text) && Math.abs(Number(text) - v) <= 0.5 * 10 ** -decimals + 1e-12;
}

/** Pixels of a canvas inside a webview frame: size, drawn (non-transparent) pixels, distinct colours. */
async function frameCanvasStats(frame, testid) {
  return frame.locator(`[data-testid="${testid}"]`).first().evaluate((c) => {
    const ctx = c.getContext('2d');
    if (!ctx || c.width === 0 || c.height === 0) return { width: c.width, height: c.height, drawn: 0, colors: 0 };
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let drawn = 0;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] !== 0) drawn++;
      if (seen.size < 4096) seen.add((d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3]);
    }
    return { width: c.width, height: c.height, drawn, colors: seen.size };
  });
}

/** Ticks the rows of an open multi-select quick pick that contain each text, then accepts. */
async function quickPickMany(page, texts) {
  for (const text of texts) {
    const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: text }).first();
    await row.waitFor({ state: 'visible', timeout: 15_000 });
    await row.click();
    if ((await row.getAttribute('aria-checked')) !== 'true') await row.locator('input[type="checkbox"], .quick-input-list-checkbox').first().click();
    await waitUntil(`the quick pick row "${text}" to be ticked`, async () => (await row.getAttribute('aria-checked')) === 'true', 5_000);
  }
  await page.keyboard.press('Enter');
}

function tailLogs(d) {
  const out = [];
  const walk = (p) => {
    for (const n of readdirSync(p)) {
      const f = join(p, n);
      if (statSync(f).isDirectory()) walk(f);
      else if (/exthost|remoteagent|DSC\+\+/i.test(f) && f.endsWith('.log')) out.push(f);
    }
  };
  if (existsSync(join(d, 'user', 'logs'))) walk(join(d, 'user', 'logs'));
  for (const f of out) {
    const text = readFileSync(f, 'utf8');
    console.log(`---- ${f.slice(d.length)} (last 40 lines)\n${text.split('\n').slice(-40).join('\n')}`);
  }
}

// ---- the checks -----------------------------------------------------------------------------------

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  for (const f of readdirSync(RESULTS)) if (f.endsWith('.png') || f === 'timings.json') rmSync(join(RESULTS, f));
  const step = async (name, fn) => {
    const s = Date.now();
    log(`▶ ${name}`);
    await fn();
    const ms = Date.now() - s;
    timings.push({ step: name, seconds: +(ms / 1000).toFixed(1) });
    log(`✔ ${name} (${(ms / 1000).toFixed(1)} s)`);
  };

  let entry;
  await step('install code-server (cached)', async () => {
    entry = ensureTools((m) => log(m));
  });
  await step('package the extension (npm run package)', async () => {
    if (args.has('--no-package') && existsSync(VSIX)) return;
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--out', VSIX], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`packaging failed:\n${r.stdout}\n${r.stderr}`);
    log(r.stdout.trim().split('\n').at(-1));
  });

  const d = mkdtempSync(join(tmpdir(), 'dscpp-e2e-'));
  const ws = join(d, 'workspace');
  mkdirSync(ws);
  makeWorkspace(ws);
  writeUserSettings(join(d, 'user'));
  const extensionsDir = join(d, 'extensions');
  let cs = null;
  let context = null;
  let page = null;
  let failed = null;
  const shot = async (name) => {
    if (page) await page.screenshot({ path: join(RESULTS, `${name}.png`) });
  };
  try {
    await step('install the .vsix into code-server', async () => {
      const r = spawnSync(process.execPath, [entry, '--user-data-dir', join(d, 'user'), '--extensions-dir', extensionsDir, '--install-extension', VSIX], { env: codeServerEnv(d), encoding: 'utf8' });
      if (r.status !== 0 || !/successfully installed/i.test(r.stdout + r.stderr)) throw new Error(`--install-extension failed:\n${r.stdout}\n${r.stderr}`);
    });
    await step(`start code-server ${CODE_SERVER_VERSION}`, async () => {
      cs = await startCodeServer(entry, d, ws);
    });
    await step('open the workbench in chromium', async () => {
      context = await launchBrowser(join(d, 'chromium-profile'));
      page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${cs.url}/?folder=${encodeURIComponent(ws)}`);
      await waitForWorkbench(page);
    });

    await step('the DSC++ Lab view shows the configs', async () => {
      await openExperimentsView(page);
      await page.locator('.monaco-list-row', { hasText: 'tiny.dscpp.yaml' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await page.locator('.monaco-list-row', { hasText: 'invalid.dscpp.yaml' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      // The invalid config is flagged in the view already.
      await page.locator('.monaco-list-row', { hasText: 'invalid.dscpp.yaml' }).filter({ hasText: '1 problem' }).first().waitFor({ state: 'visible', timeout: 10_000 });
      await shot('01-experiments-view');
    });

    await step('DSC++: Run Experiment from the command palette', async () => {
      await palette(page, 'DSC++: Run Experiment');
      await quickPick(page, 'tiny.dscpp.yaml');
      await waitUntil('a run folder', () => runRecords(ws, 'e2e-tiny').length === 1, 60_000);
      await shot('02-run-started');
    });

    await step('the status bar shows epoch, step, loss and ETA', async () => {
      const seen = await waitUntil('a status bar progress text', async () => (await statusTexts(page)).find((t) => /DSC\+\+ dice: epoch \d+\/2 · step \d+\/\d+ · loss \d\.\d{4}/.test(t)), 60_000, 100);
      log(`  status bar: "${seen}"`);
    });

    await step('the run completes in the tree', async () => {
      await treeRow(page, 'dice, completed, DSC 0.').first().waitFor({ state: 'visible', timeout: 120_000 });
      const [rec] = runRecords(ws, 'e2e-tiny');
      if (rec?.status !== 'completed') throw new Error(`run.json says ${rec?.status}`);
      const texts = await statusTexts(page);
      if (!texts.some((t) => t.includes('DSC++ dice: completed'))) throw new Error(`status bar never said completed: ${JSON.stringify(texts)}`);
      await shot('03-run-completed');
    });

    await step('clicking the status bar item opens the loss curves of that run', async () => {
      const [rec] = runRecords(ws, 'e2e-tiny');
      const item = page.locator('.statusbar-item', { hasText: 'DSC++ dice: completed' }).first();
      await item.waitFor({ state: 'visible', timeout: 10_000 });
      await item.locator('a, .statusbar-item-label').first().click();
      await page.locator('.tab', { hasText: 'DSC++ Loss Curves' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      const frame = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
      await frame.locator('[data-testid="render-info"][data-total-points]').waitFor({ state: 'attached', timeout: 30_000 });
      const status = (await frame.locator(`[data-testid="run-status-${rec.id}"]`).textContent())?.trim();
      const epochs = await frame.locator(`[data-testid="epochs-${rec.id}"]`).getAttribute('data-value');
      const shown = Number(await frame.locator(`[data-testid="val-dsc-${rec.id}"]`).getAttribute('data-value'));
      if (status !== 'completed' || epochs !== '2') throw new Error(`the curves panel shows status ${status}, ${epochs} epochs; expected completed, 2`);
      if (!(Math.abs(shown - rec.summary.last.dsc) < 1e-6)) throw new Error(`the curves panel shows validation DSC ${shown}, run.json says ${rec.summary.last.dsc}`);
      log(`  curves panel: ${status}, ${epochs} epochs, last validation DSC ${shown} (run.json ${rec.summary.last.dsc})`);
      await shot('04-loss-curves-from-status-bar');
      await palette(page, 'View: Close All Editors');
    });

    await step('run again through the CodeLens, then cancel it from its progress notification: marked stopped', async () => {
      // A longer schedule for the second run, so that there is time to stop it.
      writeFileSync(join(ws, 'tiny.dscpp.yaml'), TINY(300));
      await page.locator('.monaco-list-row', { hasText: 'tiny.dscpp.yaml' }).first().click();
      const lens = page.locator('.codelens-decoration a', { hasText: 'Run experiment' }).first();
      await lens.waitFor({ state: 'visible', timeout: 30_000 });
      await lens.click();
      await treeRow(page, 'dice, running, epoch').first().waitFor({ state: 'visible', timeout: 60_000 });
      await shot('05-codelens-run');
      // Stop it with the progress notification's Cancel button.
      const toast = page.locator('.notification-toast', { hasText: 'DSC++ e2e-tiny · dice' }).first();
      await toast.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
      await treeRow(page, 'dice, stopped').first().waitFor({ state: 'visible', timeout: 60_000 });
      const recs = runRecords(ws, 'e2e-tiny');
      if (recs.length !== 2 || recs[1].status !== 'stopped') throw new Error(`expected the second run stopped, run.json says ${recs.map((r) => r.status).join(', ')}`);
      await waitUntil('the training process to exit', () => backendPids(extensionsDir).length === 0, 30_000);
      await shot('06-run-stopped');
    });

    await step('context menu: resume the stopped run, stop it again, then delete it after confirming', async () => {
      const stoppedDir = join(ws, 'runs', 'e2e-tiny', runRecords(ws, 'e2e-tiny')[1].id);
      await contextMenu(page, treeRow(page, 'dice, stopped').first(), 'DSC++: Resume Run');
      await treeRow(page, 'dice, running, epoch').first().waitFor({ state: 'visible', timeout: 60_000 });
      await palette(page, 'DSC++: Stop Run');
      await treeRow(page, 'dice, stopped').first().waitFor({ state: 'visible', timeout: 60_000 });
      const resumed = JSON.parse(readFileSync(join(stoppedDir, 'run.json'), 'utf8'));
      if (resumed.status !== 'stopped' || resumed.resumedFrom.length !== 1) throw new Error(`expected the resumed run stopped with one resume, run.json: ${resumed.status}, ${resumed.resumedFrom.length}`);
      await waitUntil('the training process to exit', () => backendPids(extensionsDir).length === 0, 30_000);
      await contextMenu(page, treeRow(page, 'dice, stopped').first(), 'DSC++: Delete Run');
      const confirm = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Delete' }).first();
      await confirm.waitFor({ state: 'visible', timeout: 10_000 });
      await shot('07-delete-confirmation');
      await confirm.click();
      await waitUntil('the run folder to be deleted', () => !existsSync(stoppedDir), 10_000);
      await treeRow(page, 'dice, stopped').first().waitFor({ state: 'detached', timeout: 10_000 });
      if (runRecords(ws, 'e2e-tiny').length !== 1) throw new Error('expected one run left');
    });

    await step(`the invalid config shows its diagnostic at line ${INVALID_LINE}`, async () => {
      await page.locator('.monaco-list-row', { hasText: 'invalid.dscpp.yaml' }).first().click();
      await page.locator('.squiggly-error').first().waitFor({ state: 'attached', timeout: 30_000 });
      await palette(page, 'View: Focus Problems');
      const row = page.locator('.markers-panel .monaco-list-row', { hasText: "unknown loss 'dscp'" }).first();
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      const text = (await row.textContent()) ?? '';
      const aria = (await row.getAttribute('aria-label')) ?? '';
      log(`  problems: "${text.trim()}"`);
      if (!text.includes(`[Ln ${INVALID_LINE}, Col ${INVALID_COLUMN}]`) && !aria.includes(`line ${INVALID_LINE} column ${INVALID_COLUMN}`)) throw new Error(`the diagnostic is not at line ${INVALID_LINE}, column ${INVALID_COLUMN}: "${text}" / "${aria}"`);
      if (!text.includes("did you mean 'dscpp'?")) throw new Error(`no suggestion in "${text}"`);
      // The squiggle sits on the line with the loss name.
      const squiggleTop = await page.locator('.squiggly-error').first().evaluate((el) => el.getBoundingClientRect().top);
      const lineTop = await page.locator('.margin-view-overlays .line-numbers', { hasText: new RegExp(`^\\s*${INVALID_LINE}\\s*$`) }).first().evaluate((el) => el.getBoundingClientRect().top);
      if (Math.abs(squiggleTop - lineTop) > 4) throw new Error(`the squiggle is at y=${squiggleTop}, line ${INVALID_LINE} at y=${lineTop}`);
      await shot('08-invalid-config');
    });

    await step('DSC++: Select Compute Backend lists this host\'s backends and what auto picks', async () => {
      await palette(page, 'DSC++: Select Compute Backend');
      const auto = page.locator('.quick-input-widget .monaco-list-row', { hasText: /picks \S+ on this host/ }).first();
      await auto.waitFor({ state: 'visible', timeout: 60_000 });
      const autoText = ((await auto.textContent()) ?? '').trim();
      const wasm = ((await page.locator('.quick-input-widget .monaco-list-row:visible', { hasText: /wasm\s*available/ }).first().textContent()) ?? '').trim();
      log(`  quick pick: "${autoText}" / "${wasm}"`);
      await shot('09-select-compute-backend');
      await page.keyboard.press('Escape');
    });

    await step('DSC++: Install GPU Backend explains the outcome in plain words', async () => {
      await palette(page, 'DSC++: Install GPU Backend');
      await quickPick(page, 'Native TensorFlow on the CPU');
      // Here the install script cannot download libtensorflow; with internet access it installs.
      const toast = page.locator('.notification-toast', { hasText: /tensorflow (could not be installed|installed in)/ }).first();
      await toast.waitFor({ state: 'visible', timeout: 240_000 });
      const text = ((await toast.textContent()) ?? '').trim();
      log(`  notification: "${text.slice(0, 300)}"`);
      if (/could not be installed/.test(text) && !/keeps working on the wasm backend/.test(text)) throw new Error(`the failure does not say that wasm keeps working: ${text}`);
      await sleep(800); // the toast slides in
      await shot('10-install-gpu-backend');
      await palette(page, 'Notifications: Clear All Notifications');
    });

    await step('after a window reload the view is rebuilt from disk', async () => {
      const reloaded = page.waitForEvent('load', { timeout: 60_000 });
      await palette(page, 'Developer: Reload Window');
      await reloaded;
      await waitForWorkbench(page);
      await openExperimentsView(page);
      await treeRow(page, 'dice, completed').first().waitFor({ state: 'visible', timeout: 60_000 });
      if ((await page.locator('.monaco-list-row[aria-label^="dice, "]').count()) !== 1) throw new Error('expected exactly the one remaining run in the view');
      await shot('11-after-reload');
    });

    // ---- the panels in real VS Code, during and after a run (issue 6) ----
    let live = null; // { id, dir } of the e2e-live run
    const liveRow = (status) => page.locator(`.monaco-list-row[aria-label^="dscpp"][aria-label*=", ${status}"]`).first();

    await step('during a run: Show Loss Curves grows live (epochs and points)', async () => {
      await palette(page, 'View: Close All Editors');
      await palette(page, 'DSC++: Run Experiment');
      await quickPick(page, 'live.dscpp.yaml');
      const rec = await waitUntil('the e2e-live run folder', () => runRecords(ws, 'e2e-live')[0], 60_000);
      live = { id: rec.id, dir: join(ws, 'runs', 'e2e-live', rec.id) };
      await liveRow('running').waitFor({ state: 'visible', timeout: 60_000 });
      // From the palette (a context menu on a row that re-renders every step can lose its target).
      await palette(page, 'DSC++: Show Loss Curves');
      await quickPickMany(page, [`e2e-live · ${live.id}`]);
      const frame = await panelFrame(page, `epochs-${live.id}`);
      const read = async () => ({
        status: await textOf(frame, `run-status-${live.id}`),
        epochs: Number(await dataValue(frame, `epochs-${live.id}`)),
        steps: Number(await dataValue(frame, `steps-${live.id}`)),
        points: Number(await frame.locator('[data-testid="render-info"]').getAttribute('data-total-points')),
      });
      const first = await read();
      if (first.status !== 'running') throw new Error(`the curves panel opened on a run that is ${first.status}, expected running`);
      const grown = await waitUntil('two more epochs in the open panel while the run trains', async () => {
        const now = await read();
        return now.status === 'running' && now.epochs >= first.epochs + 2 && now.steps > first.steps && now.points > first.points ? now : null;
      }, 60_000, 200);
      log(`  live: ${first.epochs} → ${grown.epochs} epochs, ${first.steps} → ${grown.steps} steps, ${first.points} → ${grown.points} points, status running`);
      if (grown.epochs >= LIVE_EPOCHS) throw new Error('the run ended before the live growth was seen');
      await shot('13-curves-live');
      // The run completes in the same panel, which then matches the run folder.
      await waitUntil('the curves panel to show the run completed', async () => (await textOf(frame, `run-status-${live.id}`)) === 'completed', 120_000);
      const done = runRecords(ws, 'e2e-live')[0];
      const lines = metricsLines(live.dir);
      const epochLines = lines.filter((l) => l.kind === 'epoch');
      const stepLines = lines.filter((l) => l.kind === 'step');
      const end = await read();
      if (done.status !== 'completed' || end.epochs !== LIVE_EPOCHS || end.epochs !== epochLines.length || end.epochs !== done.summary.epochsCompleted) throw new Error(`panel ${end.epochs} epochs; metrics.jsonl ${epochLines.length}; run.json ${done.status}, ${done.summary.epochsCompleted}`);
      if (end.steps !== stepLines.length) throw new Error(`the panel shows ${end.steps} steps, metrics.jsonl has ${stepLines.length}`);
      const lastLoss = Number(await dataValue(frame, `last-loss-${live.id}`));
      if (lastLoss !== stepLines.at(-1).loss) throw new Error(`the panel's last loss ${lastLoss} ≠ metrics.jsonl ${stepLines.at(-1).loss}`);
      const valDsc = Number(await dataValue(frame, `val-dsc-${live.id}`));
      if (valDsc !== done.summary.last.dsc || valDsc !== epochLines.at(-1).val.dsc) throw new Error(`the panel's validation DSC ${valDsc} ≠ run.json ${done.summary.last.dsc} / metrics.jsonl ${epochLines.at(-1).val.dsc}`);
      log(`  completed: ${end.epochs} epochs, ${end.steps} steps, last loss ${lastLoss}, validation DSC ${valDsc} (= run.json, metrics.jsonl)`);
      await waitUntil('the training process to exit', () => backendPids(extensionsDir).length === 0, 30_000);
    });

    await step('after the run: Show Calibration shows evaluation.json, the threshold slider shows the sweep', async () => {
      const evPath = join(live.dir, 'evaluation.json');
      if (!existsSync(evPath)) throw new Error(`the completed run has no ${evPath}`);
      const ev = readJson(evPath);
      await palette(page, 'View: Close All Editors');
      await palette(page, 'DSC++: Show Calibration');
      await quickPickMany(page, [`e2e-live · ${live.id}`]);
      const frame = await panelFrame(page, `cell-${live.id}-all-ece-before`);
      const shown = [];
      for (const m of ['ece', 'nll', 'brier']) {
        const testid = `cell-${live.id}-all-${m}-before`;
        const v = Number(await dataValue(frame, testid));
        const text = await textOf(frame, testid);
        if (v !== ev.temperature.before[m]) throw new Error(`${m}: the table holds ${v}, evaluation.json temperature.before.${m} is ${ev.temperature.before[m]}`);
        if (!shownEquals(text, ev.overall[m]) || Math.abs(v - ev.overall[m]) > 5e-5) throw new Error(`${m}: the table shows "${text}" (${v}), evaluation.json overall.${m} is ${ev.overall[m]}`);
        shown.push(`${m.toUpperCase()} ${text}`);
      }
      const after = Number(await dataValue(frame, `cell-${live.id}-all-ece-after`));
      if (after !== ev.temperature.after.ece) throw new Error(`ECE after T: ${after} ≠ evaluation.json ${ev.temperature.after.ece}`);
      if ((await frameCanvasStats(frame, `reliability-${live.id}`)).drawn === 0) throw new Error('the reliability diagram is blank');
      log(`  table: ${shown.join(', ')}, ECE after T ${fmt4(after)} (= evaluation.json)`);
      await shot('14-calibration');
      // The threshold slider: each position shows that sweep point's precision, recall and DSC.
      const slider = frame.locator('[data-testid="sweep-slider"]');
      await slider.scrollIntoViewIfNeeded();
      const pointAt = async () => {
        const i = Number(await slider.inputValue());
        const t = Number(await dataValue(frame, 'sweep-threshold'));
        const sweep = ev.thresholdSweep.find((s) => s.points[i]?.threshold === t);
        if (!sweep) throw new Error(`slider position ${i} shows threshold ${t}, which no sweep of evaluation.json has at that index`);
        return { i, sweep, pt: sweep.points[i] };
      };
      const start = await pointAt();
      const n = start.sweep.points.length;
      const key = start.i + 3 < n ? 'ArrowRight' : 'ArrowLeft';
      const target = key === 'ArrowRight' ? start.i + 3 : start.i - 3;
      await slider.focus();
      for (let k = 0; k < 3; k++) await slider.press(key);
      const want = start.sweep.points[target];
      await waitUntil(`the sweep readout at threshold ${want.threshold}`, async () => (await dataValue(frame, 'sweep-threshold')) === String(want.threshold), 10_000);
      const moved = await pointAt();
      for (const m of ['precision', 'recall', 'dsc']) {
        const v = await dataValue(frame, `sweep-${m}`);
        const expect = want[m] === null ? '' : String(want[m]);
        if (moved.i !== target || v !== expect) throw new Error(`slider at ${moved.i}: ${m} shows ${v}, evaluation.json's sweep point ${target} has ${expect}`);
      }
      log(`  sweep (${start.sweep.className}): threshold ${start.pt.threshold} → ${want.threshold}: precision ${want.precision}, recall ${want.recall}, DSC ${want.dsc} (= evaluation.json)`);
      await shot('14-calibration-threshold');
    });

    await step('after the run: Show Mask Preview draws the case and its DSC from evaluation.json', async () => {
      const ev = readJson(join(live.dir, 'evaluation.json'));
      await palette(page, 'View: Close All Editors');
      await palette(page, 'DSC++: Show Mask Preview');
      await quickPick(page, `e2e-live · ${live.id}`);
      const frame = await panelFrame(page, 'mask-canvas');
      await frame.locator('[data-testid="mask-canvas"][data-case-index]').waitFor({ state: 'attached', timeout: 30_000 });
      const st = await frameCanvasStats(frame, 'mask-canvas');
      if (!(st.width > 0 && st.drawn === st.width * st.height && st.colors > 10)) throw new Error(`the mask canvas is not drawn: ${JSON.stringify(st)}`);
      const caseId = await textOf(frame, 'case-id');
      const c = ev.cases.find((x) => x.id === caseId);
      if (!c || c.preview === null) throw new Error(`evaluation.json has no previewed case "${caseId}" (cases: ${ev.cases.map((x) => `${x.id}/${x.preview}`).join(', ')})`);
      const dsc = await dataValue(frame, 'case-dsc');
      const dscText = await textOf(frame, 'case-dsc');
      if (dsc !== (c.dsc === null ? '' : String(c.dsc))) throw new Error(`case ${caseId}: the panel shows DSC ${dsc}, evaluation.json ${c.dsc}`);
      const nll = Number(await dataValue(frame, 'case-nll'));
      if (nll !== c.nll) throw new Error(`case ${caseId}: the panel shows NLL ${nll}, evaluation.json ${c.nll}`);
      log(`  case ${caseId}: canvas ${st.width}×${st.height}, ${st.colors} colours; DSC "${dscText}" (${dsc}), NLL ${nll} (= evaluation.json)`);
      await shot('15-masks');
    });

    await step('after the runs: Compare Runs shows both completed runs side by side', async () => {
      const [tiny] = runRecords(ws, 'e2e-tiny');
      const runs = [
        { id: tiny.id, dir: join(ws, 'runs', 'e2e-tiny', tiny.id), detail: `e2e-tiny · ${tiny.id}` },
        { id: live.id, dir: live.dir, detail: `e2e-live · ${live.id}` },
      ];
      await palette(page, 'View: Close All Editors');
      await palette(page, 'DSC++: Compare Runs');
      await quickPickMany(page, runs.map((r) => r.detail));
      const cal = await panelFrame(page, `summary-${live.id}-dsc`);
      // The Loss Curves panel opens beside it with the same runs. In code-server its page sometimes
      // loads before the webview service worker is up and stays blank; the host reloads a page that
      // has not said `ready` within 4 s (PanelManager.watchBoot), so it must show up here.
      const curves = await panelFrame(page, `summary-${live.id}-testDsc`, 45_000);
      const curveCanvas = await frameCanvasStats(curves, 'curves-canvas');
      if (curveCanvas.drawn === 0) throw new Error(`the Compare Runs loss chart is blank: ${JSON.stringify(curveCanvas)}`);
      const lines = [];
      for (const r of runs) {
        const ev = readJson(join(r.dir, 'evaluation.json'));
        const rec = readJson(join(r.dir, 'run.json'));
        for (const m of ['dsc', 'nll', 'ece']) {
          const v = Number(await dataValue(cal, `summary-${r.id}-${m}`));
          if (v !== ev.overall[m]) throw new Error(`Compare Runs (calibration) shows ${m} ${v} for ${r.id}, evaluation.json ${ev.overall[m]}`);
          const key = m === 'dsc' ? 'Dsc' : m === 'nll' ? 'Nll' : 'Ece';
          const test = Number(await dataValue(curves, `summary-${r.id}-test${key}`));
          if (test !== ev.overall[m]) throw new Error(`Compare Runs (loss curves) shows test ${m} ${test} for ${r.id}, evaluation.json ${ev.overall[m]}`);
          const val = Number(await dataValue(curves, `summary-${r.id}-val${key}`));
          if (val !== rec.summary.best[m]) throw new Error(`Compare Runs (loss curves) shows validation ${m} ${val} for ${r.id}, run.json summary.best ${rec.summary.best[m]}`);
        }
        if (rec.status !== 'completed' || ev.runId !== r.id) throw new Error(`${r.dir}: run.json ${rec.status}, evaluation.json of ${ev.runId}`);
        lines.push(`${r.detail}: test DSC ${fmt4(ev.overall.dsc)}, NLL ${fmt4(ev.overall.nll)}, ECE ${fmt4(ev.overall.ece)}`);
      }
      const bestCells = await cal.locator('[data-testid^="summary-"][data-best="true"]').count();
      if (bestCells === 0) throw new Error('the comparison table highlights no best value');
      const bestCurves = await curves.locator('[data-testid^="summary-"][data-best="true"]').count();
      if (bestCurves === 0) throw new Error('the loss curves summary highlights no best value');
      log(`  ${lines.join('; ')}; ${bestCells} best cells highlighted (calibration), ${bestCurves} (loss curves); loss chart ${curveCanvas.width}×${curveCanvas.height}, ${curveCanvas.drawn} pixels drawn`);
      await cal.locator('[data-testid="summary"]').scrollIntoViewIfNeeded();
      await shot('16-compare');
      await palette(page, 'View: Close All Editors');
    });

    await step('the panels follow the colour theme: light and high contrast, redrawn in place', async () => {
      await palette(page, 'DSC++: Show Calibration');
      await quickPickMany(page, [`e2e-live · ${live.id}`]);
      const frame = await panelFrame(page, `reliability-${live.id}`);
      const look = async () => frame.locator('body').evaluate((b) => ({ cls: b.className, bg: getComputedStyle(b).backgroundColor, fg: getComputedStyle(b).color }));
      const seen = [];
      const backgrounds = new Set();
      for (const [theme, cls, file] of [['Default Dark Modern', 'vscode-dark', '17-calibration-dark'], ['Default High Contrast', 'vscode-high-contrast', '18-calibration-high-contrast'], ['Default Light Modern', 'vscode-light', null]]) {
        setColorTheme(ws, theme);
        const now = await waitUntil(`the calibration panel's body to carry ${cls}`, async () => {
          const l = await look();
          return l.cls.split(/\s+/).includes(cls) ? l : null;
        }, 15_000);
        // The diagram is redrawn with the new theme's colours (re-read on the body's class change).
        await sleep(500);
        const st = await frameCanvasStats(frame, `reliability-${live.id}`);
        if (st.drawn === 0) throw new Error(`the reliability diagram is blank in ${theme}`);
        seen.push(`${theme}: body ${cls}, background ${now.bg}, text ${now.fg}, ${st.colors} colours in the diagram`);
        backgrounds.add(now.bg);
        if (file) await shot(file);
      }
      if (backgrounds.size !== 3) throw new Error(`the panel background did not follow the theme: ${seen.join('; ')}`);
      log(`  ${seen.join('; ')}`);
      await palette(page, 'View: Close All Editors');
    });

    await step('no training process is left after the window closes', async () => {
      await page.locator('.monaco-list-row', { hasText: 'tiny.dscpp.yaml' }).first().click();
      await page.locator('.codelens-decoration a', { hasText: 'Run experiment' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await palette(page, 'DSC++: Run Experiment');
      await treeRow(page, 'dice, running, epoch').first().waitFor({ state: 'visible', timeout: 60_000 });
      const pids = backendPids(extensionsDir);
      if (pids.length !== 1) throw new Error(`expected one training process, found ${pids.length}`);
      await shot('12-running-before-close');
      // Close the window the way a user does (unload handlers run: VS Code shuts its extension host
      // down, which deactivates the extension), then the browser.
      const s = Date.now();
      await page.close({ runBeforeUnload: true });
      page = null;
      await waitUntil(`training process ${pids[0]} to exit after the window closed`, () => backendPids(extensionsDir).length === 0, 60_000, 250);
      log(`  training process ${pids[0]} exited ${((Date.now() - s) / 1000).toFixed(1)} s after the window closed`);
      await context.close();
      context = null;
      const recs = runRecords(ws, 'e2e-tiny');
      log(`  run statuses on disk: ${recs.map((r) => r.status).join(', ')}`);
      if (recs.length !== 2 || recs[1].status !== 'stopped') throw new Error(`expected the run cut short by the closing window to be marked stopped, run.json says ${recs[1]?.status}`);
    });

    await step('Restricted Mode: configs and runs are shown, a run is refused with the reason', async () => {
      await stopCodeServer(cs);
      // A second profile with workspace trust on and no startup prompt: the folder opens untrusted.
      const userDir = join(d, 'user-restricted');
      writeUserSettings(userDir);
      const settingsFile = join(userDir, 'User', 'settings.json');
      writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(readFileSync(settingsFile, 'utf8')), 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'always' }, null, 2));
      cs = await startCodeServer(entry, d, ws, { userDir, trust: true });
      context = await launchBrowser(join(d, 'chromium-profile-restricted'));
      page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${cs.url}/?folder=${encodeURIComponent(ws)}`);
      await waitForWorkbench(page);
      await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      await openExperimentsView(page);
      // Limited support: the view still lists the configs and their runs.
      await page.locator('.monaco-list-row', { hasText: 'tiny.dscpp.yaml' }).first().waitFor({ state: 'visible', timeout: 30_000 });
      const runsBefore = runRecords(ws, 'e2e-tiny').length;
      await palette(page, 'DSC++: Run Experiment');
      const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'does not start training in Restricted Mode' }).first();
      await toast.waitFor({ state: 'visible', timeout: 15_000 });
      const text = ((await toast.textContent()) ?? '').trim();
      if (!text.includes('Manage Workspace Trust')) throw new Error(`the Restricted Mode warning has no Manage Workspace Trust button: "${text}"`);
      await sleep(2_000);
      if (backendPids(extensionsDir).length !== 0) throw new Error('a training process started in Restricted Mode');
      if (runRecords(ws, 'e2e-tiny').length !== runsBefore) throw new Error('a run folder was created in Restricted Mode');
      log(`  warning shown: "${text.slice(0, 120)}…"; no training process, no run folder (${runsBefore} runs on disk, unchanged)`);
      await shot('19-restricted-mode');
      await context.close();
      context = null;
      page = null;
    });
  } catch (e) {
    failed = e;
    console.error(`\n✖ ${e.message}`);
    await shot('failure').catch(() => undefined);
    if (cs) console.log(`---- code-server output (last 3000 chars)\n${cs.log().slice(-3000)}`);
    tailLogs(d);
  } finally {
    if (context) await context.close().catch(() => undefined);
    await stopCodeServer(cs);
    // Processes this run started and that outlived everything (only after a failure).
    for (const pid of backendPids(extensionsDir)) {
      console.error(`e2e: killing leftover training process ${pid}`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (args.has('--keep') || failed) log(`kept ${d}`);
    else rmSync(d, { recursive: true, force: true });
  }
  const total = +((Date.now() - t0) / 1000).toFixed(1);
  writeFileSync(join(RESULTS, 'timings.json'), JSON.stringify({ codeServer: CODE_SERVER_VERSION, passed: !failed, totalSeconds: total, steps: timings }, null, 2) + '\n');
  console.log('\nstep                                                              seconds');
  for (const t of timings) console.log(`${t.step.padEnd(80)}${String(t.seconds).padStart(7)}`);
  console.log(`${'total'.padEnd(80)}${String(total).padStart(7)}`);
  console.log(`screenshots: ${readdirSync(RESULTS).filter((f) => f.endsWith('.png')).sort().join(', ')}`);
  if (failed) process.exit(1);
}

await main();
