import { resolve, join } from 'node:path';
import { compareByLoss } from '../../core/executors/aggregate';
import { compareHtml, compareMarkdown, compareText, loadComparedRuns, resolveRunDirs } from '../../core/eval/compare';
import { writeFileAtomic } from '../../core/util/fsx';
import { parseArgs, stringFlag, UsageError, type Command } from '../command';

const usage = `Usage: dscpp-lab compare <runA> <runB> [...] [--out DIR] [--group-by loss]

Compares evaluated runs side by side: DSC, IoU, NLL, Brier, ECE, MCE and ACE on the evaluated split,
before and after temperature scaling, the best value of each metric marked with *. A folder that is not
a run folder (an experiment or runs folder) stands for every evaluated run under it.

Writes compare.md and compare.html (self-contained: inline CSS and SVG reliability diagrams and
threshold-sweep curves, no scripts, no network) into DIR.

Options:
  --out DIR         where the reports go (default: the current directory)
  --group-by loss   a sweep's runs by loss: mean ± std over seeds of DSC, NLL, Brier and ECE, and Wilcoxon
                    signed-rank tests over the test cases of DSC++ (X++) against DSC (X); arguments may
                    also be sweeps (folder or id); writes compare-by-loss.md and compare-by-loss.json
  -h, --help        this help

Exit codes: 0 written, 1 a run could not be read (e.g. not evaluated yet), 2 usage error.`;

export const compareCommand: Command = {
  name: 'compare',
  summary: 'compare evaluated runs: table, compare.md and compare.html',
  usage,
  async run(argv) {
    const p = parseArgs(argv, { values: ['out', 'group-by'] }, 'compare');
    const groupBy = stringFlag(p, 'group-by');
    if (groupBy !== undefined) {
      if (groupBy !== 'loss') throw new UsageError(`compare: --group-by takes 'loss', got '${groupBy}'`);
      if (!p.positionals.length) throw new UsageError('compare: missing runs: give a sweep (folder or id) or folders holding evaluated runs');
      const r = compareByLoss(p.positionals, { outDir: resolve(stringFlag(p, 'out') ?? '.') });
      process.stdout.write(`${r.text}\n\n${r.files.map((f) => `wrote ${f}`).join('\n')}\n`);
      return 0;
    }
    if (p.positionals.length === 0) throw new UsageError('compare: missing runs: give at least two run folders (or a folder holding evaluated runs)');
    const dirs = resolveRunDirs(p.positionals);
    if (dirs.length < 2) throw new UsageError(`compare: need at least two runs, got ${dirs.length}: ${dirs.join(' ')}`);
    const runs = loadComparedRuns(dirs);
    const outDir = resolve(stringFlag(p, 'out') ?? '.');
    const createdAt = new Date().toISOString();
    const md = join(outDir, 'compare.md');
    const html = join(outDir, 'compare.html');
    writeFileAtomic(md, compareMarkdown(runs, createdAt));
    writeFileAtomic(html, compareHtml(runs, createdAt));
    process.stdout.write(compareText(runs) + '\n\n');
    process.stdout.write(`wrote ${md}\nwrote ${html}\n`);
    return 0;
  },
};
