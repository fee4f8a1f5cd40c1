// Cancelling runs: Slurm runs with scancel, local runs with SIGTERM to their process (the trainer
// stops cooperatively), queued runs that nothing has started by marking them. A run is marked
// cancelled once its process is gone, so that the trainer's own last write ('stopped') does not
// overwrite the mark.
import { hostname } from 'node:os';
import type { RunRecord } from '../../protocol/training';
import { pidAlive, readRunRecord, writeRunRecord } from '../train/runs';
import { SlurmClient } from './slurm';
import { isTerminal, slurmEnded, taskKey } from './slurm-state';

export interface CancelOutcome {
  dir: string;
  runId: string;
  /** What happened: cancelled, or why not. */
  result: 'cancelled' | 'already-finished';
  /** The status before. */
  was: RunRecord['status'];
  detail: string;
}

export interface CancelOptions {
  client?: SlurmClient;
  /** How long to wait for cancelled jobs and processes to end before marking them anyway (default 60 s). */
  waitMs?: number;
  pollMs?: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}


function markCancelled(dir: string, message: string): RunRecord {
  const fresh = readRunRecord(dir);
  const rec: RunRecord = { ...fresh, status: 'cancelled', endedAt: new Date().toISOString(), pid: null, updatedAt: new Date().toISOString(), error: fresh.status === 'queued' || fresh.status === 'running' || fresh.status === 'stopped' ? { message } : fresh.error };
  writeRunRecord(dir, rec);
  return rec;
}

/** Cancels the runs in `dirs` (run folders). Runs that already ended are reported and left alone. */
export async function cancelRuns(dirs: readonly string[], opts: CancelOptions = {}): Promise<CancelOutcome[]> {
  const client = opts.client ?? new SlurmClient();
  const waitMs = opts.waitMs ?? 60_000;
  const pollMs = opts.pollMs ?? 1000;
  const outcomes: CancelOutcome[] = [];
  const slurmRuns: { dir: string; record: RunRecord; id: string }[] = [];
  const localRunning: { dir: string; record: RunRecord }[] = [];
  for (const dir of dirs) {
    const record = readRunRecord(dir);
    if (isTerminal(record.status)) {
      outcomes.push({ dir, runId: record.id, result: 'already-finished', was: record.status, detail: `already ${record.status}` });
      continue;
    }
    const ex = record.executor;
    if (ex && ex.kind === 'slurm' && ex.jobId && record.status !== 'stopped') slurmRuns.push({ dir, record, id: taskKey(ex.jobId, ex.arrayTaskId) });
    else if (record.status === 'running' && record.pid !== null && record.host === hostname() && pidAlive(record.pid)) localRunning.push({ dir, record });
    else {
      markCancelled(dir, record.status === 'stopped' ? 'cancelled while stopped' : 'cancelled before it started');
      outcomes.push({ dir, runId: record.id, result: 'cancelled', was: record.status, detail: record.status === 'running' ? 'its process was already gone' : `was ${record.status}` });
    }
  }
  // Slurm: one scancel for every task, then wait until Slurm reports them ended.
  if (slurmRuns.length) {
    const ids = slurmRuns.map((r) => r.id);
    try {
      await client.cancel(ids);
    } catch (e) {
      // Tasks that ended meanwhile, or that Slurm forgot, are not an error: their run folders say how they ended.
      const lines = (e as Error).message.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
      if (!lines.length || !lines.every((l) => /already completing or completed|Invalid job id/i.test(l))) throw e;
    }
    const jobIds = [...new Set(slurmRuns.map((r) => (r.record.executor?.kind === 'slurm' ? r.record.executor.jobId : '')))];
    // Slurm reports CANCELLED at once, while the trainer may still be finishing its step (it stops on
    // SIGTERM and writes 'stopped'; Slurm kills it after KillWait). Wait for both.
    const dirOf = new Map(slurmRuns.map((r) => [r.id, r.dir]));
    const deadline = Date.now() + waitMs;
    let pending = new Set(ids);
    while (pending.size && Date.now() < deadline) {
      const tasks = await client.tasks(jobIds);
      const byId = new Map(tasks.map((t) => [taskKey(t.jobId, t.taskId), t]));
      pending = new Set(
        [...pending].filter((id) => {
          const t = byId.get(id);
          if (t !== undefined && !slurmEnded(t.state)) return true;
          return readRunRecord(dirOf.get(id) as string).status === 'running';
        }),
      );
      if (pending.size) await sleep(pollMs);
    }
    for (const r of slurmRuns) {
      const fresh = readRunRecord(r.dir);
      if (isTerminal(fresh.status)) {
        outcomes.push({ dir: r.dir, runId: fresh.id, result: 'already-finished', was: fresh.status, detail: `ended ${fresh.status} before the cancel took effect` });
        continue;
      }
      markCancelled(r.dir, `Slurm job ${r.id} was cancelled (scancel)`);
      outcomes.push({ dir: r.dir, runId: fresh.id, result: 'cancelled', was: r.record.status, detail: `scancel ${r.id}${pending.has(r.id) ? ` (still ending after ${Math.round(waitMs / 1000)} s)` : ''}` });
    }
  }
  // Local processes: SIGTERM, wait for the trainer to stop, then mark.
  for (const r of localRunning) {
    const pid = r.record.pid as number;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone meanwhile */
    }
    const deadline = Date.now() + waitMs;
    while (pidAlive(pid) && readRunRecord(r.dir).status === 'running' && Date.now() < deadline) await sleep(Math.min(pollMs, 250));
    const fresh = readRunRecord(r.dir);
    if (fresh.status === 'completed' || fresh.status === 'failed') {
      outcomes.push({ dir: r.dir, runId: fresh.id, result: 'already-finished', was: fresh.status, detail: `ended ${fresh.status} before the cancel took effect` });
      continue;
    }
    markCancelled(r.dir, `cancelled (SIGTERM to pid ${pid} on ${r.record.host})`);
    outcomes.push({ dir: r.dir, runId: fresh.id, result: 'cancelled', was: r.record.status, detail: `SIGTERM to pid ${pid}` });
  }
  return outcomes;
}
