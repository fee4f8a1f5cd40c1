// Real training runs on a few bbbc039 images (wasm backend): the loss falls, runs are deterministic,
// resume continues exactly, the NaN guard stops a diverging run, and a killed run stays readable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExperiment } from '../../src/core/train/experiment';
import { epochRecords, listRuns, readMetrics, readRunRecord } from '../../src/core/train/runs';
import type { EpochRecord, TrainingEvent } from '../../src/protocol/training';
import { REPO, tinyWorkspace } from '../helpers/tiny';

function epochs(dir: string): EpochRecord[] {
  return epochRecords(readMetrics(dir));
}

async function train(config: string, extra: Partial<Parameters<typeof runExperiment>[0]> = {}) {
  const events: TrainingEvent[] = [];
  const signal = { requested: false } as { requested: boolean; reason?: string };
  const outcomes = await runExperiment({ configPath: config, signal, emit: (e) => events.push(e), ...extra });
  return { outcomes, events, signal };
}

test('a short real training run: validation loss falls, run folder complete, no tensor leak', async () => {
  const { config } = tinyWorkspace({ cases: 16, epochs: 6 });
  const { outcomes, events } = await train(config);
  assert.equal(outcomes.length, 1);
  const o = outcomes[0]!;
  assert.equal(o.status, 'completed', o.error);
  const ep = epochs(o.runDir);
  assert.equal(ep.length, 6);
  assert.ok(ep[5]!.val.loss < ep[0]!.val.loss, `val loss did not fall: ${ep.map((e) => e.val.loss.toFixed(4)).join(' → ')}`);
  assert.ok(ep[5]!.trainLoss < ep[0]!.trainLoss);
  // Equal tensor counts at every epoch end.
  assert.equal(new Set(ep.map((e) => e.numTensors)).size, 1, `numTensors: ${ep.map((e) => e.numTensors).join(',')}`);
  const rec = readRunRecord(o.runDir);
  assert.equal(rec.status, 'completed');
  assert.equal(rec.backend?.name, 'wasm');
  assert.equal(rec.seed, 7);
  assert.equal(rec.summary.epochsCompleted, 6);
  for (const f of ['run.json', 'metrics.jsonl', 'log.txt', 'checkpoints/best/model.json', 'checkpoints/best/weights.bin', 'checkpoints/last/model.json', 'checkpoints/last/optimizer.json']) {
    assert.ok(existsSync(join(o.runDir, f)), `missing ${f}`);
  }
  assert.ok(readMetrics(o.runDir).some((m) => m.kind === 'step'));
  const types = new Set(events.map((e) => e.type));
  for (const t of ['started', 'step', 'epoch', 'checkpoint', 'finished'] as const) assert.ok(types.has(t), `no ${t} event`);
});

test('determinism: the same config, seed and backend give identical metrics', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 2 });
  const a = await train(config);
  const b = await train(config);
  assert.notEqual(a.outcomes[0]!.runDir, b.outcomes[0]!.runDir, 'a run folder was reused');
  // Everything but wall-clock fields (and the process-wide tensor count) must be identical.
  const timeless = (dir: string) => readMetrics(dir).map((m) => ({ ...m, elapsedMs: 0, time: '', epochMs: 0, numTensors: 0 }));
  const ma = timeless(a.outcomes[0]!.runDir);
  const mb = timeless(b.outcomes[0]!.runDir);
  assert.deepEqual(ma, mb);
});

test('resume: stopping after epoch 1 and resuming gives the same metrics as an uninterrupted run', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 3 });
  const full = await train(config);
  const signal = { requested: false } as { requested: boolean; reason?: string };
  const events: TrainingEvent[] = [];
  const first = await runExperiment({
    configPath: config,
    signal,
    emit: (e) => {
      events.push(e);
      if (e.type === 'epoch' && e.epoch === 1) signal.requested = true;
    },
  });
  assert.equal(first[0]!.status, 'stopped');
  assert.equal(readRunRecord(first[0]!.runDir).status, 'stopped');
  const resumed = await train('', { resume: first[0]!.runDir });
  assert.equal(resumed.outcomes[0]!.status, 'completed');
  assert.equal(resumed.outcomes[0]!.runDir, first[0]!.runDir);
  const rec = readRunRecord(first[0]!.runDir);
  assert.equal(rec.resumedFrom.length, 1);
  assert.equal(rec.resumedFrom[0]!.epoch, 1);
  // Equal to an uninterrupted run within 1e-5 relative: on restore, Adam recomputes its bias-correction
  // powers β^t from the step count instead of carrying the running product, which differs in the last bits.
  const a = epochs(first[0]!.runDir);
  const b = epochs(full.outcomes[0]!.runDir);
  assert.deepEqual(a.map((e) => [e.epoch, e.globalStep, e.lr]), b.map((e) => [e.epoch, e.globalStep, e.lr]));
  const close = (x: number, y: number, what: string) => assert.ok(Math.abs(x - y) <= 1e-5 * Math.max(1, Math.abs(y)), `${what}: ${x} vs ${y}`);
  a.forEach((e, i) => {
    const f = b[i]!;
    close(e.trainLoss, f.trainLoss, `epoch ${e.epoch} train loss`);
    for (const k of ['loss', 'dsc', 'nll', 'brier'] as const) close(e.val[k], f.val[k], `epoch ${e.epoch} val ${k}`);
  });
});

test('NaN guard: a diverging run stops with a clear message and keeps its log', async () => {
  // Without normalisation, a huge learning rate overflows the activations to Inf and the loss to NaN.
  const { config } = tinyWorkspace({ cases: 8, model: '{ arch: unet2d, depth: 2, filters: 4, norm: none }', train: '{ epochs: 3, batchSize: 2, lr: 1.0e+30, seed: 7 }' });
  const { outcomes } = await train(config);
  const o = outcomes[0]!;
  assert.equal(o.status, 'failed');
  assert.match(o.error ?? '', /^training diverged at epoch 1, step \d+ \(global step \d+\): the loss is \S+ and the gradient norm is (NaN|Infinity); the run was stopped\. Try a lower train\.lr \(now 1e\+30\), a different loss, or check the inputs of cases /);
  const rec = readRunRecord(o.runDir);
  assert.equal(rec.status, 'failed');
  assert.equal(rec.error?.message, o.error);
  assert.match(readFileSync(join(o.runDir, 'log.txt'), 'utf8'), /ERROR training diverged at epoch 1/);
});

test('a run killed mid-epoch is still readable, shows as interrupted, and resumes from its last checkpoint', async () => {
  const { dir, config } = tinyWorkspace({ cases: 12, epochs: 40, size: 32 });
  const child = spawn(process.execPath, [join(REPO, 'bin', 'dscpp-lab.js'), 'train', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // Wait until epoch 2 has started (so checkpoints/last exists), then kill -9 mid-epoch.
  const runsRoot = join(dir, 'runs');
  const deadline = Date.now() + 120_000;
  let runDir = '';
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const runs = listRuns(runsRoot);
    if (runs[0]) {
      runDir = runs[0].dir;
      const m = readMetrics(runDir);
      if (m.some((r) => r.kind === 'step' && r.epoch === 2)) break;
    }
  }
  assert.ok(runDir, `no run started: ${out}`);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const rec = readRunRecord(runDir);
  assert.equal(rec.status, 'running');
  const listing = listRuns(runsRoot);
  assert.equal(listing[0]!.stale, true, 'a killed run must show as interrupted');
  assert.ok(readMetrics(runDir).length >= 2);
  assert.ok(readFileSync(join(runDir, 'log.txt'), 'utf8').includes('epoch 1/40'));
  assert.ok(existsSync(join(runDir, 'checkpoints', 'last', 'model.json')));
  const resumed = await train('', { resume: runDir, epochs: 3 });
  assert.equal(resumed.outcomes[0]!.status, 'completed', resumed.outcomes[0]!.error);
  assert.deepEqual(epochs(runDir).map((e) => e.epoch), [1, 2, 3]);
});
