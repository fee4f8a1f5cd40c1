// Data-parallel training steps on one machine: the wasm and cpu backends run one thread each, so a
// 2-core machine leaves a core idle. With `train.workers` N > 1 the batch is cut into N slices; the main
// thread computes the gradients of the first slice while N − 1 worker threads (parallel-worker.ts)
// compute the others on replicas that receive the current weights every step. The gradients are
// averaged, weighted by slice size, which for a loss that is a mean over samples gives the gradient
// of the whole batch (exactly, except that batch norm normalises each slice with its own statistics, as
// data-parallel training without synchronised batch norm does everywhere). The main thread owns the
// optimizer, the batch-norm moving statistics (from its slice) and the checkpoints.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../../protocol/training';
import { TRAIN_WORKER_PROTOCOL_VERSION, type MainToWorker, type WorkerToMain } from '../../protocol/train-worker';
import type { UNet, UNetSpec } from '../models/unet';
import { batchTensors, splitBatch } from './batch';
import type { Batch } from './data-source';

export const WORKER_SCRIPT = 'parallel-worker.js';

/** Backends that compute on one thread, where worker threads add cores. */
const SINGLE_THREADED: readonly BackendName[] = ['wasm', 'cpu'];

/**
 * How many slices (main thread + workers) a run uses, and why when fewer than asked. `auto`: one per
 * core, at most the batch size and 4, on the single-threaded backends; 1 elsewhere.
 */
export function resolveWorkers(opts: { workers: number | 'auto'; backend: BackendName; batchSize: number; loss: { name: string; options: Record<string, unknown> }; cores?: number }): { workers: number; note: string | null } {
  const asked = opts.workers;
  const cores = opts.cores ?? availableParallelism();
  const why = (w: number, note: string | null) => ({ workers: w, note });
  if (!SINGLE_THREADED.includes(opts.backend)) return why(1, asked === 'auto' || asked === 1 ? null : `train.workers ${asked} ignored: the ${opts.backend} backend uses the cores (or the GPU) itself`);
  if (opts.loss.options.batchDice === true) return why(1, asked === 'auto' || asked === 1 ? null : `train.workers ${asked} ignored: with batchDice the ${opts.loss.name} loss sums over the whole batch, so it cannot be split into slices`);
  if (asked === 'auto') return why(Math.max(1, Math.min(cores, opts.batchSize, 4)), null);
  if (asked > opts.batchSize) return why(opts.batchSize, `train.workers ${asked} reduced to ${opts.batchSize}: a batch of ${opts.batchSize} has no more slices`);
  return why(asked, null);
}

/** Finds dist/parallel-worker.js next to the running bundle (dist/, dist/test/unit/, dist/bench/). */
export function workerScriptPath(from = __dirname): string {
  for (const up of ['.', '..', join('..', '..')]) {
    const p = join(from, up, WORKER_SCRIPT);
    if (existsSync(p)) return p;
  }
  throw new Error(`data-parallel training needs ${WORKER_SCRIPT} next to the running bundle (looked in ${from} and two folders up); run npm run build, or set train.workers: 1`);
}

interface Pending {
  id: number;
  resolve(r: { loss: number; grads: Float32Array[]; ms: number }): void;
  reject(e: Error): void;
}

class GradientWorker {
  private pending: Pending | null = null;
  private failure: Error | null = null;
  private readonly thread: Worker;
  private readonly readyP: Promise<void>;

  constructor(
    readonly index: number,
    script: string,
    init: Extract<MainToWorker, { type: 'init' }>,
  ) {
    this.thread = new Worker(script);
    this.readyP = new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        this.failure = e;
        reject(e);
        this.pending?.reject(e);
        this.pending = null;
      };
      this.thread.on('message', (m: WorkerToMain) => {
        switch (m.type) {
          case 'ready':
            if (m.protocol !== TRAIN_WORKER_PROTOCOL_VERSION) fail(new Error(`data-parallel worker ${index} speaks protocol ${m.protocol}, expected ${TRAIN_WORKER_PROTOCOL_VERSION}; run npm run build`));
            else resolve();
            return;
          case 'grads': {
            const p = this.pending;
            if (!p || p.id !== m.id) {
              fail(new Error(`data-parallel worker ${index} answered step ${m.id}, but step ${p?.id ?? 'none'} was pending`));
              return;
            }
            this.pending = null;
            p.resolve(m);
            return;
          }
          case 'error':
            fail(new Error(`data-parallel worker ${index} failed${m.id === null ? '' : ` in step ${m.id}`}: ${m.message}`));
            return;
          default: {
            const never: never = m;
            fail(new Error(`data-parallel worker ${index} sent an unknown message: ${JSON.stringify(never).slice(0, 200)}`));
          }
        }
      });
      this.thread.on('error', (e) => fail(new Error(`data-parallel worker ${index} crashed: ${e.message}`)));
      this.thread.on('exit', (code) => {
        if (this.failure === null && (code !== 0 || this.pending)) fail(new Error(`data-parallel worker ${index} exited with code ${code}`));
      });
    });
    // Avoid an unhandled rejection before anyone awaits ready().
    this.readyP.catch(() => undefined);
    this.thread.postMessage(init);
  }

  ready(): Promise<void> {
    return this.readyP;
  }

  step(m: Extract<MainToWorker, { type: 'step' }>): Promise<{ loss: number; grads: Float32Array[]; ms: number }> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error(`data-parallel worker ${this.index}: step ${m.id} sent while step ${this.pending.id} is running`));
    return new Promise((resolve, reject) => {
      this.pending = { id: m.id, resolve, reject };
      this.thread.postMessage(m);
    });
  }

  async close(): Promise<void> {
    if (this.failure === null) this.thread.postMessage({ type: 'close' } satisfies MainToWorker);
    // The worker closes its port and exits; terminate() makes sure of it.
    await this.thread.terminate();
  }
}

export interface DataParallelOptions {
  /** Slices per batch, main thread included (≥ 2). */
  workers: number;
  backend: BackendName;
  spec: UNetSpec;
  loss: { name: string; options: Record<string, unknown> };
  script?: string;
}

export class DataParallel {
  private stepId = 0;
  /** Milliseconds of the workers' last slices (for logs and the benchmark). */
  lastWorkerMs: number[] = [];

  private constructor(
    private readonly workers: GradientWorker[],
    private readonly sumLoss: boolean,
  ) {}

  /** Starts workers − 1 gradient workers and waits until each has built its replica. */
  static async start(o: DataParallelOptions): Promise<DataParallel> {
    if (!(o.workers >= 2)) throw new Error(`DataParallel needs at least 2 slices, got ${o.workers}`);
    const script = o.script ?? workerScriptPath();
    const ws: GradientWorker[] = [];
    for (let i = 1; i < o.workers; i++) ws.push(new GradientWorker(i, script, { type: 'init', protocol: TRAIN_WORKER_PROTOCOL_VERSION, workerIndex: i, backend: o.backend, spec: o.spec, loss: o.loss }));
    try {
      await Promise.all(ws.map((w) => w.ready()));
    } catch (e) {
      await Promise.all(ws.map((w) => w.close()));
      throw e;
    }
    return new DataParallel(ws, o.loss.options.reduction === 'sum');
  }

  get slices(): number {
    return this.workers.length + 1;
  }

  /**
   * One data-parallel training step with the same contract as trainer.trainStep: the update is applied
   * and [loss, global gradient norm] is returned as one tensor (the caller owns it). The main thread's
   * batch-norm statistics stay pending for model.commitStatistics().
   */
  async step(model: UNet, optimizer: tf.Optimizer, lossFn: (y: tf.Tensor, p: tf.Tensor) => tf.Tensor, vars: tf.Variable[], batch: Batch, numClasses: number): Promise<tf.Tensor1D> {
    const slices = splitBatch(batch, this.slices);
    const n = batch.shape[0] as number;
    const id = ++this.stepId;
    const remote = slices.slice(1);
    let results: { loss: number; grads: Float32Array[]; ms: number }[] = [];
    let requests: Promise<{ loss: number; grads: Float32Array[]; ms: number }>[] = [];
    let own: { value: tf.Scalar; grads: tf.NamedTensorMap } | null = null;
    try {
      if (remote.length) {
        const weights = vars.map((v) => v.dataSync() as Float32Array);
        // Sent before the main thread starts its own slice, so that the workers run alongside it.
        requests = remote.map((s, k) => (this.workers[k] as GradientWorker).step({ type: 'step', id, weights, x: s.x.slice(), labels: s.labels.slice(), shape: s.shape }));
      }
      const first = slices[0] as (typeof slices)[number];
      own = tf.tidy(() => {
        const { x, y } = batchTensors(first, numClasses);
        return tf.variableGrads(() => lossFn(y, model.predict(x, true)) as tf.Scalar, vars);
      });
      results = await Promise.all(requests);
    } catch (e) {
      if (own) {
        own.value.dispose();
        tf.dispose(own.grads);
      }
      model.discardStatistics();
      throw e;
    }
    this.lastWorkerMs = results.map((r) => r.ms);
    const o = own;
    // Each slice's share of the batch loss: m/n for a mean over samples, 1 for reduction 'sum'.
    const share = slices.map((sl) => (this.sumLoss ? 1 : (sl.shape[0] as number) / n));
    try {
      return tf.tidy(() => {
        const grads: tf.NamedTensorMap = {};
        vars.forEach((v, i) => {
          const parts = [tf.mul(o.grads[v.name] as tf.Tensor, share[0] as number)];
          results.forEach((r, k) => parts.push(tf.mul(tf.tensor(r.grads[i] as Float32Array, v.shape), share[k + 1] as number)));
          grads[v.name] = parts.length === 1 ? (parts[0] as tf.Tensor) : tf.addN(parts);
        });
        const loss = results.reduce((acc, r, k) => acc + r.loss * (share[k + 1] as number), 0);
        const total = tf.add(tf.mul(o.value, share[0] as number), loss);
        const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
        optimizer.applyGradients(grads);
        return tf.stack([tf.reshape(total, []), norm]) as tf.Tensor1D;
      });
    } finally {
      o.value.dispose();
      tf.dispose(o.grads);
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
