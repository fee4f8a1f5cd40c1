// Pure Slurm bookkeeping: parsing squeue output, mapping Slurm job states to run states, and deciding
// what a run's state is from its run.json and what Slurm says. Without slurmdbd there is no sacct:
// `squeue --states=all` reports pending and running jobs and, for MinJobAge seconds (300 by default),
// ended ones; after that only the run folder knows.
import type { RunRecord, RunStatus } from '../../protocol/training';

/** The squeue format the tracker asks for: array job id, task id, job id, state, reason, nodes, end time. */
export const SQUEUE_FORMAT = '%F|%K|%A|%T|%r|%N|%e';

export interface SlurmTask {
  /** The array job id (the job id for a job that is not an array). */
  jobId: string;
  /** Array task id; null for a job that is not an array. */
  taskId: number | null;
  /** This task's own job id. */
  taskJobId: string;
  /** Slurm's state name, e.g. PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT. */
  state: string;
  /** Pending or end reason, e.g. Priority, JobArrayTaskLimit, NonZeroExitCode; null for None. */
  reason: string | null;
  /** Nodes (running or ended jobs); null when none yet. */
  node: string | null;
  /** End time (or expected end) as Slurm prints it (local time, no zone); null when unknown. */
  endTime: string | null;
}

/** Key of a task: `123_4`, or `123` for a job that is not an array. */
export function taskKey(jobId: string, taskId: number | null | undefined): string {
  return taskId === null || taskId === undefined ? jobId : `${jobId}_${taskId}`;
}

/** Parses `squeue -h -r -o SQUEUE_FORMAT` output. Lines that do not fit the format are ignored. */
export function parseSqueue(text: string): SlurmTask[] {
  const out: SlurmTask[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split('|');
    if (f.length < 7) continue;
    const [jobId, task, taskJobId, state, reason, node, end] = f as [string, string, string, string, string, string, string];
    if (!/^\d+$/.test(jobId)) continue;
    const taskId = /^\d+$/.test(task) ? Number(task) : null;
    const clean = (v: string) => (v === '' || v === 'None' || v === 'N/A' || v === '(null)' || v === 'Unknown' || v === 'NONE' ? null : v);
    out.push({ jobId, taskId, taskJobId, state: state.split(/[\s+]/)[0] ?? state, reason: clean(reason), node: clean(node), endTime: clean(end) });
  }
  return out;
}

/** What a Slurm job state means for a run. */
export type SlurmPhase = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'timeout';

/** Maps a Slurm job state (as squeue %T or scontrol JobState= print it) to a phase. Unknown states count as running. */
export function slurmPhase(state: string): SlurmPhase {
  switch (state.toUpperCase().split(/[\s+]/)[0]) {
    case 'PENDING':
    case 'PD':
    case 'CONFIGURING':
    case 'CF':
    case 'REQUEUED':
    case 'RQ':
    case 'REQUEUE_HOLD':
    case 'REQUEUE_FED':
    case 'RESV_DEL_HOLD':
      return 'queued';
    case 'COMPLETED':
    case 'CD':
      return 'completed';
    case 'CANCELLED':
    case 'CA':
    case 'REVOKED':
    case 'RV':
      return 'cancelled';
    case 'TIMEOUT':
    case 'TO':
    case 'DEADLINE':
    case 'DL':
      return 'timeout';
    case 'FAILED':
    case 'F':
    case 'NODE_FAIL':
    case 'NF':
    case 'BOOT_FAIL':
    case 'BF':
    case 'OUT_OF_MEMORY':
    case 'OOM':
    case 'PREEMPTED':
    case 'PR':
    case 'SPECIAL_EXIT':
    case 'SE':
      return 'failed';
    default:
      // RUNNING, COMPLETING, SUSPENDED, STOPPED, SIGNALING, STAGE_OUT, RESIZING...
      return 'running';
  }
}

/** True when Slurm no longer runs anything of the task (its processes are gone). */
export function slurmEnded(state: string): boolean {
  const p = slurmPhase(state);
  return p === 'completed' || p === 'failed' || p === 'cancelled' || p === 'timeout';
}

/** Parses Slurm's local, zone-less timestamp (2026-11-26T23:00:12) as local time; NaN when unknown. */
export function parseSlurmTime(t: string | null): number {
  if (!t) return NaN;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(t);
  if (!m) return NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(y, mo - 1, d, h, mi, s).getTime();
}

const TERMINAL: ReadonlySet<RunStatus> = new Set<RunStatus>(['completed', 'failed', 'cancelled', 'timeout']);

export function isTerminal(s: RunStatus): boolean {
  return TERMINAL.has(s);
}

export interface SlurmView {
  /** The run's state to show. */
  status: RunStatus;
  /**
   * A change to persist in run.json (the run folder outlives Slurm's memory of the job): set when Slurm
   * reports an end the run folder does not show yet.
   */
  persist: { status: 'failed' | 'cancelled' | 'timeout'; error: RunRecord['error'] } | null;
  /** True when the failure needs the tail of the Slurm output file in its error. */
  wantsTail: boolean;
}

export interface ReconcileInput {
  record: Pick<RunRecord, 'status' | 'executor'>;
  /** This run's task as squeue reports it; undefined when squeue does not list it. */
  task: SlurmTask | undefined;
  /** False when squeue could not be asked (then only the run folder speaks). */
  slurmAnswered: boolean;
  nowMs: number;
  /**
   * How long after the job's end the run folder may still lag (a shared filesystem's attribute cache,
   * the trainer's last write) before Slurm's word wins.
   */
  graceMs: number;
}

/**
 * The state of a Slurm run. The run folder wins when it shows an end (completed, failed, cancelled,
 * timeout); a `stopped` run whose job Slurm reports cancelled or timed out is that (the trainer stops
 * cooperatively on the SIGTERM of scancel and of the time limit). A run still queued or running whose
 * job ended is failed, with the tail of the output file.
 */
export function reconcileSlurmRun(i: ReconcileInput): SlurmView {
  const { record, task } = i;
  const none: SlurmView = { status: record.status, persist: null, wantsTail: false };
  if (isTerminal(record.status)) return none;
  const ex = record.executor;
  if (!ex || ex.kind !== 'slurm') return none;
  if (!ex.jobId) return { ...none, status: record.status === 'stopped' ? 'stopped' : 'queued' }; // being submitted
  if (!i.slurmAnswered) return none;
  const id = taskKey(ex.jobId, ex.arrayTaskId);
  if (!task) {
    if (record.status === 'stopped') return none;
    return {
      status: 'failed',
      persist: { status: 'failed', error: { message: `Slurm job ${id} ended without finishing the run (Slurm no longer knows the job; run.json still says ${record.status})` } },
      wantsTail: true,
    };
  }
  const phase = slurmPhase(task.state);
  if (phase === 'queued') return { ...none, status: record.status === 'stopped' ? 'stopped' : 'queued' };
  if (phase === 'running') return { ...none, status: record.status === 'stopped' ? 'stopped' : 'running' };
  // Slurm says the task ended. Give the run folder time to catch up.
  const end = parseSlurmTime(task.endTime);
  const settled = !Number.isFinite(end) || i.nowMs - end >= i.graceMs;
  const reason = task.reason ? ` (${task.reason})` : '';
  if (phase === 'cancelled' || phase === 'timeout') {
    if (!settled) return { ...none, status: phase };
    const message = phase === 'cancelled' ? `Slurm job ${id} was cancelled` : `Slurm job ${id} reached its time limit${reason}`;
    return { status: phase, persist: { status: phase, error: record.status === 'stopped' && phase === 'cancelled' ? null : { message } }, wantsTail: phase === 'timeout' };
  }
  if (record.status === 'stopped') return none;
  if (!settled) return { ...none, status: 'running' };
  const what = phase === 'completed' ? 'exited with status 0' : `${task.state}${reason}`;
  return { status: 'failed', persist: { status: 'failed', error: { message: `Slurm job ${id} ${what} without finishing the run (run.json still says ${record.status})` } }, wantsTail: true };
}
