// Segmentation and calibration metrics over plain typed arrays (no tfjs), for evaluation reports and for
// anyone's own code. Every metric streams (update / aggregate / reset) and has a one-shot function.
//
// Input layout, everywhere:
//   probs   Float32Array, channels-last [...shape, numClasses]: probs.length = prod(shape)·numClasses;
//           with numClasses = 2 a one-channel sigmoid output (length prod(shape)) is accepted as p(class 1).
//   labels  integer class ids 0..numClasses−1, one per voxel (Uint8Array, Int32Array, number[] …).
//   shape   optional, the spatial shape including the batch: [N, ...spatial] (e.g. [N, H, W] or
//           [N, D, H, W]), no channel axis; when given, prod(shape) must equal labels.length.
// Lengths that disagree throw a MetricInputError quoting both; so do bad labels and non-probabilities.
// Argmax ties go to the lowest class id.
//
// Conventions (details in each file):
//   overlap.ts      DSC/IoU/precision/recall/specificity on the argmax; a zero denominator gives NaN (a class
//                   absent from both truth and prediction has DSC NaN, not 1); means are NaN-aware.
//   calibration.ts  NLL = mean −log p_true (clip 1e-7); Brier = mean Σ_c (y−p)²/C; ECE/MCE/RMS-CE with 15
//                   equal-width bins, top-label and marginal (per class one vs rest, averaged); ACE with
//                   equal-mass bins (streaming: from a 2000-cell histogram); reliability bins.
//   sweep.ts        precision/recall/DSC per class one vs rest at thresholds 0.05..0.95.
//   temperature.ts  temperature scaling fitted by NLL (golden section on log T).
//   case.ts         one case: DSC per class, NLL, Brier.
export { MetricInputError, P_MIN, nanMean, resolveInput, type Labels } from './common';
export {
  SegmentationAccumulator,
  segmentationMetrics,
  scoresFromCounts,
  meanScores,
  countsFromConfusion,
  type OverlapScores,
  type ClassCounts,
  type ClassOverlap,
  type SegmentationResult,
} from './overlap';
export {
  CalibrationAccumulator,
  calibrationMetrics,
  adaptiveCalibrationError,
  DEFAULT_BINS,
  FINE_BINS,
  type CalibrationErrors,
  type CalibrationResult,
  type ClassCalibration,
  type ReliabilityBin,
} from './calibration';
export { ThresholdSweepAccumulator, thresholdSweep, DEFAULT_THRESHOLDS, type SweepPointCounts, type ClassSweep } from './sweep';
export { fitTemperature, applyTemperature, type TemperatureFit } from './temperature';
export { caseMetrics, type CaseMetrics } from './case';
