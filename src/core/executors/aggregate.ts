// Aggregating a sweep's evaluated runs by loss: the mean ± standard deviation over seeds of DSC, NLL,
// Brier and ECE on the evaluated split, and paired Wilcoxon signed-rank tests over the test cases of
// each DSC++-style loss against its base loss (dscpp vs dice, X++ vs X): per case, the metric is
// averaged over the seeds of each loss, then the two losses are paired by case id.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CaseReport, EvaluationReport } from '../../protocol/evaluation';
import { loadComparedRuns, resolveRunDirs, type ComparedRun } from '../eval/compare';
import { RUN_FILES } from '../train/runs';
import { writeFileAtomic } from '../util/fsx';
import { lossLabel } from './sweep';
import { findSweep, readManifest } from './sweep-store';
import { meanStd, wilcoxonSignedRank, type WilcoxonResult } from './wilcoxon';

export type AggMetricKey = 'dsc' | 'nll' | 'brier' | 'ece';

export interface AggMetric {
  key: AggMetricKey;
  label: string;
  better: 'higher' | 'lower';
  overall(e: EvaluationReport): number | null;
  /** Per-case value, for the paired test; null when the report has none per case (ECE). */
  perCase: ((c: CaseReport) => number | null) | null;
}

export const AGG_METRICS: AggMetric[] = [
  { key: 'dsc', label: 'DSC', better: 'higher', overall: (e) => e.overall.dsc, perCase: (c) => c.dsc },
  { key: 'nll', label: 'NLL', better: 'lower', overall: (e) => e.overall.nll, perCase: (c) => c.nll },
  { key: 'brier', label: 'Brier', better: 'lower', overall: (e) => e.overall.brier, perCase: (c) => c.brier },
  { key: 'ece', label: 'ECE', better: 'lower', overall: (e) => e.overall.ece, perCase: null },
];

export interface LossGroup {
  /** The loss with its options and the sweep values other than seed, e.g. 'dscpp(gamma=2) train.lr=0.001'. */
  label: string;
  loss: { name: string; options: Record<string, unknown> };
  /** Sweep values other than loss and seed (empty for runs not from a sweep). */
  params: Record<string, unknown>;
  runs: { dir: string; runId: string; seed: number }[];
  stats: Record<AggMetricKey, { mean: number; std: number; n: number }>;
  /** Per-case means over the group's seeds, by case id. */
  cases: Partial<Record<AggMetricKey, Record<string, number>>>;
}

export interface PairedTest {
  /** The DSC++-style loss group (e.g. dscpp) and its base loss group (e.g. dice). */
  treatment: string;
  control: string;
  metric: AggMetricKey;
  /** Cases with a finite value in both groups. */
  cases: number;
  result: WilcoxonResult;
  /** The group the median (then mean) difference favours; null on a tie. */
  favours: string | null;
}

export interface Aggregate {
  split: string;
  groups: LossGroup[];
  tests: PairedTest[];
  warnings: string[];
}

/** DSC++-style losses and their base loss: dscpp → dice, X++ → X. */
export function baseLossOf(name: string): string | null {
  if (name === 'dscpp') return 'dice';
  return name.endsWith('++') && name.length > 2 ? name.slice(0, -2) : null;
}

function finite(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function paramsOf(r: ComparedRun): Record<string, unknown> {
  const p = { ...(r.record.sweep?.params ?? {}) };
  delete p.losses;
  delete p.seed;
  delete p['train.seed'];
  return p;
}

function paramsText(p: Record<string, unknown>): string {
  return Object.keys(p)
    .sort()
    .map((k) => `${k}=${JSON.stringify(p[k])}`)
    .join(' ');
}

/** The config of a run with what may differ between the seeds of one group removed. */
function configKey(r: ComparedRun): string {
  const c = { ...(r.record.config as Record<string, unknown>) };
  for (const k of ['sweep', 'slurm', 'output', 'losses', 'loss', 'description', '$schema']) delete c[k];
  const train = { ...((c.train as Record<string, unknown> | undefined) ?? {}) };
  delete train.seed;
  c.train = train;
  return JSON.stringify(c, Object.keys(c).sort());
}

export function aggregateRuns(runs: readonly ComparedRun[]): Aggregate {
  const warnings: string[] = [];
  const byKey = new Map<string, ComparedRun[]>();
  for (const r of runs) {
    const label = [lossLabel({ name: r.record.loss.name, ...r.record.loss.options }), paramsText(paramsOf(r))].filter(Boolean).join(' ');
    const list = byKey.get(label) ?? [];
    list.push(r);
    byKey.set(label, list);
  }
  const splits = [...new Set(runs.map((r) => r.evaluation.split))];
  if (splits.length > 1) warnings.push(`runs were evaluated on different splits: ${splits.join(', ')}`);
  const caseSets = new Set(runs.map((r) => r.evaluation.cases.map((c) => c.id).sort().join('\n')));
  if (caseSets.size > 1) warnings.push('runs were evaluated on different cases (different data.split?): the paired tests use the cases common to both losses');
  const groups: LossGroup[] = [];
  for (const [label, members] of byKey) {
    const first = members[0] as ComparedRun;
    const seeds = members.map((m) => m.record.seed);
    if (new Set(seeds).size < seeds.length) warnings.push(`${label}: several runs share a seed (${seeds.join(', ')}); each run counts once in the mean ± std`);
    if (new Set(members.map(configKey)).size > 1) warnings.push(`${label}: the runs' configs differ in more than the seed; they are averaged together anyway`);
    const stats = {} as LossGroup['stats'];
    const cases: LossGroup['cases'] = {};
    for (const m of AGG_METRICS) {
      stats[m.key] = meanStd(members.map((r) => m.overall(r.evaluation)).filter(finite));
      if (!m.perCase) continue;
      const get = m.perCase;
      const sums = new Map<string, { s: number; n: number }>();
      for (const r of members) {
        for (const c of r.evaluation.cases) {
          const v = get(c);
          if (!finite(v)) continue;
          const acc = sums.get(c.id) ?? { s: 0, n: 0 };
          acc.s += v;
          acc.n++;
          sums.set(c.id, acc);
        }
      }
      cases[m.key] = Object.fromEntries([...sums].map(([id, a]) => [id, a.s / a.n]));
    }
    groups.push({ label, loss: first.record.loss, params: paramsOf(first), runs: members.map((r) => ({ dir: r.runDir, runId: r.record.id, seed: r.record.seed })), stats, cases });
  }
  // Keep a readable order: each base loss followed by its ++ version, in first-seen order otherwise.
  const tests: PairedTest[] = [];
  for (const g of groups) {
    const base = baseLossOf(g.loss.name);
    if (!base) continue;
    const control = groups.find((h) => h.loss.name === base && paramsText(h.params) === paramsText(g.params));
    if (!control) continue;
    for (const m of AGG_METRICS) {
      if (!m.perCase) continue;
      const a = g.cases[m.key] ?? {};
      const b = control.cases[m.key] ?? {};
      const ids = Object.keys(a)
        .filter((id) => id in b)
        .sort();
      if (!ids.length) {
        warnings.push(`${g.label} vs ${control.label}: no case has a ${m.label} in both; no test`);
        continue;
      }
      const x = ids.map((id) => a[id] as number);
      const y = ids.map((id) => b[id] as number);
      const result = wilcoxonSignedRank(x, y);
      const d = result.medianDiff !== 0 ? result.medianDiff : result.meanDiff;
      const favours = d === 0 || !Number.isFinite(d) ? null : (d > 0) === (m.better === 'higher') ? g.label : control.label;
      tests.push({ treatment: g.label, control: control.label, metric: m.key, cases: ids.length, result, favours });
    }
  }
  return { split: splits.join('/') || 'test', groups, tests, warnings };
}

function fmt(v: number, d = 4): string {
  return Number.isFinite(v) ? v.toFixed(d) : '—';
}

function pm(s: { mean: number; std: number; n: number }): string {
  if (!s.n) return '—';
  return s.n < 2 ? `${fmt(s.mean)} (1 run)` : `${fmt(s.mean)} ± ${fmt(s.std)}`;
}

function pText(p: number): string {
  return p < 1e-4 ? p.toExponential(2) : p.toFixed(4);
}

function signed(v: number): string {
  return Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(4)}` : '—';
}

function grid(headers: string[], rows: string[][], right: boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const TEST_NOTE = 'Wilcoxon signed-rank, two-sided, over the evaluated cases paired by case id (each case: the mean over the seeds of each loss); zero differences dropped; exact p below 50 pairs without ties or zeros, else the normal approximation with tie and continuity corrections. Δ = first − second.';

export function aggregateText(a: Aggregate): string {
  const out: string[] = [];
  out.push(`Grouped by loss: mean ± std over seeds (sample std), ${a.split} split`);
  out.push(
    grid(
      ['loss', 'runs', 'seeds', ...AGG_METRICS.map((m) => m.label)],
      a.groups.map((g) => [g.label, String(g.runs.length), g.runs.map((r) => r.seed).join(','), ...AGG_METRICS.map((m) => pm(g.stats[m.key]))]),
      [false, true, false, true, true, true, true],
    ),
  );
  if (a.tests.length) {
    out.push('', 'Paired tests over cases:');
    out.push(
      grid(
        ['comparison', 'metric', 'cases', 'median Δ', 'W+', 'p', 'method', 'favours'],
        a.tests.map((t) => [`${t.treatment} vs ${t.control}`, AGG_METRICS.find((m) => m.key === t.metric)?.label ?? t.metric, String(t.cases), signed(t.result.medianDiff), String(t.result.wPlus), `${pText(t.result.p)}${t.result.p < 0.05 ? ' *' : ''}`, t.result.method, t.favours ?? '—']),
        [false, false, true, true, true, true, false, false],
      ),
    );
    out.push(`* p < 0.05. ${TEST_NOTE}`);
  } else out.push('', 'No paired test: the runs hold no DSC++-style loss together with its base loss (e.g. dscpp and dice).');
  for (const w of a.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}

export function aggregateMarkdown(a: Aggregate, createdAt = new Date().toISOString()): string {
  const md = (s: string) => s.replace(/\|/g, '\\|');
  const out: string[] = ['# Comparison by loss', '', `Generated by \`dscpp-lab compare --group-by loss\` on ${createdAt}. Mean ± sample standard deviation over seeds, ${a.split} split.`, ''];
  out.push(`| loss | runs | seeds | ${AGG_METRICS.map((m) => m.label).join(' | ')} |`);
  out.push(`|---|---:|---|${AGG_METRICS.map(() => '---:').join('|')}|`);
  for (const g of a.groups) out.push(`| ${md(g.label)} | ${g.runs.length} | ${g.runs.map((r) => r.seed).join(', ')} | ${AGG_METRICS.map((m) => pm(g.stats[m.key])).join(' | ')} |`);
  out.push('');
  if (a.tests.length) {
    out.push('## Paired tests', '', '| comparison | metric | cases | median Δ | W+ | p | method | favours |', '|---|---|---:|---:|---:|---:|---|---|');
    for (const t of a.tests) out.push(`| ${md(t.treatment)} vs ${md(t.control)} | ${AGG_METRICS.find((m) => m.key === t.metric)?.label ?? t.metric} | ${t.cases} | ${signed(t.result.medianDiff)} | ${t.result.wPlus} | ${t.result.p < 0.05 ? `**${pText(t.result.p)}**` : pText(t.result.p)} | ${t.result.method} | ${md(t.favours ?? '—')} |`);
    out.push('', `Bold: p < 0.05. ${TEST_NOTE}`);
  }
  if (a.warnings.length) out.push('', ...a.warnings.map((w) => `> **Warning:** ${md(w)}`));
  out.push('', '## Runs', '');
  for (const g of a.groups) for (const r of g.runs) out.push(`- ${md(g.label)}, seed ${r.seed}: \`${r.runId}\` (${md(r.dir)})`);
  return out.join('\n') + '\n';
}

/**
 * `dscpp-lab compare --group-by loss`: the runs named by `args` (run folders, folders holding runs, or
 * sweeps: a sweep folder or id), evaluated ones only, aggregated by loss. Writes compare-by-loss.md and
 * compare-by-loss.json into `outDir`.
 */
export function compareByLoss(args: readonly string[], opts: { outDir: string; runsRoot?: string }): { aggregate: Aggregate; text: string; files: string[]; skipped: string[] } {
  const dirs: string[] = [];
  const skipped: string[] = [];
  for (const a of args) {
    const sweepDir = findSweep(a, opts.runsRoot ?? resolve('runs'));
    if (sweepDir) {
      for (const r of readManifest(sweepDir).runs) {
        if (existsSync(join(r.dir, RUN_FILES.evaluation))) dirs.push(r.dir);
        else skipped.push(r.dir);
      }
    } else dirs.push(...resolveRunDirs([a]));
  }
  const unique = [...new Set(dirs)];
  if (!unique.length) throw new Error(`compare --group-by loss: no evaluated run among ${args.join(' ')}${skipped.length ? ` (${skipped.length} runs not evaluated yet)` : ''}`);
  const agg = aggregateRuns(loadComparedRuns(unique));
  if (skipped.length) agg.warnings.push(`${skipped.length} run${skipped.length === 1 ? '' : 's'} of the sweep left out (not evaluated: failed, cancelled or unfinished): ${skipped.join(', ')}`);
  const md = join(opts.outDir, 'compare-by-loss.md');
  const json = join(opts.outDir, 'compare-by-loss.json');
  writeFileAtomic(md, aggregateMarkdown(agg));
  writeFileAtomic(json, JSON.stringify(agg, null, 2) + '\n');
  return { aggregate: agg, text: aggregateText(agg), files: [md, json], skipped };
}
