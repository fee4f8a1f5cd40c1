// The Experiments view's model, built from disk: config files, each with its runs read from the run
// folders (<runs root>/<experiment>/<run id>/run.json), overlaid with the runs this window hosts.
// No vscode import: unit-tested against real run folders.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseConfigText, runsRootFor, type ConfigDiagnostic } from '../../core/config';
import { listRuns } from '../../core/train/runs';
import type { RunRecord } from '../../protocol/training';
import { displayStatus, lossLabel, type DisplayStatus } from './format';
import type { RunJob } from './run-manager';
import { slurmInfoFromRecord, type SlurmRunInfo } from './slurm';

export interface ConfigInfo {
  configPath: string;
  /** The experiment name (read leniently from an invalid config when possible). */
  experiment: string | null;
  /** `output:` as written (default `runs`). */
  output: string;
  losses: { index: number; name: string; label: string }[];
  diagnostics: ConfigDiagnostic[];
  valid: boolean;
  /** 0-based line of the `name` key (where the CodeLens goes). */
  lensLine: number;
  /** The config declares a non-empty `sweep:` (Run Experiment queues one run per element). */
  hasSweep: boolean;
}

function lenientFields(text: string): { name: string | null; output: string | null } {
  try {
    const raw: unknown = parseYaml(text);
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
      const r = raw as Record<string, unknown>;
      return { name: typeof r.name === 'string' ? r.name : null, output: typeof r.output === 'string' ? r.output : null };
    }
  } catch {
    /* not even YAML */
  }
  return { name: null, output: null };
}

/** The 0-based line of the top-level `name` key (YAML or JSON), or 0. */
export function lensLine(text: string): number {
  const lines = text.split(/\r?\n/);
  const i = lines.findIndex((l) => /^name\s*:/.test(l) || /^\s*"name"\s*:/.test(l));
  return i >= 0 ? i : 0;
}

/** Reads and validates a config (from `text` when given, e.g. an unsaved editor, else from disk). */
export function readConfigInfo(configPath: string, text?: string): ConfigInfo {
  const file = resolve(configPath);
  let src = text;
  if (src === undefined) {
    try {
      src = readFileSync(file, 'utf8');
    } catch (e) {
      const message = `cannot read config: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`;
      return { configPath: file, experiment: null, output: 'runs', losses: [], diagnostics: [{ file, line: 1, column: 1, endLine: 1, endColumn: 1, path: '', message, severity: 'error' }], valid: false, lensLine: 0, hasSweep: false };
    }
  }
  const { config, diagnostics } = parseConfigText(src, file, { checkPaths: true });
  if (config) {
    return {
      configPath: file,
      experiment: config.name,
      output: config.output,
      losses: config.losses.map((l, index) => {
        const { name, ...options } = l;
        return { index, name, label: lossLabel({ name, options }) };
      }),
      diagnostics,
      valid: true,
      lensLine: lensLine(src),
      hasSweep: config.sweep !== undefined && Object.keys(config.sweep).length > 0,
    };
  }
  const lenient = lenientFields(src);
  return { configPath: file, experiment: lenient.name, output: lenient.output ?? 'runs', losses: [], diagnostics, valid: false, lensLine: lensLine(src), hasSweep: false };
}

/** <runs root>/<experiment>: where this config's runs live (null when the name is unknown). */
export function experimentRunsDir(info: ConfigInfo, runsRootOverride?: string): string | null {
  if (!info.experiment) return null;
  return join(runsRootFor({ output: info.output }, info.configPath, runsRootOverride || undefined), info.experiment);
}

export interface RunEntry {
  dir: string;
  record: RunRecord;
  status: DisplayStatus;
  /** The job of this window that runs (or resumes) it. */
  job: RunJob | null;
  /** The Slurm job of a Slurm run (the tracker's view, else its run.json); null for local runs. */
  slurm: SlurmRunInfo | null;
}

export interface ConfigEntry {
  info: ConfigInfo;
  runsDir: string | null;
  runs: RunEntry[];
  /** Jobs of this config that have no run folder yet (queued or starting). */
  pending: RunJob[];
}

function statusOfJob(job: RunJob): DisplayStatus | null {
  switch (job.state) {
    case 'queued':
      return 'queued';
    case 'starting':
    case 'running':
    case 'stopping':
      return 'running';
    default:
      return null;
  }
}

/**
 * The config's runs (newest first) with their shown status, and its pending jobs. `slurm` (run folder →
 * Slurm job, from the tracker) gives Slurm runs their reconciled status; a Slurm run the tracker has not
 * seen yet shows its run.json status (never "interrupted": its process runs on another host).
 */
export function buildConfigEntry(info: ConfigInfo, runsRootOverride: string | undefined, activeJobs: readonly RunJob[], slurm?: ReadonlyMap<string, SlurmRunInfo>): ConfigEntry {
  const runsDir = experimentRunsDir(info, runsRootOverride);
  const mine = activeJobs.filter((j) => resolve(j.request.configPath) === info.configPath || (j.runDir !== null && runsDir !== null && resolve(j.runDir, '..') === runsDir));
  const runs: RunEntry[] = [];
  if (runsDir) {
    for (const l of listRuns(runsDir)) {
      const owner = resolve(l.record.configPath || '');
      // Two configs may share an experiment folder: a run belongs to the config that made it (or to
      // every config when that file is gone, e.g. a moved workspace).
      if (l.record.configPath && owner !== info.configPath && existsSync(owner)) continue;
      const job = mine.find((j) => j.runDir === l.dir) ?? null;
      const sl = slurm?.get(l.dir) ?? slurmInfoFromRecord(l.record);
      const status = (job && statusOfJob(job)) ?? (sl ? sl.status : displayStatus(l.record.status, l.stale));
      runs.push({ dir: l.dir, record: l.record, status, job, slurm: sl });
    }
  }
  const shown = new Set(runs.map((r) => r.dir));
  const pending = mine.filter((j) => j.runDir === null || !shown.has(j.runDir));
  return { info, runsDir, runs, pending };
}

/** The newest run of a config (what "Open last run" opens). */
export function lastRun(entry: ConfigEntry): RunEntry | null {
  return entry.runs[0] ?? null;
}

/** The run's label in the tree: its loss as configured (and, for a sweep, the values this run sets). */
export function runLabel(r: RunRecord): string {
  const sweep = r.sweep ? Object.entries(r.sweep.params).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`) : [];
  return sweep.length ? `${lossLabel(r.loss)} · ${sweep.join(' ')}` : lossLabel(r.loss);
}

/** The label of a config in the tree: the file name. */
export function configLabel(info: ConfigInfo): string {
  return basename(info.configPath);
}

/** A short description of a config: experiment name, or its problem count. */
export function configDescription(info: ConfigInfo): string {
  const errors = info.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors) return `${errors} problem${errors === 1 ? '' : 's'}${info.experiment ? ` · ${info.experiment}` : ''}`;
  return info.experiment ?? '';
}
