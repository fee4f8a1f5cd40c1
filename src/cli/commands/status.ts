import { resolve } from 'node:path';
import { formatParams } from '../../core/executors/sweep';
import { findSweep, readManifest } from '../../core/executors/sweep-store';
import { SlurmTracker, type TrackedRun, type TrackerSnapshot } from '../../core/executors/tracker';
import { intFlag, parseArgs, type Command } from '../command';
import { formatDuration, table } from '../progress';

const usage = `Usage: dscpp-lab status [DIR] [--watch] [--interval S] [--json]

Shows the runs under DIR (a runs folder, default ./runs; an experiment folder; a sweep folder or id; a
run folder) with their state: queued, running, completed, failed, stopped, cancelled or timeout, and
for Slurm runs the job id and Slurm's state or reason. Runs not finished yet are looked up with squeue;
what Slurm knows and the run folder does not (a job that died without updating run.json, a job
cancelled or out of time) is written into run.json, with the last lines of the job's output file.

Options:
  --watch        poll until no run is queued or running (every S seconds at first, backing off to 30 s
                 while nothing changes); exit 1 if a run did not complete
  --interval S   first poll interval for --watch (default 2)
  --json         print the runs as JSON
  -h, --help     this help`;

function num(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The status table: one row per run. */
export function statusTable(runs: readonly TrackedRun[]): string {
  const rows = runs.map((t) => {
    const r = t.record;
    const params = r.sweep ? formatParams(Object.fromEntries(Object.entries(r.sweep.params).filter(([k]) => k !== 'losses'))) : '';
    const state = t.stale ? 'interrupted' : t.status;
    const slurm = t.slurm ? `${t.slurm.id || '(submitting)'}${t.slurm.state ? ` ${t.slurm.state}` : ''}${t.slurm.reason && t.slurm.state !== 'RUNNING' ? ` (${t.slurm.reason})` : ''}` : 'local';
    const dsc = num(r.summary.test?.dsc) ?? num(r.summary.best?.dsc);
    return [r.id, r.loss.name, params || '—', state, slurm, `${r.summary.epochsCompleted}/${r.totalEpochs}`, dsc, formatDuration(r.summary.durationMs)];
  });
  return table(['run', 'loss', 'values', 'status', 'job', 'epochs', 'DSC', 'time'], rows);
}

function failures(runs: readonly TrackedRun[]): string {
  const out: string[] = [];
  for (const t of runs) {
    if ((t.status !== 'failed' && t.status !== 'timeout') || !t.record.error) continue;
    out.push(`${t.record.id} ${t.status}: ${t.record.error.message}`);
    const detail = t.record.error.detail;
    if (detail && t.slurm) out.push(...detail.split('\n').slice(-15).map((l) => `    ${l}`));
    out.push(`    folder: ${t.dir}`);
  }
  return out.join('\n');
}

function summary(s: TrackerSnapshot): string {
  const parts = (Object.entries(s.counts) as [string, number][]).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  const lines = [`${s.runs.length} run${s.runs.length === 1 ? '' : 's'}: ${parts.join(', ') || 'none'}`];
  if (s.statusLine) lines.push(`Slurm: ${s.statusLine}`);
  if (s.slurmAnswered === false) lines.push(`warning: squeue could not be asked; states are the run folders' own: ${s.error}`);
  if (s.persisted.length) lines.push(`updated run.json of ${s.persisted.length} run${s.persisted.length === 1 ? '' : 's'} with Slurm's end state`);
  return lines.join('\n');
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the state of runs and sweeps, local and Slurm (queued, running, completed, failed...)',
  usage,
  async run(argv) {
    const p = parseArgs(argv, { values: ['interval'], booleans: ['watch', 'json'] }, 'status');
    const arg = p.positionals[0] ?? 'runs';
    const sweepDir = findSweep(arg, resolve('runs'));
    const roots = sweepDir ? readManifest(sweepDir).runs.map((r) => r.dir) : [resolve(arg)];
    const interval = intFlag(p, 'interval', 'status', 1) ?? 2;
    const tracker = new SlurmTracker({ roots, minIntervalMs: interval * 1000, maxIntervalMs: 30_000 });
    const print = (s: TrackerSnapshot) => {
      if (p.flags.has('json')) {
        process.stdout.write(JSON.stringify({ at: s.at, counts: s.counts, slurm: { counts: s.slurmCounts, clusters: s.clusters, answered: s.slurmAnswered, error: s.error, statusLine: s.statusLine }, runs: s.runs.map((t) => ({ dir: t.dir, id: t.record.id, loss: t.record.loss, seed: t.record.seed, sweep: t.record.sweep ?? null, status: t.stale ? 'interrupted' : t.status, slurm: t.slurm, error: t.record.error, summary: t.record.summary })) }, null, 2) + '\n');
        return;
      }
      if (!s.runs.length) {
        process.stdout.write(`no runs under ${roots.join(', ')}\n`);
        return;
      }
      const f = failures(s.runs);
      process.stdout.write(`${statusTable(s.runs)}\n\n${f ? `${f}\n\n` : ''}${summary(s)}\n`);
    };
    if (!p.flags.has('watch')) {
      print(await tracker.poll());
      return 0;
    }
    for (;;) {
      const s = await tracker.poll();
      const active = s.runs.some((t) => t.status === 'queued' || t.status === 'running');
      if (!active) {
        print(s);
        return s.runs.some((t) => t.status !== 'completed') ? 1 : 0;
      }
      if (s.changed && !p.flags.has('json')) process.stdout.write(`${s.at.slice(11, 19)} ${s.statusLine || summary(s).split('\n')[0]}\n`);
      await new Promise((res) => setTimeout(res, tracker.nextDelayMs(s)));
    }
  },
};
