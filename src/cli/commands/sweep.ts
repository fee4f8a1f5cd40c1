import { join, resolve } from 'node:path';
import { runLocalSweep } from '../../core/executors/local';
import { formatParams } from '../../core/executors/sweep';
import { createSweepFolders, planListing, planSweep } from '../../core/executors/sweep-store';
import { defaultCliPath, dryRunText, submitSlurmSweep } from '../../core/executors/submit';
import { SlurmTracker } from '../../core/executors/tracker';
import type { StopSignal } from '../../core/train/trainer';
import { parseArgs, stringFlag, UsageError, type Command } from '../command';
import { ConsoleProgress, table } from '../progress';
import { statusTable } from './status';

const usage = `Usage: dscpp-lab sweep <config> [options]

Expands the config's sweep: (the cartesian product of its lists, e.g. losses × seed × train.lr; the loss
dimension is sweep.losses, else the config's losses) into runs, pre-creates their run folders with
status queued, and trains them.

Options:
  --executor E   local (default): the runs train one after another in this process;
                 slurm: one job array (sbatch --array=0-N%limit) with the config's slurm: settings,
                 each task running \`dscpp-lab train --run-dir <its run folder>\`
  --dry-run      print the runs and the sbatch script; create and submit nothing
  --out DIR      runs folder (overrides output:); with slurm it must be on a filesystem the compute nodes share
  --backend B    compute backend override (local executor)
  --cli PATH     (slurm) the dscpp-lab CLI the tasks run (default: this installation's dist/cli.js)
  --wait         (slurm) poll squeue until every run has ended, then print their states
  -h, --help     this help

Watch a sweep with \`dscpp-lab status <runs folder>\`, stop it with \`dscpp-lab cancel <sweep id>\`, and
aggregate it with \`dscpp-lab compare <sweep id> --group-by loss\`.
Exit codes: 0 done or submitted, 1 a run failed (local, or slurm with --wait), 2 usage or config error.`;

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'run the sweep of a config (cartesian product of sweep: lists), locally or as a Slurm job array',
  usage,
  async run(argv) {
    const p = parseArgs(argv, { values: ['executor', 'out', 'backend', 'cli'], booleans: ['dry-run', 'wait'] }, 'sweep');
    const config = p.positionals[0];
    if (!config) throw new UsageError('sweep: missing <config> (a *.dscpp.yaml file with a sweep: block)');
    if (p.positionals.length > 1) throw new UsageError(`sweep: expected one config, got ${p.positionals.length}: ${p.positionals.join(' ')}`);
    const executor = stringFlag(p, 'executor') ?? 'local';
    if (executor !== 'local' && executor !== 'slurm') throw new UsageError(`sweep: --executor takes local or slurm, got '${executor}'`);
    if (executor === 'local' && (p.flags.has('wait') || p.flags.has('cli'))) throw new UsageError('sweep: --wait and --cli apply to --executor slurm');
    const cliArg = stringFlag(p, 'cli');
    const cli = cliArg ? resolve(cliArg) : defaultCliPath();
    if (executor === 'slurm' && !cli) throw new UsageError('sweep: cannot find dist/cli.js beside this installation; build it (npm run build) or pass --cli PATH');
    const plan = planSweep(resolve(config), { out: stringFlag(p, 'out') });

    if (p.flags.has('dry-run')) {
      process.stdout.write(dryRunText(plan, executor, { cli: cli ?? '<dist/cli.js>' }) + '\n');
      return 0;
    }

    if (executor === 'slurm') {
      const r = await submitSlurmSweep(plan, { cli: cli as string });
      const expDir = join(plan.runsRoot, plan.config.name);
      process.stdout.write(
        [
          `sweep ${plan.id}: submitted ${plan.runs.length} run${plan.runs.length === 1 ? '' : 's'} as job array ${r.jobId} (--array=${r.manifest.slurm?.array})${r.cluster ? ` on ${r.cluster}` : ''}`,
          ...planListing(plan).map((l, i) => `${l}  [${r.jobId}_${i}]`),
          `script: ${r.scriptPath}`,
          `output: ${r.manifest.slurm?.output}`,
          `watch:  dscpp-lab status ${expDir}`,
          `cancel: dscpp-lab cancel ${plan.sweepDir}`,
          '',
        ].join('\n'),
      );
      if (!p.flags.has('wait')) return 0;
      const tracker = new SlurmTracker({ roots: plan.runs.map((x) => x.dir), minIntervalMs: 2000, maxIntervalMs: 30_000 });
      for (;;) {
        const snap = await tracker.poll();
        if (snap.changed) process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${snap.statusLine || 'all runs ended'}\n`);
        if (!snap.runs.some((x) => x.status === 'queued' || x.status === 'running')) {
          process.stdout.write('\n' + statusTable(snap.runs) + '\n');
          return snap.runs.some((x) => x.status !== 'completed') ? 1 : 0;
        }
        await new Promise((res) => setTimeout(res, tracker.nextDelayMs(snap)));
      }
    }

    // Local: pre-create the queued folders, then train them in order.
    const manifest = createSweepFolders(plan, 'local');
    process.stdout.write(`sweep ${plan.id}: ${plan.runs.length} run${plan.runs.length === 1 ? '' : 's'} queued under ${join(plan.runsRoot, plan.config.name)}\n${planListing(plan).join('\n')}\n\n`);
    const signal: StopSignal = { requested: false };
    let interrupts = 0;
    const onSignal = () => {
      interrupts++;
      if (interrupts === 1) {
        signal.requested = true;
        signal.reason = 'SIGINT';
        process.stderr.write('\nstopping after the current step; the runs not started yet are cancelled (Ctrl-C again to exit now)…\n');
      } else process.exit(130);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const progress = new ConsoleProgress();
    try {
      const results = await runLocalSweep(manifest, {
        signal,
        emit: (e) => progress.handle(e),
        backend: stringFlag(p, 'backend'),
        onRunStart: (i) => process.stdout.write(`— run ${i + 1}/${plan.runs.length}: ${formatParams(plan.runs[i]?.params ?? {})}\n`),
      });
      progress.close();
      const rows = results.map((r) => [String(r.index), plan.runs[r.index]?.runId ?? r.dir, formatParams(plan.runs[r.index]?.params ?? {}), r.status, r.error ?? '']);
      process.stdout.write('\n' + table(['#', 'run', 'values', 'status', 'error'], rows) + '\n');
      process.stdout.write(`\naggregate: dscpp-lab compare ${plan.sweepDir} --group-by loss\n`);
      return results.some((r) => r.status === 'failed') ? 1 : 0;
    } finally {
      progress.close();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
