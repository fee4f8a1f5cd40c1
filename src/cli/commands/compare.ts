import { resolve, join } from 'node:path';
import { compareHtml, compareMarkdown, compareText, loadComparedRuns, resolveRunDirs } from '../../core/eval/compare';
import { writeFileAtomic } from '../../core/util/fsx';
import { parseArgs, stringFlag, UsageError, type Command } from '../command';

const usage = `Usage: dscpp-lab compare <runA> <runB> [...] [--out DIR]

Compares evaluated runs side by side: DSC, IoU, NLL, Brier, ECE, MCE and ACE on the evaluated split,
before and after temperature scaling, the best value of each metric marked with *. A folder that is not
a run folder (an experiment or runs folder) stands for every evaluated run under it.

Writes compare.md and compare.html (self-contained: inline CSS and SVG reliability diagrams and
threshold-sweep curves, no scripts, no network) into DIR.

Options:
  --out DIR    where compare.md and compare.html go (default: the current directory)
  -h, --help   this help

Exit codes: 0 written, 1 a run could not be read (e.g. not evaluated yet), 2 usage error.`;

export const compareCommand: Command = {
  name: 'compare',
  summary: 'compare evaluated runs: table, compare.md and compare.html',
  usage,
  async run(argv) {
    const p = parseArgs(argv, { values: ['out'] }, 'compare');
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
