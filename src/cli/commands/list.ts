import { resolve } from 'node:path';
import { listRuns } from '../../core/train/runs';
import { parseArgs, type Command } from '../command';
import { formatDuration, table } from '../progress';

const usage = `Usage: dscpp-lab list [DIR] [--json]

Lists the runs under DIR (a runs folder, an experiment folder, default ./runs), newest first, with
status, loss, best validation DSC and NLL, backend and duration. A run marked running whose process
is gone is shown as interrupted.`;

export const listCommand: Command = {
  name: 'list',
  summary: 'list runs and their status',
  usage,
  async run(argv) {
    const p = parseArgs(argv, { booleans: ['json'] }, 'list');
    const dir = resolve(p.positionals[0] ?? 'runs');
    const runs = listRuns(dir);
    if (p.flags.has('json')) {
      process.stdout.write(JSON.stringify(runs.map((r) => ({ dir: r.dir, ...r.record, config: undefined, stale: r.stale })), null, 2) + '\n');
      return 0;
    }
    if (!runs.length) {
      process.stdout.write(`no runs under ${dir}\n`);
      return 0;
    }
    const rows = runs.map((r) => [
      r.record.id,
      r.record.experiment,
      r.stale ? 'interrupted' : r.record.status,
      r.record.loss.name,
      r.record.summary.best?.dsc,
      r.record.summary.best?.nll,
      `${r.record.summary.epochsCompleted}/${r.record.totalEpochs}`,
      r.record.backend?.name ?? '—',
      formatDuration(r.record.summary.durationMs),
    ]);
    process.stdout.write(table(['run', 'experiment', 'status', 'loss', 'best DSC', 'best NLL', 'epochs', 'backend', 'time'], rows) + '\n');
    return 0;
  },
};
