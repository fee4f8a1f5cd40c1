// The channel between a training run (src/core/train/parallel.ts, the main thread) and its gradient
// workers (src/core/train/parallel-worker.ts, worker_threads) in data-parallel training: each step the
// main thread sends the current weights and a slice of the batch, and a worker answers with the loss and
// the gradients of its slice. Imports nothing but sibling protocol types.
import type { BackendName } from './training';

export const TRAIN_WORKER_PROTOCOL_VERSION = 1;

/** A U-Net's architecture and initialisation seed (core's models/unet.ts builds it; workers get it in `init`). */
export interface UNetSpec {
  dims: 2 | 3;
  inChannels: number;
  numClasses: number;
  depth: number;
  filters: number;
  norm: 'batch' | 'instance' | 'none';
  dropout: number;
  head: 'softmax' | 'sigmoid';
  seed: number;
}

/** Main thread → worker. */
export type MainToWorker =
  | { type: 'init'; protocol: number; workerIndex: number; backend: BackendName; spec: UNetSpec; loss: { name: string; options: Record<string, unknown> } }
  /**
   * One slice of a step. `weights` are the trainable variables in the order of UNet.trainableVariables();
   * `x` is [B, ...spatial, C] channels-last, `labels` [B, ...spatial] class ids, `shape` the shape of x.
   */
  | { type: 'step'; id: number; weights: Float32Array[]; x: Float32Array; labels: Uint8Array; shape: number[] }
  | { type: 'close' };

/** Worker → main thread. */
export type WorkerToMain =
  | { type: 'ready'; protocol: number; workerIndex: number; backend: BackendName; parameters: number }
  /** The loss of the slice (the loss's own reduction) and one gradient per weight, in the same order. */
  | { type: 'grads'; id: number; loss: number; grads: Float32Array[]; ms: number }
  /** A failure in the worker; it exits after sending this. `id` is the step, when it happened in one. */
  | { type: 'error'; id: number | null; message: string; stack?: string };
