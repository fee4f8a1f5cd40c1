// Evaluation of a trained model on the test split (or val): overlap and calibration metrics, overall,
// per class and per case, reliability bins, the threshold sweep and temperature scaling fitted on the
// validation split; written to <run>/evaluation.json and, for a fixed preview subset, the probability
// arrays under <run>/predictions/. Cases are streamed one at a time: no full-dataset arrays.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CalibrationSummary, CaseReport, ClassReport, EvaluationReport, SweepPoint, ThresholdChoice } from '../../protocol/evaluation';
import type { RunSummary, TrainingEvent } from '../../protocol/training';
import type { ExperimentConfig } from '../config/schema';
import { selectBackend } from '../compute/backend';
import { applyTemperature, CalibrationAccumulator, DEFAULT_THRESHOLDS, fitTemperature, nanMean, SegmentationAccumulator, segmentationMetrics, ThresholdSweepAccumulator, type CalibrationResult, type OverlapScores } from '../metrics';
import { loadCheckpoint } from '../models/checkpoint';
import { UNet } from '../models/unet';
import type { TrainingData } from '../train/data-source';
import { openTrainingData } from '../train/open-data';
import { predictCase } from '../train/predict';
import { appendLog, isRunStale, readRunRecord, RUN_FILES, writeRunRecord } from '../train/runs';
import { writeJsonAtomic } from '../util/fsx';
import { PreviewWriter } from './preview-writer';
import { isVolumeMeta } from '../data/volume-data';
import { writeVolumePrediction } from '../data/volume-predictions';

export type EvalSplit = 'test' | 'val';
export type CheckpointName = 'best' | 'last';

export interface EvaluateContext {
  runDir: string;
  runId: string;
  /** The U-Net with the checkpoint to evaluate already loaded. */
  model: UNet;
  data: TrainingData;
  emit: (e: TrainingEvent) => void;
  config: ExperimentConfig;
  /** Which checkpoint the model holds (recorded in the report); default config.eval.checkpoint. */
  checkpoint?: CheckpointName;
  /** Split to evaluate; default config.eval.split. */
  split?: EvalSplit;
}

export class EvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationError';
  }
}


/** Upper bound on validation voxels kept in memory to fit the temperature (a strided sample beyond it). */
export const TEMPERATURE_FIT_MAX_VOXELS = 2_000_000;

function nullIfNaN(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}

function voxelsOf(spatial: number[]): number {
  return spatial.reduce((a, b) => a * b, 1);
}

/** The preview subset: the first `count` case ids of the split in sorted (code-unit) order. */
export function previewIds(ids: string[], count: number): string[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, Math.max(0, count));
}

/** Only the foreground probability for a sigmoid head (its background channel is 1 − p). */
function probsAsSaved(probs: Float32Array, numClasses: number, head: 'softmax' | 'sigmoid'): Float32Array {
  if (head !== 'sigmoid') return probs;
  const n = probs.length / numClasses;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = probs[i * numClasses + 1] as number;
  return out;
}

/** Keeps every `stride`-th voxel (all channels) of a case, for the temperature fit. */
function strided(probs: Float32Array, labels: Uint8Array, numClasses: number, stride: number): { probs: Float32Array; labels: Uint8Array } {
  if (stride <= 1) return { probs, labels };
  const n = Math.ceil(labels.length / stride);
  const p = new Float32Array(n * numClasses);
  const l = new Uint8Array(n);
  for (let j = 0, i = 0; i < labels.length; i += stride, j++) {
    l[j] = labels[i] as number;
    p.set(probs.subarray(i * numClasses, (i + 1) * numClasses), j * numClasses);
  }
  return { probs: p, labels: l };
}

function concatF32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function concatU8(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function readThresholdChoice(runDir: string): EvaluationReport['threshold'] {
  const f = join(runDir, RUN_FILES.threshold);
  if (!existsSync(f)) return undefined;
  try {
    const t = JSON.parse(readFileSync(f, 'utf8')) as ThresholdChoice;
    if (typeof t.classIndex === 'number' && typeof t.threshold === 'number') return { classIndex: t.classIndex, threshold: t.threshold };
  } catch {
    /* an unreadable choice is not carried over */
  }
  return undefined;
}

/** Evaluates the model on the configured split and writes evaluation.json + previews. */
export async function evaluateAfterTraining(ctx: EvaluateContext): Promise<RunSummary['test']> {
  return headline(await evaluateModel(ctx));
}

/** The run summary's `test` numbers from a report (DSC/IoU NaN when undefined). */
export function headline(r: EvaluationReport): NonNullable<RunSummary['test']> {
  return { dsc: r.overall.dsc ?? NaN, iou: r.overall.iou ?? NaN, nll: r.overall.nll, brier: r.overall.brier, ece: r.overall.ece };
}

/** evaluateAfterTraining, returning the whole report. */
export async function evaluateModel(ctx: EvaluateContext): Promise<EvaluationReport> {
  const { runDir, runId, model, data, config, emit } = ctx;
  const t0 = Date.now();
  const log = (level: 'info' | 'warn', message: string) => {
    appendLog(runDir, `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`);
    emit({ type: 'log', runId, level, message });
  };
  const classes = [...data.classes];
  const numClasses = classes.length;
  const head = config.model.head;
  const bins = config.eval.bins;
  const thresholds = config.eval.thresholds ? [...new Set(config.eval.thresholds)].sort((a, b) => a - b) : [...DEFAULT_THRESHOLDS];
  const checkpoint = ctx.checkpoint ?? config.eval.checkpoint;

  // --- the split ---
  let split: EvalSplit = ctx.split ?? config.eval.split;
  if (data.caseIds(split).length === 0) {
    const other: EvalSplit = split === 'test' ? 'val' : 'test';
    if (data.caseIds(other).length === 0) throw new EvaluationError(`nothing to evaluate: the ${split} and ${other} splits are both empty (${data.describe()}); give data.split a test fraction or list`);
    log('warn', `the ${split} split is empty (${data.describe()}); evaluating the ${other} split instead`);
    split = other;
  }
  const ids = data.caseIds(split);
  const previewSet = new Set(previewIds(ids, config.eval.previewCases));
  log('info', `evaluating ${ids.length} ${split} cases with the ${checkpoint} checkpoint (${numClasses} classes, ${bins} bins, ${thresholds.length} thresholds)`);

  // --- temperature scaling, fitted on val ---
  let temperature = 1;
  let fitVoxels = 0;
  const useT = config.eval.temperature;
  if (!useT) log('info', 'temperature scaling is off (eval.temperature: false): T = 1, "after" equals "before"');
  else {
    const valIds = data.caseIds('val');
    if (valIds.length === 0) throw new EvaluationError(`cannot fit the temperature: the val split is empty (${data.describe()}); set eval.temperature: false or give data.split a val fraction`);
    const probsParts: Float32Array[] = [];
    const labelParts: Uint8Array[] = [];
    let stride = 0;
    for await (const c of data.evalCases('val')) {
      const probs = await predictCase(model, c, data, config.eval.overlap);
      if (stride === 0) stride = Math.max(1, Math.ceil((voxelsOf(c.spatial) * valIds.length) / TEMPERATURE_FIT_MAX_VOXELS));
      const s = strided(probs, c.labels, numClasses, stride);
      probsParts.push(s.probs);
      labelParts.push(s.labels);
    }
    const probs = concatF32(probsParts);
    const labels = concatU8(labelParts);
    probsParts.length = 0;
    labelParts.length = 0;
    fitVoxels = labels.length;
    const fit = fitTemperature({ probs, labels, numClasses, bins });
    temperature = fit.temperature;
    log('info', `temperature scaling: T = ${temperature.toFixed(4)} fitted on ${valIds.length} val cases (${fitVoxels} voxels${stride > 1 ? `, every ${stride}th` : ''}); val NLL ${fit.nllBefore.toFixed(4)} → ${fit.nllAfter.toFixed(4)}`);
  }

  // --- one streaming pass over the split ---
  const seg = new SegmentationAccumulator({ numClasses });
  const calBefore = new CalibrationAccumulator({ numClasses, bins });
  const calAfter = new CalibrationAccumulator({ numClasses, bins });
  const caseCal = new CalibrationAccumulator({ numClasses, bins: 1 });
  const sweepClasses = Array.from({ length: numClasses - 1 }, (_, i) => i + 1);
  const sweepAcc = new ThresholdSweepAccumulator({ numClasses, thresholds, classes: sweepClasses });
  // Per class, per case overlap scores (one number per case and class, not voxel arrays).
  const perCaseScores: OverlapScores[][] = classes.map(() => []);
  const previews = new PreviewWriter(runDir, { split, numClasses, classes, channels: data.channels, probChannels: head === 'sigmoid' ? 1 : numClasses });
  const cases: CaseReport[] = [];
  let voxels = 0;
  for await (const c of data.evalCases(split)) {
    const probs = await predictCase(model, c, data, config.eval.overlap);
    voxels += c.labels.length;
    seg.update(probs, c.labels);
    calBefore.update(probs, c.labels);
    calAfter.update(useT ? applyTemperature(probs, numClasses, temperature) : probs, c.labels);
    sweepAcc.update(probs, c.labels);
    const cs = segmentationMetrics({ probs, labels: c.labels, shape: [1, ...c.spatial], numClasses });
    cs.perClass.forEach((sc, ci) => perCaseScores[ci]!.push(sc));
    caseCal.reset();
    caseCal.update(probs, c.labels);
    const cc = caseCal.aggregate();
    const dsc = nullIfNaN(cs.meanForeground.dsc);
    let preview: number | null = null;
    if (previewSet.has(c.id)) preview = previews.add({ id: c.id, spatial: c.spatial, image: c.image, labels: c.labels, probs: probsAsSaved(probs, numClasses, head), dsc, nll: cc.nll });
    // 3D (NIfTI) cases: the label map as .nii.gz with the source affine (and the probabilities for the preview subset).
    if (isVolumeMeta(c.meta)) writeVolumePrediction(join(runDir, RUN_FILES.predictions, 'nifti'), { id: c.id, spatial: c.spatial, meta: c.meta }, probs, numClasses, { probabilities: previewSet.has(c.id) });
    cases.push({ id: c.id, dsc, dscPerClass: cs.perClass.map((p) => nullIfNaN(p.dsc)), nll: cc.nll, brier: cc.brier, preview });
  }
  const previewIndex = previews.finish();

  const pooled = seg.aggregate();
  const before = calBefore.aggregate();
  const afterAgg = calAfter.aggregate();
  const summaryOf = (k: CalibrationResult): CalibrationSummary => ({ nll: k.nll, brier: k.brier, ece: k.ece, mce: k.mce, rmsce: k.rmsce, ace: k.ace, marginalEce: k.marginalEce });
  // Overlap: per class the NaN-aware mean over cases; overall the mean of that over the foreground.
  const caseMean = (ci: number, key: keyof OverlapScores) => nullIfNaN(nanMean(perCaseScores[ci]!.map((x) => x[key])));
  const perClass: ClassReport[] = classes.map((name, index) => {
    const kc = before.perClass[index]!;
    return {
      index,
      name,
      dsc: caseMean(index, 'dsc'),
      iou: caseMean(index, 'iou'),
      precision: caseMean(index, 'precision'),
      recall: caseMean(index, 'recall'),
      specificity: caseMean(index, 'specificity'),
      ece: kc.ece,
      mce: kc.mce,
      ace: kc.ace,
      reliability: kc.reliability,
      pooled: { dsc: nullIfNaN(pooled.perClass[index]!.dsc), iou: nullIfNaN(pooled.perClass[index]!.iou) },
      nll: kc.nll,
      brier: kc.brier,
    };
  });
  const fg = perClass.filter((c) => c.index > 0);
  const fgMean = (key: 'dsc' | 'iou' | 'precision' | 'recall' | 'specificity') => nullIfNaN(nanMean(fg.map((c) => c[key])));
  const sweep = sweepAcc.aggregate().map((s) => ({
    classIndex: s.classIndex,
    className: classes[s.classIndex] as string,
    points: s.points.map((p): SweepPoint => ({ threshold: p.threshold, precision: nullIfNaN(p.precision), recall: nullIfNaN(p.recall), dsc: nullIfNaN(p.dsc) })),
  }));

  const report: EvaluationReport = {
    schemaVersion: 1,
    runId,
    split,
    checkpoint,
    createdAt: new Date().toISOString(),
    classes,
    numCases: cases.length,
    bins,
    overall: {
      ...summaryOf(before),
      dsc: fgMean('dsc'),
      iou: fgMean('iou'),
      precision: fgMean('precision'),
      recall: fgMean('recall'),
      specificity: fgMean('specificity'),
      pooledDsc: nullIfNaN(pooled.meanForeground.dsc),
    },
    reliability: before.reliability,
    perClass,
    thresholdSweep: sweep,
    temperature: { temperature, before: summaryOf(before), after: summaryOf(afterAgg), reliabilityAfter: afterAgg.reliability, fitOn: 'val', fitVoxels, ...(useT ? {} : { disabled: true }) },
    cases,
    threshold: readThresholdChoice(runDir),
    timings: { evalMs: Date.now() - t0, voxels },
  };
  const path = join(runDir, RUN_FILES.evaluation);
  writeJsonAtomic(path, report);
  log('info', `evaluation (${split}, ${cases.length} cases, ${previewIndex.cases.length} previews): DSC ${report.overall.dsc?.toFixed(4) ?? '—'}, NLL ${report.overall.nll.toFixed(4)}, Brier ${report.overall.brier.toFixed(4)}, ECE ${report.overall.ece.toFixed(4)}; after T: NLL ${report.temperature.after.nll.toFixed(4)}, ECE ${report.temperature.after.ece.toFixed(4)} [${((Date.now() - t0) / 1000).toFixed(1)} s]`);
  emit({ type: 'evaluated', runId, path, test: headline(report) });
  return report;
}

export interface EvaluateRunOptions {
  checkpoint?: CheckpointName | undefined;
  split?: EvalSplit | undefined;
  /** Overrides the config's backend. */
  backend?: string | undefined;
  backendsDirectory?: string | undefined;
  emit?: (e: TrainingEvent) => void;
}

export interface EvaluateRunResult {
  report: EvaluationReport;
  path: string;
}

/** Re-opens a run folder (config snapshot, data, checkpoint) and evaluates it again. */
export async function evaluateRun(runDir: string, opts: EvaluateRunOptions = {}): Promise<EvaluateRunResult> {
  const rec = readRunRecord(runDir);
  if (rec.status === 'running' && !isRunStale(rec)) throw new EvaluationError(`${runDir}: run ${rec.id} is still running (pid ${rec.pid} on ${rec.host}); evaluate it when it has finished`);
  const base = rec.config as ExperimentConfig;
  const config: ExperimentConfig = opts.backend ? { ...base, backend: opts.backend as ExperimentConfig['backend'] } : base;
  const checkpoint = opts.checkpoint ?? config.eval.checkpoint;
  const ckDir = join(runDir, RUN_FILES.checkpoints, checkpoint);
  const emit = opts.emit ?? (() => undefined);
  await selectBackend(config.backend, { backendsDirectory: opts.backendsDirectory, log: (m: string) => emit({ type: 'log', runId: rec.id, level: 'info', message: m }) });
  let ck;
  try {
    ck = loadCheckpoint(ckDir);
  } catch (e) {
    throw new EvaluationError(`${runDir}: cannot load the ${checkpoint} checkpoint: ${(e as Error).message}${checkpoint === 'best' ? ' (try --checkpoint last)' : ''}`);
  }
  const data = await openTrainingData(config, rec.configPath);
  const model = new UNet(ck.spec);
  try {
    model.load(ck.tensors, ckDir);
    Object.values(ck.tensors).forEach((t) => t.dispose());
    const report = await evaluateModel({ runDir, runId: rec.id, model, data, emit, config, checkpoint, split: opts.split });
    if (report.split === 'test') {
      const latest = readRunRecord(runDir);
      latest.summary = { ...latest.summary, test: headline(report) };
      latest.updatedAt = new Date().toISOString();
      writeRunRecord(runDir, latest);
    }
    return { report, path: join(runDir, RUN_FILES.evaluation) };
  } finally {
    model.dispose();
  }
}

