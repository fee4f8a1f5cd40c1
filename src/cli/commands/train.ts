import { resolve } from 'node:path';
import { failQueuedRun, startQueuedRun } from '../../core/executors/sweep-store';
import { runExperiment } from '../../core/train/experiment';
import type { StopSignal } from '../../core/train/trainer';
import { intFlag, parseArgs, stringFlag, UsageError, type Command } from '../command';
import { ConsoleProgress, table } from '../progress';

const usage = `Usage: dscpp-lab train <config> [options]

Trains every loss entry of an experiment config (*.dscpp.yaml or .json), one run each, with the same
seed and split, and prints a summary table.

Options:
  --resume RUN      resume an interrupted or stopped run folder (its config snapshot is used)
  --run-dir RUN     train a run folder pre-created by \`dscpp-lab sweep\` (status queued; what Slurm tasks run)
  --loss N          train only the loss entry with index N (0-based)
  --backend B       auto | wasm | cpu | tensorflow | tensorflow-gpu | webgpu (overrides the config)
  --epochs N        number of epochs (overrides train.epochs)
  --out DIR         runs folder (overrides output:)
  --backends-dir D  where on-demand backends are installed (dscpp-lab backend install)
  -h, --help        this help

Ctrl-C stops cooperatively: the current step finishes, the last checkpoint is saved, and the run is
marked stopped (resume it with --resume). A second Ctrl-C exits at once.`;

export const trainCommand: Command = {
  name: 'train',
  summary: 'train the runs of an experiment config',
  usage,
  async run(argv) {
    const p = parseArgs(argv, { values: ['resume', 'run-dir', 'loss', 'backend', 'epochs', 'out', 'backends-dir'] }, 'train');
    let resumeDir = stringFlag(p, 'resume');
    const runDir = stringFlag(p, 'run-dir');
    if (runDir) {
      if (resumeDir || p.positionals.length) throw new UsageError('train: --run-dir takes neither a config nor --resume');
      const start = startQueuedRun(runDir);
      if (start.action === 'skip') {
        process.stdout.write(`${start.message}\n`);
        return 0;
      }
      resumeDir = start.resume;
    }
    const config = p.positionals[0];
    if (!config && !resumeDir) throw new UsageError('train: missing <config> (a *.dscpp.yaml file), or --resume RUN');
    if (p.positionals.length > 1) throw new UsageError(`train: expected one config, got ${p.positionals.length}: ${p.positionals.join(' ')}`);
    const signal: StopSignal = { requested: false };
    let interrupts = 0;
    const onSigint = () => {
      interrupts++;
      if (interrupts === 1) {
        signal.requested = true;
        signal.reason = 'SIGINT';
        process.stderr.write('\nstopping after the current step (Ctrl-C again to exit now)…\n');
      } else process.exit(130);
    };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    const progress = new ConsoleProgress();
    try {
      const outcomes = await runExperiment({
        configPath: config ? resolve(config) : '',
        resume: resumeDir ? resolve(resumeDir) : undefined,
        lossIndex: intFlag(p, 'loss', 'train'),
        backend: stringFlag(p, 'backend'),
        epochs: intFlag(p, 'epochs', 'train', 1),
        out: stringFlag(p, 'out'),
        backendsDirectory: stringFlag(p, 'backends-dir'),
        signal,
        emit: (e) => progress.handle(e),
        onBackend: (b) => {
          const skipped = b.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
          process.stdout.write(`backend: ${b.name}${skipped ? ` (skipped ${skipped})` : ''}\n`);
        },
      }).catch((e: unknown) => {
        if (runDir) failQueuedRun(runDir, e as Error); // e.g. its data folder vanished: say so in run.json
        throw e;
      });
      progress.close();
      const rows = outcomes.map((o) => {
        const t = o.summary.test;
        const b = o.summary.best;
        const src = t ? 'test' : 'val';
        return [o.runId, o.status, src, t?.dsc ?? b?.dsc, t?.iou ?? b?.iou, t?.nll ?? b?.nll, t?.brier ?? b?.brier, t?.ece ?? b?.ece, `${(o.summary.durationMs / 1000).toFixed(0)} s`];
      });
      process.stdout.write('\n' + table(['run', 'status', 'split', 'DSC', 'IoU', 'NLL', 'Brier', 'ECE', 'time'], rows) + '\n');
      for (const o of outcomes) if (o.status === 'failed') process.stderr.write(`${o.runId} failed: ${o.error}\n  log: ${o.runDir}/log.txt\n`);
      return outcomes.some((o) => o.status === 'failed') ? 1 : 0;
    } finally {
      progress.close();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    }
  },
};
