// The training loop: one run = one loss entry of a config, trained from its seed on one backend,
// writing a run folder that stays readable whatever happens (atomic run.json, line-by-line
// metrics.jsonl, checkpoints swapped in atomically, log.txt).
import * as tf from '@tensorflow/tfjs-core';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { BackendInfo, EpochRecord, RunRecord, RunSummary, StepRecord, TrainingEvent, ValMetrics } from '../../protocol/training';
import type { ExperimentConfig, LossEntry } from '../config/schema';
import { createLoss } from '../losses';
import { CalibrationAccumulator, SegmentationAccumulator } from '../metrics';
import { loadCheckpoint, saveCheckpoint } from '../models/checkpoint';
import { UNet, unetSpecFromConfig } from '../models/unet';
import type { Batch, EvalCase, TrainingData } from './data-source';
import { batchTensors, oneHot } from './batch';
import { predictCase } from './predict';
import { appendLog, createRunFolder, newRunRecord, readRunRecord, RUN_FILES, writeRunRecord } from './runs';
import { appendJsonLine } from '../util/fsx';
import { writeEpochPreviews } from './previews';
import { DataParallel, resolveWorkers } from './parallel';

export interface StopSignal {
  requested: boolean;
  reason?: string;
}

export class TrainingError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'TrainingError';
  }
}

export interface RunRequest {
  configPath: string;
  config: ExperimentConfig;
  lossIndex: number;
  runsRoot: string;
  backend: BackendInfo;
  data: TrainingData;
  signal: StopSignal;
  emit: (e: TrainingEvent) => void;
  /** Resume this run folder instead of creating a new one. */
  resumeDir?: string;
  /** Runs after training (test-split evaluation); its failure fails the run. */
  evaluate?: (ctx: { runDir: string; runId: string; model: UNet; data: TrainingData; emit: (e: TrainingEvent) => void }) => Promise<RunSummary['test']>;
  versions: Record<string, string>;
}

export interface RunOutcome {
  runId: string;
  runDir: string;
  status: 'completed' | 'stopped' | 'failed';
  summary: RunSummary;
  error?: string;
}

interface TrainerState {
  lr: number;
  bestValLoss: number;
  bestEpoch: number | null;
  best: ValMetrics | null;
  plateauWait: number;
  earlyWait: number;
}

function makeOptimizer(cfg: ExperimentConfig['train'], lr: number): tf.Optimizer {
  return cfg.optimizer === 'sgd' ? tf.train.momentum(lr, cfg.momentum, true) : tf.train.adam(lr);
}

function setLearningRate(opt: tf.Optimizer, lr: number): void {
  // Not `instanceof tf.SGDOptimizer`: tfjs optimizers' Symbol.hasInstance accepts any optimizer (Adam too).
  const o = opt as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

export { oneHot };

/**
 * One training step: gradients, their global norm (a NaN/Inf guard that also catches divergence hidden
 * by the probability clipping of the losses), then the update. Returns [loss, gradient norm] as one
 * tensor (the caller owns it) so that a step needs one read-back. Also used by the benchmark.
 */
export function trainStep(model: UNet, optimizer: tf.Optimizer, lossFn: (y: tf.Tensor, p: tf.Tensor) => tf.Tensor, vars: tf.Variable[], batch: Batch, numClasses: number): tf.Tensor1D {
  return tf.tidy(() => {
    const { x, y } = batchTensors(batch, numClasses);
    const { value, grads } = tf.variableGrads(() => lossFn(y, model.predict(x, true)) as tf.Scalar, vars);
    const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
    optimizer.applyGradients(grads);
    return tf.stack([value, norm]) as tf.Tensor1D;
  });
}

function finiteOrNaN(v: number | null | undefined): number {
  return v === null || v === undefined ? NaN : v;
}

export function lossLabel(entry: LossEntry): string {
  return entry.name;
}

/**
 * Validation over whole cases: loss, overlap and calibration (3D: sliding window with eval.overlap).
 * Keeps the probabilities of the first `keep` cases for the epoch's previews.
 */
async function validate(model: UNet, data: TrainingData, lossFn: (y: tf.Tensor, p: tf.Tensor) => tf.Tensor, numClasses: number, bins: number, overlap: number, keep: number): Promise<{ val: ValMetrics; kept: Map<string, Float32Array> }> {
  const kept = new Map<string, Float32Array>();
  const seg = new SegmentationAccumulator({ numClasses });
  const cal = new CalibrationAccumulator({ numClasses, bins });
  let lossSum = 0;
  let n = 0;
  for await (const c of data.evalCases('val')) {
    const probs = await predictCase(model, c, data, overlap);
    if (kept.size < keep) kept.set(c.id, probs);
    const l = tf.tidy(() => {
      const p = tf.tensor(probs, [1, ...c.spatial, numClasses]);
      const y = tf.tensor(oneHot(c.labels, numClasses), [1, ...c.spatial, numClasses]);
      return lossFn(y, p);
    });
    lossSum += (await l.data())[0] as number;
    l.dispose();
    n++;
    seg.update(probs, c.labels);
    cal.update(probs, c.labels);
  }
  const s = seg.aggregate();
  const k = cal.aggregate();
  const val: ValMetrics = {
    loss: n ? lossSum / n : NaN,
    dsc: finiteOrNaN(s.meanForeground.dsc),
    iou: finiteOrNaN(s.meanForeground.iou),
    nll: k.nll,
    brier: k.brier,
    ece: k.ece,
    dscPerClass: s.perClass.map((c) => (c.dsc === null || Number.isNaN(c.dsc) ? null : c.dsc)),
  };
  return { val, kept };
}

function fmt(v: number, d = 4): string {
  return Number.isFinite(v) ? v.toFixed(d) : String(v);
}

/** Trains one run. Never throws for training failures: they end as status 'failed' in the run folder. */
export async function trainRun(req: RunRequest): Promise<RunOutcome> {
  const { config, data, emit, signal } = req;
  const entry = config.losses[req.lossIndex];
  if (!entry) throw new TrainingError(`loss index ${req.lossIndex} is out of range: the config has ${config.losses.length} loss entr${config.losses.length === 1 ? 'y' : 'ies'}`);
  const { name: lossName, ...lossOptions } = entry;
  const numClasses = config.data.classes.length;
  const t0 = Date.now();

  // --- run folder ---
  let runDir: string;
  let record: RunRecord;
  let fromQueue = false;
  if (req.resumeDir) {
    runDir = req.resumeDir;
    record = readRunRecord(runDir);
    if (record.status === 'completed') throw new TrainingError(`run ${record.id} already completed; nothing to resume (start a new run instead)`);
    // A folder pre-created by a sweep (status queued) starts from scratch in place.
    fromQueue = record.status === 'queued';
    if (fromQueue) record = { ...record, startedAt: new Date().toISOString(), host: hostname() };
  } else {
    const created = createRunFolder(req.runsRoot, config.name, lossName);
    runDir = created.dir;
    record = newRunRecord({ id: created.id, experiment: config.name, configPath: req.configPath, loss: { name: lossName, options: lossOptions }, lossIndex: req.lossIndex, seed: config.train.seed, config, totalEpochs: config.train.epochs });
  }
  const runId = record.id;
  const log = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => {
    appendLog(runDir, `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`);
    emit({ type: 'log', runId, level, message });
  };
  const save = (patch: Partial<RunRecord>) => {
    record = { ...record, ...patch, updatedAt: new Date().toISOString() };
    writeRunRecord(runDir, record);
  };

  const stepsPerEpoch = config.train.stepsPerEpoch ?? data.stepsPerEpoch(config.train.batchSize);
  save({ status: 'running', pid: process.pid, backend: req.backend, versions: req.versions, stepsPerEpoch, totalEpochs: config.train.epochs, endedAt: null, error: null });
  for (const w of data.warnings) log('warn', w);
  log('info', `run ${runId}: loss ${lossName} ${JSON.stringify(lossOptions)}, backend ${req.backend.name}, seed ${config.train.seed}`);
  log('info', `data: ${data.describe()}`);

  let model: UNet | null = null;
  let optimizer: tf.Optimizer | null = null;
  let parallel: DataParallel | null = null;
  const state: TrainerState = { lr: config.train.lr, bestValLoss: Infinity, bestEpoch: null, best: null, plateauWait: 0, earlyWait: 0 };
  let startEpoch = 1;
  let globalStep = 0;
  let lastVal: ValMetrics | null = null;
  let epochsCompleted = 0;
  const elapsedBase = record.summary.durationMs ?? 0;
  const elapsed = () => elapsedBase + (Date.now() - t0);

  const summary = (): RunSummary => ({ epochsCompleted, bestEpoch: state.bestEpoch, best: state.best, last: lastVal, durationMs: elapsed(), test: record.summary.test });

  const saveLast = async (epoch: number) => {
    if (!model || !optimizer) return;
    const path = join(runDir, RUN_FILES.checkpoints, 'last');
    await saveCheckpoint(path, model.spec, model.namedTensors(), { epoch, globalStep, trainer: { ...state } }, optimizer);
    emit({ type: 'checkpoint', runId, kind: 'last', path, epoch });
  };

  try {
    const lossFn = createLoss(lossName, lossOptions);
    const spec = unetSpecFromConfig(config.model, data.channels, numClasses, config.train.seed);
    model = new UNet(spec);
    optimizer = makeOptimizer(config.train, state.lr);
    if (req.resumeDir && !fromQueue) {
      const ck = loadCheckpoint(join(runDir, RUN_FILES.checkpoints, 'last'));
      model.load(ck.tensors, join(runDir, RUN_FILES.checkpoints, 'last'));
      Object.values(ck.tensors).forEach((t) => t.dispose());
      Object.assign(state, ck.meta.trainer as Partial<TrainerState>);
      // JSON has no Infinity: a run stopped before its first validation saved bestValLoss as null.
      if (typeof state.bestValLoss !== 'number') state.bestValLoss = Infinity;
      optimizer.dispose();
      optimizer = makeOptimizer(config.train, state.lr);
      if (ck.optimizer) {
        // Optimizer slots are created lazily: one zero-gradient step creates them, then set the saved values.
        const vars = model.trainableVariables();
        optimizer.applyGradients(Object.fromEntries(vars.map((v) => [v.name, tf.zerosLike(v)])));
        await optimizer.setWeights(ck.optimizer.weights);
      }
      startEpoch = ck.meta.epoch + 1;
      globalStep = ck.meta.globalStep;
      epochsCompleted = ck.meta.epoch;
      save({ resumedFrom: [...record.resumedFrom, { epoch: ck.meta.epoch, at: new Date().toISOString() }] });
      log('info', `resumed from epoch ${ck.meta.epoch} (step ${globalStep}), lr ${state.lr}`);
    }
    log('info', `model: ${config.model.arch} depth ${spec.depth} filters ${spec.filters} norm ${spec.norm}, ${model.parameterCount()} parameters`);
    const slices = resolveWorkers({ workers: config.train.workers, backend: req.backend.name, batchSize: config.train.batchSize, loss: { name: lossName, options: lossOptions } });
    if (slices.note) log('warn', slices.note);
    if (slices.workers > 1) {
      parallel = await DataParallel.start({ workers: slices.workers, backend: req.backend.name, spec, loss: { name: lossName, options: lossOptions } });
      log('info', `data-parallel: each batch of ${config.train.batchSize} is cut into ${slices.workers} slices, one on this thread and ${slices.workers - 1} on worker thread${slices.workers > 2 ? 's' : ''} (train.workers: ${config.train.workers})`);
    }
    save({ slices: slices.workers });
    emit({ type: 'started', runId, runDir, experiment: config.name, loss: lossName, backend: req.backend, totalEpochs: config.train.epochs, stepsPerEpoch, startEpoch, seed: config.train.seed, slices: slices.workers });

    const totalSteps = config.train.epochs * stepsPerEpoch;
    const vars = model.trainableVariables();
    let stepMsAvg = 0;
    let stopped = false;
    let tensorsAtEpochEnd: number | null = null;

    for (let epoch = startEpoch; epoch <= config.train.epochs && !stopped; epoch++) {
      const te = Date.now();
      let lossSum = 0;
      let lossCount = 0;
      let step = 0;
      for await (const batch of data.trainBatches(epoch, config.train.batchSize)) {
        if (step >= stepsPerEpoch) break;
        step++;
        globalStep++;
        const ts = Date.now();
        // One step (trainStep, or its data-parallel form), one read-back.
        const readout = parallel ? await parallel.step(model, optimizer, lossFn, vars, batch, numClasses) : trainStep(model, optimizer, lossFn, vars, batch, numClasses);
        model.commitStatistics();
        const [lossV, gradNorm] = (await readout.data()) as Float32Array;
        readout.dispose();
        if (!Number.isFinite(lossV) || !Number.isFinite(gradNorm)) {
          throw new TrainingError(
            `training diverged at epoch ${epoch}, step ${step} (global step ${globalStep}): the loss is ${lossV} and the gradient norm is ${gradNorm}; the run was stopped. Try a lower train.lr (now ${state.lr}), a different loss, or check the inputs of cases ${batch.ids.join(', ')}`,
          );
        }
        lossSum += lossV;
        lossCount++;
        const dt = Date.now() - ts;
        stepMsAvg = stepMsAvg === 0 ? dt : 0.9 * stepMsAvg + 0.1 * dt;
        if (step % config.train.logEvery === 0 || step === stepsPerEpoch) {
          const rec: StepRecord = { kind: 'step', epoch, step, globalStep, loss: lossV, lr: state.lr, elapsedMs: elapsed(), time: new Date().toISOString() };
          appendJsonLine(join(runDir, RUN_FILES.metrics), rec);
          const remaining = totalSteps - globalStep;
          const { kind: _k, ...rest } = rec;
          emit({ type: 'step', runId, totalSteps, etaMs: Math.round(remaining * stepMsAvg), ...rest });
        }
        if (signal.requested) {
          stopped = true;
          break;
        }
      }
      if (stopped) {
        log('info', `stop requested (${signal.reason ?? 'stop'}) during epoch ${epoch}, step ${step}: saving the last checkpoint`);
        // The interrupted epoch is not complete: the checkpoint resumes from the previous epoch boundary's
        // counters but keeps the latest weights.
        await saveLast(epoch - 1);
        break;
      }
      // --- validation ---
      const { val, kept } = await validate(model, data, lossFn, numClasses, config.eval.bins, config.eval.overlap, config.data.previewCases);
      model.discardStatistics();
      lastVal = val;
      epochsCompleted = epoch;
      const improved = val.loss < state.bestValLoss - (config.train.earlyStopping ? config.train.earlyStopping.minDelta : 0);
      const better = val.loss < state.bestValLoss;
      if (better) {
        state.bestValLoss = val.loss;
        state.bestEpoch = epoch;
        state.best = val;
        const path = join(runDir, RUN_FILES.checkpoints, 'best');
        await saveCheckpoint(path, model.spec, model.namedTensors(), { epoch, globalStep, trainer: { ...state } });
        emit({ type: 'checkpoint', runId, kind: 'best', path, epoch });
      }
      // ReduceLROnPlateau.
      if (config.train.plateau) {
        if (better) state.plateauWait = 0;
        else if (++state.plateauWait > config.train.plateau.patience) {
          const next = Math.max(config.train.plateau.minLr, state.lr * config.train.plateau.factor);
          if (next < state.lr) {
            log('info', `epoch ${epoch}: validation loss has not improved for ${state.plateauWait - 1} epochs; lr ${state.lr} → ${next}`);
            state.lr = next;
            setLearningRate(optimizer, next);
          }
          state.plateauWait = 0;
        }
      }
      if (config.train.earlyStopping) state.earlyWait = improved ? 0 : state.earlyWait + 1;
      await writeEpochPreviews(model, data, runDir, config.data.previewCases, config.eval.overlap, kept);

      const numTensors = tf.memory().numTensors;
      if (tensorsAtEpochEnd !== null && numTensors !== tensorsAtEpochEnd) log('warn', `tensor count changed between epochs: ${tensorsAtEpochEnd} → ${numTensors}`);
      tensorsAtEpochEnd = numTensors;
      const epochMs = Date.now() - te;
      const rec: EpochRecord = { kind: 'epoch', epoch, globalStep, trainLoss: lossCount ? lossSum / lossCount : NaN, val, lr: state.lr, elapsedMs: elapsed(), epochMs, numTensors, best: better, time: new Date().toISOString() };
      appendJsonLine(join(runDir, RUN_FILES.metrics), rec);
      // The record goes first: a kill between the two repeats this epoch on resume (readers keep the
      // last record of an epoch) instead of losing its record.
      if (epoch % config.train.checkpointEvery === 0 || epoch === config.train.epochs) await saveLast(epoch);
      const { kind: _k, ...rest } = rec;
      emit({ type: 'epoch', runId, etaMs: Math.round((config.train.epochs - epoch) * epochMs), ...rest });
      log('info', `epoch ${epoch}/${config.train.epochs}: train loss ${fmt(rec.trainLoss)}, val loss ${fmt(val.loss)}, DSC ${fmt(val.dsc)}, NLL ${fmt(val.nll)}, Brier ${fmt(val.brier)}, ECE ${fmt(val.ece ?? NaN)}${better ? ' (best)' : ''} [${(epochMs / 1000).toFixed(1)} s]`);
      save({ summary: summary() });
      if (config.train.earlyStopping && state.earlyWait >= config.train.earlyStopping.patience) {
        log('info', `early stopping at epoch ${epoch}: no improvement for ${state.earlyWait} epochs`);
        break;
      }
      if (signal.requested) {
        stopped = true;
        log('info', `stop requested (${signal.reason ?? 'stop'}) after epoch ${epoch}`);
      }
    }

    if (stopped) {
      save({ status: 'stopped', endedAt: new Date().toISOString(), summary: summary(), pid: null });
      emit({ type: 'finished', runId, status: 'stopped', summary: summary() });
      return { runId, runDir, status: 'stopped', summary: summary() };
    }
    // --- test evaluation with the best checkpoint ---
    if (req.evaluate && !config.eval.skip) {
      const ckDir = join(runDir, RUN_FILES.checkpoints, config.eval.checkpoint);
      const ck = loadCheckpoint(ckDir);
      model.load(ck.tensors, ckDir);
      Object.values(ck.tensors).forEach((t) => t.dispose());
      const test = await req.evaluate({ runDir, runId, model, data, emit });
      record.summary.test = test;
    }
    save({ status: 'completed', endedAt: new Date().toISOString(), summary: summary(), pid: null });
    log('info', `completed in ${(elapsed() / 1000).toFixed(1)} s; best epoch ${state.bestEpoch} (val loss ${fmt(state.bestValLoss)})`);
    emit({ type: 'finished', runId, status: 'completed', summary: summary() });
    return { runId, runDir, status: 'completed', summary: summary() };
  } catch (e) {
    const err = e as Error;
    const message = err instanceof TrainingError ? err.message : `${err.name}: ${err.message}`;
    log('error', message);
    if (err.stack && !(err instanceof TrainingError)) appendLog(runDir, err.stack);
    save({ status: 'failed', endedAt: new Date().toISOString(), error: { message, detail: err.stack }, summary: summary(), pid: null });
    emit({ type: 'failed', runId, error: { message, detail: err.stack } });
    return { runId, runDir, status: 'failed', summary: summary(), error: message };
  } finally {
    await parallel?.dispose();
    model?.dispose();
    optimizer?.dispose();
  }
}

export type { Batch, EvalCase, TrainingData };
