import { resolve } from 'node:path';
import { evaluateRun } from '../../core/eval/evaluate';
import { parseArgs, stringFlag, UsageError, type Command } from '../command';
import { ConsoleProgress, table } from '../progress';

const usage = `Usage: dscpp-lab evaluate <run> [options]

Re-evaluates a finished (or stopped) run folder with its config snapshot: predicts every case of the
split, computes overlap and calibration metrics (overall, per class, per case), reliability bins, the
threshold sweep and temperature scaling fitted on the validation split, and rewrites
<run>/evaluation.json and <run>/predictions/previews.json (+ the preview arrays).

Options:
  --checkpoint C    best | last (default: best)
  --split S         test | val (default: the config's eval.split, normally test)
  --backend B       auto | wasm | cpu | tensorflow | tensorflow-gpu | webgpu (default: the run's config)
  --backends-dir D  where on-demand backends are installed
  -h, --help        this help

Exit codes: 0 evaluated, 1 evaluation failed (unreadable run, missing checkpoint or data), 2 usage error.`;

function choice<T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`evaluate: --${flag} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 're-evaluate a run: evaluation.json, previews, calibration',
  usage,
  async run(argv) {
    const p = parseArgs(argv, { values: ['checkpoint', 'split', 'backend', 'backends-dir'] }, 'evaluate');
    if (p.positionals.length === 0) throw new UsageError('evaluate: missing <run> (a run folder, e.g. runs/<experiment>/<run-id>)');
    if (p.positionals.length > 1) throw new UsageError(`evaluate: expected one run folder, got ${p.positionals.length}: ${p.positionals.join(' ')}`);
    const checkpoint = choice(stringFlag(p, 'checkpoint'), ['best', 'last'] as const, 'checkpoint');
    const split = choice(stringFlag(p, 'split'), ['test', 'val'] as const, 'split');
    const progress = new ConsoleProgress();
    try {
      const res = await evaluateRun(resolve(p.positionals[0] as string), {
        checkpoint,
        split,
        backend: stringFlag(p, 'backend'),
        backendsDirectory: stringFlag(p, 'backends-dir'),
        emit: (e) => {
          if (e.type === 'log' && e.level === 'info') process.stdout.write(`  ${e.message}\n`);
          else progress.handle(e);
        },
      });
      progress.close();
      const r = res.report;
      const rows = [
        ['before T', r.overall.dsc, r.overall.iou, r.temperature.before.nll, r.temperature.before.brier, r.temperature.before.ece, r.temperature.before.mce, r.temperature.before.ace],
        [`after T = ${r.temperature.temperature.toFixed(3)}`, r.overall.dsc, r.overall.iou, r.temperature.after.nll, r.temperature.after.brier, r.temperature.after.ece, r.temperature.after.mce, r.temperature.after.ace],
      ];
      process.stdout.write(`\n${r.runId}: ${r.split} split, ${r.numCases} cases, checkpoint ${r.checkpoint}\n`);
      process.stdout.write(table(['', 'DSC', 'IoU', 'NLL', 'Brier', 'ECE', 'MCE', 'ACE'], rows) + '\n');
      process.stdout.write(`wrote ${res.path}\n`);
      return 0;
    } finally {
      progress.close();
    }
  },
};
