// A data-parallel gradient worker (worker_threads; bundled as dist/parallel-worker.js). It holds a
// replica of the run's U-Net on its own compute backend instance. Each step it takes the main thread's
// current weights and a slice of the batch, and answers with the loss and the gradients of that slice.
// It keeps no optimizer and no state between steps: the main thread owns the model, the optimizer, the
// batch-norm moving statistics and the checkpoints. Protocol: src/protocol/train-worker.ts.
import * as tf from '@tensorflow/tfjs-core';
import { parentPort, type MessagePort } from 'node:worker_threads';
import type { MainToWorker, WorkerToMain } from '../../protocol/train-worker';
import { TRAIN_WORKER_PROTOCOL_VERSION } from '../../protocol/train-worker';
import { selectBackend } from '../compute/backend';
import { createLoss } from '../losses';
import { UNet } from '../models/unet';
import { batchTensors } from './batch';

interface Replica {
  model: UNet;
  vars: tf.Variable[];
  lossFn: (y: tf.Tensor, p: tf.Tensor) => tf.Tensor;
  numClasses: number;
}

function requirePort(): MessagePort {
  if (!parentPort) throw new Error('parallel-worker.js runs as a worker thread of a training run (src/core/train/parallel.ts), not on its own');
  return parentPort;
}
const port = requirePort();

let replica: Replica | null = null;
const send = (m: WorkerToMain, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

function fail(id: number | null, e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  send({ type: 'error', id, message: err.message, stack: err.stack });
  process.exit(1);
}

async function handle(m: MainToWorker): Promise<void> {
  switch (m.type) {
    case 'init': {
      if (m.protocol !== TRAIN_WORKER_PROTOCOL_VERSION) throw new Error(`train worker protocol ${m.protocol}, expected ${TRAIN_WORKER_PROTOCOL_VERSION}: dist/parallel-worker.js is from another build; run npm run build`);
      // The main thread ran the start-up gradient checks of the replacement kernels in this process.
      const info = await selectBackend(m.backend, { gradientCheck: false });
      const model = new UNet(m.spec);
      replica = { model, vars: model.trainableVariables(), lossFn: createLoss(m.loss.name, m.loss.options), numClasses: m.spec.numClasses };
      send({ type: 'ready', protocol: TRAIN_WORKER_PROTOCOL_VERSION, workerIndex: m.workerIndex, backend: info.name, parameters: model.parameterCount() });
      return;
    }
    case 'step': {
      const r = replica;
      if (!r) throw new Error(`step ${m.id} before init`);
      if (m.weights.length !== r.vars.length) throw new Error(`step ${m.id}: got ${m.weights.length} weight arrays for a model with ${r.vars.length} trainable variables`);
      const t0 = performance.now();
      tf.tidy(() => r.vars.forEach((v, i) => v.assign(tf.tensor(m.weights[i] as Float32Array, v.shape))));
      const { value, grads } = tf.tidy(() => {
        const { x, y } = batchTensors(m, r.numClasses);
        return tf.variableGrads(() => r.lossFn(y, r.model.predict(x, true)) as tf.Scalar, r.vars);
      });
      r.model.discardStatistics();
      // Own buffers only: a backend may hand out a view of shared memory, which must not be transferred.
      const read = await Promise.all(r.vars.map((v) => (grads[v.name] as tf.Tensor).data() as Promise<Float32Array>));
      const out = read.map((g) => (g.byteOffset === 0 && g.byteLength === g.buffer.byteLength ? g : g.slice()));
      const loss = ((await value.data()) as Float32Array)[0] as number;
      value.dispose();
      tf.dispose(grads);
      send({ type: 'grads', id: m.id, loss, grads: out, ms: performance.now() - t0 }, out.map((g) => g.buffer as ArrayBuffer));
      return;
    }
    case 'close':
      replica?.model.dispose();
      replica = null;
      port.close();
      return;
    default: {
      const never: never = m;
      throw new Error(`unknown message ${JSON.stringify(never)}`);
    }
  }
}

// One message at a time, in order.
let chain: Promise<void> = Promise.resolve();
port.on('message', (m: MainToWorker) => {
  chain = chain.then(() => handle(m)).catch((e: unknown) => fail(m !== null && typeof m === 'object' && m.type === 'step' ? m.id : null, e));
});
