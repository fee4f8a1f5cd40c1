// How Slurm runs are shown in VS Code: the executor setting, a run's Slurm job (from the tracker's
// snapshot, else from its run.json), tree descriptions and tooltips, the status bar text, errors in
// plain words and the summary of a cancel. Pure functions (no vscode import), unit-tested.
import type { CancelOutcome, TrackerSnapshot } from '../../core/executors';
import type { RunRecord, RunStatus } from '../../protocol/training';

export const EXECUTOR_VALUES = ['local', 'slurm'] as const;
export type ExecutorSetting = (typeof EXECUTOR_VALUES)[number];

/** The `dscpp.executor` setting; anything unknown is `local`. */
export function parseExecutor(value: unknown): ExecutorSetting {
  return value === 'slurm' ? 'slurm' : 'local';
}

/** A run's Slurm job as the Experiments view shows it. */
export interface SlurmRunInfo {
  /** '123' or '123_4' (array task). */
  jobId: string;
  /** Slurm's state (PENDING, RUNNING, …), null when squeue did not list the task (ended, or not polled yet). */
  state: string | null;
  reason: string | null;
  node: string | null;
  cluster: string | null;
  outputFile: string | null;
  /** The run's status with Slurm's view reconciled in. */
  status: RunStatus;
}

function taskId(jobId: string, arrayTaskId: number | null | undefined): string {
  return arrayTaskId === null || arrayTaskId === undefined ? jobId : `${jobId}_${arrayTaskId}`;
}

/** The Slurm job a run.json names (before the tracker has polled), or null for a local run. */
export function slurmInfoFromRecord(r: RunRecord): SlurmRunInfo | null {
  const ex = r.executor;
  if (!ex || ex.kind !== 'slurm') return null;
  return { jobId: ex.jobId ? taskId(ex.jobId, ex.arrayTaskId) : '', state: null, reason: null, node: null, cluster: ex.cluster ?? null, outputFile: ex.outputFile ?? null, status: r.status };
}

/** Run folder → Slurm job, for the Slurm runs of a tracker snapshot. */
export function slurmRunsOf(snap: TrackerSnapshot | null): Map<string, SlurmRunInfo> {
  const out = new Map<string, SlurmRunInfo>();
  for (const r of snap?.runs ?? []) {
    if (!r.slurm) continue;
    out.set(r.dir, { jobId: r.slurm.id || (r.slurm.jobId ? taskId(r.slurm.jobId, r.slurm.arrayTaskId) : ''), state: r.slurm.state, reason: r.slurm.reason, node: r.slurm.node, cluster: r.slurm.cluster, outputFile: r.slurm.outputFile, status: r.status });
  }
  return out;
}

/** "PENDING (Priority)", "RUNNING on node1"; '' when Slurm did not list the task. */
export function slurmStateText(s: SlurmRunInfo): string {
  if (!s.state) return '';
  const reason = s.reason && s.reason !== 'None' && s.reason !== '(null)' ? ` (${s.reason})` : '';
  const node = s.node && s.state === 'RUNNING' ? ` on ${s.node}` : '';
  return `${s.state}${node}${reason}`;
}

/** The tree description of a Slurm run: its job id and Slurm state before the usual description. */
export function slurmDescription(s: SlurmRunInfo, base: string): string {
  const parts = [s.jobId ? `job ${s.jobId}` : 'job not submitted yet', slurmStateText(s), base].filter(Boolean);
  return parts.join(' · ');
}

/** Tooltip lines of a Slurm run. */
export function slurmTooltipLines(s: SlurmRunInfo): string[] {
  const lines = [`Slurm job: ${s.jobId || 'not submitted yet'}${s.cluster ? ` on cluster ${s.cluster}` : ''}`];
  const state = slurmStateText(s);
  lines.push(`Slurm state: ${state || (s.status === 'queued' || s.status === 'running' ? 'not listed by squeue yet' : 'ended (no longer listed by squeue)')}`);
  if (s.outputFile) lines.push(`Slurm output: ${s.outputFile}`);
  return lines;
}

/** The status bar item for Slurm: the snapshot's status line, or null (hidden) when nothing is queued or running. */
export function slurmStatusBar(snap: TrackerSnapshot | null): { text: string; tooltip: string; warning: boolean } | null {
  if (!snap || !snap.statusLine) return null;
  const tip = [`DSC++ Slurm runs: ${snap.statusLine}`];
  const jobs = [...new Set(snap.runs.filter((r) => r.slurm && (r.status === 'queued' || r.status === 'running')).map((r) => r.slurm?.jobId ?? ''))].filter(Boolean);
  if (jobs.length) tip.push(`Job${jobs.length === 1 ? '' : 's'}: ${jobs.join(', ')}`);
  const warning = snap.slurmAnswered === false;
  if (warning) tip.push(`squeue did not answer, the states may be out of date: ${snap.error ?? 'unknown error'}`);
  tip.push('Click to show the Experiments view.');
  return { text: `$(${warning ? 'warning' : 'server-process'}) ${snap.statusLine}`, tooltip: tip.join('\n'), warning };
}

/** A submit / cancel error in plain words (a missing Slurm command becomes "Slurm is not available on this host"). */
export function slurmErrorText(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const missing = /(?:^|\s)(\w+): command not found/.exec(message);
  if (missing) return `Slurm is not available on this host: ${missing[1]} not found. Put Slurm's client commands on the PATH, or set dscpp.executor to "local".`;
  const controller = /Unable to contact slurm controller[^\n]*/i.exec(message);
  if (controller) return `Slurm is not available on this host: the Slurm controller does not answer (${controller[0].trim()}). Check that slurmctld is running, or set dscpp.executor to "local".`;
  const timeout = /(\w+) did not answer within (\d+) s/m.exec(message);
  if (timeout) return `Slurm did not answer: ${timeout[1]} gave no reply within ${timeout[2]} s (is slurmctld running?).`;
  return message;
}

/** One line about a finished cancel: "cancelled 2 runs; 1 had already ended (r1: already completed)". */
export function cancelSummary(outcomes: readonly CancelOutcome[]): string {
  const done = outcomes.filter((o) => o.result === 'cancelled');
  const ended = outcomes.filter((o) => o.result === 'already-finished');
  const parts: string[] = [];
  if (done.length) parts.push(`cancelled ${done.length === 1 ? `run ${done[0]?.runId}` : `${done.length} runs`}`);
  if (ended.length) parts.push(`${ended.length === 1 ? `${ended[0]?.runId} had` : `${ended.length} runs had`} already ended (${ended.map((o) => `${o.runId}: ${o.detail}`).join('; ')})`);
  return parts.join('; ') || 'nothing to cancel';
}
