// Training events and run records: the vocabulary shared by the core trainer, the backend process,
// the CLI and the extension. Direction: emitted by the trainer (core) and forwarded unchanged.
// This file imports nothing.

export type RunStatus = 'queued' | 'running' | 'completed' | 'failed' | 'stopped' | 'cancelled' | 'timeout';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** The tfjs backend actually in use. */
  name: BackendName;
  /** Package versions, e.g. { '@tensorflow/tfjs-core': '4.22.0', '@tensorflow/tfjs-backend-wasm': '4.22.0' }. */
  versions: Record<string, string>;
  /** Why earlier candidates of `auto` were not taken (empty when pinned). */
  skipped: { name: BackendName; reason: string }[];
  /** Replacement kernels registered on this backend, with their start-up gradient-check error. */
  kernels: { name: string; maxRelError: number }[];
}

/** Validation metrics logged once per epoch. NaN (serialised as null) where undefined. */
export interface ValMetrics {
  loss: number;
  dsc: number;
  iou?: number;
  nll: number;
  brier: number;
  ece?: number;
  /** Per-class DSC, index = class id. */
  dscPerClass?: (number | null)[];
}

export interface StepRecord {
  kind: 'step';
  epoch: number;
  /** Step within the epoch, 1-based. */
  step: number;
  globalStep: number;
  loss: number;
  lr: number;
  /** Milliseconds since the run started. */
  elapsedMs: number;
  time: string;
}

export interface EpochRecord {
  kind: 'epoch';
  epoch: number;
  globalStep: number;
  trainLoss: number;
  val: ValMetrics;
  lr: number;
  elapsedMs: number;
  epochMs: number;
  numTensors: number;
  best: boolean;
  time: string;
}

/** One line of metrics.jsonl. */
export type MetricsRecord = StepRecord | EpochRecord;

export interface RunSummary {
  epochsCompleted: number;
  bestEpoch: number | null;
  best: ValMetrics | null;
  last: ValMetrics | null;
  durationMs: number;
  /** Test-split evaluation headline numbers, when evaluation ran. */
  test?: { dsc: number; iou: number; nll: number; brier: number; ece: number } | undefined;
}

/** Contents of run.json. */
export interface RunRecord {
  schemaVersion: 1;
  id: string;
  experiment: string;
  /** Absolute path of the config this run came from. */
  configPath: string;
  loss: { name: string; options: Record<string, unknown> };
  /** The loss entry's index in the config's `losses` list. */
  lossIndex: number;
  status: RunStatus;
  seed: number;
  backend: BackendInfo | null;
  versions: Record<string, string>;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** Last time the trainer wrote this record (a heartbeat for stale detection). */
  updatedAt: string;
  pid: number | null;
  host: string;
  /** The full, validated config (a snapshot) with defaults filled in. */
  config: unknown;
  totalEpochs: number;
  stepsPerEpoch: number;
  summary: RunSummary;
  error: { message: string; detail?: string } | null;
  resumedFrom: { epoch: number; at: string }[];
  /**
   * Data-parallel slices per batch (`train.workers`, resolved for this run's backend and batch): the
   * numbers of a run depend on it through batch norm. Absent in runs made before it existed (1 slice).
   */
  slices?: number;
  /** Set by executors other than local, e.g. Slurm. */
  executor?: { kind: 'local' } | { kind: 'slurm'; jobId: string; arrayTaskId?: number; cluster?: string; outputFile?: string };
  /** Set for runs of a sweep: the sweep's id, this run's index in it and the values it sets (e.g. { seed: 2, 'train.lr': 0.001 }). */
  sweep?: { id: string; index: number; params: Record<string, unknown> };
}

export type TrainingEvent =
  | { type: 'started'; runId: string; runDir: string; experiment: string; loss: string; backend: BackendInfo; totalEpochs: number; stepsPerEpoch: number; startEpoch: number; seed: number; slices?: number }
  | ({ type: 'step'; runId: string; totalSteps: number; etaMs: number } & Omit<StepRecord, 'kind'>)
  | ({ type: 'epoch'; runId: string; etaMs: number } & Omit<EpochRecord, 'kind'>)
  | { type: 'checkpoint'; runId: string; kind: 'best' | 'last'; path: string; epoch: number }
  | { type: 'evaluated'; runId: string; path: string; test: NonNullable<RunSummary['test']> }
  | { type: 'finished'; runId: string; status: 'completed' | 'stopped'; summary: RunSummary }
  | { type: 'failed'; runId: string; error: { message: string; detail?: string } }
  | { type: 'log'; runId: string; level: 'debug' | 'info' | 'warn' | 'error'; message: string };

export type TrainingEventType = TrainingEvent['type'];
