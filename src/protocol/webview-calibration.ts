// Calibration panel channel (host <-> webview): reliability diagrams, the metric table before/after
// temperature scaling, the threshold sweep and the "use this threshold" action. Imports only src/protocol.
import type { EvaluationReport, ThresholdChoice } from './evaluation';
import type { RunStatus, RunSummary } from './training';

export interface CalibrationRun {
  runDir: string;
  runId: string;
  label: string;
  loss: string;
  status: RunStatus;
  summary: RunSummary;
  /** null when the run has no evaluation.json yet (see `problem`). */
  evaluation: EvaluationReport | null;
  /** threshold.json when one was chosen. */
  threshold: ThresholdChoice | null;
  /** Why evaluation is missing or unreadable; null when it was read. */
  problem: string | null;
}

export type CalibrationHostMessage =
  | { type: 'snapshot'; runs: CalibrationRun[]; problems: { runDir: string; message: string }[] }
  /** One run changed (evaluated, status); replaces the run with the same runDir. */
  | { type: 'run'; run: CalibrationRun }
  | { type: 'thresholdSaved'; runDir: string; path: string; choice: ThresholdChoice }
  | { type: 'thresholdFailed'; runDir: string; message: string };

export type CalibrationWebviewMessage =
  | { type: 'ready' }
  | { type: 'useThreshold'; runDir: string; choice: ThresholdChoice }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

export interface CalibrationViewState {
  panel: 'calibration';
  runDirs: string[];
  /** runDirs whose reliability diagram is shown. */
  selected: string[];
  view: 'top' | 'class';
  classIndex: number;
  afterTemperature: boolean;
  /** The run whose sweep is shown, and the index into its sweep points. */
  sweepRunDir: string | null;
  sweepIndex: number;
}
