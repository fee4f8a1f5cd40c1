// Runs an experiment config: validates it, picks the compute backend, opens the data once, and trains
// each loss entry (or the one asked for) with the same seed and split. Used by the CLI, the backend
// process and the tests.
import * as tf from '@tensorflow/tfjs-core';
import { resolve } from 'node:path';
import type { StartRunOptions } from '../../protocol/backend';
import type { BackendInfo, TrainingEvent } from '../../protocol/training';
import { loadConfig, runsRootFor, type ExperimentConfig } from '../config';
import { selectBackend } from '../compute/backend';
import { openTrainingData } from './open-data';
import { readRunRecord } from './runs';
import { trainRun, TrainingError, type RunOutcome, type StopSignal } from './trainer';
import { evaluateAfterTraining } from '../eval/evaluate';

export interface ExperimentRequest extends StartRunOptions {
  signal: StopSignal;
  emit: (e: TrainingEvent) => void;
  /** Called once the backend is chosen (before any run starts). */
  onBackend?: (b: BackendInfo) => void;
}

export function packageVersions(): Record<string, string> {
  const out: Record<string, string> = { node: process.versions.node, '@tensorflow/tfjs-core': tf.version_core };
  return out;
}

/** Applies CLI/IPC overrides to a validated config. */
export function applyOverrides(config: ExperimentConfig, o: Pick<StartRunOptions, 'epochs' | 'backend'>): ExperimentConfig {
  let c = config;
  if (o.epochs !== undefined) c = { ...c, train: { ...c.train, epochs: o.epochs } };
  if (o.backend !== undefined) c = { ...c, backend: o.backend as ExperimentConfig['backend'] };
  return c;
}

export async function runExperiment(req: ExperimentRequest): Promise<RunOutcome[]> {
  let configPath = resolve(req.configPath);
  let config: ExperimentConfig;
  let lossIndices: number[];
  if (req.resume) {
    const rec = readRunRecord(resolve(req.resume));
    configPath = rec.configPath;
    config = rec.config as ExperimentConfig;
    lossIndices = [rec.lossIndex];
  } else {
    config = loadConfig(configPath);
    if (req.lossIndex !== undefined) {
      if (req.lossIndex >= config.losses.length) throw new TrainingError(`loss index ${req.lossIndex} is out of range: ${configPath} has ${config.losses.length} loss entr${config.losses.length === 1 ? 'y' : 'ies'}`);
      lossIndices = [req.lossIndex];
    } else lossIndices = config.losses.map((_, i) => i);
  }
  config = applyOverrides(config, req);
  const backend = await selectBackend(config.backend, { backendsDirectory: req.backendsDirectory, log: (m: string) => req.emit({ type: 'log', runId: '', level: 'info', message: m }) });
  req.onBackend?.(backend);
  const versions = { ...packageVersions(), ...backend.versions };
  const data = await openTrainingData(config, configPath);
  const runsRoot = req.resume ? resolve(req.resume, '..', '..') : runsRootFor(config, configPath, req.out);
  const outcomes: RunOutcome[] = [];
  for (const lossIndex of lossIndices) {
    if (req.signal.requested) break;
    outcomes.push(
      await trainRun({
        configPath,
        config,
        lossIndex,
        runsRoot,
        backend,
        data,
        signal: req.signal,
        emit: req.emit,
        resumeDir: req.resume ? resolve(req.resume) : undefined,
        evaluate: (ctx) => evaluateAfterTraining({ ...ctx, config }),
        versions,
      }),
    );
  }
  return outcomes;
}
