// Evaluation on tiny real runs (a few bbbc039 images, 32×32, 1 epoch, wasm): evaluation.json is checked
// against metrics recomputed independently from the saved preview arrays; re-evaluation from the CLI;
// the empty-test-split fallback; temperature scaling switched off.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/core/config';
import { evaluateRun } from '../../src/core/eval/evaluate';
import { expandProbs, readEvaluation, readPreviewCase, readPreviewIndex } from '../../src/core/eval/report-io';
import { applyTemperature, calibrationMetrics, nanMean, segmentationMetrics, thresholdSweep } from '../../src/core/metrics';
import { runExperiment } from '../../src/core/train/experiment';
import { openTrainingData } from '../../src/core/train/open-data';
import { readRunRecord } from '../../src/core/train/runs';
import type { EvaluationReport, ReliabilityBin } from '../../src/protocol/evaluation';
import type { TrainingEvent } from '../../src/protocol/training';
import { REPO, tinyWorkspace } from '../helpers/tiny';

const CLI = join(REPO, 'bin', 'dscpp-lab.js');

const workspaces: string[] = [];
after(() => workspaces.forEach((d) => rmSync(d, { recursive: true, force: true })));

function workspace(evalLine: string, split = '{ val: 0.25, test: 0.25, seed: 3 }', model?: string) {
  const w = tinyWorkspace({ cases: 12, epochs: 1, losses: '[{ name: dscpp, gamma: 2 }]', model });
  workspaces.push(w.dir);
  const text = readFileSync(w.config, 'utf8').replace('eval: { previewCases: 1 }', `eval: ${evalLine}`).replace('split: { val: 0.25, test: 0.25, seed: 3 }', `split: ${split}`);
  writeFileSync(w.config, text);
  return w;
}

async function trainOne(config: string) {
  const events: TrainingEvent[] = [];
  const outcomes = await runExperiment({ configPath: config, signal: { requested: false }, emit: (e) => events.push(e) });
  assert.equal(outcomes.length, 1);
  const o = outcomes[0]!;
  assert.equal(o.status, 'completed', o.error);
  return { outcome: o, events };
}

function close(actual: number | null, expected: number | null, what: string, tol = 1e-9): void {
  if (expected === null || Number.isNaN(expected)) {
    assert.ok(actual === null || Number.isNaN(actual), `${what}: expected undefined, got ${actual}`);
    return;
  }
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
}

function sameBins(actual: ReliabilityBin[], expected: ReliabilityBin[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: bin count`);
  expected.forEach((b, i) => {
    const a = actual[i]!;
    assert.equal(a.count, b.count, `${what} bin ${i} count`);
    close(a.lo, b.lo, `${what} bin ${i} lo`);
    close(a.hi, b.hi, `${what} bin ${i} hi`);
    close(a.meanConfidence, b.meanConfidence, `${what} bin ${i} confidence`);
    close(a.accuracy, b.accuracy, `${what} bin ${i} accuracy`);
  });
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// One trained run shared by the first two tests (training is the expensive part).
let shared: Promise<{ config: string; runDir: string; events: TrainingEvent[] }> | null = null;
function sharedRun() {
  shared ??= (async () => {
    const { config } = workspace('{ previewCases: 64, bins: 10, thresholds: [0.75, 0.25, 0.5] }');
    const { outcome, events } = await trainOne(config);
    return { config, runDir: outcome.runDir, events };
  })();
  return shared;
}

test('evaluation after training: evaluation.json equals the metrics recomputed from the saved preview arrays', async () => {
  const { config, runDir, events } = await sharedRun();
  const cfg = loadConfig(config);
  const data = await openTrainingData(cfg, config);
  const testIds = data.caseIds('test');
  assert.equal(testIds.length, 3);

  const report = readEvaluation(runDir);
  assert.equal(report.schemaVersion, 1);
  assert.equal(report.split, 'test');
  assert.equal(report.checkpoint, 'best');
  assert.deepEqual(report.classes, ['background', 'nucleus']);
  assert.equal(report.bins, 10);
  assert.equal(report.numCases, 3);
  assert.deepEqual(report.cases.map((c) => c.id).sort(), [...testIds].sort());
  assert.equal(report.timings.voxels, 3 * 32 * 32);

  // The evaluated event and run.json carry the same headline numbers.
  const ev = events.find((e): e is Extract<TrainingEvent, { type: 'evaluated' }> => e.type === 'evaluated');
  assert.ok(ev, 'no evaluated event');
  assert.equal(ev.path, join(runDir, 'evaluation.json'));
  const headline = { dsc: report.overall.dsc, iou: report.overall.iou, nll: report.overall.nll, brier: report.overall.brier, ece: report.overall.ece };
  assert.deepEqual(ev.test, headline);
  assert.deepEqual(readRunRecord(runDir).summary.test, headline);

  // Previews: every test case (previewCases 64 > 3), in sorted id order, arrays equal to the data.
  const previews = readPreviewIndex(runDir);
  assert.equal(previews.split, 'test');
  assert.equal(previews.numClasses, 2);
  assert.equal(previews.channels, 1);
  assert.equal(previews.probChannels, 2);
  assert.deepEqual(previews.cases.map((c) => c.id), [...testIds].sort());
  const truth = new Map<string, { image: Float32Array; labels: Uint8Array }>();
  for await (const c of data.evalCases('test')) truth.set(c.id, { image: c.image, labels: c.labels });

  const probsAll: Float32Array[] = [];
  const labelsAll: Uint8Array[] = [];
  const perCaseClassDsc: number[][] = [[], []];
  for (let i = 0; i < previews.cases.length; i++) {
    const arr = readPreviewCase(runDir, i, previews);
    assert.deepEqual(arr.spatial, [32, 32]);
    assert.deepEqual(arr.image, truth.get(arr.id)!.image, `${arr.id}: saved image differs from the data`);
    assert.deepEqual(arr.labels, truth.get(arr.id)!.labels, `${arr.id}: saved labels differ from the masks`);
    for (let v = 0; v < 32 * 32; v++) close(arr.probs[2 * v]! + arr.probs[2 * v + 1]!, 1, `${arr.id} voxel ${v} probability sum`, 1e-5);
    const seg = segmentationMetrics({ probs: arr.probs, labels: arr.labels, shape: [1, ...arr.spatial], numClasses: 2 });
    const cal = calibrationMetrics({ probs: arr.probs, labels: arr.labels, shape: [1, ...arr.spatial], numClasses: 2 });
    const cr = report.cases.find((c) => c.id === arr.id)!;
    assert.equal(cr.preview, i);
    close(cr.dsc, seg.meanForeground.dsc, `${arr.id} dsc`);
    cr.dscPerClass.forEach((d, k) => close(d, seg.perClass[k]!.dsc, `${arr.id} dsc class ${k}`));
    close(cr.nll, cal.nll, `${arr.id} nll`);
    close(cr.brier, cal.brier, `${arr.id} brier`);
    close(previews.cases[i]!.dsc, seg.meanForeground.dsc, `previews.json ${arr.id} dsc`);
    close(previews.cases[i]!.nll, cal.nll, `previews.json ${arr.id} nll`);
    seg.perClass.forEach((s, k) => perCaseClassDsc[k]!.push(s.dsc));
    probsAll.push(arr.probs);
    labelsAll.push(arr.labels);
  }
  const probs = new Float32Array(probsAll.flatMap((p) => [...p]));
  const labels = new Uint8Array(labelsAll.flatMap((l) => [...l]));

  // Overall calibration over all voxels of the split.
  const cal = calibrationMetrics({ probs, labels, numClasses: 2, bins: 10 });
  for (const k of ['nll', 'brier', 'ece', 'mce', 'rmsce', 'ace', 'marginalEce'] as const) close(report.overall[k], cal[k], `overall ${k}`);
  sameBins(report.reliability, cal.reliability, 'top-label reliability');
  assert.deepEqual(report.temperature.before, { nll: report.overall.nll, brier: report.overall.brier, ece: report.overall.ece, mce: report.overall.mce, rmsce: report.overall.rmsce, ace: report.overall.ace, marginalEce: report.overall.marginalEce });
  // Per class: overlap is the mean over cases, calibration one-vs-rest over all voxels.
  for (const pc of report.perClass) {
    close(pc.dsc, nanMean(perCaseClassDsc[pc.index]!), `class ${pc.index} dsc`);
    close(pc.ece, cal.perClass[pc.index]!.ece, `class ${pc.index} ece`);
    close(pc.ace, cal.perClass[pc.index]!.ace, `class ${pc.index} ace`);
    sameBins(pc.reliability, cal.perClass[pc.index]!.reliability, `class ${pc.index} reliability`);
  }
  close(report.overall.dsc, report.perClass[1]!.dsc, 'overall dsc = foreground class dsc');
  close(report.overall.pooledDsc ?? null, segmentationMetrics({ probs, labels, numClasses: 2 }).meanForeground.dsc, 'pooled dsc');

  // Threshold sweep: class 1, the configured thresholds sorted.
  assert.equal(report.thresholdSweep.length, 1);
  const sw = report.thresholdSweep[0]!;
  assert.equal(sw.classIndex, 1);
  assert.equal(sw.className, 'nucleus');
  assert.deepEqual(sw.points.map((p) => p.threshold), [0.25, 0.5, 0.75]);
  const expected = thresholdSweep({ probs, labels, numClasses: 2, thresholds: [0.25, 0.5, 0.75] })[0]!.points;
  sw.points.forEach((p, j) => {
    close(p.precision, expected[j]!.precision, `sweep ${p.threshold} precision`);
    close(p.recall, expected[j]!.recall, `sweep ${p.threshold} recall`);
    close(p.dsc, expected[j]!.dsc, `sweep ${p.threshold} dsc`);
  });

  // Temperature: fitted on the 3 val cases, applied to the test voxels.
  const t = report.temperature;
  assert.equal(t.fitOn, 'val');
  assert.equal(t.fitVoxels, 3 * 32 * 32);
  assert.equal(t.disabled, undefined);
  assert.ok(t.temperature > 0.05 && t.temperature < 20, `T = ${t.temperature}`);
  const after = calibrationMetrics({ probs: applyTemperature(probs, 2, t.temperature), labels, numClasses: 2, bins: 10 });
  for (const k of ['nll', 'brier', 'ece', 'mce', 'rmsce', 'ace', 'marginalEce'] as const) close(t.after[k], after[k], `after-T ${k}`, 1e-7);
  sameBins(t.reliabilityAfter, after.reliability, 'after-T reliability');
  assert.match(readFileSync(join(runDir, 'log.txt'), 'utf8'), /temperature scaling: T = [\d.]+ fitted on 3 val cases \(3072 voxels\)/);
});

test('dscpp-lab evaluate: re-evaluates on val with the last checkpoint; T lowers val NLL; the test evaluation is reproduced', async () => {
  const { runDir } = await sharedRun();
  const first = readEvaluation(runDir);
  const firstPreviews = readPreviewIndex(runDir);
  const summaryBefore = readRunRecord(runDir).summary.test;

  const r = cli(['evaluate', runDir, '--split', 'val', '--checkpoint', 'last', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /: val split, 3 cases, checkpoint last/);
  assert.ok(r.stdout.includes(`wrote ${join(runDir, 'evaluation.json')}`), r.stdout);
  const val = readEvaluation(runDir);
  assert.equal(val.split, 'val');
  assert.equal(val.checkpoint, 'last');
  // Fitted and applied on the same voxels, the temperature cannot make NLL worse.
  assert.ok(val.temperature.after.nll <= val.temperature.before.nll + 1e-9, `val NLL ${val.temperature.before.nll} → ${val.temperature.after.nll}`);
  // The stdout table shows the report's numbers.
  assert.ok(r.stdout.includes(val.temperature.before.nll.toFixed(4)) && r.stdout.includes(val.temperature.after.nll.toFixed(4)), r.stdout);
  // Previews switched to the val split; files of the test previews are gone.
  const pv = readPreviewIndex(runDir);
  assert.equal(pv.split, 'val');
  assert.equal(pv.cases.length, 3);
  for (const c of firstPreviews.cases) assert.ok(!existsSync(join(runDir, 'predictions', c.probs)), `stale ${c.probs} left behind`);
  // A val evaluation does not replace the run's test headline.
  assert.deepEqual(readRunRecord(runDir).summary.test, summaryBefore);

  // Back to the default (test, best): the same numbers as the evaluation after training.
  const again = await evaluateRun(runDir, { backend: 'wasm' });
  const strip = (e: EvaluationReport) => ({ ...e, createdAt: '', timings: { ...e.timings, evalMs: 0 } });
  assert.equal(again.path, join(runDir, 'evaluation.json'));
  assert.deepEqual(strip(readEvaluation(runDir)), strip(first));
  assert.deepEqual(readPreviewIndex(runDir), firstPreviews);
});

test('dscpp-lab evaluate: usage errors exit 2, an unreadable run exits 1, with the reason', () => {
  const bad = cli(['evaluate', '/nonexistent/run', '--split', 'train']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /evaluate: --split must be one of test, val, got 'train'/);
  const missing = cli(['evaluate']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /evaluate: missing <run>/);
  const unknown = cli(['evaluate', 'x', '--epochs', '3']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /evaluate: unknown option --epochs/);
  const gone = cli(['evaluate', '/nonexistent/run']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /\/nonexistent\/run\/run\.json: not a run folder \(run\.json not found\)/);
});

test('an empty test split falls back to val and says so; eval.temperature false gives T = 1; a sigmoid head saves p only', async () => {
  const { config } = workspace('{ previewCases: 1, temperature: false }', '{ val: 0.25, test: 0, seed: 3 }', '{ arch: unet2d, depth: 2, filters: 4, norm: batch, head: sigmoid }');
  const { outcome, events } = await trainOne(config);
  const report = readEvaluation(outcome.runDir);
  assert.equal(report.split, 'val');
  assert.equal(report.numCases, 3);
  const warn = events.find((e) => e.type === 'log' && e.level === 'warn' && e.message.startsWith('the test split is empty'));
  assert.ok(warn, 'no warning about the empty test split');
  assert.match(readFileSync(join(outcome.runDir, 'log.txt'), 'utf8'), /WARN {2}the test split is empty \(.*\); evaluating the val split instead/);
  assert.equal(report.temperature.temperature, 1);
  assert.equal(report.temperature.disabled, true);
  assert.deepEqual(report.temperature.after, report.temperature.before);
  // previewCases 1: the first val id in sorted order; the sigmoid head's probabilities as one channel p.
  const cfg = loadConfig(config);
  const data = await openTrainingData(cfg, config);
  const pv = readPreviewIndex(outcome.runDir);
  assert.equal(pv.split, 'val');
  assert.equal(pv.probChannels, 1);
  assert.deepEqual(pv.cases.map((c) => c.id), [[...data.caseIds('val')].sort()[0]]);
  const arr = readPreviewCase(outcome.runDir, 0, pv);
  assert.equal(arr.probChannels, 1);
  assert.equal(arr.probs.length, 32 * 32);
  const full = expandProbs(arr.probs, 1, 2);
  const cal = calibrationMetrics({ probs: full, labels: arr.labels, numClasses: 2 });
  const cr = report.cases.find((c) => c.id === arr.id)!;
  close(cr.nll, cal.nll, 'sigmoid preview nll', 1e-6);
  close(cr.dsc, segmentationMetrics({ probs: full, labels: arr.labels, numClasses: 2 }).meanForeground.dsc, 'sigmoid preview dsc');
  assert.equal(report.cases.filter((c) => c.preview !== null).length, 1);
});

test('the paper reproduction configs: same data, model, seed, split and schedule; only the stated field differs', () => {
  const dir = join(REPO, 'examples', 'bbbc039');
  const main = loadConfig(join(dir, 'paper-bbbc039.dscpp.yaml'));
  assert.deepEqual(
    main.losses.map((l) => l.name),
    ['dice', 'dscpp', 'tversky', 'tversky++', 'focal_tversky', 'focal_tversky++', 'combo', 'combo++', 'unified_focal', 'unified_focal++'],
  );
  for (const l of main.losses) if (l.name.endsWith('++') || l.name === 'dscpp') assert.equal(l.gamma, 2, l.name);
  assert.equal(main.backend, 'wasm');
  const comparable = (c: typeof main) => ({ data: { ...c.data, images: '', masks: '' }, model: c.model, train: c.train, eval: c.eval, backend: c.backend });
  const sigmoid = loadConfig(join(dir, 'paper-sigmoid.dscpp.yaml'));
  assert.deepEqual(comparable(sigmoid), comparable({ ...main, model: { ...main.model, head: 'sigmoid' }, train: { ...main.train, epochs: 20 } }));
  assert.deepEqual(sigmoid.losses, main.losses.slice(0, 2));
  const gamma = loadConfig(join(dir, 'paper-gamma.dscpp.yaml'));
  assert.deepEqual(comparable(gamma), comparable({ ...main, train: { ...main.train, epochs: 20 } }));
  assert.deepEqual(gamma.losses, [{ name: 'dscpp', gamma: 1.5 }, { name: 'dscpp', gamma: 3 }]);
  const gamma60 = loadConfig(join(dir, 'paper-gamma60.dscpp.yaml'));
  assert.deepEqual(comparable(gamma60), comparable(main));
  assert.deepEqual(gamma60.losses, [{ name: 'dscpp', gamma: 1.5 }, { name: 'combo++', gamma: 1.5 }, { name: 'unified_focal++', gamma: 1.5 }]);
  const seeds = loadConfig(join(dir, 'paper-seeds.dscpp.yaml'));
  assert.deepEqual(comparable(seeds), comparable(main));
  assert.deepEqual(seeds.losses, main.losses.slice(0, 2));
  assert.deepEqual(seeds.sweep, { seed: [1, 2, 3] });
  // The full-data config needs the shared data folder next to the repository.
  const full = join(dir, 'paper-full.dscpp.yaml');
  if (existsSync(join(REPO, '..', 'shared', 'data', 'bbbc039', 'images'))) {
    const f = loadConfig(full);
    assert.deepEqual(comparable(f), comparable({ ...main, train: { ...main.train, epochs: 20 } }));
    assert.deepEqual(f.losses, main.losses.slice(0, 2));
  } else assert.throws(() => loadConfig(full), /folder not found: .*shared\/data\/bbbc039\/images/);
});
