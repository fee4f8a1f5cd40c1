// Tracking runs, local and Slurm, from their run folders and from squeue. No vscode here: the CLI's
// `status` and the extension's Experiments view both use SlurmTracker.
//
//   const tracker = new SlurmTracker({ roots: ['/shared/runs'] });
//   const snap = await tracker.poll();             // one look: run states, counts, the status line
//   const w = tracker.watch((snap) => ..., (err) => ...);  // polls with a bounded, backing-off interval
//   w.dispose();
//
// A poll reads every run.json under the roots, asks squeue once about the jobs of runs that are not
// finished, and writes back what Slurm knows and the run folder does not (a job that failed, was
// cancelled or timed out without its trainer recording it), so that the run folder stays the source
// of truth after Slurm forgets the job.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { RunRecord, RunStatus } from '../../protocol/training';
import { listRuns, readRunRecord, writeRunRecord } from '../train/runs';
import { SlurmClient } from './slurm';
import { isTerminal, reconcileSlurmRun, taskKey, type SlurmTask } from './slurm-state';

/** The last `maxLines` lines of a text file (reading at most its last `maxBytes`); '' when unreadable. */
export function tailFile(path: string, maxLines = 40, maxBytes = 64 * 1024): string {
  let fd: number | null = null;
  try {
    const size = statSync(path).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    fd = openSync(path, 'r');
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n');
    if (len < size) lines.shift(); // a partial first line
    while (lines.length && lines[lines.length - 1]?.trim() === '') lines.pop();
    return lines.slice(-maxLines).join('\n');
  } catch {
    return '';
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** The line of a task's output that best says why it failed: the last error-looking line, else the last line. */
export function failureLine(tail: string): string | null {
  const lines = tail.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = [...lines].reverse().find((l) => /error|failed|not found|cannot|killed|denied|exceeded|oom|signal|cancelled|no such/i.test(l) && !/^\s*at /.test(l));
  return err ?? lines[lines.length - 1] ?? null;
}

export interface TrackedRun {
  dir: string;
  record: RunRecord;
  /** The state to show (Slurm's word for runs the run folder does not show finished). */
  status: RunStatus;
  /** A local run marked running whose process is gone. */
  stale: boolean;
  /** Slurm's view of the run's task; null for local runs. */
  slurm: { id: string; jobId: string; arrayTaskId: number | null; state: string | null; reason: string | null; node: string | null; cluster: string | null; outputFile: string | null } | null;
}

export type StatusCounts = Record<RunStatus, number>;

export interface TrackerSnapshot {
  at: string;
  runs: TrackedRun[];
  /** Counts over all runs (stale local runs count as stopped). */
  counts: StatusCounts;
  /** Counts over Slurm runs only. */
  slurmCounts: StatusCounts;
  /** Cluster names of the Slurm runs. */
  clusters: string[];
  /** False when squeue could not be asked (`error` says why); null when no run needed asking. */
  slurmAnswered: boolean | null;
  error: string | null;
  /** 'n queued / m running on <cluster>' for the Slurm runs; '' when there are none queued or running. */
  statusLine: string;
  /** True when some run's state differs from the previous poll. */
  changed: boolean;
  /** Run folders whose run.json this poll updated (with Slurm's end state). */
  persisted: string[];
}

export function emptyCounts(): StatusCounts {
  return { queued: 0, running: 0, completed: 0, failed: 0, stopped: 0, cancelled: 0, timeout: 0 };
}

/** '2 queued / 1 running on cluster-a'; '' when nothing is queued or running. */
export function slurmStatusLine(counts: StatusCounts, clusters: readonly string[]): string {
  if (!counts.queued && !counts.running) return '';
  const where = clusters.length ? clusters.join(', ') : 'Slurm';
  return `${counts.queued} queued / ${counts.running} running on ${where}`;
}

/**
 * Poll intervals that start at `minMs`, grow by `factor` while nothing changes and are capped at
 * `maxMs`; a change starts over at `minMs`. Bounds are clamped to [500 ms, 10 min].
 */
export class PollSchedule {
  readonly minMs: number;
  readonly maxMs: number;
  private current: number;
  constructor(minMs = 2000, maxMs = 60_000, private readonly factor = 1.5) {
    const clamp = (v: number) => Math.min(600_000, Math.max(500, Math.round(v)));
    this.minMs = clamp(minMs);
    this.maxMs = Math.max(this.minMs, clamp(maxMs));
    this.current = this.minMs;
  }
  /** The delay before the next poll, given whether the last poll saw a change and whether anything is active. */
  next(changed: boolean, active: boolean): number {
    if (!active) this.current = this.maxMs;
    else if (changed) this.current = this.minMs;
    else this.current = Math.min(this.maxMs, Math.round(this.current * this.factor));
    return this.current;
  }
}

export interface TrackerOptions {
  /** Runs roots, experiment folders or run folders to track. */
  roots: string[];
  client?: SlurmClient;
  /** How long after a job's end a stale run folder is tolerated (shared filesystem lag). Default 15 s. */
  graceMs?: number;
  minIntervalMs?: number;
  maxIntervalMs?: number;
  /** Write Slurm's end states into run.json (default true). */
  persist?: boolean;
}

export class SlurmTracker {
  private readonly client: SlurmClient;
  private readonly schedule: PollSchedule;
  private last = new Map<string, string>();
  private lastSnapshot: TrackerSnapshot | null = null;

  constructor(private readonly opts: TrackerOptions) {
    this.client = opts.client ?? new SlurmClient();
    this.schedule = new PollSchedule(opts.minIntervalMs, opts.maxIntervalMs);
  }

  get snapshot(): TrackerSnapshot | null {
    return this.lastSnapshot;
  }

  async poll(): Promise<TrackerSnapshot> {
    const listings = this.opts.roots.flatMap((r) => listRuns(r));
    const seen = new Set<string>();
    const runs = listings.filter((l) => (seen.has(l.dir) ? false : (seen.add(l.dir), true)));
    const needSlurm = runs.filter((r) => r.record.executor?.kind === 'slurm' && !isTerminal(r.record.status));
    const jobIds = [...new Set(needSlurm.map((r) => (r.record.executor?.kind === 'slurm' ? r.record.executor.jobId : '')).filter(Boolean))];
    let tasks = new Map<string, SlurmTask>();
    let answered: boolean | null = null;
    let error: string | null = null;
    if (jobIds.length) {
      try {
        const list = await this.client.tasks(jobIds);
        tasks = new Map(list.map((t) => [taskKey(t.jobId, t.taskId), t]));
        answered = true;
      } catch (e) {
        answered = false;
        error = (e as Error).message;
      }
    }
    const now = Date.now();
    const persisted: string[] = [];
    const tracked: TrackedRun[] = runs.map((l) => {
      let record = l.record;
      const ex = record.executor;
      if (!ex || ex.kind !== 'slurm') return { dir: l.dir, record, status: record.status, stale: l.stale, slurm: null };
      const id = ex.jobId ? taskKey(ex.jobId, ex.arrayTaskId) : '';
      const task = id ? tasks.get(id) : undefined;
      const view = reconcileSlurmRun({ record, task, slurmAnswered: answered === true, nowMs: now, graceMs: this.opts.graceMs ?? 15_000 });
      if (view.persist && this.opts.persist !== false) {
        // Re-read: the trainer may have written its own end since the listing.
        const fresh = readRunRecord(l.dir);
        const stillOpen = !isTerminal(fresh.status) && (fresh.status !== 'stopped' || view.persist.status !== 'failed');
        if (stillOpen) {
          let err = view.persist.error;
          if (err && view.wantsTail && ex.outputFile) {
            const tail = tailFile(ex.outputFile);
            const line = failureLine(tail);
            err = { message: `${err.message}${line ? `: ${line}` : ''}`, detail: tail ? `last lines of ${ex.outputFile}:\n${tail}` : `${ex.outputFile} is empty or unreadable` };
          }
          record = { ...fresh, status: view.persist.status, error: err ?? fresh.error, endedAt: fresh.endedAt ?? new Date().toISOString(), pid: null, updatedAt: new Date().toISOString() };
          writeRunRecord(l.dir, record);
          persisted.push(l.dir);
        } else record = fresh;
      }
      const status = persisted.includes(l.dir) || isTerminal(record.status) ? record.status : view.status;
      return {
        dir: l.dir,
        record,
        status,
        stale: false,
        slurm: { id, jobId: ex.jobId, arrayTaskId: ex.arrayTaskId ?? null, state: task?.state ?? null, reason: task?.reason ?? null, node: task?.node ?? null, cluster: ex.cluster ?? null, outputFile: ex.outputFile ?? null },
      };
    });
    const counts = emptyCounts();
    const slurmCounts = emptyCounts();
    const clusters = new Set<string>();
    for (const t of tracked) {
      counts[t.stale ? 'stopped' : t.status]++;
      if (t.slurm) {
        slurmCounts[t.status]++;
        if (t.slurm.cluster && (t.status === 'queued' || t.status === 'running')) clusters.add(t.slurm.cluster);
      }
    }
    const next = new Map(tracked.map((t) => [t.dir, `${t.status}|${t.slurm?.state ?? ''}|${t.record.summary.epochsCompleted}`]));
    let changed = next.size !== this.last.size;
    for (const [k, v] of next) if (this.last.get(k) !== v) changed = true;
    this.last = next;
    const snap: TrackerSnapshot = {
      at: new Date(now).toISOString(),
      runs: tracked,
      counts,
      slurmCounts,
      clusters: [...clusters].sort(),
      slurmAnswered: answered,
      error,
      statusLine: slurmStatusLine(slurmCounts, [...clusters].sort()),
      changed,
      persisted,
    };
    this.lastSnapshot = snap;
    return snap;
  }

  /** The delay before the next poll after `snap`: short while things change, backing off to the maximum. */
  nextDelayMs(snap: TrackerSnapshot): number {
    const active = snap.runs.some((r) => r.slurm !== null && (r.status === 'queued' || r.status === 'running'));
    return this.schedule.next(snap.changed, active);
  }

  /** Polls until disposed; one poll at a time. `onSnapshot` runs after each poll. */
  watch(onSnapshot: (s: TrackerSnapshot) => void, onError: (e: Error) => void = () => undefined): { dispose(): void; pollNow(): void } {
    let disposed = false;
    let timer: NodeJS.Timeout | null = null;
    let running = false;
    const tick = async () => {
      if (disposed || running) return;
      running = true;
      if (timer) clearTimeout(timer);
      timer = null;
      let delay = this.schedule.maxMs;
      try {
        const snap = await this.poll();
        if (!disposed) onSnapshot(snap);
        delay = this.nextDelayMs(snap);
      } catch (e) {
        onError(e as Error);
      } finally {
        running = false;
        if (!disposed) timer = setTimeout(() => void tick(), delay);
      }
    };
    void tick();
    return {
      dispose: () => {
        disposed = true;
        if (timer) clearTimeout(timer);
      },
      pollNow: () => void tick(),
    };
  }
}
