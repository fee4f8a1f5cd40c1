// Browser-test harness: serves each panel's production HTML (the same panelHtml() the extension uses,
// with its CSP and nonce) and bundle from a local http server on 127.0.0.1, replaces acquireVsCodeApi
// with a recorder, and connects the page to the real host-side controller (src/extension/panels),
// which reads real run folders. Host→webview messages go through window.postMessage (structured
// clone, typed arrays included); webview→host messages come back through an exposed binding.
import { createServer, type Server } from 'node:http';
import { readFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, extname } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { panelHtml, type PanelKind } from '../../src/extension/panels/html';

export const ROOT = resolve(__dirname, '../../..');
export const RESULTS = join(ROOT, 'test-results', 'browser');

export type Theme = 'dark' | 'light' | 'hc';

const THEMES: Record<Theme, { bodyClass: string; vars: Record<string, string> }> = {
  dark: {
    bodyClass: 'vscode-dark',
    vars: { 'editor-background': '#1f1f1f', 'editor-foreground': '#cccccc', foreground: '#cccccc', descriptionForeground: '#9d9d9d', errorForeground: '#f85149', focusBorder: '#0078d4', 'panel-border': '#2b2b2b', 'charts-red': '#f14c4c', 'charts-green': '#89d185', 'charts-blue': '#3794ff', 'charts-orange': '#d18616', 'charts-purple': '#b180d7', 'charts-yellow': '#cca700', 'charts-lines': 'rgba(204,204,204,0.25)', 'button-background': '#0078d4', 'button-foreground': '#ffffff', 'list-activeSelectionBackground': '#04395e', 'list-activeSelectionForeground': '#ffffff', 'font-family': 'system-ui, sans-serif', 'font-size': '13px' },
  },
  light: {
    bodyClass: 'vscode-light',
    vars: { 'editor-background': '#ffffff', 'editor-foreground': '#3b3b3b', foreground: '#3b3b3b', descriptionForeground: '#717171', errorForeground: '#f85149', focusBorder: '#005fb8', 'panel-border': '#e5e5e5', 'charts-red': '#e51400', 'charts-green': '#388a34', 'charts-blue': '#1a85ff', 'charts-orange': '#d18616', 'charts-purple': '#652d90', 'charts-yellow': '#bf8803', 'charts-lines': 'rgba(59,59,59,0.2)', 'button-background': '#005fb8', 'button-foreground': '#ffffff', 'list-activeSelectionBackground': '#e8e8e8', 'list-activeSelectionForeground': '#000000', 'settings-checkboxBackground': '#f8f8f8', 'settings-checkboxBorder': '#cecece', 'settings-checkboxForeground': '#3b3b3b', 'settings-dropdownBackground': '#ffffff', 'settings-dropdownBorder': '#cecece', 'settings-dropdownForeground': '#3b3b3b', 'settings-textInputBackground': '#ffffff', 'settings-textInputBorder': '#cecece', 'settings-textInputForeground': '#3b3b3b', 'dropdown-background': '#ffffff', 'dropdown-foreground': '#3b3b3b', 'dropdown-border': '#cecece', 'font-family': 'system-ui, sans-serif', 'font-size': '13px' },
  },
  hc: {
    bodyClass: 'vscode-high-contrast',
    vars: { 'editor-background': '#000000', 'editor-foreground': '#ffffff', foreground: '#ffffff', descriptionForeground: '#ffffff', errorForeground: '#f48771', focusBorder: '#f38518', 'panel-border': '#6fc3df', 'charts-red': '#f14c4c', 'charts-green': '#89d185', 'charts-blue': '#3794ff', 'charts-orange': '#d18616', 'charts-purple': '#b180d7', 'charts-yellow': '#cca700', 'charts-lines': 'rgba(255,255,255,0.5)', 'button-background': '#000000', 'button-foreground': '#ffffff', contrastActiveBorder: '#f38518', contrastBorder: '#6fc3df', 'settings-checkboxBackground': '#000000', 'settings-checkboxBorder': '#6fc3df', 'settings-dropdownBackground': '#000000', 'settings-dropdownBorder': '#6fc3df', 'settings-textInputBackground': '#000000', 'settings-textInputBorder': '#6fc3df', 'list-activeSelectionBackground': '#000000', 'list-activeSelectionForeground': '#ffffff', 'font-family': 'system-ui, sans-serif', 'font-size': '13px' },
  },
};

const MIME: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.ttf': 'font/ttf' };

export interface Harness {
  browser: Browser;
  origin: string;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  for (const kind of ['curves', 'calibration', 'masks']) {
    if (!existsSync(join(ROOT, 'dist', 'webview', `${kind}.js`))) throw new Error(`dist/webview/${kind}.js is missing: build first (node test/browser/run.mjs builds it)`);
  }
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const origin = `http://${req.headers.host ?? '127.0.0.1'}`;
    const panel = /^\/panel\/(curves|calibration|masks)$/.exec(url.pathname);
    if (panel) {
      const kind = panel[1] as PanelKind;
      const theme = THEMES[(url.searchParams.get('theme') as Theme | null) ?? 'dark'] ?? THEMES.dark;
      let html = panelHtml({ panel: kind, title: `DSC++ ${kind}`, cspSource: origin, scriptUri: `${origin}/dist/webview/${kind}.js`, styleUri: `${origin}/dist/webview/${kind}.css` });
      // What VS Code adds around a webview: theme variables and the theme's body class.
      html = html.replace('<link rel="stylesheet"', `<link rel="stylesheet" href="${origin}/theme/${url.searchParams.get('theme') ?? 'dark'}.css">\n<link rel="stylesheet"`).replace('<body ', `<body class="${theme.bodyClass}" `);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
      return;
    }
    const themeCss = /^\/theme\/(dark|light|hc)\.css$/.exec(url.pathname);
    if (themeCss) {
      const t = THEMES[themeCss[1] as Theme];
      res.writeHead(200, { 'content-type': 'text/css' });
      res.end(`:root {\n${Object.entries(t.vars).map(([k, v]) => `  --vscode-${k}: ${v};`).join('\n')}\n}\n`);
      return;
    }
    if (url.pathname.startsWith('/dist/webview/')) {
      const file = join(ROOT, 'dist', 'webview', url.pathname.slice('/dist/webview/'.length));
      if (!file.startsWith(join(ROOT, 'dist', 'webview')) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return {
    browser,
    origin: `http://127.0.0.1:${port}`,
    async close() {
      await browser.close();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

// ---------- transfer encoding (typed arrays survive as base64) ----------
type Encoded = unknown;
const TYPED = { Float32Array, Float64Array, Uint8Array } as const;

export function encode(v: unknown): Encoded {
  if (v instanceof Float32Array || v instanceof Float64Array || v instanceof Uint8Array) {
    return { __typed: v.constructor.name, b64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  }
  if (Array.isArray(v)) return v.map(encode);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  if (typeof v === 'number' && !Number.isFinite(v)) return { __num: String(v) };
  return v;
}

export function decode(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decode);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.__typed === 'string' && typeof o.b64 === 'string') {
      const buf = Buffer.from(o.b64, 'base64');
      const Ctor = TYPED[o.__typed as keyof typeof TYPED];
      const copy = new Uint8Array(buf.byteLength);
      copy.set(buf);
      return new Ctor(copy.buffer, 0, buf.byteLength / Ctor.BYTES_PER_ELEMENT);
    }
    if (typeof o.__num === 'string') return Number(o.__num);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decode(x)]));
  }
  return v;
}

/** Runs in the page before any of its scripts: the fake VS Code webview API. Self-contained. */
function installFakeVsCode(initialState: unknown): void {
  type Typed = Float32Array | Float64Array | Uint8Array;
  const ctors: Record<string, new (b: ArrayBuffer) => Typed> = { Float32Array, Float64Array, Uint8Array };
  const toB64 = (t: Typed): string => {
    const bytes = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const enc = (v: unknown): unknown => {
    if (v instanceof Float32Array || v instanceof Float64Array || v instanceof Uint8Array) return { __typed: v.constructor.name, b64: toB64(v) };
    if (Array.isArray(v)) return v.map(enc);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, enc(x)]));
    return v;
  };
  const dec = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(dec);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.__typed === 'string' && typeof o.b64 === 'string') {
        const bin = atob(o.b64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        return new ctors[o.__typed](bytes.buffer);
      }
      if (typeof o.__num === 'string') return Number(o.__num);
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, dec(x)]));
    }
    return v;
  };
  const w = window as unknown as Record<string, unknown>;
  const harness = {
    posted: [] as unknown[],
    state: initialState as unknown,
    cspViolations: [] as string[],
    errors: [] as string[],
    deliver(m: unknown): void {
      window.postMessage(dec(m), '*');
    },
  };
  w.__harness = harness;
  w.acquireVsCodeApi = () => ({
    postMessage(m: unknown): void {
      harness.posted.push(m);
      void (w.__dscppHostReceive as (x: unknown) => Promise<void>)(enc(m));
    },
    getState: () => harness.state,
    setState: (s: unknown) => {
      harness.state = s;
    },
  });
  document.addEventListener('securitypolicyviolation', (e) => harness.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  window.addEventListener('error', (e) => harness.errors.push(String(e.message)));
}

export interface OpenedPanel {
  page: Page;
  /** Resolves when every host message posted so far has been delivered to the page. */
  delivered(): Promise<void>;
  close(): Promise<void>;
  /** Messages the webview posted (decoded on the node side), in order. */
  received: unknown[];
}

/**
 * Opens panel `kind` in a fresh page. `makeController(post)` builds the real host-side controller with
 * the given post function; webview messages are passed to its handle().
 */
export async function openPanel<In>(h: Harness, kind: PanelKind, makeController: (post: (m: unknown) => void) => { handle(m: In): Promise<void>; dispose(): void }, opts: { theme?: Theme; state?: unknown; width?: number; height?: number } = {}): Promise<OpenedPanel> {
  const page = await h.browser.newPage({ viewport: { width: opts.width ?? 1100, height: opts.height ?? 900 } });
  let chain: Promise<void> = Promise.resolve();
  const post = (m: unknown): void => {
    const e = encode(m);
    chain = chain.then(() => page.evaluate((x) => (window as unknown as { __harness: { deliver(m: unknown): void } }).__harness.deliver(x), e)).catch(() => undefined);
  };
  const controller = makeController(post);
  const received: unknown[] = [];
  await page.exposeFunction('__dscppHostReceive', async (m: unknown) => {
    const d = decode(m) as In;
    received.push(d);
    await controller.handle(d);
  });
  await page.addInitScript(installFakeVsCode, opts.state ?? null);
  await page.goto(`${h.origin}/panel/${kind}?theme=${opts.theme ?? 'dark'}`);
  return {
    page,
    received,
    delivered: async () => {
      await chain;
    },
    close: async () => {
      controller.dispose();
      await page.close();
    },
  };
}

/** Non-transparent pixel count, distinct colours (capped) and a content hash of a canvas. */
export async function canvasStats(page: Page, testid: string): Promise<{ width: number; height: number; drawn: number; colors: number; hash: number }> {
  return page.evaluate((id) => {
    const c = document.querySelector<HTMLCanvasElement>(`[data-testid="${id}"]`);
    if (!c) throw new Error(`no canvas ${id}`);
    const ctx = c.getContext('2d');
    if (!ctx || c.width === 0 || c.height === 0) return { width: c.width, height: c.height, drawn: 0, colors: 0, hash: 0 };
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let drawn = 0;
    let hash = 0;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] !== 0) drawn++;
      const v = (d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];
      if (seen.size < 4096) seen.add(v);
      hash = (Math.imul(hash, 31) + v) | 0;
    }
    return { width: c.width, height: c.height, drawn, colors: seen.size, hash };
  }, testid);
}

export async function harnessProblems(page: Page): Promise<{ csp: string[]; errors: string[] }> {
  return page.evaluate(() => {
    const h = (window as unknown as { __harness: { cspViolations: string[]; errors: string[] } }).__harness;
    return { csp: h.cspViolations, errors: h.errors };
  });
}

export async function testValue(page: Page, testid: string): Promise<string> {
  return (await page.getAttribute(`[data-testid="${testid}"]`, 'data-value')) ?? '';
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Run folders under test/fixtures/runs (any depth ≤ 3) that hold a run.json. */
export function fixtureRuns(): string[] {
  const base = join(ROOT, 'test', 'fixtures', 'runs');
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (existsSync(join(d, 'run.json'))) {
      out.push(d);
      return;
    }
    if (depth > 3 || !existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p, depth + 1);
    }
  };
  walk(base, 0);
  return out.sort();
}
