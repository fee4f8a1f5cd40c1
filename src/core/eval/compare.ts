// Side-by-side comparison of evaluated runs: a plain-text table for the terminal, compare.md and a
// self-contained compare.html (inline CSS and SVG, no scripts, no network).
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CalibrationSummary, EvaluationReport } from '../../protocol/evaluation';
import type { RunRecord } from '../../protocol/training';
import { listRuns, readRunRecord, RUN_FILES } from '../train/runs';
import { readEvaluation } from './report-io';
import { curvesSvg, escapeXml, reliabilitySvg, runColor, SVG_CSS, sweepSeries } from './svg';

export interface ComparedRun {
  /** Short column label: the loss name, made unique with #2, #3... */
  label: string;
  runDir: string;
  record: RunRecord;
  evaluation: EvaluationReport;
}

export class CompareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompareError';
  }
}

type Better = 'higher' | 'lower' | null;

export interface MetricRow {
  key: string;
  label: string;
  better: Better;
  /** Section: overlap, calibration before / after temperature scaling. */
  group: 'overlap' | 'calibration' | 'temperature';
  get(e: EvaluationReport): number | null;
}

const cal = (k: keyof CalibrationSummary) => (e: EvaluationReport) => e.overall[k];
const after = (k: keyof CalibrationSummary) => (e: EvaluationReport) => e.temperature.after[k];

export const COMPARE_METRICS: MetricRow[] = [
  { key: 'dsc', label: 'DSC', better: 'higher', group: 'overlap', get: (e) => e.overall.dsc },
  { key: 'iou', label: 'IoU', better: 'higher', group: 'overlap', get: (e) => e.overall.iou },
  { key: 'nll', label: 'NLL', better: 'lower', group: 'calibration', get: cal('nll') },
  { key: 'brier', label: 'Brier', better: 'lower', group: 'calibration', get: cal('brier') },
  { key: 'ece', label: 'ECE', better: 'lower', group: 'calibration', get: cal('ece') },
  { key: 'mce', label: 'MCE', better: 'lower', group: 'calibration', get: cal('mce') },
  { key: 'ace', label: 'ACE', better: 'lower', group: 'calibration', get: cal('ace') },
  { key: 'T', label: 'T (fit on val)', better: null, group: 'temperature', get: (e) => (e.temperature.disabled ? null : e.temperature.temperature) },
  { key: 'nllT', label: 'NLL after T', better: 'lower', group: 'temperature', get: after('nll') },
  { key: 'brierT', label: 'Brier after T', better: 'lower', group: 'temperature', get: after('brier') },
  { key: 'eceT', label: 'ECE after T', better: 'lower', group: 'temperature', get: after('ece') },
  { key: 'mceT', label: 'MCE after T', better: 'lower', group: 'temperature', get: after('mce') },
  { key: 'aceT', label: 'ACE after T', better: 'lower', group: 'temperature', get: after('ace') },
];

export const DIGITS = 4;

function finite(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

export function fmtNum(v: number | null | undefined, digits = DIGITS): string {
  return finite(v) ? v.toFixed(digits) : '—';
}

/**
 * Indices of the runs holding the best value of a metric, compared at the displayed precision so that
 * runs shown with equal numbers are all marked. Empty when fewer than two runs have a value.
 */
export function bestIndices(values: (number | null)[], better: Better, digits = DIGITS): Set<number> {
  const out = new Set<number>();
  if (!better) return out;
  const rounded = values.map((v) => (finite(v) ? Number(v.toFixed(digits)) : null));
  const present = rounded.filter((v): v is number => v !== null);
  if (present.length < 2) return out;
  const best = better === 'higher' ? Math.max(...present) : Math.min(...present);
  rounded.forEach((v, i) => {
    if (v === best) out.add(i);
  });
  return out;
}

/**
 * Expands the arguments into run folders: a folder with run.json is one run; any other folder is
 * searched (as `dscpp-lab list` does) for runs that have an evaluation.json, oldest first.
 */
export function resolveRunDirs(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    const dir = resolve(a);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CompareError(`${a}: no such run folder`);
    if (existsSync(join(dir, RUN_FILES.record))) {
      out.push(dir);
      continue;
    }
    const found = listRuns(dir)
      .filter((r) => existsSync(join(r.dir, RUN_FILES.evaluation)))
      .map((r) => r.dir)
      .reverse();
    if (!found.length) throw new CompareError(`${a}: neither a run folder (no run.json) nor a folder holding evaluated runs`);
    out.push(...found);
  }
  return [...new Set(out)];
}

export function loadComparedRuns(runDirs: string[]): ComparedRun[] {
  const runs = runDirs.map((dir) => {
    const record = readRunRecord(dir);
    if (!existsSync(join(dir, RUN_FILES.evaluation))) {
      throw new CompareError(`${dir}: run ${record.id} has no ${RUN_FILES.evaluation} (status ${record.status}); evaluate it first: dscpp-lab evaluate ${dir}`);
    }
    return { label: record.loss.name, runDir: dir, record, evaluation: readEvaluation(dir) };
  });
  // Unique labels: the loss name, then #2, #3... for repeats.
  const seen = new Map<string, number>();
  for (const r of runs) {
    const n = (seen.get(r.label) ?? 0) + 1;
    seen.set(r.label, n);
    if (n > 1) r.label = `${r.label}#${n}`;
  }
  return runs;
}

/** Differences that make the numbers not directly comparable (split, cases, seed, checkpoint, bins). */
export function comparabilityWarnings(runs: ComparedRun[]): string[] {
  if (runs.length < 2) return [];
  const warnings: string[] = [];
  const first = runs[0] as ComparedRun;
  const caseKey = (r: ComparedRun) => r.evaluation.cases.map((c) => c.id).sort().join('\n');
  const checks: { what: string; get: (r: ComparedRun) => string }[] = [
    { what: 'evaluated split', get: (r) => r.evaluation.split },
    { what: 'evaluated cases', get: caseKey },
    { what: 'seed', get: (r) => String(r.record.seed) },
    { what: 'checkpoint', get: (r) => r.evaluation.checkpoint },
    { what: 'calibration bins', get: (r) => String(r.evaluation.bins) },
    { what: 'classes', get: (r) => r.evaluation.classes.join(',') },
    // Batch norm sees each slice of a data-parallel batch on its own, so the slice count changes the numbers.
    { what: 'data-parallel slices per batch', get: (r) => String(r.record.slices ?? 1) },
  ];
  for (const ch of checks) {
    const ref = ch.get(first);
    const differ = runs.filter((r) => ch.get(r) !== ref);
    if (differ.length) {
      const show = (r: ComparedRun) => (ch.what === 'evaluated cases' ? `${r.evaluation.cases.length} cases` : ch.get(r));
      warnings.push(`${ch.what} differ: ${runs.map((r) => `${r.label} ${show(r)}`).join(', ')}`);
    }
  }
  return warnings;
}

function lossOptions(r: ComparedRun): string {
  const o = r.record.loss.options;
  const keys = Object.keys(o);
  return keys.length ? keys.map((k) => `${k}=${JSON.stringify(o[k])}`).join(' ') : 'defaults';
}

// ---------- plain text ----------

/** The terminal table: metrics as rows, runs as columns, the best value of each metric marked with *. */
export function compareText(runs: ComparedRun[]): string {
  const headers = ['metric', ...runs.map((r) => r.label)];
  const rows: string[][] = [];
  for (const m of COMPARE_METRICS) {
    const values = runs.map((r) => m.get(r.evaluation));
    const best = bestIndices(values, m.better);
    rows.push([m.label, ...values.map((v, i) => `${fmtNum(v)}${best.has(i) ? '*' : ' '}`)]);
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  const out = [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  out.push('');
  out.push('* best value of the row (DSC, IoU: higher is better; the others: lower is better).');
  out.push(`Evaluated on the ${[...new Set(runs.map((r) => r.evaluation.split))].join('/')} split; calibration over all voxels, ${runs[0]?.evaluation.bins ?? 15} equal-width bins; T fitted on val.`);
  for (const r of runs) out.push(`  ${r.label}: ${r.record.id} (${r.runDir})`);
  const warnings = comparabilityWarnings(runs);
  for (const w of warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}

// ---------- markdown ----------

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

export function compareMarkdown(runs: ComparedRun[], createdAt = new Date().toISOString()): string {
  const out: string[] = [];
  out.push('# Run comparison');
  out.push('');
  out.push(`Generated by \`dscpp-lab compare\` on ${createdAt}. Best value per metric in **bold** (DSC and IoU: higher is better; all others: lower is better).`);
  out.push('');
  out.push('## Runs');
  out.push('');
  out.push('| label | run | experiment | loss options | seed | epochs (best) | split | cases | checkpoint |');
  out.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of runs) {
    const s = r.record.summary;
    out.push(`| ${mdEscape(r.label)} | \`${r.record.id}\` | ${mdEscape(r.record.experiment)} | ${mdEscape(lossOptions(r))} | ${r.record.seed} | ${s.epochsCompleted} (${s.bestEpoch ?? '—'}) | ${r.evaluation.split} | ${r.evaluation.numCases} | ${r.evaluation.checkpoint} |`);
  }
  const warnings = comparabilityWarnings(runs);
  if (warnings.length) {
    out.push('');
    for (const w of warnings) out.push(`> **Warning:** ${mdEscape(w)}`);
  }
  out.push('');
  out.push('## Metrics');
  out.push('');
  out.push(`| metric | ${runs.map((r) => mdEscape(r.label)).join(' | ')} |`);
  out.push(`|---|${runs.map(() => '---:').join('|')}|`);
  for (const m of COMPARE_METRICS) {
    const values = runs.map((r) => m.get(r.evaluation));
    const best = bestIndices(values, m.better);
    out.push(`| ${m.label} | ${values.map((v, i) => (best.has(i) ? `**${fmtNum(v)}**` : fmtNum(v))).join(' | ')} |`);
  }
  // Per-class DSC.
  const classes = runs[0]?.evaluation.classes ?? [];
  if (classes.length) {
    out.push('');
    out.push('## Per class (DSC / ECE one-vs-rest)');
    out.push('');
    out.push(`| class | ${runs.map((r) => mdEscape(r.label)).join(' | ')} |`);
    out.push(`|---|${runs.map(() => '---:').join('|')}|`);
    classes.forEach((name, ci) => {
      const cells = runs.map((r) => {
        const pc = r.evaluation.perClass.find((p) => p.index === ci);
        return pc ? `${fmtNum(pc.dsc)} / ${fmtNum(pc.ece)}` : '—';
      });
      out.push(`| ${mdEscape(name)} | ${cells.join(' | ')} |`);
    });
  }
  out.push('');
  out.push('## Definitions');
  out.push('');
  out.push(...DEFINITIONS.map((d) => `- ${d}`));
  out.push('');
  out.push('The reliability diagrams and threshold-sweep curves are in compare.html.');
  return out.join('\n') + '\n';
}

const DEFINITIONS = [
  'DSC, IoU: argmax prediction; per case and class, then the NaN-aware mean over cases (a case whose class is absent from both truth and prediction is left out), then the mean over the foreground classes.',
  'NLL: mean over voxels of −Σ_c y·log p (p clipped below at 1e-7).',
  'Brier: mean over voxels of Σ_c (y − p)² / C (normalised by the number of classes C).',
  'ECE / MCE: top-label (max probability against argmax correctness), equal-width bins, count-weighted mean / maximum of |accuracy − confidence|. ACE: the mean gap over equal-mass bins of the top-label confidence.',
  'T: one temperature fitted on the validation split by minimising NLL; "after T" is the evaluated split with p ∝ p^(1/T). Temperature scaling never changes the argmax, so DSC and IoU are unchanged.',
];

// ---------- HTML ----------

function h(s: string): string {
  return escapeXml(s);
}

const PAGE_CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto; max-width: 1200px; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; } h3 { font-size: 15px; margin: 8px 0; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; }
th { background: #f5f5f5; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: bold; background: #e8f4e8; }
tr.group td { background: #fafafa; font-style: italic; color: #555; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; vertical-align: middle; }
.warn { background: #fff4e5; border-left: 4px solid #f0a020; padding: 6px 10px; margin: 6px 0; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #e2e2e2; border-radius: 6px; padding: 8px; }
.muted { color: #666; font-size: 12px; }
code { font-size: 12px; }
`;

function metricTableHtml(runs: ComparedRun[]): string {
  const rows: string[] = [];
  let group = '';
  const groupTitle: Record<MetricRow['group'], string> = { overlap: 'overlap (argmax)', calibration: 'calibration', temperature: 'after temperature scaling (fit on val)' };
  for (const m of COMPARE_METRICS) {
    if (m.group !== group) {
      group = m.group;
      rows.push(`<tr class="group"><td colspan="${runs.length + 1}">${h(groupTitle[m.group])}</td></tr>`);
    }
    const values = runs.map((r) => m.get(r.evaluation));
    const best = bestIndices(values, m.better);
    rows.push(`<tr><th scope="row">${h(m.label)}</th>${values.map((v, i) => `<td class="num${best.has(i) ? ' best' : ''}">${fmtNum(v)}${best.has(i) ? ' ★' : ''}</td>`).join('')}</tr>`);
  }
  const head = `<tr><th>metric</th>${runs.map((r, i) => `<th><span class="swatch" style="background:${runColor(i)}"></span>${h(r.label)}</th>`).join('')}</tr>`;
  return `<table aria-label="metrics per run">${head}${rows.join('')}</table>`;
}

function runsTableHtml(runs: ComparedRun[]): string {
  const head = '<tr><th>label</th><th>run</th><th>experiment</th><th>loss options</th><th>seed</th><th>epochs (best)</th><th>split</th><th>cases</th><th>checkpoint</th><th>folder</th></tr>';
  const rows = runs.map((r, i) => {
    const s = r.record.summary;
    return `<tr><td><span class="swatch" style="background:${runColor(i)}"></span>${h(r.label)}</td><td><code>${h(r.record.id)}</code></td><td>${h(r.record.experiment)}</td><td>${h(lossOptions(r))}</td><td class="num">${r.record.seed}</td><td class="num">${s.epochsCompleted} (${s.bestEpoch ?? '—'})</td><td>${r.evaluation.split}</td><td class="num">${r.evaluation.numCases}</td><td>${r.evaluation.checkpoint}</td><td><code>${h(r.runDir)}</code></td></tr>`;
  });
  return `<table aria-label="runs">${head}${rows.join('')}</table>`;
}

function reliabilityHtml(runs: ComparedRun[]): string {
  const cards: string[] = [];
  runs.forEach((r, i) => {
    const ev = r.evaluation;
    const charts: string[] = [];
    charts.push(
      reliabilitySvg({
        title: `top-label · ECE ${fmtNum(ev.overall.ece)} → ${fmtNum(ev.temperature.after.ece)}`,
        bins: ev.reliability,
        after: ev.temperature.disabled ? undefined : ev.temperature.reliabilityAfter,
        color: runColor(i),
        label: `${r.label}: top-label reliability diagram, ECE ${fmtNum(ev.overall.ece)} before and ${fmtNum(ev.temperature.after.ece)} after temperature scaling`,
      }),
    );
    for (const pc of ev.perClass) {
      if (pc.index === 0) continue; // background: for a binary task it mirrors class 1
      charts.push(
        reliabilitySvg({
          title: `${pc.name} (one-vs-rest) · ECE ${fmtNum(pc.ece)}`,
          bins: pc.reliability,
          color: runColor(i),
          label: `${r.label}: reliability diagram of class ${pc.name} (one-vs-rest), ECE ${fmtNum(pc.ece)}`,
        }),
      );
    }
    cards.push(`<div class="card"><h3><span class="swatch" style="background:${runColor(i)}"></span>${h(r.label)} <span class="muted">${h(r.record.id)}</span></h3><div class="charts">${charts.join('')}</div></div>`);
  });
  return cards.join('');
}

function sweepHtml(runs: ComparedRun[]): string {
  const first = runs[0];
  if (!first) return '';
  const classIdx = [...new Set(runs.flatMap((r) => r.evaluation.thresholdSweep.map((s) => s.classIndex)))].sort((a, b) => a - b);
  const out: string[] = [];
  for (const ci of classIdx) {
    const name = runs.map((r) => r.evaluation.thresholdSweep.find((s) => s.classIndex === ci)?.className).find((n) => n) ?? `class ${ci}`;
    const dscSeries = runs.flatMap((r, i) => {
      const s = r.evaluation.thresholdSweep.find((x) => x.classIndex === ci);
      return s ? [{ name: r.label, color: runColor(i), points: sweepSeries(s.points, 'dsc') }] : [];
    });
    const prSeries = runs.flatMap((r, i) => {
      const s = r.evaluation.thresholdSweep.find((x) => x.classIndex === ci);
      if (!s) return [];
      const pts = s.points.filter((p) => p.precision !== null && p.recall !== null).map((p) => ({ x: p.recall as number, y: p.precision as number }));
      return [{ name: r.label, color: runColor(i), points: pts }];
    });
    out.push(
      `<div class="card"><h3>${h(name)}</h3><div class="charts">${curvesSvg({ title: `DSC against threshold · ${name}`, xTitle: `threshold on p(${name})`, yTitle: 'DSC', series: dscSeries, label: `DSC of class ${name} against the probability threshold, one line per run` })}${curvesSvg({ title: `precision–recall over thresholds · ${name}`, xTitle: 'recall', yTitle: 'precision', series: prSeries, label: `Precision against recall of class ${name} as the threshold varies, one line per run` })}</div></div>`,
    );
  }
  return out.join('');
}

export function compareHtml(runs: ComparedRun[], createdAt = new Date().toISOString()): string {
  const warnings = comparabilityWarnings(runs);
  const parts: string[] = [];
  parts.push('<!DOCTYPE html>');
  parts.push('<html lang="en"><head><meta charset="utf-8">');
  parts.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  parts.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
  parts.push(`<title>DSC++ Lab: comparison of ${runs.length} runs</title>`);
  parts.push(`<style>${PAGE_CSS}${SVG_CSS}</style></head><body>`);
  parts.push(`<h1>Comparison of ${runs.length} runs</h1>`);
  parts.push(`<p class="muted">Generated by <code>dscpp-lab compare</code> on ${h(createdAt)}. Self-contained: no scripts, no network.</p>`);
  for (const w of warnings) parts.push(`<p class="warn"><strong>Warning:</strong> ${h(w)}</p>`);
  parts.push('<h2>Runs</h2>');
  parts.push(runsTableHtml(runs));
  parts.push('<h2>Metrics</h2>');
  parts.push('<p class="muted">★ best value of the row (DSC and IoU: higher is better; all others: lower is better).</p>');
  parts.push(metricTableHtml(runs));
  parts.push('<h2>Reliability diagrams</h2>');
  parts.push('<p class="muted">Bars: observed accuracy per confidence bin before temperature scaling; red: the gap to the bin\'s mean confidence; black line: after temperature scaling; dashed diagonal: perfect calibration; strip: voxels per bin (log scale).</p>');
  parts.push(`<div class="charts">${reliabilityHtml(runs)}</div>`);
  parts.push('<h2>Threshold sweep</h2>');
  parts.push('<p class="muted">One-vs-rest: a voxel is predicted as the class when its probability is at least the threshold; counts pooled over all voxels of the evaluated split.</p>');
  parts.push(`<div class="charts">${sweepHtml(runs)}</div>`);
  parts.push('<h2>Definitions</h2>');
  parts.push(`<ul>${DEFINITIONS.map((d) => `<li>${h(d)}</li>`).join('')}</ul>`);
  parts.push('</body></html>');
  return parts.join('\n') + '\n';
}
