// Sweeps on a real Slurm (CI: .ci/slurm.sh starts a single-node Slurm 22.05 and runs this file):
//  - 2 losses × 2 seeds on 20 bbbc039 images (32×32, 1 epoch) as one job array, to completion, then
//    the by-loss comparison (mean ± std over seeds, Wilcoxon over test cases);
//  - cancelling a sweep with one task running and one pending;
//  - two jobs that fail: one whose data folder vanished after submission (the trainer says why in
//    run.json), one that dies before the trainer starts (the tracker marks it failed with the tail of
//    its Slurm output file).
// Without a running Slurm every test is skipped with the reason, unless DSCPP_SLURM_REQUIRED=1 (CI).
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunStatus } from '../../src/protocol/training';
import { SlurmClient } from '../../src/core/executors/slurm';
import { slurmEnded, taskKey } from '../../src/core/executors/slurm-state';
import { listSweeps, planSweep, readManifest, type SweepManifest } from '../../src/core/executors/sweep-store';
import { submitSlurmSweep } from '../../src/core/executors/submit';
import { SlurmTracker, type TrackerSnapshot } from '../../src/core/executors/tracker';
import { readRunRecord, RUN_FILES } from '../../src/core/train/runs';
import { REPO, tinyWorkspace, type TinyOptions } from '../helpers/tiny';

const BIN = join(REPO, 'bin', 'dscpp-lab.js');
const CLI_JS = join(REPO, 'dist', 'cli.js');

function slurmProblem(): string | null {
  const r = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return `sinfo could not run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): Slurm is not installed here`;
  if (r.status !== 0) return `sinfo failed: ${(r.stderr || r.stdout).trim()}`;
  if (!/idle|mix|alloc/.test(r.stdout)) return `no usable node: sinfo says '${r.stdout.trim()}'`;
  if (!existsSync(CLI_JS)) return `${CLI_JS} is missing: build first (node esbuild.mjs)`;
  return null;
}

const problem = slurmProblem();
const required = process.env.DSCPP_SLURM_REQUIRED === '1';
if (problem && !required) process.stdout.write(`# skipping the Slurm tests: ${problem}\n`);
const skip = problem && !required ? `Slurm is not running: ${problem}` : false;

const made: string[] = [];
const jobs: string[] = [];
after(async () => {
  if (jobs.length) await new SlurmClient().cancel(jobs).catch(() => undefined);
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function workspace(o: TinyOptions): { dir: string; config: string } {
  const w = tinyWorkspace(o);
  made.push(w.dir);
  return w;
}

function cli(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000, cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function requireSlurm(): void {
  if (problem) assert.fail(`DSCPP_SLURM_REQUIRED=1 but Slurm is not usable: ${problem}`);
}

async function waitFor(tracker: SlurmTracker, done: (s: TrackerSnapshot) => boolean, timeoutMs: number, what: string): Promise<TrackerSnapshot> {
  const t0 = Date.now();
  let last: TrackerSnapshot | null = null;
  while (Date.now() - t0 < timeoutMs) {
    last = await tracker.poll();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last states: ${last?.runs.map((r) => `${r.record.id} ${r.status} ${r.slurm?.state ?? ''}`).join(', ')}`);
}

const ended = (s: RunStatus) => s !== 'queued' && s !== 'running';

function sweepOf(dir: string): SweepManifest & { sweepDir: string } {
  const found = listSweeps(join(dir, 'runs'));
  assert.equal(found.length, 1, `one sweep under ${dir}/runs`);
  return { ...readManifest(found[0] as string), sweepDir: found[0] as string };
}

/** A multi-line diagnostic, one TAP comment per line. */
function show(t: TestContext, title: string, text: string): void {
  t.diagnostic(title);
  for (const line of text.replace(/\n$/, '').split('\n')) t.diagnostic(`  ${line}`);
}

test('a sweep of 2 losses × 2 seeds runs as one job array; four completed run folders; the by-loss comparison', { skip, timeout: 240_000 }, async (t: TestContext) => {
  requireSlurm();
  const { dir, config } = workspace({
    cases: 20,
    size: 32,
    epochs: 1,
    losses: '[{ name: dice }, { name: dscpp, gamma: 2 }]',
    extra: 'sweep: { seed: [1, 2] }\nslurm: { cpus: 1, time: "00:10:00", arrayLimit: 2, setup: ["export OMP_NUM_THREADS=1"] }',
  });
  const t0 = Date.now();
  const sub = cli(['sweep', config, '--executor', 'slurm', '--cli', CLI_JS]);
  assert.equal(sub.code, 0, sub.stderr);
  const jobId = /as job array (\d+) \(--array=0-3%2\)/.exec(sub.stdout)?.[1];
  assert.ok(jobId, sub.stdout);
  jobs.push(jobId);
  const m = sweepOf(dir);
  assert.equal(m.runs.length, 4);
  assert.equal(m.slurm?.jobId, jobId);
  assert.equal(m.slurm?.array, '0-3%2');
  const script = readFileSync(m.slurm?.script as string, 'utf8');
  show(t, `generated sbatch script (${m.slurm?.script}):`, script);
  assert.ok(script.includes('#SBATCH --array=0-3%2\n') && script.includes(`exec "$NODE" ${CLI_JS} train --run-dir "$RUN_DIR"`));
  const tracker = new SlurmTracker({ roots: m.runs.map((r) => r.dir), graceMs: 1000 });
  const first = await tracker.poll();
  assert.ok(first.runs.every((r) => r.slurm?.jobId === jobId && (r.status === 'queued' || r.status === 'running' || r.status === 'completed')));
  const snap = await waitFor(tracker, (s) => s.runs.every((r) => ended(r.status)), 200_000, 'the four runs to end');
  const wall = (Date.now() - t0) / 1000;
  assert.deepEqual(snap.runs.map((r) => r.status), ['completed', 'completed', 'completed', 'completed'], snap.runs.map((r) => `${r.record.id}: ${r.record.error?.message ?? ''}`).join('\n'));
  for (const mr of m.runs) {
    const rec = readRunRecord(mr.dir);
    assert.equal(rec.status, 'completed');
    assert.equal(rec.executor?.kind, 'slurm');
    if (rec.executor?.kind !== 'slurm') continue;
    assert.equal(rec.executor.jobId, jobId);
    assert.equal(rec.executor.arrayTaskId, mr.index);
    assert.ok(rec.executor.cluster, 'the cluster name is recorded');
    assert.deepEqual(rec.sweep, { id: m.id, index: mr.index, params: mr.params });
    assert.equal(rec.seed, mr.params.seed);
    assert.ok(rec.summary.test, 'evaluated on the test split');
    assert.ok(existsSync(join(mr.dir, RUN_FILES.evaluation)));
    const out = readFileSync(rec.executor.outputFile as string, 'utf8');
    assert.match(out, new RegExp(`^dscpp-lab: array task ${mr.index} of job ${jobId} on \\S+, node v\\d+`));
    assert.match(out, /: completed in /);
  }
  t.diagnostic(`submission to four completed runs: ${wall.toFixed(1)} s; per run (trainer): ${m.runs.map((r) => `${(readRunRecord(r.dir).summary.durationMs / 1000).toFixed(1)} s`).join(', ')}`);

  const st = cli(['status', join(dir, 'runs', 'tiny')]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /\n4 runs: 4 completed\n/);
  assert.equal(st.stdout.split('\n').filter((l) => / completed +\d+_\d /.test(l)).length, 4, st.stdout);

  const cmp = cli(['compare', m.id, '--group-by', 'loss', '--out', join(dir, 'cmp')], dir);
  assert.equal(cmp.code, 0, cmp.stderr);
  show(t, `dscpp-lab compare ${m.id} --group-by loss:`, cmp.stdout);
  const agg = JSON.parse(readFileSync(join(dir, 'cmp', 'compare-by-loss.json'), 'utf8')) as { groups: { label: string; runs: { seed: number }[]; stats: Record<string, { n: number; mean: number; std: number }> }[]; tests: { treatment: string; control: string; metric: string; cases: number; result: { p: number; n: number } }[] };
  assert.deepEqual(agg.groups.map((g) => [g.label, g.runs.map((r) => r.seed)]), [['dice', [1, 2]], ['dscpp(gamma=2)', [1, 2]]]);
  for (const g of agg.groups) for (const k of ['dsc', 'nll', 'brier', 'ece']) {
    assert.equal(g.stats[k]?.n, 2, `${g.label} ${k}`);
    assert.ok(Number.isFinite(g.stats[k]?.mean) && Number.isFinite(g.stats[k]?.std), `${g.label} ${k}`);
  }
  assert.deepEqual(agg.tests.map((x) => [x.treatment, x.control, x.metric, x.cases]), [
    ['dscpp(gamma=2)', 'dice', 'dsc', 5],
    ['dscpp(gamma=2)', 'dice', 'nll', 5],
    ['dscpp(gamma=2)', 'dice', 'brier', 5],
  ]);
  for (const x of agg.tests) assert.ok(x.result.p > 0 && x.result.p <= 1);
  assert.ok(existsSync(join(dir, 'cmp', 'compare-by-loss.md')));
});

test('cancelling a sweep: the running task stops and the pending one never starts; both marked cancelled', { skip, timeout: 180_000 }, async (t: TestContext) => {
  requireSlurm();
  const { dir, config } = workspace({ cases: 12, size: 32, epochs: 400, extra: 'sweep: { seed: [1, 2] }\nslurm: { cpus: 1, arrayLimit: 1 }' });
  const sub = cli(['sweep', config, '--executor', 'slurm', '--cli', CLI_JS]);
  assert.equal(sub.code, 0, sub.stderr);
  const m = sweepOf(dir);
  const jobId = m.slurm?.jobId as string;
  jobs.push(jobId);
  const [run0, run1] = m.runs.map((r) => r.dir) as [string, string];
  const tracker = new SlurmTracker({ roots: [run0, run1], graceMs: 1000 });
  const snap = await waitFor(tracker, () => readRunRecord(run0).status === 'running' && existsSync(join(run0, RUN_FILES.metrics)), 90_000, 'task 0 to train');
  const [s0, s1] = [snap.runs.find((r) => r.dir === run0), snap.runs.find((r) => r.dir === run1)];
  assert.equal(s0?.status, 'running');
  assert.equal(s1?.status, 'queued');
  assert.equal(s1?.slurm?.reason, 'JobArrayTaskLimit');
  const ex0 = readRunRecord(run0).executor;
  assert.equal(snap.statusLine, `1 queued / 1 running on ${ex0?.kind === 'slurm' ? ex0.cluster : ''}`);
  const t0 = Date.now();
  const c = cli(['cancel', m.sweepDir]);
  assert.equal(c.code, 0, c.stderr);
  show(t, `dscpp-lab cancel (scancel, wait for the trainer to stop, mark): ${((Date.now() - t0) / 1000).toFixed(1)} s`, c.stdout);
  const r0 = readRunRecord(run0);
  const r1 = readRunRecord(run1);
  assert.equal(r0.status, 'cancelled');
  assert.equal(r1.status, 'cancelled');
  assert.deepEqual(r0.error, { message: `Slurm job ${jobId}_0 was cancelled (scancel)` });
  assert.deepEqual(r1.error, { message: `Slurm job ${jobId}_1 was cancelled (scancel)` });
  assert.ok(r0.summary.epochsCompleted < 400);
  assert.equal(r1.startedAt, null, 'the pending task never started');
  const tasks = await new SlurmClient().tasks([jobId]);
  assert.deepEqual(tasks.map((x) => [taskKey(x.jobId, x.taskId), slurmEnded(x.state)]).sort(), [[`${jobId}_0`, true], [`${jobId}_1`, true]]);
  // The trainer stopped cooperatively on SIGTERM; its last write does not undo the mark.
  assert.match(readFileSync(join(m.sweepDir, `slurm-${jobId}_0.out`), 'utf8'), /stopping after the current step/);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(readRunRecord(run0).status, 'cancelled');
  const after = await tracker.poll();
  assert.deepEqual(after.runs.map((r) => r.status), ['cancelled', 'cancelled']);
});

test('failures are surfaced: a data folder gone after submission (the trainer says so) and a job that dies before training (the Slurm output tail)', { skip, timeout: 180_000 }, async () => {
  requireSlurm();
  // 1. The data folder disappears between submission and the start of the task (--begin delays it).
  const a = workspace({ cases: 8, size: 32, epochs: 1, extra: 'slurm: { extraSbatch: ["--begin=now+3"] }' });
  const planA = planSweep(a.config);
  const subA = await submitSlurmSweep(planA, { cli: CLI_JS });
  jobs.push(subA.jobId);
  renameSync(join(a.dir, 'data', 'images'), join(a.dir, 'data', 'images-moved'));
  // 2. A node executable that does not exist: the task exits 127 before the trainer ever writes run.json.
  const b = workspace({ cases: 8, size: 32, epochs: 1, extra: 'slurm: { node: /nonexistent/node }' });
  const planB = planSweep(b.config);
  const subB = await submitSlurmSweep(planB, { cli: CLI_JS });
  jobs.push(subB.jobId);

  const dirA = planA.runs[0]?.dir as string;
  const dirB = planB.runs[0]?.dir as string;
  const tracker = new SlurmTracker({ roots: [dirA, dirB], graceMs: 1000 });
  const snap = await waitFor(tracker, (s) => s.runs.every((r) => ended(r.status)), 120_000, 'both failing jobs to end');
  assert.deepEqual(snap.runs.map((r) => r.status), ['failed', 'failed']);

  const ra = readRunRecord(dirA);
  assert.equal(ra.status, 'failed');
  assert.equal(ra.error?.message, `data.images: cannot list ${join(a.dir, 'data', 'images')} (no such folder); check the path (it is relative to the config file)`);
  const outA = readFileSync(join(planA.sweepDir, `slurm-${subA.jobId}_0.out`), 'utf8');
  assert.match(outA, /dscpp-lab train: data\.images: cannot list .* \(no such folder\)/);

  const rb = readRunRecord(dirB);
  assert.equal(rb.status, 'failed');
  assert.match(rb.error?.message ?? '', new RegExp(`^Slurm job ${subB.jobId}_0 FAILED \\(NonZeroExitCode\\) without finishing the run \\(run\\.json still says queued\\): dscpp-lab: /nonexistent/node not found on \\S+: put Node\\.js >= 20 on the PATH of the compute nodes`));
  assert.match(rb.error?.detail ?? '', new RegExp(`^last lines of ${planB.sweepDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/slurm-${subB.jobId}_0\\.out:\\n`));
  assert.ok(snap.persisted.includes(dirB) || snap.persisted.length === 0, 'persisted by this or an earlier poll');

  // The CLI shows both errors.
  const st = cli(['status', join(a.dir, 'runs')]);
  assert.match(st.stdout, /failed: data\.images: cannot list/);
  const stB = cli(['status', join(b.dir, 'runs')]);
  assert.match(stB.stdout, /failed: Slurm job \d+_0 FAILED \(NonZeroExitCode\) without finishing the run/);
  assert.match(stB.stdout, /\n {4}dscpp-lab: \/nonexistent\/node not found on /);
});
