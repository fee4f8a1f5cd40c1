// Executors: where runs train (`local`: this machine; `slurm`: a Slurm cluster, one job array per
// sweep), sweeps, tracking, cancelling and the by-loss aggregation. No vscode imports; the extension
// calls these. The local sweep runner (./local) is separate: it pulls in the trainer.
export { SweepError, MAX_SWEEP_RUNS, expandSweep, sweepDimensions, sweepSize, setPath, lossLabel, formatParams, type SweepDimension, type SweepElement } from './sweep';
export {
  SWEEPS_DIR,
  SWEEP_MANIFEST,
  SWEEP_SCRIPT,
  makeSweepId,
  planSweep,
  queuedRecord,
  createSweepFolders,
  removeSweepFolders,
  readManifest,
  writeManifest,
  listSweeps,
  findSweep,
  sweepRuns,
  planListing,
  startQueuedRun,
  failQueuedRun,
  type ExecutorKind,
  type PlannedRun,
  type SweepPlan,
  type SweepManifest,
  type StartDecision,
} from './sweep-store';
export { shellQuote, arraySpec, sbatchScript, type SbatchScriptInput } from './slurm-script';
export { SQUEUE_FORMAT, parseSqueue, slurmPhase, slurmEnded, parseSlurmTime, isTerminal, reconcileSlurmRun, taskKey, type SlurmTask, type SlurmPhase, type SlurmView, type ReconcileInput } from './slurm-state';
export { SlurmClient, SlurmError, runCommand, submitEnv, type CommandResult, type CommandRunner } from './slurm';
export { defaultCliPath, outputPattern, planScript, dryRunText, submitSlurmSweep, type SlurmScriptOptions, type SubmitResult } from './submit';
export { SlurmTracker, PollSchedule, tailFile, failureLine, emptyCounts, slurmStatusLine, type TrackedRun, type TrackerSnapshot, type TrackerOptions, type StatusCounts } from './tracker';
export { cancelRuns, type CancelOutcome, type CancelOptions } from './cancel';
export { AGG_METRICS, baseLossOf, aggregateRuns, aggregateText, aggregateMarkdown, compareByLoss, type Aggregate, type LossGroup, type PairedTest, type AggMetric, type AggMetricKey } from './aggregate';
export { wilcoxonSignedRank, exactSignedRankP, signedRankCounts, averageRanks, normalCdf, erfc, meanStd, EXACT_LIMIT, StatsError, type WilcoxonResult } from './wilcoxon';
