import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cancelRuns } from '../../core/executors/cancel';
import { isTerminal } from '../../core/executors/slurm-state';
import { findSweep, readManifest } from '../../core/executors/sweep-store';
import { listRuns, RUN_FILES } from '../../core/train/runs';
import { intFlag, parseArgs, stringFlag, UsageError, type Command } from '../command';
import { table } from '../progress';

const usage = `Usage: dscpp-lab cancel <run|sweep|folder>... [--runs DIR] [--wait S]

Cancels runs: a run folder; a sweep (its folder, or its id such as sweep-20260101-120000-ab12, looked
up under --runs); or a folder holding runs (every unfinished run under it). Slurm runs are cancelled
with scancel, a local run's training process gets SIGTERM (it stops after the current step), and a
queued run nothing has started is marked at once. Each run is marked cancelled once its job or process
has ended. Finished runs are left alone.

Options:
  --runs DIR   where sweep ids are looked up (default ./runs)
  --wait S     seconds to wait for jobs and processes to end before marking them anyway (default 60)
  -h, --help   this help`;

export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'cancel runs or a whole sweep (scancel for Slurm runs)',
  usage,
  async run(argv) {
    const p = parseArgs(argv, { values: ['runs', 'wait'] }, 'cancel');
    if (!p.positionals.length) throw new UsageError('cancel: missing <run|sweep>: give a run folder, a sweep folder or id, or a folder holding runs');
    const runsRoot = resolve(stringFlag(p, 'runs') ?? 'runs');
    const dirs: string[] = [];
    for (const a of p.positionals) {
      const sweepDir = findSweep(a, runsRoot);
      if (sweepDir) {
        dirs.push(...readManifest(sweepDir).runs.map((r) => r.dir).filter((d) => existsSync(join(d, RUN_FILES.record))));
        continue;
      }
      const abs = resolve(a);
      if (!existsSync(abs)) throw new UsageError(`cancel: ${a}: no such run folder, sweep folder or sweep id (ids are looked up under ${runsRoot})`);
      if (existsSync(join(abs, RUN_FILES.record))) dirs.push(abs);
      else {
        const open = listRuns(abs).filter((r) => !isTerminal(r.record.status));
        if (!listRuns(abs).length) throw new UsageError(`cancel: ${a}: neither a run folder, a sweep, nor a folder holding runs`);
        dirs.push(...open.map((r) => r.dir));
      }
    }
    const unique = [...new Set(dirs)];
    if (!unique.length) {
      process.stdout.write('nothing to cancel: every run named has already ended\n');
      return 0;
    }
    const waitS = intFlag(p, 'wait', 'cancel', 0) ?? 60;
    const outcomes = await cancelRuns(unique, { waitMs: waitS * 1000 });
    process.stdout.write(table(['run', 'was', 'now', 'how'], outcomes.map((o) => [o.runId, o.was, o.result === 'cancelled' ? 'cancelled' : o.was, o.detail])) + '\n');
    return 0;
  },
};
