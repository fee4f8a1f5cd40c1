// Run folders: runs/<experiment>/<run-id>/ with run.json, metrics.jsonl, log.txt, checkpoints/,
// predictions/ and (after evaluation) evaluation.json. A folder is never overwritten: run ids are
// unique and the folder is created exclusively.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { MetricsRecord, RunRecord } from '../../protocol/training';
import { writeJsonAtomic } from '../util/fsx';

export const RUN_FILES = {
  record: 'run.json',
  metrics: 'metrics.jsonl',
  log: 'log.txt',
  checkpoints: 'checkpoints',
  predictions: 'predictions',
  evaluation: 'evaluation.json',
  threshold: 'threshold.json',
} as const;

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Sortable run id: 20261126-214530-dscpp-3f9a (UTC time, loss name, random suffix). */
export function makeRunId(lossName: string, now = new Date()): string {
  const t = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  const slug = lossName.replace(/\+/g, 'pp').replace(/[^A-Za-z0-9_-]/g, '-');
  const rand = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0');
  return `${t}-${slug}-${rand}`;
}

/** Creates a new, empty run folder under <runsRoot>/<experiment>/ and returns its id and path. */
export function createRunFolder(runsRoot: string, experiment: string, lossName: string): { id: string; dir: string } {
  const expDir = join(resolve(runsRoot), experiment);
  mkdirSync(expDir, { recursive: true });
  for (let attempt = 0; attempt < 100; attempt++) {
    const id = makeRunId(lossName);
    const dir = join(expDir, id);
    try {
      mkdirSync(dir); // not recursive: fails with EEXIST instead of reusing a folder
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    mkdirSync(join(dir, RUN_FILES.checkpoints));
    mkdirSync(join(dir, RUN_FILES.predictions));
    return { id, dir };
  }
  throw new Error(`could not create a unique run folder under ${expDir}`);
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  writeJsonAtomic(join(dir, RUN_FILES.record), record);
}

export class RunFolderError extends Error {}

export function readRunRecord(dir: string): RunRecord {
  const f = join(dir, RUN_FILES.record);
  let text: string;
  try {
    text = readFileSync(f, 'utf8');
  } catch {
    throw new RunFolderError(`${f}: not a run folder (run.json not found)`);
  }
  try {
    const r = JSON.parse(text) as RunRecord;
    if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || typeof r.status !== 'string') throw new Error('missing id or status');
    return r;
  } catch (e) {
    throw new RunFolderError(`${f}: unreadable run record (${(e as Error).message})`);
  }
}

/** Reads metrics.jsonl, tolerating a partial last line (a run killed mid-write). */
export function readMetrics(dir: string): MetricsRecord[] {
  const f = join(dir, RUN_FILES.metrics);
  if (!existsSync(f)) return [];
  const out: MetricsRecord[] = [];
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as MetricsRecord);
    } catch {
      /* a torn last line from a killed process */
    }
  }
  return out;
}

/** Epoch records in order, keeping the last record of an epoch that was repeated after a resume. */
export function epochRecords(metrics: MetricsRecord[]): Extract<MetricsRecord, { kind: 'epoch' }>[] {
  const byEpoch = new Map<number, Extract<MetricsRecord, { kind: 'epoch' }>>();
  for (const m of metrics) if (m.kind === 'epoch') byEpoch.set(m.epoch, m);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

export function appendLog(dir: string, line: string): void {
  appendFileSync(join(dir, RUN_FILES.log), line.endsWith('\n') ? line : line + '\n');
}

/** Whether a process with this pid exists (on this host). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A run that says 'running' but whose process is gone (on this host), or silent for `silentMs`. */
export function isRunStale(r: RunRecord, silentMs = 10 * 60_000): boolean {
  if (r.status !== 'running') return false;
  if (r.executor && r.executor.kind === 'slurm') return false;
  if (r.host === hostname() && r.pid !== null) return !pidAlive(r.pid);
  return Date.now() - Date.parse(r.updatedAt) > silentMs;
}

export interface RunListing {
  dir: string;
  record: RunRecord;
  stale: boolean;
}

/**
 * Lists runs under a runs root (<root>/<experiment>/<run>) or under one experiment folder
 * (<dir>/<run>), newest first. Unreadable folders are skipped.
 */
export function listRuns(dir: string): RunListing[] {
  const root = resolve(dir);
  if (!existsSync(root)) return [];
  const out: RunListing[] = [];
  const visit = (d: string, depth: number) => {
    if (existsSync(join(d, RUN_FILES.record))) {
      try {
        const record = readRunRecord(d);
        out.push({ dir: d, record, stale: isRunStale(record) });
      } catch {
        /* skip */
      }
      return;
    }
    if (depth >= 2) return;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const p = join(d, n);
      try {
        if (statSync(p).isDirectory()) visit(p, depth + 1);
      } catch {
        /* vanished */
      }
    }
  };
  visit(root, 0);
  out.sort((a, b) => (a.record.id < b.record.id ? 1 : a.record.id > b.record.id ? -1 : 0));
  return out;
}

export function newRunRecord(init: Pick<RunRecord, 'id' | 'experiment' | 'configPath' | 'loss' | 'lossIndex' | 'seed' | 'config' | 'totalEpochs'>): RunRecord {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1,
    ...init,
    status: 'running',
    backend: null,
    versions: {},
    createdAt: now,
    startedAt: now,
    endedAt: null,
    updatedAt: now,
    pid: process.pid,
    host: hostname(),
    stepsPerEpoch: 0,
    summary: { epochsCompleted: 0, bestEpoch: null, best: null, last: null, durationMs: 0 },
    error: null,
    resumedFrom: [],
    executor: { kind: 'local' },
  };
}
