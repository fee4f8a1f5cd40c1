// Loss-curves panel in headless Chromium, fed by the real host controller over fixture run folders.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurvesController, runDirsFromViewState } from '../../src/extension/panels/controllers';
import { FsRunDataSource } from '../../src/extension/panels/run-data';
import type { EpochRecord, MetricsRecord, RunRecord, StepRecord, TrainingEvent } from '../../src/protocol/training';
import type { CurvesWebviewMessage } from '../../src/protocol/webview-curves';
import { canvasStats, fixtureRuns, harnessProblems, openPanel, screenshot, startHarness, testValue, type Harness } from './harness';
import { writeSyntheticRun } from './synthetic';

const runs = new FsRunDataSource();
const readJson = <T>(f: string): T => JSON.parse(readFileSync(f, 'utf8')) as T;
const metrics = (dir: string): MetricsRecord[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as MetricsRecord);

let h: Harness;
const tmp = mkdtempSync(join(tmpdir(), 'dscpp-curves-'));
const saved: { name: string; data: Uint8Array }[] = [];

function controller(post: (m: unknown) => void): CurvesController {
  return new CurvesController({ runs, post, log: () => undefined }, async (name, data) => {
    saved.push({ name, data });
    return join(tmp, name);
  });
}

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('curves panel', () => {
  const dirs = fixtureRuns().filter((d) => metrics(d).some((r) => r.kind === 'step')).slice(0, 3);

  it('draws every fixture run and shows the numbers of its metrics.jsonl', async () => {
    assert.ok(dirs.length >= 2, `need two fixture runs with steps, found ${dirs.length}`);
    let ctrl!: CurvesController;
    const p = await openPanel<CurvesWebviewMessage>(h, 'curves', (post) => (ctrl = controller(post)));
    await ctrl.setRunDirs(dirs);
    await p.page.waitForSelector('[data-testid="render-info"][data-total-points]');
    const st = await canvasStats(p.page, 'curves-canvas');
    assert.ok(st.drawn > 1000 && st.colors > 3, `canvas drawn: ${JSON.stringify(st)}`);
    for (const d of dirs) {
      const rec = readJson<RunRecord>(join(d, 'run.json'));
      const ms = metrics(d);
      const steps = ms.filter((m): m is StepRecord => m.kind === 'step');
      const epochs = ms.filter((m): m is EpochRecord => m.kind === 'epoch');
      const id = rec.id;
      assert.equal(await testValue(p.page, `steps-${id}`), String(steps.length));
      assert.equal(Number(await testValue(p.page, `last-loss-${id}`)), steps[steps.length - 1].loss);
      assert.equal(Number(await testValue(p.page, `last-step-${id}`)), steps[steps.length - 1].globalStep);
      assert.equal(Number(await testValue(p.page, `last-lr-${id}`)), steps[steps.length - 1].lr);
      assert.equal(await testValue(p.page, `epochs-${id}`), String(epochs.length));
      const last = epochs[epochs.length - 1].val;
      assert.equal(Number(await testValue(p.page, `val-loss-${id}`)), last.loss);
      assert.equal(Number(await testValue(p.page, `val-dsc-${id}`)), last.dsc);
      assert.equal(Number(await testValue(p.page, `val-nll-${id}`)), last.nll);
      assert.equal(Number(await testValue(p.page, `val-brier-${id}`)), last.brier);
      // Summary table (2+ runs): best-epoch values from run.json.
      assert.equal(Number(await testValue(p.page, `summary-${id}-valDsc`)), rec.summary.best?.dsc);
    }
    // Exactly one highlighted best per column with values.
    const bestDsc = await p.page.$$eval('[data-testid^="summary-"][data-testid$="-valDsc"][data-best="true"]', (els) => els.map((e) => Number(e.getAttribute('data-value'))));
    const allDsc = dirs.map((d) => readJson<RunRecord>(join(d, 'run.json')).summary.best?.dsc ?? NaN);
    assert.deepEqual(bestDsc, [Math.max(...allDsc)]);
    // Legend toggle hides a run; smoothing changes the smoothed value; log scale redraws.
    const firstId = readJson<RunRecord>(join(dirs[0], 'run.json')).id;
    const sets = Number(await p.page.getAttribute('[data-testid="render-info"]', 'data-datasets'));
    await p.page.click(`[data-testid="run-toggle-${firstId}"]`);
    await p.page.waitForFunction((n) => Number(document.querySelector('[data-testid="render-info"]')?.getAttribute('data-datasets')) < n, sets);
    await p.page.click(`[data-testid="run-toggle-${firstId}"]`);
    const raw = Number(await testValue(p.page, `smoothed-loss-${firstId}`));
    await p.page.focus('[data-testid="smoothing"]');
    for (let i = 0; i < 60; i++) await p.page.keyboard.press('ArrowRight');
    await p.page.waitForFunction(([id, v]) => Number(document.querySelector(`[data-testid="smoothed-loss-${id}"]`)?.getAttribute('data-value')) !== v, [firstId, raw] as const);
    assert.equal(await p.page.textContent('[data-testid="smoothing-value"]'), '0.60');
    await p.page.click('[data-testid="log-scale"]');
    await p.page.waitForTimeout(150);
    await screenshot(p.page, 'curves-dark');
    assert.deepEqual(await harnessProblems(p.page), { csp: [], errors: [] });
    // Export: CSV rows = header + steps + epochs of every run; PNG has the PNG signature.
    await p.page.click('[data-testid="export-csv"]');
    await p.page.click('[data-testid="export-png"]');
    await p.page.waitForFunction(() => document.querySelector('[data-testid="export-status"]')?.getAttribute('data-path')?.endsWith('.png'));
    const csv = new TextDecoder().decode(saved.find((s) => s.name.endsWith('.csv'))?.data);
    const total = dirs.reduce((a, d) => a + metrics(d).length, 0);
    assert.equal(csv.trim().split('\n').length, 1 + total);
    assert.deepEqual([...(saved.find((s) => s.name.endsWith('.png'))?.data.slice(0, 4) ?? [])], [0x89, 0x50, 0x4e, 0x47]);
    // View state kept for the serializer.
    const state = await p.page.evaluate(() => (window as unknown as { __harness: { state: { runDirs: string[]; smoothing: number; logScale: boolean } } }).__harness.state);
    assert.equal(state.runDirs.length, dirs.length);
    assert.equal(state.smoothing, 0.6);
    assert.equal(state.logScale, true);
    await p.close();
    // After a reload, the serializer's controller gets the folders from that state, and the webview
    // restores its controls from it.
    let ctrl2!: CurvesController;
    const p2 = await openPanel<CurvesWebviewMessage>(h, 'curves', (post) => (ctrl2 = controller(post)), { state });
    await ctrl2.setRunDirs(runDirsFromViewState('curves', state));
    await p2.page.waitForSelector(`[data-testid="steps-${firstId}"]`);
    assert.equal(await p2.page.textContent('[data-testid="smoothing-value"]'), '0.60');
    assert.equal(await p2.page.getAttribute('[data-testid="log-scale"]', 'checked'), '');
    assert.equal(await p2.page.$$eval('[data-testid^="steps-"]', (els) => els.length), dirs.length);
    await p2.close();
  });

  it('appends live training events, batched to at most ~10 redraws a second', async () => {
    const dir = join(tmp, 'live');
    writeSyntheticRun(dir, { id: 'live-run', experiment: 'live', loss: 'dscpp', seed: 11, epochs: 1, stepsPerEpoch: 10 });
    let ctrl!: CurvesController;
    const p = await openPanel<CurvesWebviewMessage>(h, 'curves', (post) => (ctrl = controller(post)));
    await ctrl.setRunDirs([dir]);
    await p.page.waitForSelector('[data-testid="steps-live-run"][data-value="10"]');
    const before = await canvasStats(p.page, 'curves-canvas');
    const redraws0 = Number(await p.page.getAttribute('body', 'data-redraws'));
    // 200 step events over ~1 s (every 5 ms), plus one epoch.
    const t0 = Date.now();
    for (let i = 1; i <= 200; i++) {
      const gs = 10 + i;
      const e: TrainingEvent = { type: 'step', runId: 'live-run', totalSteps: 400, etaMs: 1000, epoch: 2, step: i, globalStep: gs, loss: 0.3 + 0.2 * Math.sin(i / 9), lr: 5e-4, elapsedMs: gs * 40, time: new Date().toISOString() };
      ctrl.onTrainingEvent(e);
      await new Promise((r) => setTimeout(r, 5));
    }
    ctrl.onTrainingEvent({ type: 'epoch', runId: 'live-run', etaMs: 0, epoch: 2, globalStep: 210, trainLoss: 0.31, val: { loss: 0.33, dsc: 0.81, nll: 0.2, brier: 0.05, ece: 0.02 }, lr: 5e-4, elapsedMs: 8500, epochMs: 4000, numTensors: 1, best: true, time: new Date().toISOString() });
    await p.page.waitForSelector('[data-testid="steps-live-run"][data-value="210"]');
    await p.page.waitForSelector('[data-testid="epochs-live-run"][data-value="2"]');
    const seconds = (Date.now() - t0) / 1000;
    await p.page.waitForTimeout(250);
    const redraws = Number(await p.page.getAttribute('body', 'data-redraws')) - redraws0;
    assert.equal(Number(await testValue(p.page, 'last-loss-live-run')), 0.3 + 0.2 * Math.sin(200 / 9));
    assert.equal(Number(await testValue(p.page, 'val-dsc-live-run')), 0.81);
    assert.ok(redraws >= 2 && redraws <= Math.ceil(seconds * 10) + 2, `${redraws} redraws in ${seconds.toFixed(2)} s`);
    assert.ok(p.received.every((m) => (m as { type: string }).type === 'ready'), 'the webview only said ready');
    const after = await canvasStats(p.page, 'curves-canvas');
    assert.notEqual(after.hash, before.hash);
    ctrl.onTrainingEvent({ type: 'finished', runId: 'live-run', status: 'completed', summary: { epochsCompleted: 2, bestEpoch: 2, best: null, last: null, durationMs: 1 } });
    await p.page.waitForFunction(() => document.querySelector('[data-testid="run-status-live-run"]')?.textContent === 'completed');
    console.log(`# live: 201 events in ${seconds.toFixed(2)} s -> ${redraws} redraws`);
    await p.close();
  });

  it('renders a 100,000-point run within 2 s', async () => {
    const dir = join(tmp, 'big');
    writeSyntheticRun(dir, { id: 'big-run', experiment: 'big', loss: 'dice', seed: 5, epochs: 100, stepsPerEpoch: 1000 });
    let ctrl!: CurvesController;
    const p = await openPanel<CurvesWebviewMessage>(h, 'curves', (post) => (ctrl = controller(post)));
    await p.page.waitForFunction(() => (window as unknown as { __harness: { posted: unknown[] } }).__harness.posted.length > 0);
    const t0 = Date.now();
    await ctrl.setRunDirs([dir]);
    const tHost = Date.now() - t0;
    await p.page.waitForSelector('[data-testid="render-info"][data-total-points="100000"]', { timeout: 30000 });
    const tTotal = Date.now() - t0;
    const renderMs = Number(await p.page.getAttribute('[data-testid="render-info"]', 'data-render-ms'));
    const drawn = Number(await p.page.getAttribute('[data-testid="render-info"]', 'data-drawn-points'));
    assert.ok(drawn < 5000, `decimated to ${drawn} points`);
    const st = await canvasStats(p.page, 'curves-canvas');
    assert.ok(st.drawn > 1000);
    // Redraw with smoothing over all 100k points (what a slider drag costs).
    await p.page.focus('[data-testid="smoothing"]');
    await p.page.keyboard.press('End');
    await p.page.waitForFunction(() => document.querySelector('[data-testid="smoothing-value"]')?.textContent === '0.99');
    await p.page.waitForTimeout(200);
    const smoothMs = Number(await p.page.getAttribute('[data-testid="render-info"]', 'data-render-ms'));
    console.log(`# 100k points: host read+post ${tHost} ms, snapshot-to-drawn ${tTotal} ms, webview redraw ${renderMs} ms, smoothed redraw ${smoothMs} ms, ${drawn} points drawn`);
    await screenshot(p.page, 'curves-100k');
    assert.ok(renderMs < 500, `webview redraw ${renderMs} ms`);
    assert.ok(tTotal < 2000, `100k-point run took ${tTotal} ms from host snapshot to drawn chart`);
    await p.close();
  });
});
