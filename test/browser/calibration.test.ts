// Calibration panel in headless Chromium, fed by the real host controller over fixture run folders.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CalibrationController } from '../../src/extension/panels/controllers';
import { FsRunDataSource } from '../../src/extension/panels/run-data';
import type { EvaluationReport, ThresholdChoice } from '../../src/protocol/evaluation';
import type { RunRecord } from '../../src/protocol/training';
import type { CalibrationWebviewMessage } from '../../src/protocol/webview-calibration';
import { canvasStats, fixtureRuns, harnessProblems, openPanel, screenshot, startHarness, testValue, type Harness, type Theme } from './harness';

const runs = new FsRunDataSource();
const readJson = <T>(f: string): T => JSON.parse(readFileSync(f, 'utf8')) as T;
let h: Harness;
const tmp = mkdtempSync(join(tmpdir(), 'dscpp-calib-'));
// Copies, because "Use this threshold" writes threshold.json into the run.
const dirs = fixtureRuns()
  .filter((d) => existsSync(join(d, 'evaluation.json')))
  .map((d) => {
    const to = join(tmp, basename(d));
    cpSync(d, to, { recursive: true });
    rmSync(join(to, 'threshold.json'), { force: true });
    return to;
  });

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
  rmSync(tmp, { recursive: true, force: true });
});

const open = async (theme: Theme = 'dark') => {
  let ctrl!: CalibrationController;
  const p = await openPanel<CalibrationWebviewMessage>(h, 'calibration', (post) => (ctrl = new CalibrationController({ runs, post, log: () => undefined })), { theme });
  await ctrl.setRunDirs(dirs);
  await p.page.waitForSelector('[data-testid="metrics-table"]');
  return { p, ctrl };
};

describe('calibration panel', () => {
  it('draws a reliability diagram per run and shows the evaluation.json numbers', async () => {
    assert.ok(dirs.length >= 2, `need two evaluated fixture runs, found ${dirs.length}`);
    const { p } = await open();
    for (const d of dirs) {
      const id = readJson<RunRecord>(join(d, 'run.json')).id;
      const ev = readJson<EvaluationReport>(join(d, 'evaluation.json'));
      const rel = await canvasStats(p.page, `reliability-${id}`);
      const hist = await canvasStats(p.page, `histogram-${id}`);
      assert.ok(rel.drawn > 500 && rel.colors > 3, `reliability drawn ${JSON.stringify(rel)}`);
      assert.ok(hist.drawn > 100, `histogram drawn ${JSON.stringify(hist)}`);
      assert.equal(Number(await testValue(p.page, `diagram-ece-${id}`)), ev.overall.ece);
      for (const [m, key] of [
        ['ece', 'ece'],
        ['mce', 'mce'],
        ['ace', 'ace'],
        ['nll', 'nll'],
        ['brier', 'brier'],
      ] as const) {
        assert.equal(Number(await testValue(p.page, `cell-${id}-all-${m}-before`)), ev.temperature.before[key], `${id} ${m} before`);
        assert.equal(Number(await testValue(p.page, `cell-${id}-all-${m}-after`)), ev.temperature.after[key], `${id} ${m} after`);
      }
      assert.equal(await testValue(p.page, `cell-${id}-all-dsc-before`), ev.overall.dsc === null ? '' : String(ev.overall.dsc));
      for (const c of ev.perClass) {
        assert.equal(Number(await testValue(p.page, `cell-${id}-class${c.index}-ece-before`)), c.ece);
        assert.equal(await testValue(p.page, `cell-${id}-class${c.index}-dsc-before`), c.dsc === null ? '' : String(c.dsc));
      }
      assert.equal(Number(await testValue(p.page, `summary-${id}-nll`)), ev.overall.nll);
    }
    // The better NLL is highlighted, and only it.
    const nlls = dirs.map((d) => readJson<EvaluationReport>(join(d, 'evaluation.json')).overall.nll);
    const best = await p.page.$$eval('[data-testid$="-nll"][data-best="true"]', (els) => els.map((e) => Number(e.getAttribute('data-value'))));
    assert.deepEqual(best, [Math.min(...nlls)]);
    // Per-class view redraws the diagram with that class's bins.
    const id0 = readJson<RunRecord>(join(dirs[0], 'run.json')).id;
    const ev0 = readJson<EvaluationReport>(join(dirs[0], 'evaluation.json'));
    const top = await canvasStats(p.page, `reliability-${id0}`);
    await p.page.click('[data-testid="view-class"]');
    await p.page.waitForFunction(([id, v]) => document.querySelector(`[data-testid="diagram-ece-${id}"]`)?.getAttribute('data-value') === v, [id0, String(ev0.perClass.find((c) => c.index === 1)?.ece)] as const);
    const perClass = await canvasStats(p.page, `reliability-${id0}`);
    assert.notEqual(perClass.hash, top.hash);
    await screenshot(p.page, 'calibration-dark');
    assert.deepEqual(await harnessProblems(p.page), { csp: [], errors: [] });
    await p.close();
  });

  it('the threshold slider shows the sweep point values, and "Use this threshold" writes threshold.json', async () => {
    const { p } = await open('light');
    const dir = dirs[0];
    const ev = readJson<EvaluationReport>(join(dir, 'evaluation.json'));
    const sweep = ev.thresholdSweep[0];
    const start = sweep.points.findIndex((x) => Math.abs(x.threshold - 0.5) < 1e-9);
    assert.ok(start >= 0, 'the fixture sweep has a 0.5 point');
    const show = async (i: number) => {
      const pt = sweep.points[i];
      await p.page.waitForFunction((v) => document.querySelector('[data-testid="sweep-threshold"]')?.getAttribute('data-value') === v, String(pt.threshold));
      assert.equal(await testValue(p.page, 'sweep-precision'), pt.precision === null ? '' : String(pt.precision));
      assert.equal(await testValue(p.page, 'sweep-recall'), pt.recall === null ? '' : String(pt.recall));
      assert.equal(await testValue(p.page, 'sweep-dsc'), pt.dsc === null ? '' : String(pt.dsc));
    };
    await show(start);
    const before = await canvasStats(p.page, 'sweep-canvas');
    assert.ok(before.drawn > 500);
    await p.page.focus('[data-testid="sweep-slider"]');
    await p.page.keyboard.press('ArrowLeft');
    await p.page.keyboard.press('ArrowLeft');
    await show(start - 2);
    await p.page.keyboard.press('ArrowRight');
    await p.page.keyboard.press('ArrowRight');
    await p.page.keyboard.press('ArrowRight');
    await show(start + 1);
    assert.notEqual((await canvasStats(p.page, 'sweep-canvas')).hash, before.hash, 'the marker moved');
    await p.page.click('[data-testid="use-threshold"]');
    await p.page.waitForFunction(() => document.querySelector('[data-testid="threshold-status"]')?.getAttribute('data-path')?.endsWith('threshold.json'));
    const written = readJson<ThresholdChoice>(join(dir, 'threshold.json'));
    const pt = sweep.points[start + 1];
    assert.deepEqual({ ...written, chosenAt: '' }, { schemaVersion: 1, classIndex: sweep.classIndex, className: sweep.className, threshold: pt.threshold, precision: pt.precision, recall: pt.recall, dsc: pt.dsc, chosenAt: '' });
    await screenshot(p.page, 'calibration-light-threshold');
    await p.close();
    // A reopened panel starts at the saved threshold.
    const again = await open('hc');
    await again.p.page.waitForFunction((v) => document.querySelector('[data-testid="sweep-threshold"]')?.getAttribute('data-value') === v, String(pt.threshold));
    await screenshot(again.p.page, 'calibration-high-contrast');
    await again.p.close();
  });

  it('refuses a threshold for a folder that is not in the panel', async () => {
    const posted: unknown[] = [];
    const ctrl = new CalibrationController({ runs, post: (m) => posted.push(m), log: () => undefined });
    await ctrl.setRunDirs(dirs);
    await ctrl.handle({ type: 'useThreshold', runDir: tmp, choice: { schemaVersion: 1, classIndex: 1, className: 'x', threshold: 0.4, precision: null, recall: null, dsc: null, chosenAt: new Date().toISOString() } });
    assert.deepEqual(posted, [{ type: 'thresholdFailed', runDir: tmp, message: `${tmp} is not one of the runs in this panel` }]);
    posted.length = 0;
    await ctrl.handle({ type: 'useThreshold', runDir: dirs[0], choice: { schemaVersion: 1, classIndex: 1, className: 'x', threshold: 1.5, precision: null, recall: null, dsc: null, chosenAt: new Date().toISOString() } });
    assert.deepEqual(posted, [{ type: 'thresholdFailed', runDir: dirs[0], message: 'threshold choice: threshold must be a number strictly between 0 and 1 (got 1.5)' }]);
    ctrl.dispose();
  });
});
