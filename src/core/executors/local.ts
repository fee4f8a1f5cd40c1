// The local executor for sweeps: the pre-created run folders train one after another in this process
// (the CLI's `dscpp-lab sweep`). Not exported from executors/index.ts: it pulls in the trainer and
// tfjs, which the tracker and the extension do not need.
import type { BackendInfo, TrainingEvent } from '../../protocol/training';
import { runExperiment } from '../train/experiment';
import { readRunRecord, writeRunRecord } from '../train/runs';
import type { StopSignal } from '../train/trainer';
import type { SweepManifest } from './sweep-store';

export interface LocalSweepOptions {
  signal: StopSignal;
  emit: (e: TrainingEvent) => void;
  backend?: string;
  backendsDirectory?: string;
  onBackend?: (b: BackendInfo) => void;
  /** Called before each run starts. */
  onRunStart?: (index: number, dir: string) => void;
}

export interface LocalRunResult {
  index: number;
  dir: string;
  status: 'completed' | 'stopped' | 'failed' | 'cancelled' | 'skipped';
  error?: string;
}

/**
 * Trains the queued runs of a sweep in order. A run that is no longer queued (cancelled meanwhile) is
 * skipped; after a stop request the remaining queued runs are marked cancelled. A run whose setup fails
 * before training (its data folder vanished) is marked failed with the error, and the next one starts.
 */
export async function runLocalSweep(m: SweepManifest, o: LocalSweepOptions): Promise<LocalRunResult[]> {
  const results: LocalRunResult[] = [];
  for (const run of m.runs) {
    const rec = readRunRecord(run.dir);
    if (o.signal.requested) {
      if (rec.status === 'queued') {
        writeRunRecord(run.dir, { ...rec, status: 'cancelled', endedAt: new Date().toISOString(), updatedAt: new Date().toISOString(), error: { message: `cancelled: the sweep was stopped (${o.signal.reason ?? 'stop'}) before this run started` } });
        results.push({ index: run.index, dir: run.dir, status: 'cancelled' });
      } else results.push({ index: run.index, dir: run.dir, status: 'skipped' });
      continue;
    }
    if (rec.status !== 'queued') {
      results.push({ index: run.index, dir: run.dir, status: 'skipped', error: `status ${rec.status}` });
      continue;
    }
    o.onRunStart?.(run.index, run.dir);
    try {
      const [outcome] = await runExperiment({ configPath: '', resume: run.dir, backend: o.backend, backendsDirectory: o.backendsDirectory, signal: o.signal, emit: o.emit, onBackend: o.onBackend });
      if (!outcome) results.push({ index: run.index, dir: run.dir, status: 'stopped' });
      else results.push({ index: run.index, dir: run.dir, status: outcome.status, ...(outcome.error ? { error: outcome.error } : {}) });
    } catch (e) {
      const message = (e as Error).message;
      const now = readRunRecord(run.dir);
      writeRunRecord(run.dir, { ...now, status: 'failed', endedAt: new Date().toISOString(), updatedAt: new Date().toISOString(), pid: null, error: { message, detail: (e as Error).stack } });
      results.push({ index: run.index, dir: run.dir, status: 'failed', error: message });
    }
  }
  return results;
}
