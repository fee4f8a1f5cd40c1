// Evaluation of a trained model on the test split (or val): overlap and calibration metrics, overall,
// per class and per case, reliability bins, the threshold sweep and temperature scaling fitted on the
// validation split; written to <run>/evaluation.json and, for a fixed preview subset, the probability
// arrays under <run>/predictions/. Cases are streamed one at a time: no full-dataset arrays.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CalibrationSummary, CaseReport, ClassReport, EvaluationReport, ReliabilityBin, SweepPoint, ThresholdChoice } from '../../protocol/evaluation';
import type { RunSummary, TrainingEvent } from '../../protocol/training';
import type { ExperimentConfig } from '../config/schema';
import { selectBackend } from '../compute/backend';
import { applyTemperature, CalibrationAccumulator, fitTemperature, SegmentationAccumulator, thresholdSweep } from '../metrics';
import { loadCheckpoint } from '../models/checkpoint';
import { UNet } from '../models/unet';
import type { TrainingData } from '../train/data-source';
import { openTrainingData } from '../train/open-data';
import { predictCase } from '../train/predict';
import { appendLog, isRunStale, readRunRecord, RUN_FILES, writeRunRecord } from '../train/runs';
import { writeJsonAtomic } from '../util/fsx';
import { PreviewWriter } from './preview-writer';

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

/** The default sweep: 0.05, 0.10, ..., 0.95. */
export function defaultThresholds(): number[] {
  return Array.from({ length: 19 }, (_, i) => Math.round((i + 1) * 5) / 100);
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
  const report = await evaluateModel(ctx);
  const test = { dsc: report.overall.dsc ?? NaN, iou: report.overall.iou ?? NaN, nll: report.overall.nll, brier: report.overall.brier, ece: report.overall.ece };
  return test;
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
  const thresholds = config.eval.thresholds ? [...config.eval.thresholds].sort((a, b) => a - b) : defaultThresholds();
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
    const fit = fitTemperature({ probs, labels, numClasses });
    temperature = fit.temperature;
    log('info', `temperature scaling: T = ${temperature.toFixed(4)} fitted on ${valIds.length} val cases (${fitVoxels} voxels${stride > 1 ? `, every ${stride}th` : ''}); val NLL ${fit.nllBefore.toFixed(4)} → ${fit.nllAfter.toFixed(4)}`);
  }

  // --- one streaming pass over the split ---
  const seg = new SegmentationAccumulator({ numClasses });
  const calBefore = new CalibrationAccumulator({ numClasses, bins });
  const calAfter = new CalibrationAccumulator({ numClasses, bins });
  const caseSeg = new SegmentationAccumulator({ numClasses });
  const caseCal = new CalibrationAccumulator({ numClasses, bins });
  const sweepClasses = numClasses === 2 ? [1] : Array.from({ length: numClasses - 1 }, (_, i) => i + 1);
  const sweepCounts = sweepClasses.map(() => thresholds.map(() => ({ tp: 0, fp: 0, fn: 0 })));
  const previews = new PreviewWriter(runDir, { split, numClasses, classes, channels: data.channels, probChannels: head === 'sigmoid' ? 1 : numClasses });
  const cases: CaseReport[] = [];
  let voxels = 0;
  for await (const c of data.evalCases(split)) {
    const probs = await predictCase(model, c, data, config.eval.overlap);
    voxels += c.labels.length;
    seg.update(probs, c.labels);
    calBefore.update(probs, c.labels);
    calAfter.update(useT ? applyTemperature(probs, numClasses, temperature) : probs, c.labels);
    caseSeg.reset();
    caseCal.reset();
    caseSeg.update(probs, c.labels);
    caseCal.update(probs, c.labels);
    const cs = caseSeg.aggregate();
    const cc = caseCal.aggregate();
    sweepClasses.forEach((ci, k) => {
      const sw = thresholdSweep({ probs, labels: c.labels, numClasses, classIndex: ci, thresholds });
      sw.forEach((pt, j) => {
        const acc = sweepCounts[k]![j]!;
        acc.tp += pt.tp;
        acc.fp += pt.fp;
        acc.fn += pt.fn;
      });
    });
    const dsc = nullIfNaN(cs.meanForeground.dsc);
    let preview: number | null = null;
    if (previewSet.has(c.id)) preview = previews.add({ id: c.id, spatial: c.spatial, image: c.image, labels: c.labels, probs: probsAsSaved(probs, numClasses, head), dsc, nll: cc.nll });
    cases.push({ id: c.id, dsc, dscPerClass: cs.perClass.map((p) => nullIfNaN(p.dsc)), nll: cc.nll, brier: cc.brier, preview });
  }
  const previewIndex = previews.finish();

  const s = seg.aggregate();
  const before = calBefore.aggregate();
  const afterAgg = calAfter.aggregate();
  const summaryOf = (k: typeof before): CalibrationSummary => ({ nll: k.nll, brier: k.brier, ece: k.ece, mce: k.mce, rmsce: k.rmsce, ace: k.ace, marginalEce: k.marginalEce });
  const perClass: ClassReport[] = classes.map((name, index) => {
    const sc = s.perClass[index]!;
    const kc = before.perClass[index]!;
    return {
      index,
      name,
      dsc: nullIfNaN(sc.dsc),
      iou: nullIfNaN(sc.iou),
      precision: nullIfNaN(sc.precision),
      recall: nullIfNaN(sc.recall),
      specificity: nullIfNaN(sc.specificity),
      ece: kc.ece,
      mce: kc.mce,
      ace: kc.ace,
      reliability: kc.reliability as ReliabilityBin[],
    };
  });
  const sweep = sweepClasses.map((ci, k) => ({
    classIndex: ci,
    className: classes[ci] as string,
    points: thresholds.map((threshold, j): SweepPoint => {
      const { tp, fp, fn } = sweepCounts[k]![j]!;
      return { threshold, precision: tp + fp > 0 ? tp / (tp + fp) : null, recall: tp + fn > 0 ? tp / (tp + fn) : null, dsc: 2 * tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : null };
    }),
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
      dsc: nullIfNaN(s.meanForeground.dsc),
      iou: nullIfNaN(s.meanForeground.iou),
      precision: nullIfNaN(s.meanForeground.precision),
      recall: nullIfNaN(s.meanForeground.recall),
      specificity: nullIfNaN(s.meanForeground.specificity),
    },
    reliability: before.reliability as ReliabilityBin[],
    perClass,
    thresholdSweep: sweep,
    temperature: { temperature, before: summaryOf(before), after: summaryOf(afterAgg), reliabilityAfter: afterAgg.reliability as ReliabilityBin[], fitOn: 'val', fitVoxels, ...(useT ? {} : { disabled: true }) },
    cases,
    threshold: readThresholdChoice(runDir),
    timings: { evalMs: Date.now() - t0, voxels },
  };
  const path = join(runDir, RUN_FILES.evaluation);
  writeJsonAtomic(path, report);
  log('info', `evaluation (${split}, ${cases.length} cases, ${previewIndex.cases.length} previews): DSC ${report.overall.dsc?.toFixed(4) ?? '—'}, NLL ${report.overall.nll.toFixed(4)}, Brier ${report.overall.brier.toFixed(4)}, ECE ${report.overall.ece.toFixed(4)}; after T: NLL ${report.temperature.after.nll.toFixed(4)}, ECE ${report.temperature.after.ece.toFixed(4)} [${((Date.now() - t0) / 1000).toFixed(1)} s]`);
  emit({ type: 'evaluated', runId, path, test: { dsc: report.overall.dsc ?? NaN, iou: report.overall.iou ?? NaN, nll: report.overall.nll, brier: report.overall.brier, ece: report.overall.ece } });
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
      latest.summary = { ...latest.summary, test: { dsc: report.overall.dsc ?? NaN, iou: report.overall.iou ?? NaN, nll: report.overall.nll, brier: report.overall.brier, ece: report.overall.ece } };
      latest.updatedAt = new Date().toISOString();
      writeRunRecord(runDir, latest);
    }
    return { report, path: join(runDir, RUN_FILES.evaluation) };
  } finally {
    model.dispose();
  }
}

