// Files written into a run folder after training (evaluation.json and the preview arrays), read by the
// CLI (`evaluate`, `compare`), the extension and the webview panels. Imports nothing.

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean predicted confidence in the bin (null when empty). */
  meanConfidence: number | null;
  /** Observed accuracy / positive frequency in the bin (null when empty). */
  accuracy: number | null;
}

export interface CalibrationSummary {
  nll: number;
  brier: number;
  /** Top-label ECE / MCE / RMS-CE, equal-width bins. */
  ece: number;
  mce: number;
  rmsce: number;
  /** Adaptive (equal-mass) ECE. */
  ace: number;
  /** Marginal (per class one-vs-rest, averaged over classes) ECE. */
  marginalEce: number;
}

export interface ClassReport {
  index: number;
  name: string;
  /** NaN-aware mean over cases; null when undefined for every case. */
  dsc: number | null;
  iou: number | null;
  precision: number | null;
  recall: number | null;
  specificity: number | null;
  ece: number;
  mce: number;
  ace: number;
  reliability: ReliabilityBin[];
  /** One-vs-rest NLL of this class: mean over voxels of −[y·log p + (1−y)·log(1−p)] (optional). */
  nll?: number;
  /** One-vs-rest Brier of this class: mean over voxels of (y − p)² (optional). */
  brier?: number;
  /** DSC / IoU from confusion counts pooled over all voxels of the split, not averaged over cases (optional). */
  pooled?: { dsc: number | null; iou: number | null };
}

export interface SweepPoint {
  threshold: number;
  precision: number | null;
  recall: number | null;
  dsc: number | null;
}

export interface CaseReport {
  id: string;
  /** Mean DSC over foreground classes (or over all classes when there is no background). */
  dsc: number | null;
  dscPerClass: (number | null)[];
  nll: number;
  brier: number;
  /** Index into previews.cases when this case has saved arrays. */
  preview: number | null;
}

export interface EvaluationReport {
  schemaVersion: 1;
  runId: string;
  split: 'test' | 'val';
  checkpoint: 'best' | 'last';
  createdAt: string;
  classes: string[];
  numCases: number;
  bins: number;
  /** Overlap means over the foreground classes; calibration over all voxels. */
  overall: CalibrationSummary & { dsc: number | null; iou: number | null; precision: number | null; recall: number | null; specificity: number | null; pooledDsc?: number | null };
  /** Top-label reliability diagram. */
  reliability: ReliabilityBin[];
  perClass: ClassReport[];
  thresholdSweep: { classIndex: number; className: string; points: SweepPoint[] }[];
  temperature: {
    temperature: number;
    before: CalibrationSummary;
    after: CalibrationSummary;
    reliabilityAfter: ReliabilityBin[];
    fitOn: 'val';
    /** Validation voxels the fit used (optional). */
    fitVoxels?: number;
    /** True when eval.temperature is false: T = 1 and `after` equals `before` (optional). */
    disabled?: boolean;
  };
  cases: CaseReport[];
  /** Chosen operating point, if the user picked one (also in threshold.json). */
  threshold?: { classIndex: number; threshold: number } | undefined;
  timings: { evalMs: number; voxels: number };
}

/**
 * predictions/previews.json: the fixed preview subset whose arrays are stored as raw little-endian
 * binaries beside it (no JSON number arrays), for the mask panel.
 *  - image: Float32 [...spatial, channels] (normalised intensities)
 *  - labels: Uint8 [...spatial] (ground-truth class ids)
 *  - probs: Float32 [...spatial, numClasses] (softmax; 1 channel for a sigmoid head)
 * spatial is [H, W] for 2D and [D, H, W] for 3D.
 */
export interface PreviewIndex {
  schemaVersion: 1;
  split: 'test' | 'val';
  numClasses: number;
  classes: string[];
  channels: number;
  /** Channels of each probs file: numClasses, or 1 for a sigmoid head (optional; else inferred from the file size). */
  probChannels?: number;
  /** Paths (image, labels, probs) are relative to the predictions/ folder. */
  cases: { id: string; spatial: number[]; image: string; labels: string; probs: string; dsc: number | null; nll: number }[];
}

/** threshold.json, written by the calibration panel's "use this threshold" button. */
export interface ThresholdChoice {
  schemaVersion: 1;
  classIndex: number;
  className: string;
  threshold: number;
  precision: number | null;
  recall: number | null;
  dsc: number | null;
  chosenAt: string;
}
