// Mask-preview panel in headless Chromium, fed by the real host controller over fixture run folders
// (case arrays as typed arrays from predictions/*.f32 / *.u8).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MasksController } from '../../src/extension/panels/controllers';
import { FsRunDataSource } from '../../src/extension/panels/run-data';
import type { PreviewIndex } from '../../src/protocol/evaluation';
import type { MasksWebviewMessage } from '../../src/protocol/webview-masks';
import { canvasStats, fixtureRuns, harnessProblems, openPanel, screenshot, startHarness, testValue, type Harness } from './harness';

const runs = new FsRunDataSource();
const previews = (d: string): PreviewIndex => JSON.parse(readFileSync(join(d, 'predictions', 'previews.json'), 'utf8')) as PreviewIndex;
const withPreviews = fixtureRuns().filter((d) => existsSync(join(d, 'predictions', 'previews.json')));
const run2d = withPreviews.find((d) => previews(d).cases.some((c) => c.spatial.length === 2));
const run3d = withPreviews.find((d) => previews(d).cases.some((c) => c.spatial.length === 3));

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const open = async (dir: string) => {
  let ctrl!: MasksController;
  const p = await openPanel<MasksWebviewMessage>(h, 'masks', (post) => (ctrl = new MasksController({ runs, post, log: () => undefined })));
  await ctrl.setRunDirs([dir]);
  await p.page.waitForSelector('[data-testid="mask-canvas"][data-case-index]');
  return { p, ctrl };
};

const text = async (page: import('playwright-core').Page, id: string): Promise<string> => (await page.textContent(`[data-testid="${id}"]`)) ?? '';

describe('masks panel', () => {
  it('2D: draws the case, shows its DSC and NLL, browses, searches, sorts worst first, re-thresholds', async () => {
    assert.ok(run2d, 'a fixture run with 2D previews');
    const idx = previews(run2d);
    const { p } = await open(run2d);
    const first = idx.cases[0];
    const st = await canvasStats(p.page, 'mask-canvas');
    assert.deepEqual([st.width, st.height], [first.spatial[1], first.spatial[0]]);
    assert.ok(st.drawn === st.width * st.height && st.colors > 10, `image drawn ${JSON.stringify(st)}`);
    assert.equal(await text(p.page, 'case-id'), first.id);
    assert.equal(await testValue(p.page, 'case-dsc'), first.dsc === null ? '' : String(first.dsc));
    assert.equal(Number(await testValue(p.page, 'case-nll')), first.nll);
    // Next case.
    await p.page.click('[data-testid="case-next"]');
    await p.page.waitForFunction((id) => document.querySelector('[data-testid="case-id"]')?.textContent === id, idx.cases[1].id);
    await p.page.waitForSelector('[data-testid="mask-canvas"][data-case-index="1"]');
    assert.equal(Number(await testValue(p.page, 'case-nll')), idx.cases[1].nll);
    // Sort worst first: the order is the fixture's DSC ascending.
    await p.page.evaluate(() => {
      const s = document.querySelector('[data-testid="case-sort"]') as HTMLElement & { value: string };
      s.value = 'dsc';
      s.dispatchEvent(new Event('change'));
    });
    const order = (await p.page.getAttribute('[data-testid="case-select"]', 'data-order'))?.split(',');
    const expected = [...idx.cases].sort((a, b) => (a.dsc ?? Infinity) - (b.dsc ?? Infinity)).map((c) => c.id);
    assert.deepEqual(order, expected);
    // Search narrows the list to matching ids and jumps to the first.
    const target = idx.cases[idx.cases.length - 1].id;
    await p.page.locator('[data-testid="case-search"]').click();
    await p.page.keyboard.type(target);
    await p.page.waitForFunction((id) => document.querySelector('[data-testid="case-select"]')?.getAttribute('data-order') === id, target);
    await p.page.waitForFunction((id) => document.querySelector('[data-testid="case-id"]')?.textContent === id, target);
    // Threshold: fewer predicted pixels at a higher threshold, more at a lower one.
    await p.page.waitForSelector(`[data-testid="mask-canvas"][data-case-index="${idx.cases.length - 1}"]`);
    const n50 = Number(await testValue(p.page, 'pred-count'));
    const img50 = await canvasStats(p.page, 'mask-canvas');
    await p.page.focus('[data-testid="threshold"]');
    for (let i = 0; i < 40; i++) await p.page.keyboard.press('ArrowLeft');
    await p.page.waitForFunction(() => document.querySelector('[data-testid="threshold-value"]')?.textContent === '0.10');
    await p.page.waitForTimeout(150);
    const n10 = Number(await testValue(p.page, 'pred-count'));
    assert.ok(n10 > n50, `pred px at 0.10 (${n10}) > at 0.50 (${n50})`);
    assert.notEqual((await canvasStats(p.page, 'mask-canvas')).hash, img50.hash);
    // Heat map and entropy overlays change the picture.
    const plain = await canvasStats(p.page, 'mask-canvas');
    await p.page.focus('[data-testid="opacity-entropy"]');
    await p.page.keyboard.press('End');
    await p.page.focus('[data-testid="opacity-heat"]');
    await p.page.keyboard.press('End');
    await p.page.waitForTimeout(150);
    assert.notEqual((await canvasStats(p.page, 'mask-canvas')).hash, plain.hash);
    await screenshot(p.page, 'masks-2d-dark');
    assert.deepEqual(await harnessProblems(p.page), { csp: [], errors: [] });
    await p.close();
  });

  it('3D: the slice slider and the orientation change the image', async () => {
    assert.ok(run3d, 'a fixture run with 3D previews (the 3D trainer has not produced one yet if this fails)');
    const idx = previews(run3d);
    const c = idx.cases.findIndex((x) => x.spatial.length === 3);
    const [D, H, W] = idx.cases[c].spatial;
    const { p } = await open(run3d);
    if (c !== 0) {
      await p.page.evaluate((i) => {
        const s = document.querySelector('[data-testid="case-select"]') as HTMLElement & { value: string };
        s.value = String(i);
        s.dispatchEvent(new Event('change'));
      }, c);
    }
    await p.page.waitForSelector(`[data-testid="mask-canvas"][data-case-index="${c}"]`);
    assert.equal(await p.page.isVisible('[data-testid="slice"]'), true);
    const a = await canvasStats(p.page, 'mask-canvas');
    assert.deepEqual([a.width, a.height], [W, H]);
    assert.equal(await p.page.getAttribute('[data-testid="mask-canvas"]', 'data-slice'), String(Math.floor(D / 2)));
    await p.page.focus('[data-testid="slice"]');
    await p.page.keyboard.press('ArrowRight');
    await p.page.keyboard.press('ArrowRight');
    await p.page.waitForSelector(`[data-testid="mask-canvas"][data-slice="${Math.floor(D / 2) + 2}"]`);
    const b = await canvasStats(p.page, 'mask-canvas');
    assert.notEqual(b.hash, a.hash, 'another slice, another image');
    await screenshot(p.page, 'masks-3d-axial');
    for (const [axis, w, hgt] of [
      ['coronal', W, D],
      ['sagittal', H, D],
    ] as const) {
      await p.page.evaluate((v) => {
        const s = document.querySelector('[data-testid="axis-select"]') as HTMLElement & { value: string };
        s.value = v;
        s.dispatchEvent(new Event('change'));
      }, axis);
      await p.page.waitForFunction(([ww, hh]) => {
        const cv = document.querySelector<HTMLCanvasElement>('[data-testid="mask-canvas"]');
        return cv?.width === ww && cv.height === hh;
      }, [w, hgt] as const);
      const st = await canvasStats(p.page, 'mask-canvas');
      assert.ok(st.colors > 5);
    }
    await screenshot(p.page, 'masks-3d-sagittal');
    await p.close();
  });

  it('reports a damaged preview binary by file name', async () => {
    assert.ok(run2d);
    const posted: { type: string; message?: string }[] = [];
    const ctrl = new MasksController({ runs, post: (m) => posted.push(m as { type: string }), log: () => undefined });
    await ctrl.setRunDirs([run2d]);
    await ctrl.handle({ type: 'ready' });
    await ctrl.handle({ type: 'getCase', index: 99 });
    assert.deepEqual(posted.at(-1), { type: 'caseFailed', index: 99, message: `preview case 99 does not exist (the run has ${previews(run2d).cases.length})` });
    ctrl.dispose();
  });
});
