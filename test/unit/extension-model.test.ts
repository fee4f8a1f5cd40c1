// The extension's vscode-free model: formatting of runs, IPC message checks, the event tracker that
// feeds the output channel and the status bar, the config templates (validated by the real validator),
// and the Experiments view model built from real run folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseConfigText } from '../../src/core/config';
import { displayStatus, formatDuration, formatMetric, lossLabel, progressFraction, progressText, runDescription, runTooltipLines } from '../../src/extension/model/format';
import { parseBackendMessage, RunTracker, TailBuffer } from '../../src/extension/model/messages';
import { configRelativePath, experimentName, parseClassList, renderTemplate, TEMPLATES, validateExperimentName, yamlScalar } from '../../src/extension/model/templates';
import { buildConfigEntry, configDescription, lensLine, readConfigInfo, runLabel } from '../../src/extension/model/experiments';
import type { RunRecord, TrainingEvent } from '../../src/protocol/training';
import { REPO, tinyWorkspace } from '../helpers/tiny';
import { cancelRuns, createSweepFolders, planSweep, runCommand, SlurmError, type TrackerSnapshot } from '../../src/core/executors';
import { readRunRecord, writeRunRecord } from '../../src/core/train/runs';
import { cancelSummary, parseExecutor, slurmDescription, slurmErrorText, slurmRunsOf, slurmStatusBar, slurmTooltipLines } from '../../src/extension/model/slurm';

test('formatDuration, formatMetric and lossLabel', () => {
  const durations: [number | null, string][] = [
    [null, '—'],
    [-5, '—'],
    [NaN, '—'],
    [0, '0 s'],
    [12_400, '12 s'],
    [59_600, '1 min 00 s'],
    [185_000, '3 min 05 s'],
    [3_599_000, '59 min 59 s'],
    [3_720_000, '1 h 02 min'],
  ];
  for (const [ms, want] of durations) assert.equal(formatDuration(ms), want, `formatDuration(${ms})`);
  assert.equal(formatMetric(0.81234), '0.812');
  assert.equal(formatMetric(null), '—');
  assert.equal(formatMetric(NaN), '—');
  assert.equal(formatMetric(0.51234, 4), '0.5123');
  const labels: [{ name: string; options?: Record<string, unknown> }, string][] = [
    [{ name: 'dice', options: {} }, 'dice'],
    [{ name: 'dscpp', options: { gamma: 2 } }, 'dscpp γ=2'],
    [{ name: 'tversky++', options: { delta: 0.7, gamma: 2 } }, 'tversky++ δ=0.7 γ=2'],
    [{ name: 'combo', options: { weight: 0.5, classWeights: [1, 2] } }, 'combo weight=0.5'],
  ];
  for (const [loss, want] of labels) assert.equal(lossLabel(loss), want);
});

test('progress text and fraction from live progress', () => {
  const p = { epoch: 3, totalEpochs: 20, step: 5, stepsPerEpoch: 10, loss: 0.312345, etaMs: 80_000 };
  assert.equal(progressText(p), 'epoch 3/20 · step 5/10 · loss 0.3123 · ETA 1 min 20 s');
  assert.equal(progressFraction(p), 0.125);
  assert.equal(progressText({ ...p, loss: null, etaMs: null, stepsPerEpoch: 0 }), 'epoch 3/20');
  assert.equal(progressFraction({ ...p, epoch: 20, step: 10 }), 1);
  assert.equal(progressFraction({ ...p, totalEpochs: 0 }), 0);
});

test('parseBackendMessage accepts the protocol and names the bad field otherwise', () => {
  const ok: unknown[] = [
    { type: 'hello', protocol: 1, pid: 42, node: '20.0.0' },
    { type: 'done', exitCode: 0 },
    { type: 'fatal', message: 'bad config', exitCode: 2 },
    { type: 'pong', id: 3 },
    { type: 'event', event: { type: 'log', runId: '', level: 'info', message: 'x' } },
    { type: 'event', event: { type: 'step', runId: 'r', epoch: 1, step: 1, globalStep: 1, totalSteps: 10, loss: 0.5, lr: 0.001, elapsedMs: 1, time: 't', etaMs: 5 } },
  ];
  for (const m of ok) assert.deepEqual(parseBackendMessage(m), { ok: true, msg: m });
  const bad: [unknown, string][] = [
    [null, 'backend message must be an object, got null'],
    ['hello', 'backend message must be an object, got string'],
    [{ type: 'hi' }, 'backend message has unknown type "hi"; expected one of hello, event, pong, fatal, done'],
    [{ type: 'done' }, "backend message 'done': field 'exitCode' must be a number, got undefined"],
    [{ type: 'fatal', message: 3, exitCode: 1 }, "backend message 'fatal': field 'message' must be a string, got number"],
    [{ type: 'event', event: [] }, "backend message 'event': field 'event' must be an object, got array"],
    [{ type: 'event', event: { type: 'progress' } }, 'backend event has unknown type "progress"; expected one of started, step, epoch, checkpoint, evaluated, finished, failed, log'],
    [{ type: 'event', event: { type: 'started', runId: 'r', runDir: '/x', loss: 'dice', backend: null } }, "backend message 'event started': field 'backend' must be an object, got null"],
  ];
  for (const [m, err] of bad) assert.deepEqual(parseBackendMessage(m), { ok: false, error: err });
});

const BACKEND = { name: 'wasm' as const, versions: { '@tensorflow/tfjs-core': '4.22.0' }, skipped: [], kernels: [] };

test('RunTracker follows a run: identity, progress, outcome and one log line per event', () => {
  const t = new RunTracker();
  const events: [TrainingEvent, string | null][] = [
    [{ type: 'log', runId: '', level: 'info', message: 'compute backend: wasm' }, '[info] compute backend: wasm'],
    [
      { type: 'started', runId: 'r1', runDir: '/runs/x/r1', experiment: 'x', loss: 'dscpp', backend: BACKEND, totalEpochs: 2, stepsPerEpoch: 3, startEpoch: 1, seed: 7 },
      'started run r1 (x, loss dscpp) on wasm: 2 epochs × 3 steps, seed 7\n  folder: /runs/x/r1',
    ],
    [{ type: 'step', runId: 'r1', epoch: 1, step: 2, globalStep: 2, totalSteps: 6, loss: 0.54321, lr: 0.01, elapsedMs: 100, time: 't', etaMs: 4000 }, 'epoch 1/2 step 2/3  loss 0.5432  lr 0.01  ETA 4 s'],
    [
      { type: 'epoch', runId: 'r1', epoch: 1, globalStep: 3, trainLoss: 0.5, val: { loss: 0.45, dsc: 0.7, nll: 0.3, brier: 0.1 }, lr: 0.01, elapsedMs: 1500, epochMs: 1500, numTensors: 10, best: true, time: 't', etaMs: 1500 },
      'epoch 1/2 done in 2 s: train loss 0.5000, val loss 0.4500, DSC 0.700, NLL 0.300, Brier 0.100  (best so far)',
    ],
    [{ type: 'checkpoint', runId: 'r1', kind: 'best', path: '/runs/x/r1/checkpoints/best', epoch: 1 }, "saved checkpoint 'best' (epoch 1)"],
    [
      { type: 'finished', runId: 'r1', status: 'stopped', summary: { epochsCompleted: 1, bestEpoch: 1, best: { loss: 0.45, dsc: 0.7, nll: 0.3, brier: 0.1 }, last: null, durationMs: 2000 } },
      'stopped after 1 epoch in 2 s; best validation DSC 0.700, NLL 0.300 (epoch 1)',
    ],
  ];
  for (const [e, line] of events) assert.equal(t.apply(e), line);
  assert.equal(t.runId, 'r1');
  assert.equal(t.runDir, '/runs/x/r1');
  assert.deepEqual(t.progress, { epoch: 1, totalEpochs: 2, step: 3, stepsPerEpoch: 3, loss: 0.54321, etaMs: 1500 });
  assert.deepEqual(t.outcome, { status: 'stopped' });
  assert.equal(t.bestDsc, 0.7);
  const f = new RunTracker();
  assert.equal(f.apply({ type: 'failed', runId: 'r2', error: { message: 'loss is NaN at epoch 2 step 1', detail: 'lower lr' } }), 'failed: loss is NaN at epoch 2 step 1\nlower lr');
  assert.deepEqual(f.outcome, { status: 'failed', error: { message: 'loss is NaN at epoch 2 step 1', detail: 'lower lr' } });
});

test('TailBuffer keeps the last lines of a stream, across chunk boundaries', () => {
  const b = new TailBuffer(3);
  assert.deepEqual(b.push('one\ntw'), ['one']);
  assert.deepEqual(b.push('o\nthree\nfour\nfi'), ['two', 'three', 'four']);
  assert.equal(b.text(), 'two\nthree\nfour\nfi');
  assert.equal(b.last(2), 'four\nfi');
});

test('templates: every template writes a config that the validator accepts, with the data folders relative to it', () => {
  const ws = mkdtempSync(join(tmpdir(), 'dscpp-templates-'));
  for (const d of ['data/images', 'data/masks', 'vol/imagesTr', 'vol/labelsTr']) mkdirSync(join(ws, d), { recursive: true });
  const configs = join(ws, 'configs');
  mkdirSync(configs);
  const cases: [(typeof TEMPLATES)[number]['id'], Record<string, string>, string[], number][] = [
    ['2d-binary-png', { images: join(ws, 'data/images'), masks: join(ws, 'data/masks') }, ['background', 'nucleus'], 1],
    ['3d-multiclass-nifti', { images: join(ws, 'vol/imagesTr'), labels: join(ws, 'vol/labelsTr') }, ['background', 'anterior', 'posterior'], 1],
    ['dsc-vs-dscpp', { images: join(ws, 'data/images'), masks: join(ws, 'data/masks') }, ['background', 'cell body'], 2],
  ];
  for (const [id, folders, classes, nLosses] of cases) {
    const file = join(configs, `${id}.dscpp.yaml`);
    const text = renderTemplate(id, { name: `exp-${id}`, configPath: file, folders, classes });
    writeFileSync(file, text);
    const { config, diagnostics } = parseConfigText(readFileSync(file, 'utf8'), file, { checkPaths: true });
    assert.deepEqual(diagnostics, [], `${id}: ${JSON.stringify(diagnostics)}`);
    assert.ok(config);
    assert.equal(config.name, `exp-${id}`);
    assert.equal(config.losses.length, nLosses);
    assert.deepEqual(config.data.classes, classes);
    assert.equal(config.data.images, id === '3d-multiclass-nifti' ? '../vol/imagesTr' : '../data/images');
    if (id === '3d-multiclass-nifti') {
      assert.equal(config.data.format, 'nifti');
      assert.equal(config.data.labels, '../vol/labelsTr');
      assert.equal(config.model.arch, 'unet3d');
    } else assert.equal(config.data.masks, '../data/masks');
  }
  assert.throws(() => renderTemplate('2d-binary-png', { name: 'x', configPath: join(configs, 'x.dscpp.yaml'), folders: { images: '/a' }, classes: ['a', 'b'] }), /template '2d-binary-png' needs the 'masks' folder/);
});

test('template helpers: YAML scalars, relative paths, names and class lists', () => {
  const scalars: [string, string][] = [
    ['data/images', 'data/images'],
    ['../my data/imgs', '../my data/imgs'],
    ['yes', '"yes"'],
    ['123', '"123"'],
    ['a: b', '"a: b"'],
    ['#x', '"#x"'],
    ['cell body', 'cell body'],
  ];
  for (const [s, want] of scalars) assert.equal(yamlScalar(s), want, s);
  assert.equal(configRelativePath('/w/configs/a.dscpp.yaml', '/w/data/images'), '../data/images');
  assert.equal(configRelativePath('/w/a.dscpp.yaml', '/w'), '.');
  assert.equal(experimentName('My Nuclei (2024)'), 'My-Nuclei-2024');
  assert.equal(experimentName('___'), 'experiment');
  assert.equal(experimentName('liver.dscpp.yaml'), 'liver');
  assert.equal(validateExperimentName('ok-name_1.2'), null);
  assert.equal(validateExperimentName('-bad'), 'Letters, digits, ".", "_" and "-" only, starting with a letter or digit');
  assert.equal(validateExperimentName(''), 'Enter a name');
  assert.deepEqual(parseClassList(' background , nucleus '), { classes: ['background', 'nucleus'], error: null });
  assert.equal(parseClassList('background').error, 'Give at least two classes, background first (e.g. background, nucleus)');
  assert.equal(parseClassList('a, a').error, 'Class names must be different');
});

test('readConfigInfo: valid configs give losses and the lens line; invalid ones still give name, output and diagnostics', () => {
  const { dir, config } = tinyWorkspace({ cases: 2, losses: '[{ name: dice }, { name: dscpp, gamma: 3 }]' });
  const info = readConfigInfo(config);
  assert.equal(info.valid, true);
  assert.equal(info.experiment, 'tiny');
  assert.deepEqual(info.losses, [
    { index: 0, name: 'dice', label: 'dice' },
    { index: 1, name: 'dscpp', label: 'dscpp γ=3' },
  ]);
  assert.equal(info.lensLine, 0);
  assert.equal(configDescription(info), 'tiny');
  const bad = join(dir, 'bad.dscpp.yaml');
  writeFileSync(bad, '# a comment\nname: broken\noutput: elsewhere\ndata:\n  images: data/images\n  masks: data/masks\n  classes: [background, nucleus]\n  size: [64, 64]\nloss: { name: dscp }\n');
  const b = readConfigInfo(bad);
  assert.equal(b.valid, false);
  assert.equal(b.experiment, 'broken');
  assert.equal(b.output, 'elsewhere');
  assert.equal(b.lensLine, 1);
  assert.deepEqual(
    b.diagnostics.map((d) => [d.line, d.path, d.message]),
    [[9, 'loss.name', "unknown loss 'dscp'; did you mean 'dscpp'? (known: dice, dscpp, tversky, tversky++, focal_tversky, focal_tversky++, ce, focal, combo, combo++, unified_focal, unified_focal++)"]],
  );
  assert.equal(configDescription(b), '1 problem · broken');
  assert.equal(lensLine('{\n  "name": "j"\n}'), 1);
  const missing = readConfigInfo(join(dir, 'nope.dscpp.yaml'));
  assert.equal(missing.diagnostics[0]?.message, 'cannot read config: file not found');
});

test('the view model from real run folders: status, description, stale runs as interrupted, runs of other configs left out', () => {
  const { dir, config } = tinyWorkspace({ cases: 8, epochs: 2, size: 32 });
  const r = spawnSync(process.execPath, [join(REPO, 'dist', 'cli.js'), 'train', config], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const info = readConfigInfo(config);
  let entry = buildConfigEntry(info, undefined, []);
  assert.equal(entry.runsDir, join(dir, 'runs', 'tiny'));
  assert.equal(entry.runs.length, 1);
  const done = entry.runs[0];
  assert.ok(done);
  assert.equal(done.status, 'completed');
  const best = done.record.summary.best;
  assert.ok(best);
  assert.match(runDescription(done.record, done.status), new RegExp(`^DSC ${best.dsc.toFixed(3)} · NLL ${best.nll.toFixed(3)} · \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d$`));
  const tip = runTooltipLines(done.record, done.status, done.dir);
  assert.equal(tip[0], 'dice — completed');
  assert.equal(tip[2], 'Backend: wasm (tfjs 4.22.0)');
  assert.equal(tip[3], 'Seed: 7');
  assert.match(tip[4] ?? '', /^Duration: \d+ s$/);
  assert.equal(tip[5], 'Epochs: 2/2 (best: epoch ' + done.record.summary.bestEpoch + ')');

  // A run whose process is gone (a dead pid on this host) shows as interrupted.
  const staleDir = join(dir, 'runs', 'tiny', '20000101-000000-dice-dead');
  cpSync(done.dir, staleDir, { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const rec = JSON.parse(readFileSync(join(staleDir, 'run.json'), 'utf8')) as RunRecord;
  writeFileSync(join(staleDir, 'run.json'), JSON.stringify({ ...rec, id: '20000101-000000-dice-dead', status: 'running', pid: Number(dead.stdout), host: hostname(), endedAt: null }));
  // A run of another config with the same experiment name (that config exists) is not this config's.
  const otherConfig = join(dir, 'other.dscpp.yaml');
  writeFileSync(otherConfig, readFileSync(config, 'utf8'));
  const otherDir = join(dir, 'runs', 'tiny', '20000101-000001-dice-othr');
  cpSync(done.dir, otherDir, { recursive: true });
  writeFileSync(join(otherDir, 'run.json'), JSON.stringify({ ...rec, id: '20000101-000001-dice-othr', configPath: otherConfig }));
  entry = buildConfigEntry(info, undefined, []);
  assert.deepEqual(
    entry.runs.map((x) => [x.record.id, x.status]),
    [
      [done.record.id, 'completed'],
      ['20000101-000000-dice-dead', 'interrupted'],
    ],
  );
  assert.equal(displayStatus('running', true), 'interrupted');
  assert.equal(runLabel(done.record), 'dice');
  assert.equal(runLabel({ ...done.record, sweep: { id: 's1', index: 1, params: { seed: 2, 'train.lr': 0.001 } } }), 'dice · seed=2 train.lr=0.001');
  // The runs root override moves where runs are looked for.
  const elsewhere = buildConfigEntry(info, join(dir, 'nowhere'), []);
  assert.equal(elsewhere.runsDir, join(dir, 'nowhere', 'tiny'));
  assert.deepEqual(elsewhere.runs, []);
});

test('Slurm runs in the view: job ids and states from a tracker snapshot over real sweep folders, the status line, plain errors', async () => {
  // A sweep of 2 seeds pre-created as a Slurm submission leaves it: queued folders naming job 4242, tasks 0 and 1.
  const { config } = tinyWorkspace({ cases: 8, extra: 'sweep:\n  seed: [1, 2]\n' });
  const plan = planSweep(config);
  createSweepFolders(plan, 'slurm');
  for (const r of plan.runs) {
    const rec = readRunRecord(r.dir);
    writeRunRecord(r.dir, { ...rec, executor: { kind: 'slurm', jobId: '4242', arrayTaskId: r.index, cluster: 'lab', outputFile: join(plan.sweepDir, `slurm-4242_${r.index}.out`) } });
  }
  const [a, b] = plan.runs;
  assert.ok(a && b);
  const info = readConfigInfo(config);
  assert.equal(info.hasSweep, true);
  assert.equal(readConfigInfo(tinyWorkspace({ cases: 4 }).config).hasSweep, false);
  // Before the tracker has polled: the job ids from run.json, their run.json status.
  let entry = buildConfigEntry(info, undefined, []);
  const byDir = new Map(entry.runs.map((r) => [r.dir, r]));
  assert.deepEqual(byDir.get(a.dir)?.slurm, { jobId: '4242_0', state: null, reason: null, node: null, cluster: 'lab', outputFile: join(plan.sweepDir, 'slurm-4242_0.out'), status: 'queued' });
  assert.equal(byDir.get(b.dir)?.status, 'queued');
  // The snapshot the tracker gives when squeue lists task 0 running on node1 and task 1 pending.
  const slurmOf = (task: number, state: string, reason: string, node: string | null) => ({ id: `4242_${task}`, jobId: '4242', arrayTaskId: task, state, reason, node, cluster: 'lab', outputFile: join(plan.sweepDir, `slurm-4242_${task}.out`) });
  const sa = slurmOf(0, 'RUNNING', 'None', 'node1');
  const sb = slurmOf(1, 'PENDING', 'Priority', null);
  const counts = { queued: 1, running: 1, completed: 0, failed: 0, stopped: 0, cancelled: 0, timeout: 0 };
  const snap: TrackerSnapshot = {
    at: '2026-01-01T00:00:00.000Z',
    runs: [
      { dir: a.dir, record: readRunRecord(a.dir), status: 'running', stale: false, slurm: sa },
      { dir: b.dir, record: readRunRecord(b.dir), status: 'queued', stale: false, slurm: sb },
    ],
    counts,
    slurmCounts: counts,
    clusters: ['lab'],
    slurmAnswered: true,
    error: null,
    statusLine: '1 queued / 1 running on lab',
    changed: true,
    persisted: [],
  };
  const views = slurmRunsOf(snap);
  entry = buildConfigEntry(info, undefined, [], views);
  const shown = entry.runs.map((r) => [r.dir === a.dir ? 'a' : 'b', r.status, r.slurm ? slurmDescription(r.slurm, 'base') : '']).sort();
  assert.deepEqual(shown, [
    ['a', 'running', 'job 4242_0 · RUNNING on node1 · base'],
    ['b', 'queued', 'job 4242_1 · PENDING (Priority) · base'],
  ]);
  const va = views.get(a.dir);
  assert.ok(va);
  assert.deepEqual(slurmTooltipLines(va), ['Slurm job: 4242_0 on cluster lab', 'Slurm state: RUNNING on node1', `Slurm output: ${join(plan.sweepDir, 'slurm-4242_0.out')}`]);
  assert.deepEqual(slurmTooltipLines({ ...va, state: null, status: 'completed' }).slice(1, 2), ['Slurm state: ended (no longer listed by squeue)']);
  assert.equal(slurmDescription({ ...va, jobId: '', state: null }, 'queued'), 'job not submitted yet · queued');
  assert.deepEqual(slurmStatusBar(snap), { text: '$(server-process) 1 queued / 1 running on lab', tooltip: 'DSC++ Slurm runs: 1 queued / 1 running on lab\nJob: 4242\nClick to show the Experiments view.', warning: false });
  assert.equal(slurmStatusBar({ ...snap, statusLine: '' }), null);
  assert.equal(slurmStatusBar(null), null);
  assert.deepEqual(slurmStatusBar({ ...snap, slurmAnswered: false, error: 'squeue failed (exit 1)' })?.text, '$(warning) 1 queued / 1 running on lab');

  // Errors as Slurm's client commands report them, in plain words.
  const missing = await runCommand('sbatch', ['--parsable', 'job.sbatch'], { env: { PATH: join(tmpdir(), 'no-such-bin') } });
  assert.equal(missing.code, 127);
  const errors: [unknown, string][] = [
    [new SlurmError(`sbatch --parsable job.sbatch failed (exit 127):\n  ${missing.stderr}`), 'Slurm is not available on this host: sbatch not found. Put Slurm\'s client commands on the PATH, or set dscpp.executor to "local".'],
    [new SlurmError('sinfo -h -o %T failed (exit 1):\n  slurm_load_partitions: Unable to contact slurm controller (connect failure)'), 'Slurm is not available on this host: the Slurm controller does not answer (Unable to contact slurm controller (connect failure)). Check that slurmctld is running, or set dscpp.executor to "local".'],
    [new SlurmError('squeue -h failed (exit 124):\n  squeue did not answer within 30 s'), 'Slurm did not answer: squeue gave no reply within 30 s (is slurmctld running?).'],
    [new Error('tiny.dscpp.yaml: line 3: bad'), 'tiny.dscpp.yaml: line 3: bad'],
    ['plain', 'plain'],
  ];
  for (const [e, want] of errors) assert.equal(slurmErrorText(e), want);
  assert.equal(parseExecutor('slurm'), 'slurm');
  assert.equal(parseExecutor('local'), 'local');
  assert.equal(parseExecutor('pbs'), 'local');
  assert.equal(parseExecutor(undefined), 'local');

  // Cancelling a queued local sweep folder (nothing started it) marks it; a second cancel finds it ended.
  const local = planSweep(config);
  createSweepFolders(local, 'local');
  const first = await cancelRuns([local.runs[0]?.dir ?? ''], { waitMs: 0 });
  assert.equal(cancelSummary(first), `cancelled run ${local.runs[0]?.runId}`);
  const again = await cancelRuns(local.runs.map((r) => r.dir), { waitMs: 0 });
  assert.equal(cancelSummary(again), `cancelled run ${local.runs[1]?.runId}; ${local.runs[0]?.runId} had already ended (${local.runs[0]?.runId}: already cancelled)`);
  assert.equal(cancelSummary([]), 'nothing to cancel');
});
