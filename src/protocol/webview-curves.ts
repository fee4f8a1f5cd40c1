// Loss-curves panel channel (host <-> webview). Also used by "Compare Runs". Imports only src/protocol.
// Step series travel as columns of Float64Array (structured clone keeps them binary), never JSON arrays.
import type { RunStatus, RunSummary, ValMetrics } from './training';

/** Columnar step records; every column has the same length. */
export interface StepColumns {
  globalStep: Float64Array;
  /** Fractional epoch: (epoch − 1) + step / stepsPerEpoch, so that epoch e ends at x = e. */
  epoch: Float64Array;
  elapsedMs: Float64Array;
  loss: Float64Array;
  lr: Float64Array;
}

/** One epoch record. Metrics that were NaN arrive as null (JSON) or NaN. */
export interface EpochPoint {
  epoch: number;
  globalStep: number;
  elapsedMs: number;
  trainLoss: number | null;
  lr: number;
  val: ValMetrics;
  best: boolean;
}

export interface CurvesRun {
  runDir: string;
  runId: string;
  /** Short display name, e.g. "quickstart · dscpp". */
  label: string;
  experiment: string;
  loss: string;
  status: RunStatus;
  totalEpochs: number;
  stepsPerEpoch: number;
  summary: RunSummary;
  steps: StepColumns;
  epochs: EpochPoint[];
}

/** A run folder that could not be read, with the reason (names the file and what to do). */
export interface RunProblem {
  runDir: string;
  message: string;
}

export type CurvesHostMessage =
  | { type: 'snapshot'; runs: CurvesRun[]; problems: RunProblem[] }
  /** New records of a live run, batched by the host (≤ 10 a second). */
  | { type: 'append'; runId: string; steps: StepColumns; epochs: EpochPoint[] }
  | { type: 'status'; runId: string; status: RunStatus; summary: RunSummary | null }
  | { type: 'exported'; format: 'png' | 'csv'; path: string | null; error: string | null };

export type CurvesWebviewMessage =
  | { type: 'ready' }
  | { type: 'export'; format: 'png'; bytes: Uint8Array; suggestedName: string }
  | { type: 'export'; format: 'csv'; text: string; suggestedName: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

export type CurvesXAxis = 'step' | 'epoch' | 'time';
export type ValSeries = 'loss' | 'dsc' | 'nll' | 'brier' | 'ece';

/** Kept with the webview's setState; the serializer restores the panel from runDirs. */
export interface CurvesViewState {
  panel: 'curves';
  runDirs: string[];
  /** runIds hidden through the legend. */
  hidden: string[];
  series: { train: boolean; lr: boolean } & Record<ValSeries, boolean>;
  logScale: boolean;
  /** EMA weight in [0, 0.99]; 0 is no smoothing. */
  smoothing: number;
  xAxis: CurvesXAxis;
}
