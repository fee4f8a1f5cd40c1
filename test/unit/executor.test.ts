// The executors' pure logic: squeue parsing (lines captured from a real Slurm 22.05), Slurm states →
// run states, what a poll decides for each combination of run.json and Slurm state, the bounded poll
// interval, the output tail, the Slurm client when Slurm is missing, the tracker on local runs, and
// the by-loss aggregation with hand-computed means, standard deviations and Wilcoxon statistics.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseReport, EvaluationReport } from '../../src/protocol/evaluation';
import type { RunRecord, RunStatus } from '../../src/protocol/training';
import { aggregateRuns, aggregateText, baseLossOf } from '../../src/core/executors/aggregate';
import { parseSqueue, parseSlurmTime, reconcileSlurmRun, slurmEnded, slurmPhase, taskKey, type SlurmTask } from '../../src/core/executors/slurm-state';
import { runCommand, SlurmClient, SlurmError, submitEnv, type CommandRunner } from '../../src/core/executors/slurm';
import { failureLine, PollSchedule, SlurmTracker, slurmStatusLine, emptyCounts, tailFile } from '../../src/core/executors/tracker';
import { normalCdf } from '../../src/core/executors/wilcoxon';
import { newRunRecord, writeRunRecord } from '../../src/core/train/runs';
import type { ComparedRun } from '../../src/core/eval/compare';

const tmp: string[] = [];
after(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dscpp-exec-'));
  tmp.push(d);
  return d;
}

// squeue -h -r --states=all --jobs=9,10 -o '%F|%K|%A|%T|%r|%N|%e' on Slurm 22.05.8 (one node "vm").
const SQUEUE = `9|1|9|PENDING|JobArrayTaskLimit||N/A
9|2|9|PENDING|JobArrayTaskLimit||N/A
9|0|11|RUNNING|None|vm|NONE
10|N/A|10|FAILED|NonZeroExitCode|vm|2026-11-26T23:11:03
1|3|5|COMPLETED|None|vm|2026-11-26T23:00:12
9|0|11|CANCELLED|None|vm|2026-11-26T23:11:03
squeue: error: something on stderr that is not a job line
`;

test('parseSqueue: array tasks, plain jobs, None/N/A/NONE as null, stray lines ignored', () => {
  assert.deepEqual(parseSqueue(SQUEUE), [
    { jobId: '9', taskId: 1, taskJobId: '9', state: 'PENDING', reason: 'JobArrayTaskLimit', node: null, endTime: null },
    { jobId: '9', taskId: 2, taskJobId: '9', state: 'PENDING', reason: 'JobArrayTaskLimit', node: null, endTime: null },
    { jobId: '9', taskId: 0, taskJobId: '11', state: 'RUNNING', reason: null, node: 'vm', endTime: null },
    { jobId: '10', taskId: null, taskJobId: '10', state: 'FAILED', reason: 'NonZeroExitCode', node: 'vm', endTime: '2026-11-26T23:11:03' },
    { jobId: '1', taskId: 3, taskJobId: '5', state: 'COMPLETED', reason: null, node: 'vm', endTime: '2026-11-26T23:00:12' },
    { jobId: '9', taskId: 0, taskJobId: '11', state: 'CANCELLED', reason: null, node: 'vm', endTime: '2026-11-26T23:11:03' },
  ]);
  assert.equal(taskKey('9', 1), '9_1');
  assert.equal(taskKey('10', null), '10');
  assert.equal(taskKey('10', undefined), '10');
});

test('slurmPhase: Slurm job states (long and short names) → run states', () => {
  const table: [string, string][] = [
    ['PENDING', 'queued'], ['PD', 'queued'], ['CONFIGURING', 'queued'], ['REQUEUED', 'queued'], ['REQUEUE_HOLD', 'queued'],
    ['RUNNING', 'running'], ['R', 'running'], ['COMPLETING', 'running'], ['SUSPENDED', 'running'], ['STOPPED', 'running'], ['SIGNALING', 'running'],
    ['COMPLETED', 'completed'], ['CD', 'completed'],
    ['CANCELLED', 'cancelled'], ['CANCELLED by 0', 'cancelled'], ['CANCELLED+', 'cancelled'], ['CA', 'cancelled'],
    ['TIMEOUT', 'timeout'], ['DEADLINE', 'timeout'],
    ['FAILED', 'failed'], ['NODE_FAIL', 'failed'], ['OUT_OF_MEMORY', 'failed'], ['BOOT_FAIL', 'failed'], ['PREEMPTED', 'failed'],
  ];
  for (const [state, phase] of table) assert.equal(slurmPhase(state), phase, state);
  assert.equal(slurmEnded('COMPLETING'), false);
  assert.equal(slurmEnded('TIMEOUT'), true);
});

test('parseSlurmTime: local, zone-less timestamps', () => {
  assert.equal(parseSlurmTime('2026-11-26T23:11:03'), new Date(2026, 10, 26, 23, 11, 3).getTime());
  assert.ok(Number.isNaN(parseSlurmTime(null)));
  assert.ok(Number.isNaN(parseSlurmTime('Unknown')));
});

function task(state: string, endTime: string | null = null, reason: string | null = null): SlurmTask {
  return { jobId: '9', taskId: 0, taskJobId: '11', state, reason, node: 'vm', endTime };
}

test('reconcileSlurmRun: the run folder wins when it shows an end; Slurm decides for open runs after the grace period', () => {
  const ex = { kind: 'slurm' as const, jobId: '9', arrayTaskId: 0 };
  const END = '2026-11-26T23:11:03';
  const endMs = parseSlurmTime(END);
  const later = endMs + 60_000;
  const soon = endMs + 2_000;
  type Row = [RunStatus, SlurmTask | undefined, boolean, number, RunStatus, string | null];
  const rows: Row[] = [
    // record, squeue, answered, now, shown, persisted
    ['completed', task('COMPLETED', END), true, later, 'completed', null],
    ['failed', task('FAILED', END), true, later, 'failed', null],
    ['queued', task('PENDING'), true, later, 'queued', null],
    ['queued', task('RUNNING'), true, later, 'running', null], // started; the trainer has not written yet
    ['running', task('RUNNING'), true, later, 'running', null],
    ['running', task('COMPLETED', END), true, soon, 'running', null], // run.json may lag: grace
    ['running', task('COMPLETED', END), true, later, 'failed', 'failed'],
    ['queued', task('FAILED', END, 'NonZeroExitCode'), true, later, 'failed', 'failed'],
    ['running', task('FAILED', END), true, soon, 'running', null],
    ['running', task('CANCELLED', END), true, soon, 'cancelled', null],
    ['running', task('CANCELLED', END), true, later, 'cancelled', 'cancelled'],
    ['stopped', task('CANCELLED', END), true, later, 'cancelled', 'cancelled'], // the trainer stopped on scancel's SIGTERM
    ['stopped', task('TIMEOUT', END, 'TimeLimit'), true, later, 'timeout', 'timeout'],
    ['stopped', task('COMPLETED', END), true, later, 'stopped', null],
    ['running', undefined, true, later, 'failed', 'failed'], // Slurm forgot the job, run.json never said it ended
    ['stopped', undefined, true, later, 'stopped', null],
    ['running', undefined, false, later, 'running', null], // squeue did not answer: no conclusion
  ];
  for (const [status, t, answered, now, shown, persisted] of rows) {
    const v = reconcileSlurmRun({ record: { status, executor: ex }, task: t, slurmAnswered: answered, nowMs: now, graceMs: 15_000 });
    const what = `${status} + ${t?.state ?? 'absent'}${answered ? '' : ' (no answer)'} at ${now === soon ? '+2 s' : '+60 s'}`;
    assert.equal(v.status, shown, what);
    assert.equal(v.persist?.status ?? null, persisted, what);
  }
  const died = reconcileSlurmRun({ record: { status: 'queued', executor: ex }, task: task('FAILED', END, 'NonZeroExitCode'), slurmAnswered: true, nowMs: later, graceMs: 15_000 });
  assert.deepEqual(died.persist?.error, { message: 'Slurm job 9_0 FAILED (NonZeroExitCode) without finishing the run (run.json still says queued)' });
  assert.equal(died.wantsTail, true);
  const gone = reconcileSlurmRun({ record: { status: 'running', executor: ex }, task: undefined, slurmAnswered: true, nowMs: later, graceMs: 15_000 });
  assert.equal(gone.persist?.error?.message, 'Slurm job 9_0 ended without finishing the run (Slurm no longer knows the job; run.json still says running)');
  const timeout = reconcileSlurmRun({ record: { status: 'stopped', executor: ex }, task: task('TIMEOUT', END, 'TimeLimit'), slurmAnswered: true, nowMs: later, graceMs: 15_000 });
  assert.equal(timeout.persist?.error?.message, 'Slurm job 9_0 reached its time limit (TimeLimit)');
  const local = reconcileSlurmRun({ record: { status: 'running', executor: { kind: 'local' } }, task: undefined, slurmAnswered: true, nowMs: later, graceMs: 0 });
  assert.deepEqual(local, { status: 'running', persist: null, wantsTail: false });
  const submitting = reconcileSlurmRun({ record: { status: 'queued', executor: { kind: 'slurm', jobId: '' } }, task: undefined, slurmAnswered: true, nowMs: later, graceMs: 0 });
  assert.deepEqual(submitting, { status: 'queued', persist: null, wantsTail: false });
});

test('PollSchedule: grows by 1.5 while nothing changes, back to the minimum on a change, the maximum when idle, bounds clamped', () => {
  const s = new PollSchedule(2000, 10_000);
  assert.deepEqual([s.next(false, true), s.next(false, true), s.next(false, true), s.next(false, true), s.next(false, true)], [3000, 4500, 6750, 10_000, 10_000]);
  assert.equal(s.next(true, true), 2000);
  assert.equal(s.next(false, false), 10_000);
  const clamped = new PollSchedule(10, 1e9);
  assert.deepEqual([clamped.minMs, clamped.maxMs], [500, 600_000]);
  const inverted = new PollSchedule(5000, 1000);
  assert.deepEqual([inverted.minMs, inverted.maxMs], [5000, 5000]);
});

test('slurmStatusLine', () => {
  const c = emptyCounts();
  assert.equal(slurmStatusLine(c, ['hpc']), '');
  c.queued = 3;
  c.running = 1;
  c.completed = 5;
  assert.equal(slurmStatusLine(c, ['hpc']), '3 queued / 1 running on hpc');
  assert.equal(slurmStatusLine(c, []), '3 queued / 1 running on Slurm');
  assert.equal(slurmStatusLine(c, ['a', 'b']), '3 queued / 1 running on a, b');
});

test('tailFile and failureLine: the last lines of an output file and the line that says why', () => {
  const d = tempDir();
  const f = join(d, 'slurm-1_0.out');
  const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
  writeFileSync(f, [...lines, 'dscpp-lab train: folder not found: /x/images (paths are relative to the config file)', '    at Object.<anonymous> (/x/cli.js:1:1)', ''].join('\n'));
  const tail = tailFile(f, 5);
  assert.deepEqual(tail.split('\n'), ['line 97', 'line 98', 'line 99', 'dscpp-lab train: folder not found: /x/images (paths are relative to the config file)', '    at Object.<anonymous> (/x/cli.js:1:1)']);
  assert.equal(failureLine(tail), 'dscpp-lab train: folder not found: /x/images (paths are relative to the config file)');
  assert.equal(failureLine('just\nthe last'), 'the last');
  assert.equal(failureLine(''), null);
  assert.equal(tailFile(join(d, 'missing.out')), '');
  // Only the last maxBytes are read; the partial first line is dropped.
  writeFileSync(f, 'x'.repeat(5000) + '\nend\n');
  assert.equal(tailFile(f, 40, 100), 'end');
});

test('SlurmClient: missing Slurm commands are a clear SlurmError; submitEnv drops VS Code and Electron variables', async () => {
  const noSlurm: CommandRunner = (cmd, args, opts) => runCommand(cmd, args, { ...opts, env: { PATH: '/nonexistent' } });
  const client = new SlurmClient(noSlurm);
  assert.deepEqual(await client.available(), { ok: false, reason: "sinfo -h -o %T failed (exit 127):\n  sinfo: command not found (Slurm's client commands must be on the PATH)" });
  await assert.rejects(client.tasks(['12']), (e: Error) => e instanceof SlurmError && e.message.startsWith('squeue -h -r --states=all --jobs=12 -o %F|%K|%A|%T|%r|%N|%e failed (exit 127)'));
  assert.deepEqual(await client.tasks([]), []);
  assert.deepEqual(await client.tasks(['not-a-job']), []);
  const r = await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3']);
  assert.deepEqual(r, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  const slow = await runCommand('sleep', ['5'], { timeoutMs: 200 });
  assert.equal(slow.code, 124);
  assert.deepEqual(submitEnv({ PATH: '/bin', VSCODE_PID: '1', ELECTRON_RUN_AS_NODE: '1', HOME: '/h' }), { PATH: '/bin', HOME: '/h' });
});

function record(over: Partial<RunRecord> & { loss: RunRecord['loss']; seed: number }): RunRecord {
  const base = newRunRecord({ id: `r-${over.loss.name}-${over.seed}-${Math.random().toString(16).slice(2, 6)}`, experiment: 'e', configPath: '/e.dscpp.yaml', loss: over.loss, lossIndex: 0, seed: over.seed, config: { train: { seed: over.seed, lr: 0.01 }, data: {} }, totalEpochs: 1 });
  return { ...base, ...over };
}

test('SlurmTracker on run folders without Slurm: local states as written, Slurm runs unanswered, counts', async () => {
  const root = tempDir();
  const mk = (name: string, r: RunRecord) => {
    const dir = join(root, 'e', name);
    writeRunRecord(dir, r);
    return dir;
  };
  mk('a', record({ loss: { name: 'dice', options: {} }, seed: 1, status: 'completed', pid: null }));
  mk('b', record({ loss: { name: 'dice', options: {} }, seed: 2, status: 'queued', pid: null }));
  mk('c', record({ loss: { name: 'dscpp', options: {} }, seed: 1, status: 'running', executor: { kind: 'slurm', jobId: '123', arrayTaskId: 0, cluster: 'hpc' }, pid: null }));
  const noSlurm: CommandRunner = (cmd, args, opts) => runCommand(cmd, args, { ...opts, env: { PATH: '/nonexistent' } });
  const tracker = new SlurmTracker({ roots: [root], client: new SlurmClient(noSlurm) });
  const snap = await tracker.poll();
  assert.equal(snap.runs.length, 3);
  assert.equal(snap.slurmAnswered, false);
  assert.match(snap.error ?? '', /^squeue .* failed \(exit 127\)/);
  assert.deepEqual(snap.counts, { ...emptyCounts(), completed: 1, queued: 1, running: 1 });
  assert.deepEqual(snap.slurmCounts, { ...emptyCounts(), running: 1 });
  assert.equal(snap.statusLine, '0 queued / 1 running on hpc');
  assert.deepEqual(snap.persisted, []);
  assert.equal(snap.changed, true);
  const again = await tracker.poll();
  assert.equal(again.changed, false);
  assert.equal(tracker.nextDelayMs(again), 3000);
});

function evaluation(perCase: { dsc: number[]; nll: number[]; brier: number[] }, overall: { dsc: number; nll: number; brier: number; ece: number }): EvaluationReport {
  const cases: CaseReport[] = perCase.dsc.map((d, i) => ({ id: `case${i}`, dsc: d, dscPerClass: [null, d], nll: perCase.nll[i] as number, brier: perCase.brier[i] as number, preview: null }));
  const cal = { nll: overall.nll, brier: overall.brier, ece: overall.ece, mce: 0, rmsce: 0, ace: 0, marginalEce: 0 };
  return {
    schemaVersion: 1,
    runId: 'r',
    split: 'test',
    checkpoint: 'best',
    createdAt: '2026-01-01T00:00:00Z',
    classes: ['background', 'fg'],
    numCases: cases.length,
    bins: 15,
    overall: { ...cal, dsc: overall.dsc, iou: null, precision: null, recall: null, specificity: null },
    reliability: [],
    perClass: [],
    thresholdSweep: [],
    temperature: { temperature: 1, before: cal, after: cal, reliabilityAfter: [], fitOn: 'val' },
    cases,
    timings: { evalMs: 0, voxels: 0 },
  };
}

function run(name: string, options: Record<string, unknown>, seed: number, e: EvaluationReport, params: Record<string, unknown> = {}): ComparedRun {
  const r = record({ loss: { name, options }, seed, sweep: { id: 's', index: 0, params: { losses: { name, ...options }, seed, ...params } } });
  return { label: name, runDir: `/runs/e/${r.id}`, record: r, evaluation: e };
}

test('baseLossOf: the DSC++-style losses and their base', () => {
  assert.deepEqual(['dscpp', 'tversky++', 'focal_tversky++', 'combo++', 'unified_focal++', 'dice', 'ce', '++'].map(baseLossOf), ['dice', 'tversky', 'focal_tversky', 'combo', 'unified_focal', null, null, null]);
});

test('aggregateRuns: mean ± std over seeds per loss; Wilcoxon over cases (per-case mean over seeds) of dscpp vs dice', () => {
  const brier = [0.1, 0.1, 0.1, 0.1, 0.1];
  const runs = [
    run('dice', {}, 1, evaluation({ dsc: [0.7, 0.6, 0.8, 0.5, 0.9], nll: [0.5, 0.75, 0.25, 1.0, 0.125], brier }, { dsc: 0.7, nll: 0.6, brier: 0.1, ece: 0.1 })),
    run('dice', {}, 2, evaluation({ dsc: [0.72, 0.62, 0.78, 0.52, 0.88], nll: [0.5, 0.75, 0.25, 1.0, 0.125], brier }, { dsc: 0.74, nll: 0.6, brier: 0.1, ece: 0.14 })),
    run('dscpp', { gamma: 2 }, 1, evaluation({ dsc: [0.75, 0.66, 0.81, 0.58, 0.9], nll: [0.25, 0.5, 0.375, 0.5, 0.125], brier }, { dsc: 0.75, nll: 0.35, brier: 0.1, ece: 0.05 })),
    run('dscpp', { gamma: 2 }, 2, evaluation({ dsc: [0.77, 0.64, 0.83, 0.56, 0.92], nll: [0.25, 0.5, 0.375, 0.5, 0.125], brier }, { dsc: 0.77, nll: 0.35, brier: 0.1, ece: 0.07 })),
    // Another learning rate: its own group, not averaged with the others, not paired with them.
    run('dice', {}, 1, evaluation({ dsc: [0.1, 0.1, 0.1, 0.1, 0.1], nll: [1, 1, 1, 1, 1], brier }, { dsc: 0.1, nll: 1, brier: 0.1, ece: 0.5 }), { 'train.lr': 0.1 }),
  ];
  const a = aggregateRuns(runs);
  assert.deepEqual(a.groups.map((g) => [g.label, g.runs.map((r) => r.seed)]), [['dice', [1, 2]], ['dscpp(gamma=2)', [1, 2]], ['dice train.lr=0.1', [1]]]);
  const [dice, dscpp] = a.groups as [(typeof a.groups)[0], (typeof a.groups)[0]];
  const near = (x: number, y: number, what: string) => assert.ok(Math.abs(x - y) < 1e-12, `${what}: ${x} vs ${y}`);
  near(dice.stats.dsc.mean, 0.72, 'dice DSC mean');
  near(dice.stats.dsc.std, Math.SQRT2 * 0.02, 'dice DSC std');
  near(dice.stats.ece.mean, 0.12, 'dice ECE mean');
  near(dscpp.stats.dsc.mean, 0.76, 'dscpp DSC mean');
  near(dscpp.stats.ece.std, Math.SQRT2 * 0.01, 'dscpp ECE std');
  assert.equal(dscpp.stats.nll.std, 0);
  assert.equal(a.groups[2]?.stats.dsc.n, 1);
  assert.ok(Number.isNaN(a.groups[2]?.stats.dsc.std));
  near(dice.cases.dsc?.case3 as number, 0.51, 'dice per-case mean of case3');
  // DSC: per-case differences 0.05, 0.04, 0.03, 0.06, 0.02, all positive: W+ = 15, exact p = 2/32.
  const byMetric = Object.fromEntries(a.tests.map((t) => [t.metric, t]));
  assert.deepEqual(a.tests.map((t) => [t.treatment, t.control, t.metric, t.cases]), [
    ['dscpp(gamma=2)', 'dice', 'dsc', 5],
    ['dscpp(gamma=2)', 'dice', 'nll', 5],
    ['dscpp(gamma=2)', 'dice', 'brier', 5],
  ]);
  assert.equal(byMetric.dsc?.result.wPlus, 15);
  assert.equal(byMetric.dsc?.result.p, 0.0625);
  assert.equal(byMetric.dsc?.result.method, 'exact');
  assert.equal(byMetric.dsc?.favours, 'dscpp(gamma=2)');
  // NLL: differences −0.25, −0.25, +0.125, −0.5, 0 → zero dropped, n 4, ranks 2.5, 2.5, 1, 4: W+ = 1,
  // Var = 4·5·9/24 − (2³ − 2)/48 = 7.375, z = (1 − 5 + 0.5)/√7.375.
  const nll = byMetric.nll?.result;
  assert.deepEqual([nll?.n, nll?.zeros, nll?.wPlus, nll?.method, nll?.ties], [4, 1, 1, 'normal', true]);
  const z = -3.5 / Math.sqrt(7.375);
  near(nll?.z as number, z, 'NLL z');
  near(nll?.p as number, 2 * normalCdf(z), 'NLL p');
  assert.equal(byMetric.nll?.favours, 'dscpp(gamma=2)', 'lower NLL is better');
  assert.deepEqual([byMetric.brier?.result.n, byMetric.brier?.result.p, byMetric.brier?.favours], [0, 1, null]);
  assert.deepEqual(a.warnings, []);
  const text = aggregateText(a).split('\n');
  assert.equal(text[0], 'Grouped by loss: mean ± std over seeds (sample std), test split');
  assert.equal(text[3], 'dice                  2  1,2    0.7200 ± 0.0283  0.6000 ± 0.0000  0.1000 ± 0.0000  0.1200 ± 0.0283');
  assert.equal(text[5], 'dice train.lr=0.1     1  1       0.1000 (1 run)   1.0000 (1 run)   0.1000 (1 run)   0.5000 (1 run)');
  assert.ok(text.includes('dscpp(gamma=2) vs dice  DSC         5   +0.0400  15  0.0625  exact   dscpp(gamma=2)'), text.join('\n'));
});
