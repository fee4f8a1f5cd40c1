#!/usr/bin/env node
// The reproduction tables of docs/reproduction.md from run folders: each plain loss next to its "++"
// version (dice ↔ dscpp, tversky ↔ tversky++, ...), on the evaluated split, with the better value of each
// pair in bold and per-image counts of where the "++" run is better.
//   node scripts/paper-table.mjs <experiment runs folder> [...]
// e.g. node scripts/paper-table.mjs runs-paper/bbbc039-paper
// Reads run.json and evaluation.json of every completed run in the folder; with several runs of the same
// loss and options, the newest is used.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const PARTNER = { dice: 'dscpp', dscpp: 'dice' };
const partnerOf = (name) => PARTNER[name] ?? (name.endsWith('++') ? name.slice(0, -2) : `${name}++`);
const isPlus = (name) => name === 'dscpp' || name.endsWith('++');

function fail(msg) {
  console.error(`paper-table: ${msg}`);
  process.exit(2);
}

function readRuns(folder) {
  if (!existsSync(folder)) fail(`${folder}: folder not found`);
  const byKey = new Map();
  for (const id of readdirSync(folder).sort()) {
    const dir = join(folder, id);
    if (!existsSync(join(dir, 'run.json')) || !existsSync(join(dir, 'evaluation.json'))) continue;
    const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    if (run.status !== 'completed') continue;
    const ev = JSON.parse(readFileSync(join(dir, 'evaluation.json'), 'utf8'));
    const opts = Object.entries(run.loss.options ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
    byKey.set(`${run.loss.name} ${opts}`, { run, ev, name: run.loss.name, label: opts ? `${run.loss.name} (${opts})` : run.loss.name });
  }
  if (byKey.size === 0) fail(`${folder}: no completed, evaluated runs`);
  return [...byKey.values()];
}

const f4 = (v) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(4));
const METRICS = [
  { key: 'DSC ↑', get: (r) => r.ev.overall.dsc, better: 'max' },
  { key: 'NLL ↓', get: (r) => r.ev.overall.nll, better: 'min' },
  { key: 'Brier ↓', get: (r) => r.ev.overall.brier, better: 'min' },
  { key: 'ECE ↓', get: (r) => r.ev.overall.ece, better: 'min' },
];

function table(runs) {
  const byName = new Map(runs.map((r) => [r.name, r]));
  const lines = [`| loss | ${METRICS.map((m) => m.key).join(' | ')} | T | NLL after T | best epoch | time |`, `|---|${METRICS.map(() => '---:').join('|')}|---:|---:|---:|---:|`];
  for (const r of runs) {
    const p = byName.get(partnerOf(r.name));
    const cells = METRICS.map((m) => {
      const v = m.get(r);
      const w = p ? m.get(p) : undefined;
      const wins = p && v !== null && w !== null && f4(v) !== f4(w) && (m.better === 'max' ? v > w : v < w);
      return wins ? `**${f4(v)}**` : f4(v);
    });
    const s = r.run.summary;
    lines.push(`| ${r.label} | ${cells.join(' | ')} | ${r.ev.temperature.temperature.toFixed(2)} | ${f4(r.ev.temperature.after.nll)} | ${s.bestEpoch}/${s.epochsCompleted} | ${Math.round(s.durationMs / 1000)} s |`);
  }
  return lines.join('\n');
}

function perImage(runs) {
  const out = [];
  for (const r of runs.filter((x) => isPlus(x.name))) {
    const p = runs.find((x) => x.name === partnerOf(r.name));
    if (!p) continue;
    const base = new Map(p.ev.cases.map((c) => [c.id, c]));
    const n = r.ev.cases.filter((c) => base.has(c.id)).length;
    const count = (key, better) => r.ev.cases.filter((c) => base.has(c.id) && c[key] !== null && base.get(c.id)[key] !== null && (better === 'max' ? c[key] > base.get(c.id)[key] : c[key] < base.get(c.id)[key])).length;
    out.push(`| ${r.name} vs ${p.name} | ${count('nll', 'min')} / ${n} | ${count('brier', 'min')} / ${n} | ${count('dsc', 'max')} / ${n} |`);
  }
  return out.length ? ['| pair | ++ lower NLL | ++ lower Brier | ++ higher DSC |', '|---|---:|---:|---:|', ...out].join('\n') : '';
}

const folders = process.argv.slice(2);
if (folders.length === 0) fail('usage: node scripts/paper-table.mjs <experiment runs folder> [...]');
for (const folder of folders) {
  const runs = readRuns(folder);
  const ev = runs[0].ev;
  console.log(`### ${folder}\n\n${runs[0].run.experiment}: ${ev.split} split, ${ev.numCases} images; bold: the better of each plain / "++" pair.\n`);
  console.log(table(runs));
  const pi = perImage(runs);
  if (pi) console.log(`\nPer test image:\n\n${pi}`);
  console.log('');
}
