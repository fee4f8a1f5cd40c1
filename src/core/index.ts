// Public library of the core (bundled to dist/core.js). Each area appends its exports here.
// 2D data (explicit list, so that names such as SplitName elsewhere do not collide):
export { ImageDecodeError, MaskError, DataError } from './data/errors';
export { decodeImage, decodeImageFile, decodeMask, decodeMaskFile, detectImageFormat, readImageBytes, encodePng, encodePngGrey, encodePngRgb } from './data/image';
export type { DecodedImage, DecodedMask, ImageFormat, PngPixels } from './data/image';
export { resizeBilinear, resizeNearest, convertChannels, zScoreInPlace, LUMA_WEIGHTS } from './data/resize';
export { pairByStem, resolveExplicitSplit, stripMaskSuffix, IMAGE_EXTENSIONS, MASK_SUFFIXES } from './data/pairing';
export type { CasePair, PairingResult, ExplicitSplit } from './data/pairing';
export { DEFAULT_AUGMENT, IDENTITY_AUGMENT, resolveAugmentOptions, drawAugment, applyAugment, augmentIndexMap } from './data/augment';
export type { AugmentOptions, AugmentParams } from './data/augment';
export { Dataset2D, splitByFraction } from './data/dataset2d';
export type { Dataset2DOptions, FractionSplit, SplitSpec, Case2D, Batch2D, BatchOptions, CacheStats } from './data/dataset2d';
export { renderPreview, renderPanels, renderPreviewPngs, heatColour, toDisplayGrey, CLASS_COLOURS } from './data/preview';
export type { PreviewInput, PreviewPanels } from './data/preview';
export * from './config';
export { UNet, unetSpecFromConfig, type UNetSpec } from './models/unet';
export { saveCheckpoint, loadCheckpoint } from './models/checkpoint';
export { runExperiment, applyOverrides } from './train/experiment';
export { trainRun, TrainingError, oneHot, type StopSignal, type RunOutcome } from './train/trainer';
export { listRuns, readRunRecord, readMetrics, isRunStale, createRunFolder, makeRunId, RUN_FILES, type RunListing } from './train/runs';
export { openTrainingData } from './train/open-data';
export { slidingWindowPredict, windowStarts, gaussianImportance } from './train/sliding-window';
export { Rng } from './util/rng';
export { writeFileAtomic, writeJsonAtomic } from './util/fsx';
export type * from '../protocol/training';
export type * from '../protocol/evaluation';
export { LOSS_NAMES, LOSS_DEFAULTS, createLoss, lossValue, validateLossOptions, LossError, type LossName, type LossOptions, type LossFn } from './losses';
export {
  calibrationMetrics,
  segmentationMetrics,
  thresholdSweep,
  fitTemperature,
  applyTemperature,
  caseMetrics,
  CalibrationAccumulator,
  SegmentationAccumulator,
  ThresholdSweepAccumulator,
  DEFAULT_THRESHOLDS,
  MetricInputError,
} from './metrics';
export { selectBackend, listBackends, BackendUnavailableError } from './compute/backend';
export { installBackend, defaultBackendsDirectory } from './compute/install';
export { conv2dFilterGrad, conv2dInputGrad, conv2dTranspose } from './compute/conv2d';
export * as ops3d from './compute/ops3d';
// Losses and metrics (issue 3): the rest of their public API.
export { EPSILON as LOSS_EPSILON, LOSS_OPTION_KEYS, REDUCTIONS, isLossName, type Reduction } from './losses';
export { suggest } from './util/suggest';
export { adaptiveCalibrationError, nanMean, DEFAULT_BINS, FINE_BINS, type CalibrationResult, type ClassCalibration, type CalibrationErrors, type SegmentationResult, type OverlapScores, type ClassCounts, type ClassOverlap, type SweepPointCounts, type ClassSweep, type TemperatureFit, type CaseMetrics } from './metrics';
// 3D volumes (issue 4): NIfTI I/O, the volume data set, patches, predictions, 3D previews.
export { readNifti, readNiftiHeader, parseNifti, encodeNifti, writeNifti, labelsFromVolume, quaternToAffine, affineToQuatern, niftiStem, isNiftiFileName, NiftiError, NIFTI_DATATYPE_CODES } from './data/nifti';
export type { NiftiDataType, NiftiHeaderInfo, NiftiVolume, NiftiReadOptions, NiftiWriteInput, Mat4 } from './data/nifti';
export { VolumeData, openVolumeData, openVolumeDataset, pairVolumes, normalizeVolume, isVolumeMeta } from './data/volume-data';
export type { VolumeMeta, VolumeCase, VolumeDataOptions, VolumePairing } from './data/volume-data';
export { originRange, randomOrigin, centredOrigin, foregroundIndex, randomForegroundVoxel, isForegroundPatch, drawPatchAugment, extractPatch, NO_PATCH_AUGMENT } from './data/patches';
export type { PatchAugment, Vec3 } from './data/patches';
export { writeVolumePrediction, type VolumePredictionFiles } from './data/volume-predictions';
export { renderVolumePreview, volumeSlice, argmax, VOLUME_VIEWS, type VolumeView, type VolumePreviewInput } from './train/previews';
export type { SlidingWindowOptions } from './train/sliding-window';
export { AUTO_ORDER, installHint, KernelCheckError, resetBackendSelection, type BackendChoice, type BackendAvailability, type SelectOptions } from './compute/backend';
export { WASM_REPLACEMENTS, replaceKernel, restoreKernel, isReplaced, builtinKernel, type ReplacementKernel } from './compute/wasm-kernels';
export { GRADCHECK_TOLERANCE, checkReplacement, runGradientChecks, checkConvCases, checkOpGradients, maxRelError, type KernelCheck, type ConvCase, type PoolCase, type Pool3dCase } from './compute/gradcheck';
