// The run manager with real forked training processes (dist/backend.js): queueing beyond the
// concurrency limit, cooperative stop, stop escalating to a kill, a crash (killed process) marked
// failed, a bad config reported as a failure, cancelling a queued run, and no process left after
// dispose().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunManager, type RunJob, type RunRequest } from '../../src/extension/model/run-manager';
import { readRunRecord } from '../../src/core/train/runs';
import type { TrainingEvent } from '../../src/protocol/training';
import { REPO, tinyWorkspace } from '../helpers/tiny';

const BACKEND = join(REPO, 'dist', 'backend.js');

function request(configPath: string, lossIndex = 0): RunRequest {
  return { configPath, lossIndex, lossName: 'dice', experiment: 'tiny' };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves when the job reaches a final state. */
function ended(m: RunManager, job: RunJob, ms = 120_000): Promise<RunJob> {
  return new Promise((resolve, reject) => {
    if (['completed', 'failed', 'stopped', 'cancelled'].includes(job.state)) return resolve(job);
    const t = setTimeout(() => reject(new Error(`job ${job.id} still ${job.state} after ${ms} ms`)), ms);
    const off = m.onDidEndJob.on((j) => {
      if (j.id !== job.id) return;
      clearTimeout(t);
      off();
      resolve(j);
    });
  });
}

/** Resolves on the first training event of `job` that matches. */
function eventOf(m: RunManager, job: RunJob, pred: (e: TrainingEvent) => boolean, ms = 120_000): Promise<TrainingEvent> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no matching event from ${job.id} in ${ms} ms`)), ms);
    const off = m.onEvent.on(({ job: j, event }) => {
      if (j.id !== job.id || !pred(event)) return;
      clearTimeout(t);
      off();
      resolve(event);
    });
  });
}

test('runs beyond maxConcurrent queue, then start in order; both complete with their run folders', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 2, losses: '[{ name: dice }, { name: dscpp, gamma: 2 }]' });
  const m = new RunManager({ backendScript: BACKEND, maxConcurrent: 1 });
  const starts: string[] = [];
  const lines: string[] = [];
  m.onEvent.on(({ job, event }) => {
    if (event.type === 'started') starts.push(`${job.id}:${event.loss}`);
  });
  m.onLog.on(({ job, line, stream }) => {
    if (stream === 'event') lines.push(`${job.id} ${line}`);
  });
  const a = m.enqueue(request(config, 0));
  const b = m.enqueue({ ...request(config, 1), lossName: 'dscpp γ=2' });
  assert.equal(a.state, 'starting');
  assert.equal(b.state, 'queued');
  assert.equal(b.pid, null);
  assert.deepEqual(m.activeJobs().map((j) => j.id), [a.id, b.id]);
  await ended(m, a);
  assert.equal(a.state, 'completed');
  await ended(m, b);
  assert.equal(b.state, 'completed');
  assert.deepEqual(starts, [`${a.id}:dice`, `${b.id}:dscpp`]);
  assert.ok(b.startedAt !== null && a.endedAt !== null && b.startedAt >= a.endedAt, 'b started after a ended');
  for (const j of [a, b]) {
    assert.ok(j.runDir && existsSync(j.runDir));
    assert.equal(readRunRecord(j.runDir).status, 'completed');
    assert.equal(j.exitCode, 0);
    assert.equal(j.killed, false);
    assert.deepEqual(j.progress && { epoch: j.progress.epoch, totalEpochs: j.progress.totalEpochs }, { epoch: 2, totalEpochs: 2 });
  }
  assert.ok(lines.some((l) => l.startsWith(`${a.id} started run ${a.runId} (tiny, loss dice) on wasm (2 slices per batch): 2 epochs × `)));
  assert.ok(lines.some((l) => l.startsWith(`${b.id} completed after 2 epochs in `)));
  assert.deepEqual(m.activeJobs(), []);
  await m.dispose();
});

test('a cooperative stop finishes the step, saves last and marks the run stopped; the process exits by itself', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 200 });
  const m = new RunManager({ backendScript: BACKEND, maxConcurrent: 1, stopTimeoutMs: 60_000 });
  const job = m.enqueue(request(config));
  await eventOf(m, job, (e) => e.type === 'step');
  assert.equal(job.state, 'running');
  assert.equal(m.stop(job.id), true);
  assert.equal(job.state, 'stopping');
  await ended(m, job);
  assert.equal(job.state, 'stopped');
  assert.equal(job.killed, false);
  assert.equal(job.exitCode, 0);
  assert.ok(job.runDir);
  const rec = readRunRecord(job.runDir);
  assert.equal(rec.status, 'stopped');
  assert.ok(existsSync(join(job.runDir, 'checkpoints', 'last')), 'last checkpoint saved');
  assert.equal(m.stop(job.id), false, 'a finished job cannot be stopped again');
  // Resume it (the "resume" action of the view): same folder, trained on to the end.
  const resumed = m.enqueue({ ...request(config), resume: job.runDir, epochs: 2 });
  assert.equal(resumed.runDir, job.runDir);
  assert.equal(resumed.runId, job.runId);
  await ended(m, resumed);
  assert.equal(resumed.state, 'completed', resumed.error?.message);
  const after = readRunRecord(job.runDir);
  assert.equal(after.status, 'completed');
  assert.equal(after.resumedFrom.length, 1);
  await m.dispose();
});

test('a stop that does not finish in time escalates to a kill; the host marks the run stopped', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 200 });
  const m = new RunManager({ backendScript: BACKEND, maxConcurrent: 1, stopTimeoutMs: 1 });
  const job = m.enqueue(request(config));
  await eventOf(m, job, (e) => e.type === 'step');
  const pid = job.pid;
  assert.ok(pid);
  m.stop(job.id);
  await ended(m, job);
  assert.equal(job.state, 'stopped');
  assert.equal(job.killed, true);
  assert.equal(job.signal, 'SIGKILL');
  assert.equal(alive(pid), false);
  assert.ok(job.runDir);
  assert.equal(readRunRecord(job.runDir).status, 'stopped');
  assert.match(readFileSync(join(job.runDir, 'log.txt'), 'utf8'), /HOST {2}killed by DSC\+\+ Lab: stopped by the user and the process did not stop in time/);
  await m.dispose();
});

test('a training process that dies without reporting an outcome marks its run failed (job and run.json)', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 200 });
  const m = new RunManager({ backendScript: BACKEND, maxConcurrent: 1 });
  const job = m.enqueue(request(config));
  await eventOf(m, job, (e) => e.type === 'step');
  assert.ok(job.pid);
  process.kill(job.pid, 'SIGKILL');
  await ended(m, job);
  assert.equal(job.state, 'failed');
  assert.equal(job.error?.message, 'the training process was killed by SIGKILL without reporting an outcome');
  assert.ok(job.runDir);
  const rec = readRunRecord(job.runDir);
  assert.equal(rec.status, 'failed');
  assert.equal(rec.error?.message, 'the training process was killed by SIGKILL without reporting an outcome');
  await m.dispose();
});

test('a bad config fails the job with the validator message (file:line) and no run folder', async () => {
  const { dir, config } = tinyWorkspace({ cases: 2 });
  writeFileSync(config, readFileSync(config, 'utf8').replace('losses: [{ name: dice }]', 'losses: [{ name: dcie }]'));
  const m = new RunManager({ backendScript: BACKEND, maxConcurrent: 1 });
  const job = m.enqueue(request(config));
  await ended(m, job);
  assert.equal(job.state, 'failed');
  assert.equal(job.runDir, null);
  assert.equal(job.exitCode, 2);
  assert.equal(job.error?.message, `${config}:10:18: error: losses[0].name: unknown loss 'dcie'; did you mean 'dice'? (known: dice, dscpp, tversky, tversky++, focal_tversky, focal_tversky++, ce, focal, combo, combo++, unified_focal, unified_focal++)`);
  assert.equal(existsSync(join(dir, 'runs')), false);
  await m.dispose();
});

test('a queued run can be cancelled before it starts; raising maxConcurrent starts queued runs', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 200 });
  const m = new RunManager({ backendScript: BACKEND, maxConcurrent: 1, stopTimeoutMs: 60_000 });
  const a = m.enqueue(request(config));
  const b = m.enqueue(request(config));
  const c = m.enqueue(request(config));
  assert.deepEqual([a.state, b.state, c.state], ['starting', 'queued', 'queued']);
  assert.equal(m.stop(b.id), true);
  assert.equal(b.state, 'cancelled');
  assert.equal(b.pid, null);
  m.setMaxConcurrent(2);
  assert.equal(c.state, 'starting');
  await Promise.all([eventOf(m, a, (e) => e.type === 'step'), eventOf(m, c, (e) => e.type === 'step')]);
  m.stop(a.id);
  m.stop(c.id);
  await Promise.all([ended(m, a), ended(m, c)]);
  assert.deepEqual([a.state, b.state, c.state], ['stopped', 'cancelled', 'stopped']);
  await m.dispose();
});

test('dispose() stops running processes (no orphans) and cancels the queue', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 200 });
  const m = new RunManager({ backendScript: BACKEND, maxConcurrent: 1, shutdownGraceMs: 5_000 });
  const a = m.enqueue(request(config));
  const b = m.enqueue(request(config));
  await eventOf(m, a, (e) => e.type === 'step');
  const pid = a.pid;
  assert.ok(pid);
  await m.dispose();
  assert.equal(alive(pid), false);
  assert.equal(a.state, 'stopped');
  assert.equal(b.state, 'cancelled');
  assert.ok(a.runDir);
  assert.equal(readRunRecord(a.runDir).status, 'stopped');
  assert.throws(() => m.enqueue(request(config)), /the run manager is shut down/);
});

test('a missing backend script is reported when the run is queued', () => {
  const m = new RunManager({ backendScript: join(REPO, 'dist', 'no-such-backend.js'), maxConcurrent: 1 });
  assert.throws(() => m.enqueue(request('/x.dscpp.yaml')), { message: `the training backend ${join(REPO, 'dist', 'no-such-backend.js')} is missing: rebuild the extension (npm run build) or reinstall it` });
});
