// The host side of each panel without the vscode API: it answers `ready` with full snapshots built from
// the run folders, forwards live training events as batched increments, and carries out the webview's
// requests (export, threshold, case arrays). PanelManager (index.ts) binds these to real webview
// panels; the browser tests bind the same classes to a harness page.
import { resolve } from 'node:path';
import type { RunRecord, RunStatus, TrainingEvent } from '../../protocol/training';
import type { CurvesHostMessage, CurvesRun, CurvesWebviewMessage, EpochPoint, RunProblem, StepColumns } from '../../protocol/webview-curves';
import type { CalibrationHostMessage, CalibrationRun, CalibrationWebviewMessage } from '../../protocol/webview-calibration';
import type { MasksHostMessage, MasksWebviewMessage } from '../../protocol/webview-masks';
import type { PreviewIndex } from '../../protocol/evaluation';
import { validateThresholdChoice, type RunDataSource } from './run-data';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ControllerDeps<Out> {
  runs: RunDataSource;
  post(message: Out): void;
  log(level: LogLevel, message: string): void;
}

/** Asks the user where to save an export; returns the path written, or null when cancelled. */
export type SaveFile = (suggestedName: string, data: Uint8Array, kind: 'png' | 'csv') => Promise<string | null>;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function runLabel(r: RunRecord): string {
  return `${r.experiment} · ${r.loss.name}`;
}

const samePath = (a: string, b: string): boolean => resolve(a) === resolve(b);

/** The run folders a restored panel showed, from the view state its webview saved with setState. */
export function runDirsFromViewState(kind: 'curves' | 'calibration' | 'masks', state: unknown): string[] {
  if (state === null || typeof state !== 'object') return [];
  const s = state as Record<string, unknown>;
  if (s.panel !== kind) return [];
  if (kind === 'masks') return typeof s.runDir === 'string' && s.runDir !== '' ? [s.runDir] : [];
  return Array.isArray(s.runDirs) ? s.runDirs.filter((x): x is string => typeof x === 'string') : [];
}

// ---------------------------------------------------------------- curves

interface StepLike {
  epoch: number;
  step: number;
  globalStep: number;
  loss: number;
  lr: number;
  elapsedMs: number;
}

/** Builds columns from step records; fractional epoch = (epoch − 1) + step / stepsPerEpoch. */
export function stepColumns(steps: StepLike[], stepsPerEpoch: number): StepColumns {
  const n = steps.length;
  const c: StepColumns = { globalStep: new Float64Array(n), epoch: new Float64Array(n), elapsedMs: new Float64Array(n), loss: new Float64Array(n), lr: new Float64Array(n) };
  const spe = stepsPerEpoch > 0 ? stepsPerEpoch : 1;
  steps.forEach((s, i) => {
    c.globalStep[i] = s.globalStep;
    c.epoch[i] = s.epoch - 1 + s.step / spe;
    c.elapsedMs[i] = s.elapsedMs;
    c.loss[i] = s.loss ?? NaN;
    c.lr[i] = s.lr ?? NaN;
  });
  return c;
}

export function epochPoint(e: { epoch: number; globalStep: number; elapsedMs: number; trainLoss: number | null; lr: number; val: EpochPoint['val']; best: boolean }): EpochPoint {
  return { epoch: e.epoch, globalStep: e.globalStep, elapsedMs: e.elapsedMs, trainLoss: e.trainLoss, lr: e.lr, val: e.val, best: e.best };
}

export async function readCurvesRun(runs: RunDataSource, dir: string): Promise<{ run: CurvesRun; skipped: string[] }> {
  const record = await runs.readRun(dir);
  const { records, skipped } = await runs.readMetrics(dir);
  const steps: StepLike[] = [];
  const epochs: EpochPoint[] = [];
  for (const r of records) {
    if (r.kind === 'step') steps.push(r);
    else epochs.push(epochPoint(r));
  }
  return {
    run: {
      runDir: dir,
      runId: record.id,
      label: runLabel(record),
      experiment: record.experiment,
      loss: record.loss.name,
      status: record.status,
      totalEpochs: record.totalEpochs,
      stepsPerEpoch: record.stepsPerEpoch,
      summary: record.summary,
      steps: stepColumns(steps, record.stepsPerEpoch),
      epochs,
    },
    skipped,
  };
}

/** Shared live-event plumbing: which runs a panel shows, and a 100 ms batch of pending increments. */
abstract class LiveController<Out> {
  protected runDirs: string[] = [];
  protected ready = false;
  /** runId → runDir for the runs shown. */
  protected readonly ids = new Map<string, string>();
  private snapshotting: Promise<void> | undefined;
  private resnapshot = false;
  private disposed = false;

  constructor(protected readonly deps: ControllerDeps<Out>) {}

  get shownRunDirs(): readonly string[] {
    return this.runDirs;
  }

  setRunDirs(dirs: string[]): Promise<void> {
    this.runDirs = [...new Set(dirs.map((d) => resolve(d)))];
    return this.ready ? this.sendSnapshot() : Promise.resolve();
  }

  /** Builds and posts a full snapshot; concurrent requests coalesce into one more snapshot. */
  protected sendSnapshot(): Promise<void> {
    if (this.snapshotting) {
      this.resnapshot = true;
      return this.snapshotting;
    }
    this.snapshotting = (async () => {
      do {
        this.resnapshot = false;
        try {
          const m = await this.buildSnapshot();
          if (!this.disposed) this.deps.post(m);
        } catch (e) {
          this.deps.log('error', `DSC++ panel: could not build the snapshot: ${errorText(e)}`);
        }
      } while (this.resnapshot && !this.disposed);
      this.snapshotting = undefined;
      this.afterSnapshot();
    })();
    return this.snapshotting;
  }

  protected get snapshotInFlight(): boolean {
    return this.snapshotting !== undefined;
  }

  protected abstract buildSnapshot(): Promise<Out>;
  protected afterSnapshot(): void {}

  /** A 'started' event for a shown folder maps its runId and refreshes the panel. */
  protected noteStarted(e: TrainingEvent): boolean {
    if (e.type !== 'started') return false;
    const dir = this.runDirs.find((d) => samePath(d, e.runDir));
    if (dir === undefined) return false;
    this.ids.set(e.runId, dir);
    if (this.ready) void this.sendSnapshot();
    return true;
  }

  dispose(): void {
    this.disposed = true;
  }
  protected get isDisposed(): boolean {
    return this.disposed;
  }
}

export class CurvesController extends LiveController<CurvesHostMessage> {
  private readonly stepsPerEpoch = new Map<string, number>();
  private readonly pending = new Map<string, { steps: StepLike[]; epochs: EpochPoint[] }>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    deps: ControllerDeps<CurvesHostMessage>,
    private readonly save: SaveFile,
    private readonly batchMs = 100,
  ) {
    super(deps);
  }

  protected async buildSnapshot(): Promise<CurvesHostMessage> {
    const runs: CurvesRun[] = [];
    const problems: RunProblem[] = [];
    for (const dir of this.runDirs) {
      try {
        const { run, skipped } = await readCurvesRun(this.deps.runs, dir);
        runs.push(run);
        this.ids.set(run.runId, dir);
        this.stepsPerEpoch.set(run.runId, run.stepsPerEpoch);
        for (const s of skipped) problems.push({ runDir: dir, message: s });
      } catch (e) {
        problems.push({ runDir: dir, message: errorText(e) });
      }
    }
    return { type: 'snapshot', runs, problems };
  }

  protected override afterSnapshot(): void {
    this.schedule();
  }

  async handle(m: CurvesWebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.pending.clear(); // the snapshot read from disk holds them
        await this.sendSnapshot();
        break;
      case 'export': {
        try {
          const data = m.format === 'png' ? m.bytes : new TextEncoder().encode(m.text);
          if (m.format === 'png' && !(data instanceof Uint8Array)) throw new Error('the PNG bytes did not arrive as a Uint8Array');
          const path = await this.save(m.suggestedName, data, m.format);
          this.deps.post({ type: 'exported', format: m.format, path, error: null });
        } catch (e) {
          this.deps.post({ type: 'exported', format: m.format, path: null, error: errorText(e) });
        }
        break;
      }
      case 'log':
        this.deps.log(m.level, `curves panel: ${m.message}`);
        break;
      default: {
        const never: never = m;
        this.deps.log('warn', `curves panel: ignored a webview message of unknown type ${JSON.stringify((never as { type?: unknown }).type)}`);
      }
    }
  }

  onTrainingEvent(e: TrainingEvent): void {
    if (this.noteStarted(e)) {
      this.stepsPerEpoch.set(e.runId, e.type === 'started' ? e.stepsPerEpoch : 1);
      return;
    }
    if (!this.ids.has(e.runId) || !this.ready) return;
    switch (e.type) {
      case 'step':
        this.queue(e.runId).steps.push(e);
        this.schedule();
        break;
      case 'epoch':
        this.queue(e.runId).epochs.push(epochPoint(e));
        this.schedule();
        break;
      case 'finished':
        this.flush();
        this.deps.post({ type: 'status', runId: e.runId, status: e.status, summary: e.summary });
        break;
      case 'failed':
        this.flush();
        this.deps.post({ type: 'status', runId: e.runId, status: 'failed', summary: null });
        break;
      case 'started':
      case 'checkpoint':
      case 'evaluated':
      case 'log':
        break;
      default: {
        const never: never = e;
        this.deps.log('warn', `curves panel: ignored a training event of unknown type ${JSON.stringify((never as { type?: unknown }).type)}`);
      }
    }
  }

  private queue(runId: string): { steps: StepLike[]; epochs: EpochPoint[] } {
    let q = this.pending.get(runId);
    if (!q) this.pending.set(runId, (q = { steps: [], epochs: [] }));
    return q;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.pending.size === 0 || this.isDisposed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.batchMs);
  }

  /** Posts every pending increment (one 'append' per run), unless a snapshot is being built. */
  flush(): void {
    if (this.snapshotInFlight) return; // afterSnapshot() schedules the flush; the webview drops overlaps
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (const [runId, q] of this.pending) {
      this.deps.post({ type: 'append', runId, steps: stepColumns(q.steps, this.stepsPerEpoch.get(runId) ?? 1), epochs: q.epochs });
    }
    this.pending.clear();
  }

  override dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.pending.clear();
    super.dispose();
  }
}

// ---------------------------------------------------------------- calibration

export async function readCalibrationRun(runs: RunDataSource, dir: string): Promise<CalibrationRun> {
  const record = await runs.readRun(dir);
  let evaluation = null;
  let threshold = null;
  let problem: string | null = null;
  try {
    evaluation = await runs.readEvaluation(dir);
    if (evaluation === null) problem = record.status === 'running' || record.status === 'queued' ? 'Not evaluated yet: evaluation.json is written when training ends.' : 'No evaluation.json in this run; run `dscpp-lab evaluate <run>` to make one.';
  } catch (e) {
    problem = errorText(e);
  }
  try {
    threshold = await runs.readThreshold(dir);
  } catch (e) {
    problem = (problem === null ? '' : `${problem} `) + errorText(e);
  }
  return { runDir: dir, runId: record.id, label: runLabel(record), loss: record.loss.name, status: record.status, summary: record.summary, evaluation, threshold, problem };
}

export class CalibrationController extends LiveController<CalibrationHostMessage> {
  protected async buildSnapshot(): Promise<CalibrationHostMessage> {
    const runs: CalibrationRun[] = [];
    const problems: RunProblem[] = [];
    for (const dir of this.runDirs) {
      try {
        const run = await readCalibrationRun(this.deps.runs, dir);
        runs.push(run);
        this.ids.set(run.runId, dir);
      } catch (e) {
        problems.push({ runDir: dir, message: errorText(e) });
      }
    }
    return { type: 'snapshot', runs, problems };
  }

  async handle(m: CalibrationWebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        await this.sendSnapshot();
        break;
      case 'useThreshold': {
        const dir = this.runDirs.find((d) => samePath(d, m.runDir));
        try {
          if (dir === undefined) throw new Error(`${m.runDir} is not one of the runs in this panel`);
          const choice = validateThresholdChoice(m.choice);
          const path = await this.deps.runs.writeThreshold(dir, choice);
          this.deps.post({ type: 'thresholdSaved', runDir: m.runDir, path, choice });
        } catch (e) {
          this.deps.post({ type: 'thresholdFailed', runDir: m.runDir, message: errorText(e) });
        }
        break;
      }
      case 'log':
        this.deps.log(m.level, `calibration panel: ${m.message}`);
        break;
      default: {
        const never: never = m;
        this.deps.log('warn', `calibration panel: ignored a webview message of unknown type ${JSON.stringify((never as { type?: unknown }).type)}`);
      }
    }
  }

  onTrainingEvent(e: TrainingEvent): void {
    if (this.noteStarted(e)) return;
    const dir = this.ids.get(e.runId);
    if (dir === undefined || !this.ready) return;
    switch (e.type) {
      case 'evaluated':
      case 'finished':
      case 'failed':
        void this.refreshRun(dir);
        break;
      case 'started':
      case 'step':
      case 'epoch':
      case 'checkpoint':
      case 'log':
        break;
      default: {
        const never: never = e;
        this.deps.log('warn', `calibration panel: ignored a training event of unknown type ${JSON.stringify((never as { type?: unknown }).type)}`);
      }
    }
  }

  private async refreshRun(dir: string): Promise<void> {
    try {
      const run = await readCalibrationRun(this.deps.runs, dir);
      if (!this.isDisposed) this.deps.post({ type: 'run', run });
    } catch (e) {
      this.deps.log('error', `calibration panel: ${errorText(e)}`);
    }
  }
}

// ---------------------------------------------------------------- masks

export class MasksController extends LiveController<MasksHostMessage> {
  private previews: PreviewIndex | null = null;

  get runDir(): string | undefined {
    return this.runDirs[0];
  }

  protected async buildSnapshot(): Promise<MasksHostMessage> {
    const dir = this.runDirs[0] ?? '';
    let status: RunStatus = 'completed';
    let runId = '';
    let label = dir;
    try {
      const record = await this.deps.runs.readRun(dir);
      status = record.status;
      runId = record.id;
      label = runLabel(record);
      this.ids.set(runId, dir);
      this.previews = await this.deps.runs.readPreviews(dir);
      const p = this.previews;
      if (p === null) {
        const problem = status === 'running' || status === 'queued' ? 'No previews yet: predictions/previews.json is written after training, with the evaluation.' : 'This run has no predictions/previews.json; run `dscpp-lab evaluate <run>` to make the preview arrays.';
        return { type: 'snapshot', runDir: dir, runId, label, status, classes: [], numClasses: 0, cases: [], problem };
      }
      return {
        type: 'snapshot',
        runDir: dir,
        runId,
        label,
        status,
        classes: p.classes,
        numClasses: p.numClasses,
        cases: p.cases.map((c, index) => ({ index, id: c.id, spatial: c.spatial, dsc: c.dsc, nll: c.nll })),
        problem: null,
      };
    } catch (e) {
      this.previews = null;
      return { type: 'snapshot', runDir: dir, runId, label, status, classes: [], numClasses: 0, cases: [], problem: errorText(e) };
    }
  }

  async handle(m: MasksWebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        await this.sendSnapshot();
        break;
      case 'getCase': {
        const dir = this.runDirs[0];
        try {
          if (dir === undefined || this.previews === null) throw new Error('no preview arrays are loaded for this panel');
          const data = await this.deps.runs.readPreviewCase(dir, this.previews, m.index);
          this.deps.post({ type: 'case', ...data });
        } catch (e) {
          this.deps.post({ type: 'caseFailed', index: m.index, message: errorText(e) });
        }
        break;
      }
      case 'log':
        this.deps.log(m.level, `masks panel: ${m.message}`);
        break;
      default: {
        const never: never = m;
        this.deps.log('warn', `masks panel: ignored a webview message of unknown type ${JSON.stringify((never as { type?: unknown }).type)}`);
      }
    }
  }

  onTrainingEvent(e: TrainingEvent): void {
    if (this.noteStarted(e)) return;
    if (!this.ids.has(e.runId) || !this.ready) return;
    switch (e.type) {
      case 'evaluated':
      case 'finished':
      case 'failed':
        void this.sendSnapshot();
        break;
      case 'started':
      case 'step':
      case 'epoch':
      case 'checkpoint':
      case 'log':
        break;
      default: {
        const never: never = e;
        this.deps.log('warn', `masks panel: ignored a training event of unknown type ${JSON.stringify((never as { type?: unknown }).type)}`);
      }
    }
  }
}
