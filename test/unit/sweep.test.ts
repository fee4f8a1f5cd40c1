// Sweeps: the `sweep:` and `slurm:` blocks of a config (errors that name the field and the fix), the
// cartesian expansion, the pre-created queued run folders and their manifest, what `train --run-dir`
// does with each state, the generated sbatch script (executed by real bash), a local sweep through the
// CLI, and cancelling local runs (queued, and in training).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic, loadConfig, parseConfigText } from '../../src/core/config';
import { expandSweep, formatParams, lossLabel, setPath, SweepError, sweepSize, sweepDimensions } from '../../src/core/executors/sweep';
import { createSweepFolders, findSweep, listSweeps, planSweep, readManifest, startQueuedRun, SWEEPS_DIR } from '../../src/core/executors/sweep-store';
import { arraySpec, sbatchScript, shellQuote } from '../../src/core/executors/slurm-script';
import { dryRunText, planScript } from '../../src/core/executors/submit';
import { cancelRuns } from '../../src/core/executors/cancel';
import { listRuns, readRunRecord, RUN_FILES, writeRunRecord } from '../../src/core/train/runs';
import { REPO, tinyWorkspace as makeTiny, type TinyOptions } from '../helpers/tiny';

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tinyWorkspace(o: TinyOptions): { dir: string; config: string } {
  const w = makeTiny(o);
  made.push(w.dir);
  return w;
}

const BASE = `name: s
data: { images: img, masks: msk, classes: [background, fg], size: [32, 32] }
losses: [{ name: dice }, { name: dscpp, gamma: 2 }]
`;

function errors(extra: string): string[] {
  const r = parseConfigText(BASE + extra + '\n', 'sweep.dscpp.yaml');
  return r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
}

test('sweep: keys and values are checked where they are written, with the fix', () => {
  const table: [string, string][] = [
    ['sweep: { train.lrr: [0.1] }', "sweep.dscpp.yaml:4:21: error: sweep.train.lrr: unknown field 'lrr' in sweep key 'train.lrr'; did you mean 'train.lr'? (fields of train: epochs, batchSize, optimizer, lr, momentum, seed, augment, stepsPerEpoch, logEvery, workers, plateau, earlyStopping, checkpointEvery)"],
    ['sweep: { foo: [1] }', "sweep.dscpp.yaml:4:15: error: sweep.foo: unknown sweep key 'foo': expected losses, seed, or a dotted path under train., model. or data. (e.g. train.lr, model.filters, data.size)"],
    ['sweep: { train.lr: [0.01, -1] }', 'sweep.dscpp.yaml:4:27: error: sweep.train.lr[1]: -1 is not a valid train.lr: Too small: expected number to be >0'],
    ['sweep: { losses: [dice, 5] }', 'sweep.dscpp.yaml:4:25: error: sweep.losses[1]: expected a loss name (e.g. dscpp) or a loss entry (e.g. { name: dscpp, gamma: 2 }), found 5'],
    ['sweep: { losses: [dice, dscp] }', "sweep.dscpp.yaml:4:25: error: sweep.losses[1].name: unknown loss 'dscp'; did you mean 'dscpp'? (known: dice, dscpp, tversky, tversky++, focal_tversky, focal_tversky++, ce, focal, combo, combo++, unified_focal, unified_focal++)"],
    ['sweep: { seed: [1, 1] }', "sweep.dscpp.yaml:4:20: error: sweep.seed[1]: duplicate value 1 in sweep key 'seed'"],
    ['sweep: { seed: [1], train.seed: [2] }', "sweep.dscpp.yaml:4:33: error: sweep.train.seed: 'seed' and 'train.seed' name the same field; keep one"],
    ['sweep: { train.plateau.factr: [0.5] }', "sweep.dscpp.yaml:4:31: error: sweep.train.plateau.factr: unknown field 'factr' in sweep key 'train.plateau.factr'; did you mean 'train.plateau.factor'? (fields of train.plateau: factor, patience, minLr)"],
    ['sweep: { seed: [] }', 'sweep.dscpp.yaml:4:16: error: sweep.seed: expected a list of at least 1 item, found a list of 0'],
    ['slurm: { mem: 4 GB }', "sweep.dscpp.yaml:4:15: error: slurm.mem: expected a memory size such as 8G or 4000M, found '4 GB'"],
    ['slurm: { partion: gpu }', "sweep.dscpp.yaml:4:10: error: slurm.partion: unknown field 'partion'; did you mean 'partition'? (allowed: partition, account, qos, gres, cpus, mem, time, arrayLimit, jobName, extraSbatch, setup, node)"],
    ['slurm: { time: "2h" }', "sweep.dscpp.yaml:4:16: error: slurm.time: expected a Slurm time limit such as 30, 02:00:00 or 1-12:00:00, found '2h'"],
    ['slurm: { extraSbatch: ["constraint=a100"] }', "sweep.dscpp.yaml:4:24: error: slurm.extraSbatch[0]: expected an sbatch option such as --constraint=a100, found 'constraint=a100'"],
    ['slurm: { gres: "gpu:1; rm" }', "sweep.dscpp.yaml:4:16: error: slurm.gres: expected generic resources such as gpu:1 (letters, digits and . , : = + - _ only), found 'gpu:1; rm'"],
    ['slurm: { cpus: 0 }', 'sweep.dscpp.yaml:4:16: error: slurm.cpus: expected a number >= 1, found number 0'],
  ];
  for (const [extra, expected] of table) assert.deepEqual(errors(extra), [expected], extra);
  assert.match(errors('slurm: { setup: ["module load a\\nrm -rf /"] }')[0] ?? '', /slurm\.setup\[0\]: expected a shell command on one line/);
  const ok = parseConfigText(BASE + 'sweep: { seed: [1, 2], train.lr: [0.01, 0.001], data.size: [[32, 32], [64, 64]] }\nslurm: { partition: gpu, gres: "gpu:1", mem: 8G, time: "1-00:00:00", arrayLimit: 4, setup: ["module load nodejs/20"] }\n', 'sweep.dscpp.yaml');
  assert.deepEqual(ok.diagnostics, []);
  assert.deepEqual(ok.config?.slurm, { partition: 'gpu', gres: 'gpu:1', mem: '8G', time: '1-00:00:00', arrayLimit: 4, setup: ['module load nodejs/20'], cpus: 1, extraSbatch: [] });
});

test('sweep.losses alone stands for losses (names or entries)', () => {
  const r = parseConfigText('name: s\ndata: { images: img, masks: msk, classes: [background, fg], size: [32, 32] }\nsweep: { losses: [dice, { name: dscpp, gamma: 2 }], seed: [1, 2] }\n', 'x.dscpp.yaml');
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.config?.losses, [{ name: 'dice' }, { name: 'dscpp', gamma: 2 }]);
});

test('setPath, lossLabel and formatParams', () => {
  const o = { train: { lr: 1, epochs: 2 }, name: 'x' };
  assert.deepEqual(setPath(o, ['train', 'lr'], 0.5), { train: { lr: 0.5, epochs: 2 }, name: 'x' });
  assert.deepEqual(o.train.lr, 1, 'the input is not changed');
  assert.deepEqual(setPath(o, ['train', 'plateau', 'factor'], 0.3), { train: { lr: 1, epochs: 2, plateau: { factor: 0.3 } }, name: 'x' });
  assert.equal(lossLabel({ name: 'dscpp', gamma: 2, smooth: 1e-6 }), 'dscpp(gamma=2,smooth=0.000001)');
  assert.equal(lossLabel({ name: 'dice' }), 'dice');
  assert.equal(formatParams({ losses: { name: 'dscpp', gamma: 2 }, seed: 2, 'train.lr': 0.001 }), 'loss=dscpp(gamma=2) seed=2 train.lr=0.001');
});

test('expandSweep: losses × seed × train.lr in order, the last key fastest, each config validated', () => {
  const { config: path } = tinyWorkspace({ cases: 4, losses: '[{ name: dice }, { name: dscpp, gamma: 2 }]', extra: 'sweep: { seed: [1, 2], train.lr: [0.01, 0.001] }' });
  const config = loadConfig(path);
  const dims = sweepDimensions(config);
  assert.deepEqual(dims.map((d) => [d.key, d.values.length]), [['losses', 2], ['seed', 2], ['train.lr', 2]]);
  assert.equal(sweepSize(dims), 8);
  const els = expandSweep(config, path);
  assert.deepEqual(
    els.map((e) => [e.index, e.lossIndex, e.config.train.seed, e.config.train.lr, formatParams(e.params)]),
    [
      [0, 0, 1, 0.01, 'loss=dice seed=1 train.lr=0.01'],
      [1, 0, 1, 0.001, 'loss=dice seed=1 train.lr=0.001'],
      [2, 0, 2, 0.01, 'loss=dice seed=2 train.lr=0.01'],
      [3, 0, 2, 0.001, 'loss=dice seed=2 train.lr=0.001'],
      [4, 1, 1, 0.01, 'loss=dscpp(gamma=2) seed=1 train.lr=0.01'],
      [5, 1, 1, 0.001, 'loss=dscpp(gamma=2) seed=1 train.lr=0.001'],
      [6, 1, 2, 0.01, 'loss=dscpp(gamma=2) seed=2 train.lr=0.01'],
      [7, 1, 2, 0.001, 'loss=dscpp(gamma=2) seed=2 train.lr=0.001'],
    ],
  );
  for (const e of els) {
    assert.equal(e.config.sweep, undefined, 'an element config has no sweep');
    assert.deepEqual(e.config.losses, [{ name: 'dice' }, { name: 'dscpp', gamma: 2 }]);
    assert.equal(e.config.train.epochs, config.train.epochs);
  }
});

test('expandSweep: an impossible combination fails before anything is created, naming the run and the field', () => {
  const { config: path } = tinyWorkspace({ cases: 4, model: '{ arch: unet2d, depth: 3, filters: 4 }', extra: 'sweep: { data.size: [[32, 32], [30, 30]] }' });
  assert.throws(() => expandSweep(loadConfig(path), path), (e: Error) => {
    assert.ok(e instanceof SweepError);
    assert.equal(e.message, `${path}: some runs of the sweep have an invalid config:\n  run 1 (loss=dice data.size=[30,30]): data.size[0]: expected a multiple of 4 (2^(depth-1) for model.depth 3), found 30; try 32\n  run 1 (loss=dice data.size=[30,30]): data.size[1]: expected a multiple of 4 (2^(depth-1) for model.depth 3), found 30; try 32`);
    return true;
  });
});

test('planSweep + createSweepFolders: queued run folders with the sweep values, a manifest, hidden from run listings', () => {
  const { dir, config } = tinyWorkspace({ cases: 4, losses: '[{ name: dice }, { name: dscpp }]', extra: 'sweep: { seed: [1, 2] }' });
  const plan = planSweep(config);
  assert.equal(plan.runs.length, 4);
  assert.match(plan.id, /^sweep-\d{8}-\d{6}-[0-9a-f]{4}$/);
  assert.equal(plan.sweepDir, join(dir, 'runs', 'tiny', SWEEPS_DIR, plan.id));
  assert.equal(existsSync(join(dir, 'runs')), false, 'planning writes nothing');
  const m = createSweepFolders(plan, 'local');
  assert.deepEqual(readManifest(plan.sweepDir), m);
  assert.deepEqual(m.runs.map((r) => r.params), [
    { losses: { name: 'dice' }, seed: 1 },
    { losses: { name: 'dice' }, seed: 2 },
    { losses: { name: 'dscpp' }, seed: 1 },
    { losses: { name: 'dscpp' }, seed: 2 },
  ]);
  for (const r of plan.runs) {
    const rec = readRunRecord(r.dir);
    assert.equal(rec.status, 'queued');
    assert.equal(rec.startedAt, null);
    assert.equal(rec.pid, null);
    assert.deepEqual(rec.executor, { kind: 'local' });
    assert.deepEqual(rec.sweep, { id: plan.id, index: r.index, params: r.params });
    assert.equal(rec.seed, r.params.seed);
    assert.equal(rec.loss.name, r.loss.name);
    assert.ok(existsSync(join(r.dir, RUN_FILES.checkpoints)));
  }
  const listed = listRuns(join(dir, 'runs'));
  assert.deepEqual(listed.map((l) => l.dir).sort(), plan.runs.map((r) => r.dir).sort());
  assert.deepEqual(listSweeps(join(dir, 'runs')), [plan.sweepDir]);
  assert.equal(findSweep(plan.id, join(dir, 'runs')), plan.sweepDir);
  assert.equal(findSweep(plan.sweepDir, '/nonexistent'), plan.sweepDir);
  assert.equal(findSweep(join(plan.sweepDir, 'sweep.json'), '/nonexistent'), plan.sweepDir);
  assert.equal(findSweep('sweep-19990101-000000-0000', join(dir, 'runs')), null);
});

test('startQueuedRun: what train --run-dir does with each state; a Slurm task fills in its job id', () => {
  const { config } = tinyWorkspace({ cases: 4, extra: 'sweep: { seed: [1, 2, 3, 4, 5] }' });
  const plan = planSweep(config);
  createSweepFolders(plan, 'slurm');
  const [a, b, c, d, e] = plan.runs.map((r) => r.dir) as [string, string, string, string, string];
  assert.deepEqual(startQueuedRun(a, { SLURM_ARRAY_JOB_ID: '41', SLURM_ARRAY_TASK_ID: '0', SLURM_JOB_ID: '42', SLURM_CLUSTER_NAME: 'hpc' }), { action: 'train', resume: a, fresh: true });
  assert.deepEqual(readRunRecord(a).executor, { kind: 'slurm', jobId: '41', arrayTaskId: 0, cluster: 'hpc' });
  writeRunRecord(b, { ...readRunRecord(b), status: 'completed' });
  assert.deepEqual(startQueuedRun(b, {}), { action: 'skip', message: `run ${plan.runs[1]?.runId} already completed; nothing to do` });
  writeRunRecord(c, { ...readRunRecord(c), status: 'cancelled' });
  assert.deepEqual(startQueuedRun(c, {}), { action: 'skip', message: `run ${plan.runs[2]?.runId} was cancelled; not starting it` });
  // Killed before its first checkpoint (a requeue): starts over, its partial curves dropped.
  writeRunRecord(d, { ...readRunRecord(d), status: 'running', summary: { epochsCompleted: 0, bestEpoch: null, best: null, last: null, durationMs: 5000 } });
  writeFileSync(join(d, RUN_FILES.metrics), '{"kind":"step"}\n');
  assert.deepEqual(startQueuedRun(d, {}), { action: 'train', resume: d, fresh: true });
  assert.equal(readRunRecord(d).status, 'queued');
  assert.equal(readRunRecord(d).summary.durationMs, 0);
  assert.equal(existsSync(join(d, RUN_FILES.metrics)), false);
  // Stopped with a checkpoint (a time limit): resumes.
  writeRunRecord(e, { ...readRunRecord(e), status: 'stopped' });
  mkdirSync(join(e, RUN_FILES.checkpoints, 'last'));
  assert.deepEqual(startQueuedRun(e, {}), { action: 'train', resume: e, fresh: false });
});

test('arraySpec and shellQuote', () => {
  assert.equal(arraySpec(4), '0-3');
  assert.equal(arraySpec(4, 2), '0-3%2');
  assert.equal(arraySpec(4, 8), '0-3');
  assert.equal(arraySpec(1, 1), '0');
  assert.equal(shellQuote('/shared/runs/x-1'), '/shared/runs/x-1');
  assert.equal(shellQuote("/my runs/it's"), `'/my runs/it'\\''s'`);
  assert.equal(shellQuote('$HOME'), `'$HOME'`);
});

test('sbatchScript: every slurm: setting becomes its #SBATCH line; the script is valid bash and picks the run folder of its task', () => {
  const dirs = ['/shared/runs/e/r0', "/shared/my runs/e/it's r1"];
  const script = sbatchScript({
    experiment: 'e',
    sweepId: 'sweep-1',
    configPath: '/shared/e.dscpp.yaml',
    runDirs: dirs,
    labels: ['loss=dice seed=1', 'loss=dscpp seed=1'],
    cli: '/opt/dscpp/dist/cli.js',
    output: '/shared/runs/e/.sweeps/sweep-1/slurm-%A_%a.out',
    chdir: '/shared',
    slurm: { partition: 'gpu', account: 'lab', qos: 'normal', gres: 'gpu:1', cpus: 4, mem: '16G', time: '02:00:00', arrayLimit: 1, jobName: 'calib', extraSbatch: ['--constraint=a100', '#SBATCH --exclusive'], setup: ['module load nodejs/20'], node: '/bin/echo' },
  });
  const sbatchLines = script.split('\n').filter((l) => l.startsWith('#SBATCH'));
  assert.deepEqual(sbatchLines, [
    '#SBATCH --job-name=calib',
    '#SBATCH --array=0-1%1',
    '#SBATCH --output=/shared/runs/e/.sweeps/sweep-1/slurm-%A_%a.out',
    '#SBATCH --chdir=/shared',
    '#SBATCH --cpus-per-task=4',
    '#SBATCH --partition=gpu',
    '#SBATCH --account=lab',
    '#SBATCH --qos=normal',
    '#SBATCH --gres=gpu:1',
    '#SBATCH --mem=16G',
    '#SBATCH --time=02:00:00',
    '#SBATCH --constraint=a100',
    '#SBATCH --exclusive',
  ]);
  assert.ok(script.includes('\n# slurm.setup\nmodule load nodejs/20\n'));
  assert.ok(script.endsWith('exec "$NODE" /opt/dscpp/dist/cli.js train --run-dir "$RUN_DIR"\n'));
  assert.equal(spawnSync('bash', ['-n'], { input: script }).status, 0, 'bash -n accepts the script');
  // Run it as Slurm would, with `echo` as the node executable and without the module line.
  const runnable = script.replace('module load nodejs/20', ': no modules here');
  const r = spawnSync('bash', ['-s'], { input: runnable, encoding: 'utf8', env: { PATH: process.env.PATH, SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_JOB_ID: '77' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').pop(), `/opt/dscpp/dist/cli.js train --run-dir /shared/my runs/e/it's r1`);
  // A node that is not there: a clear message and exit 127, before anything else.
  const missing = runnable.replace("NODE=/bin/echo", 'NODE=/nonexistent/node');
  const m = spawnSync('bash', ['-s'], { input: missing, encoding: 'utf8', env: { PATH: process.env.PATH, SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_JOB_ID: '77' } });
  assert.equal(m.status, 127);
  assert.match(m.stderr, /^dscpp-lab: \/nonexistent\/node not found on .*: put Node\.js >= 20 on the PATH of the compute nodes \(slurm\.setup, e\.g\. module load nodejs\) or set slurm\.node\n$/);
});

test('dry run: the run list and the script of the plan; nothing created', () => {
  const { dir, config } = tinyWorkspace({ cases: 4, losses: '[{ name: dice }, { name: dscpp }]', extra: 'sweep: { seed: [1, 2] }\nslurm: { arrayLimit: 2, time: "00:10:00" }' });
  const plan = planSweep(config);
  const text = dryRunText(plan, 'slurm', { cli: '/opt/cli.js' });
  const lines = text.split('\n');
  assert.equal(lines[0], `sweep ${plan.id}: 4 runs of tiny = loss (2) × seed (2)`);
  assert.equal(lines[1], `runs folder: ${join(dir, 'runs', 'tiny')}`);
  assert.deepEqual(lines.slice(3, 7), plan.runs.map((r) => `${String(r.index).padStart(3)}  ${r.runId}  ${formatParams(r.params)}`));
  assert.ok(text.includes(planScript(plan, { cli: '/opt/cli.js' })));
  assert.ok(text.includes('#SBATCH --array=0-3%2\n'));
  assert.ok(text.includes('#SBATCH --time=00:10:00\n'));
  assert.equal(existsSync(join(dir, 'runs')), false);
  assert.ok(readFileSync(config, 'utf8').includes('sweep:'));
});

test('sweep --executor local: the queued folders train in place, one after another; cancel marks queued runs; train --run-dir skips them', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, [join(REPO, 'bin', 'dscpp-lab.js'), ...args], { encoding: 'utf8', timeout: 180_000 });
  const { dir, config } = tinyWorkspace({ cases: 8, epochs: 1, extra: 'sweep: { seed: [1, 2] }' });
  const r = cli(['sweep', config]);
  assert.equal(r.status, 0, r.stderr);
  const sweeps = listSweeps(join(dir, 'runs'));
  assert.equal(sweeps.length, 1);
  const m = readManifest(sweeps[0] as string);
  assert.equal(m.executor, 'local');
  assert.deepEqual(listRuns(join(dir, 'runs')).map((l) => l.dir).sort(), m.runs.map((x) => x.dir).sort(), 'no folder besides the pre-created ones');
  for (const run of m.runs) {
    const rec = readRunRecord(run.dir);
    assert.equal(rec.status, 'completed', `${run.runId}: ${rec.error?.message ?? ''}`);
    assert.equal(rec.seed, run.params.seed);
    assert.deepEqual(rec.executor, { kind: 'local' });
    assert.ok(rec.startedAt !== null && rec.startedAt >= rec.createdAt);
    assert.equal(rec.resumedFrom.length, 0, 'a queued run starts fresh, not as a resume');
    assert.ok(existsSync(join(run.dir, RUN_FILES.evaluation)));
  }
  assert.match(r.stdout, new RegExp(`aggregate: dscpp-lab compare ${sweeps[0]} --group-by loss`));

  // A second sweep, created but never started: cancel by id marks its runs; train --run-dir leaves them.
  const plan = planSweep(config);
  createSweepFolders(plan, 'local');
  const c = cli(['cancel', plan.id, '--runs', join(dir, 'runs')]);
  assert.equal(c.status, 0, c.stderr);
  for (const run of plan.runs) {
    const rec = readRunRecord(run.dir);
    assert.equal(rec.status, 'cancelled');
    assert.deepEqual(rec.error, { message: 'cancelled before it started' });
  }
  const t = cli(['train', '--run-dir', plan.runs[0]?.dir as string]);
  assert.equal(t.status, 0, t.stderr);
  assert.equal(t.stdout, `run ${plan.runs[0]?.runId} was cancelled; not starting it\n`);
  const bad = cli(['cancel', join(dir, 'nothing-here')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^dscpp-lab: cancel: .*nothing-here: no such run folder, sweep folder or sweep id/);
});

test('cancelRuns on a local run in training: SIGTERM, the trainer stops after its step, the run is marked cancelled', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 300 });
  const plan = planSweep(config);
  createSweepFolders(plan, 'local');
  const dir = plan.runs[0]?.dir as string;
  const child = spawn(process.execPath, [join(REPO, 'bin', 'dscpp-lab.js'), 'train', '--run-dir', dir], { stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const t0 = Date.now();
  while (!(readRunRecord(dir).status === 'running' && existsSync(join(dir, RUN_FILES.metrics)))) {
    assert.ok(Date.now() - t0 < 60_000, 'the run started training within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(readRunRecord(dir).pid, child.pid);
  const [outcome] = await cancelRuns([dir], { waitMs: 30_000, pollMs: 100 });
  assert.deepEqual(outcome && { result: outcome.result, was: outcome.was, detail: outcome.detail }, { result: 'cancelled', was: 'running', detail: `SIGTERM to pid ${child.pid}` });
  assert.equal(await exited, 0, 'the trainer exits by itself');
  const rec = readRunRecord(dir);
  assert.equal(rec.status, 'cancelled');
  assert.ok(rec.summary.epochsCompleted < 300);
  assert.ok(existsSync(join(dir, RUN_FILES.checkpoints, 'last')), 'the stop saved the last checkpoint');
  const again = await cancelRuns([dir]);
  assert.deepEqual(again.map((o) => [o.result, o.detail]), [['already-finished', 'already cancelled']]);
});
