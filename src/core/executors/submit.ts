// Submitting a sweep to Slurm as one job array. The run folders are created first (status queued),
// the array is submitted held, every run.json gets its job id, task id and output file, and only then
// is the array released: a task never starts before its run folder names its job.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeRunRecord, readRunRecord } from '../train/runs';
import { slurmSchema } from '../config';
import { sbatchScript, arraySpec } from './slurm-script';
import { SlurmClient, SlurmError } from './slurm';
import { createSweepFolders, planListing, removeSweepFolders, SWEEP_SCRIPT, writeManifest, type SweepManifest, type SweepPlan } from './sweep-store';
import { formatParams } from './sweep';

/**
 * The CLI the array tasks run: dist/cli.js beside the bundle this code is in (dist/cli.js,
 * dist/extension.js and dist/core.js all live in dist/). Null when it is not there.
 */
export function defaultCliPath(): string | null {
  const candidates = [join(__dirname, 'cli.js'), join(__dirname, '..', 'dist', 'cli.js')];
  return candidates.find((c) => existsSync(c)) ?? null;
}

export interface SlurmScriptOptions {
  /** Absolute path of dist/cli.js (or bin/dscpp-lab.js) as the compute nodes see it. */
  cli: string;
}

/** Output file pattern of a sweep's tasks. */
export function outputPattern(plan: Pick<SweepPlan, 'sweepDir'>): string {
  return join(plan.sweepDir, 'slurm-%A_%a.out');
}

/** The sbatch script of a plan (what a dry run prints and what is submitted). */
export function planScript(plan: SweepPlan, opts: SlurmScriptOptions): string {
  return sbatchScript({
    experiment: plan.config.name,
    sweepId: plan.id,
    configPath: plan.configPath,
    runDirs: plan.runs.map((r) => r.dir),
    labels: plan.runs.map((r) => formatParams(r.params)),
    cli: opts.cli,
    output: outputPattern(plan),
    chdir: dirname(plan.configPath),
    slurm: plan.config.slurm ?? slurmSchema.parse({}),
  });
}

/** A human-readable dry run: the runs and the script, nothing created or submitted. */
export function dryRunText(plan: SweepPlan, executor: 'local' | 'slurm', opts: SlurmScriptOptions): string {
  const dims = plan.dimensions.map((d) => `${d.key === 'losses' ? 'loss' : d.key} (${d.values.length})`).join(' × ');
  const out = [`sweep ${plan.id}: ${plan.runs.length} run${plan.runs.length === 1 ? '' : 's'} of ${plan.config.name} = ${dims}`, `runs folder: ${join(plan.runsRoot, plan.config.name)}`, '', ...planListing(plan)];
  if (executor === 'slurm') {
    out.push('', `sbatch script (${join(plan.sweepDir, SWEEP_SCRIPT)}):`, '', planScript(plan, opts));
  } else out.push('', 'executor local: the runs would train one after another in this process.');
  return out.join('\n');
}

export interface SubmitResult {
  manifest: SweepManifest;
  jobId: string;
  cluster: string | null;
  script: string;
  scriptPath: string;
}

/**
 * Creates the run folders of a plan and submits them to Slurm as one job array. On a failed submission
 * the folders are removed again and the SlurmError says why.
 */
export async function submitSlurmSweep(plan: SweepPlan, opts: SlurmScriptOptions & { client?: SlurmClient }): Promise<SubmitResult> {
  const client = opts.client ?? new SlurmClient();
  if (!existsSync(opts.cli)) throw new SlurmError(`the CLI the jobs would run is missing: ${opts.cli} (build it with npm run build)`);
  const manifest = createSweepFolders(plan, 'slurm');
  const script = planScript(plan, opts);
  const scriptPath = join(plan.sweepDir, SWEEP_SCRIPT);
  let jobId: string;
  let cluster: string | null;
  try {
    writeFileSync(scriptPath, script, { mode: 0o755 });
    const submitted = await client.submit(scriptPath, { hold: true, cwd: dirname(plan.configPath) });
    jobId = submitted.jobId;
    cluster = submitted.cluster ?? (await client.clusterName());
  } catch (e) {
    removeSweepFolders(plan);
    throw e;
  }
  const output = outputPattern(plan);
  for (const r of plan.runs) {
    const rec = readRunRecord(r.dir);
    writeRunRecord(r.dir, { ...rec, executor: { kind: 'slurm', jobId, arrayTaskId: r.index, ...(cluster ? { cluster } : {}), outputFile: output.replace('%A', jobId).replace('%a', String(r.index)) } });
  }
  const full: SweepManifest = { ...manifest, slurm: { jobId, cluster, script: scriptPath, output, array: arraySpec(plan.runs.length, plan.config.slurm?.arrayLimit), submittedAt: new Date().toISOString() } };
  writeManifest(plan.sweepDir, full);
  try {
    await client.release(jobId);
  } catch (e) {
    // Held jobs would wait forever: take them back and say so.
    await client.cancel([jobId]).catch(() => undefined);
    for (const r of plan.runs) {
      const rec = readRunRecord(r.dir);
      writeRunRecord(r.dir, { ...rec, status: 'failed', endedAt: new Date().toISOString(), error: { message: `job ${jobId} was submitted held but could not be released; it was cancelled: ${(e as Error).message}` } });
    }
    throw e;
  }
  return { manifest: full, jobId, cluster, script, scriptPath };
}
