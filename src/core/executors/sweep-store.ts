// Sweeps on disk. A sweep is planned (its run ids and folders chosen), then its run folders are
// pre-created with status `queued`, and a manifest is written beside them:
//   <runs>/<experiment>/<run-id>/run.json                 one per run (status queued, the sweep's values)
//   <runs>/<experiment>/.sweeps/<sweep-id>/sweep.json     the manifest: dimensions, runs, Slurm job
//   <runs>/<experiment>/.sweeps/<sweep-id>/job.sbatch     (Slurm) the submitted script
//   <runs>/<experiment>/.sweeps/<sweep-id>/slurm-<job>_<task>.out   (Slurm) each task's output
// The dot folder keeps sweeps out of run listings.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { RunRecord } from '../../protocol/training';
import { loadConfig, runsRootFor, type ExperimentConfig, type LossEntry } from '../config';
import { makeRunId, newRunRecord, readRunRecord, RUN_FILES, writeRunRecord } from '../train/runs';
import { writeJsonAtomic } from '../util/fsx';
import { expandSweep, formatParams, sweepDimensions, SweepError, type SweepDimension } from './sweep';

export const SWEEPS_DIR = '.sweeps';
export const SWEEP_MANIFEST = 'sweep.json';
export const SWEEP_SCRIPT = 'job.sbatch';

export type ExecutorKind = 'local' | 'slurm';

export interface PlannedRun {
  index: number;
  runId: string;
  dir: string;
  params: Record<string, unknown>;
  lossIndex: number;
  loss: LossEntry;
  config: ExperimentConfig;
}

export interface SweepPlan {
  id: string;
  configPath: string;
  config: ExperimentConfig;
  runsRoot: string;
  /** <runs>/<experiment>/.sweeps/<id> */
  sweepDir: string;
  dimensions: SweepDimension[];
  runs: PlannedRun[];
}

export interface SweepManifest {
  schemaVersion: 1;
  id: string;
  experiment: string;
  configPath: string;
  runsRoot: string;
  createdAt: string;
  executor: ExecutorKind;
  dimensions: SweepDimension[];
  runs: { index: number; runId: string; dir: string; params: Record<string, unknown> }[];
  slurm: { jobId: string | null; cluster: string | null; script: string; output: string; array: string; submittedAt: string | null } | null;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

export function makeSweepId(now = new Date()): string {
  const t = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `sweep-${t}-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0')}`;
}

/** Loads and expands a config into a sweep plan: ids and folders chosen, nothing written yet. */
export function planSweep(configPath: string, opts: { out?: string; checkPaths?: boolean } = {}): SweepPlan {
  const abs = resolve(configPath);
  const config = loadConfig(abs, { checkPaths: opts.checkPaths });
  const elements = expandSweep(config, abs, { checkPaths: opts.checkPaths });
  const runsRoot = runsRootFor(config, abs, opts.out);
  const expDir = join(runsRoot, config.name);
  const id = makeSweepId();
  const taken = new Set<string>();
  const runs = elements.map((el) => {
    let runId = makeRunId(el.loss.name);
    while (taken.has(runId) || existsSync(join(expDir, runId))) runId = makeRunId(el.loss.name);
    taken.add(runId);
    return { index: el.index, runId, dir: join(expDir, runId), params: el.params, lossIndex: el.lossIndex, loss: el.loss, config: el.config };
  });
  return { id, configPath: abs, config, runsRoot, sweepDir: join(expDir, SWEEPS_DIR, id), dimensions: sweepDimensions(config), runs };
}

/** The queued run.json of a planned run. */
export function queuedRecord(plan: SweepPlan, run: PlannedRun, executor: RunRecord['executor']): RunRecord {
  const { name, ...options } = run.loss;
  const base = newRunRecord({ id: run.runId, experiment: plan.config.name, configPath: plan.configPath, loss: { name, options }, lossIndex: run.lossIndex, seed: run.config.train.seed, config: run.config, totalEpochs: run.config.train.epochs });
  return { ...base, status: 'queued', startedAt: null, pid: null, host: hostname(), executor, sweep: { id: plan.id, index: run.index, params: run.params } };
}

export function manifestPath(sweepDir: string): string {
  return join(sweepDir, SWEEP_MANIFEST);
}

export function writeManifest(sweepDir: string, m: SweepManifest): void {
  writeJsonAtomic(manifestPath(sweepDir), m);
}

/**
 * Creates the sweep folder and every run folder (status queued) of a plan, and writes the manifest.
 * Fails without leaving anything behind when a folder cannot be created.
 */
export function createSweepFolders(plan: SweepPlan, executor: ExecutorKind): SweepManifest {
  mkdirSync(plan.sweepDir, { recursive: true });
  const created: string[] = [];
  try {
    for (const run of plan.runs) {
      mkdirSync(run.dir); // exclusive: never reuses a folder
      created.push(run.dir);
      mkdirSync(join(run.dir, RUN_FILES.checkpoints));
      mkdirSync(join(run.dir, RUN_FILES.predictions));
      writeRunRecord(run.dir, queuedRecord(plan, run, executor === 'slurm' ? { kind: 'slurm', jobId: '' } : { kind: 'local' }));
    }
  } catch (e) {
    for (const d of created) rmSync(d, { recursive: true, force: true });
    rmSync(plan.sweepDir, { recursive: true, force: true });
    throw new SweepError(`could not create the run folders of sweep ${plan.id} under ${dirname(plan.sweepDir)}: ${(e as Error).message}`);
  }
  const manifest: SweepManifest = {
    schemaVersion: 1,
    id: plan.id,
    experiment: plan.config.name,
    configPath: plan.configPath,
    runsRoot: plan.runsRoot,
    createdAt: new Date().toISOString(),
    executor,
    dimensions: plan.dimensions,
    runs: plan.runs.map((r) => ({ index: r.index, runId: r.runId, dir: r.dir, params: r.params })),
    slurm: null,
  };
  writeManifest(plan.sweepDir, manifest);
  return manifest;
}

/** Removes what createSweepFolders made (used when a submission fails before anything ran). */
export function removeSweepFolders(plan: SweepPlan): void {
  for (const r of plan.runs) rmSync(r.dir, { recursive: true, force: true });
  rmSync(plan.sweepDir, { recursive: true, force: true });
}

export function readManifest(sweepDir: string): SweepManifest {
  const f = manifestPath(sweepDir);
  let m: SweepManifest;
  try {
    m = JSON.parse(readFileSync(f, 'utf8')) as SweepManifest;
  } catch (e) {
    throw new SweepError(`${f}: not a readable sweep manifest (${(e as Error).message})`);
  }
  if (m.schemaVersion !== 1 || typeof m.id !== 'string' || !Array.isArray(m.runs)) throw new SweepError(`${f}: not a sweep manifest (schemaVersion 1 with id and runs expected)`);
  return m;
}

/** Sweep folders (with a manifest) under a runs root, an experiment folder or a .sweeps folder, newest first. */
export function listSweeps(dir: string): string[] {
  const root = resolve(dir);
  const out: string[] = [];
  const scanSweeps = (sweepsDir: string) => {
    if (!existsSync(sweepsDir)) return;
    for (const n of readdirSync(sweepsDir)) if (existsSync(manifestPath(join(sweepsDir, n)))) out.push(join(sweepsDir, n));
  };
  if (existsSync(manifestPath(root))) return [root];
  if (basename(root) === SWEEPS_DIR) scanSweeps(root);
  else if (existsSync(join(root, SWEEPS_DIR))) scanSweeps(join(root, SWEEPS_DIR));
  else if (existsSync(root) && statSync(root).isDirectory()) for (const n of readdirSync(root)) if (!n.startsWith('.')) scanSweeps(join(root, n, SWEEPS_DIR));
  return out.sort((a, b) => (basename(a) < basename(b) ? 1 : -1));
}

/**
 * Resolves a sweep given as a folder (the sweep folder or its manifest) or as an id searched under
 * `runsRoot`. Returns null when nothing matches.
 */
export function findSweep(arg: string, runsRoot: string): string | null {
  const p = resolve(arg);
  if (existsSync(p)) {
    if (existsSync(manifestPath(p))) return p;
    if (basename(p) === SWEEP_MANIFEST) return dirname(p);
    return null;
  }
  if (!/^sweep-[\w-]+$/.test(arg)) return null;
  return listSweeps(runsRoot).find((d) => basename(d) === arg) ?? null;
}

/** The run records of a sweep (runs whose folder vanished are left out). */
export function sweepRuns(m: SweepManifest): { dir: string; record: RunRecord }[] {
  const out: { dir: string; record: RunRecord }[] = [];
  for (const r of m.runs) {
    try {
      out.push({ dir: r.dir, record: readRunRecord(r.dir) });
    } catch {
      /* deleted */
    }
  }
  return out;
}

/** One line per run of a plan: index, folder and values. */
export function planListing(plan: SweepPlan): string[] {
  return plan.runs.map((r) => `${String(r.index).padStart(3)}  ${r.runId}  ${formatParams(r.params)}`);
}

export type StartDecision = { action: 'train'; resume: string; fresh: boolean } | { action: 'skip'; message: string };

/**
 * What `dscpp-lab train --run-dir DIR` does with a pre-created run folder: a queued run starts from
 * scratch; a run that already started (a Slurm requeue after a node failure, a time limit) resumes
 * from its last checkpoint, or starts over when it has none; completed and cancelled runs are left
 * alone. Inside a Slurm job the run's job id is filled in when missing.
 */
export function startQueuedRun(dir: string, env: NodeJS.ProcessEnv = process.env): StartDecision {
  const abs = resolve(dir);
  let record = readRunRecord(abs);
  const jobId = env.SLURM_ARRAY_JOB_ID ?? env.SLURM_JOB_ID;
  if (jobId && (!record.executor || record.executor.kind !== 'slurm' || !record.executor.jobId)) {
    const task = env.SLURM_ARRAY_TASK_ID !== undefined ? Number(env.SLURM_ARRAY_TASK_ID) : undefined;
    record = { ...record, executor: { kind: 'slurm', jobId, ...(task !== undefined && Number.isInteger(task) ? { arrayTaskId: task } : {}), ...(env.SLURM_CLUSTER_NAME ? { cluster: env.SLURM_CLUSTER_NAME } : {}) } };
    writeRunRecord(abs, record);
  }
  switch (record.status) {
    case 'queued':
      return { action: 'train', resume: abs, fresh: true };
    case 'completed':
      return { action: 'skip', message: `run ${record.id} already completed; nothing to do` };
    case 'cancelled':
      return { action: 'skip', message: `run ${record.id} was cancelled; not starting it` };
    case 'running':
    case 'stopped':
    case 'failed':
    case 'timeout':
      if (existsSync(join(abs, RUN_FILES.checkpoints, 'last'))) return { action: 'train', resume: abs, fresh: false };
      rmSync(join(abs, RUN_FILES.metrics), { force: true }); // the curves of the lost attempt
      writeRunRecord(abs, { ...record, status: 'queued', error: null, endedAt: null, summary: { epochsCompleted: 0, bestEpoch: null, best: null, last: null, durationMs: 0 } });
      return { action: 'train', resume: abs, fresh: true };
    default: {
      const never: never = record.status;
      return { action: 'skip', message: `run ${record.id} has an unknown status ${String(never)}` };
    }
  }
}

/** Marks a run that `train --run-dir` could not start (its setup failed before training) as failed. */
export function failQueuedRun(dir: string, err: Error): void {
  try {
    const rec = readRunRecord(resolve(dir));
    if (rec.status !== 'queued') return;
    const now = new Date().toISOString();
    writeRunRecord(resolve(dir), { ...rec, status: 'failed', endedAt: now, updatedAt: now, pid: null, error: { message: err.message, detail: err.stack } });
  } catch {
    /* the folder itself is gone: nothing to record */
  }
}
