// What the trainer needs from a dataset, whatever its dimensionality: training batches, whole cases
// for validation and evaluation, and a case predictor (direct for 2D, sliding window for 3D).

export type SplitName = 'train' | 'val' | 'test';

export interface Batch {
  ids: string[];
  /** [B, ...spatial, C] channels-last, normalised. */
  x: Float32Array;
  /** [B, ...spatial] class ids. */
  labels: Uint8Array;
  /** [B, ...spatial, C]. */
  shape: number[];
}

export interface EvalCase {
  id: string;
  /** [...spatial, C]. */
  image: Float32Array;
  /** [...spatial]. */
  labels: Uint8Array;
  spatial: number[];
  /** Source metadata to write predictions back (e.g. NIfTI affine); opaque to the trainer. */
  meta?: unknown;
}

export interface TrainingData {
  readonly dims: 2 | 3;
  readonly channels: number;
  readonly classes: string[];
  /** Spatial shape of a training input ([H, W] or the 3D patch [D, H, W]). */
  readonly inputSpatial: number[];
  caseIds(split: SplitName): string[];
  stepsPerEpoch(batchSize: number): number;
  /** Deterministic given (seed, epoch). */
  trainBatches(epoch: number, batchSize: number): AsyncIterable<Batch>;
  evalCases(split: SplitName, limit?: number): AsyncIterable<EvalCase>;
  /** Warnings collected while indexing (unpaired files, skipped unreadable files). */
  readonly warnings: string[];
  /** A one-line description for logs. */
  describe(): string;
}
