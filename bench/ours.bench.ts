// Our half of the benchmark (bundled to dist/bench/ours.cjs; bench/run.mjs drives it). Subcommands:
//   serve --backend B                 JSON lines on stdin/stdout, so that run.mjs can alternate chunks of
//                                     steps with the PyTorch worker (bench/torch_ref.py) in the same run:
//                                       {"cmd":"setup","workload":"2d"|"3d"} · {"cmd":"steps","n":N} · {"cmd":"quit"}
//   eval-metrics [--size 128] [--classes 4] [--repeat 3]
//                                     calibrationMetrics and segmentationMetrics on a size³ volume
//   epoch --backend B [--smoke]       one epoch of the bbbc039 example (first loss), through runExperiment
//   memory --backend B [--steps 1000] RSS and tensor count over a long run of the 2D workload
//   stream --backend B [--images 5000] [--size 256]
//                                     a synthetic data set of that many images in a temp folder, streamed
//                                     through the trainer's data path (Dataset2D batches) for one epoch
// Replies and results are single lines prefixed "@@ " (JSON); anything else on stdout is a log line.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { selectBackend, type BackendChoice } from '../src/core/compute/backend';
import { loadConfig } from '../src/core/config';
import { encodePngGrey } from '../src/core/data/image';
import { createLoss } from '../src/core/losses';
import { calibrationMetrics, segmentationMetrics } from '../src/core/metrics';
import { UNet } from '../src/core/models/unet';
import { runExperiment } from '../src/core/train/experiment';
import { openTrainingData } from '../src/core/train/open-data';
import { oneHot, trainStep } from '../src/core/train/trainer';
import { DataParallel, resolveWorkers } from '../src/core/train/parallel';
import type { BackendName } from '../src/protocol/training';
import type { Batch } from '../src/core/train/data-source';
import type { TrainingEvent } from '../src/protocol/training';
import { Rng } from '../src/core/util/rng';
import { syntheticBatches, trainingFlops, WORKLOADS, type WorkloadName } from './reference';

const REPO = resolve(__dirname, '..', '..');

function reply(obj: Record<string, unknown>): void {
  process.stdout.write(`@@ ${JSON.stringify(obj)}\n`);
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const MB = 1024 * 1024;
const rssMB = (): number => process.memoryUsage().rss / MB;
/** Peak resident set size of this process so far (getrusage ru_maxrss). */
const peakRssMB = (): number => (process.resourceUsage().maxRSS * 1024) / MB;

/** Selects the backend; returns its name, with the adapter for webgpu (e.g. "webgpu (nvidia, hopper, ...)"). */
let currentBackend: BackendName = 'wasm';
async function backend(): Promise<string> {
  const b = await selectBackend(arg('backend', 'wasm') as BackendChoice, { log: (m) => process.stderr.write(`${m}\n`) });
  currentBackend = b.name;
  const adapter = b.versions['webgpu adapter'];
  return adapter ? `${b.name} (${adapter})` : b.name;
}

// ------------------------------------------------------------------------------------------------
// serve: the reference workloads, step by step on request

interface Session {
  /** Data-parallel slices (train.workers resolved); a DataParallel when > 1. */
  workers: number;
  parallel: DataParallel | null;
  model: UNet;
  optimizer: tf.Optimizer;
  loss: ReturnType<typeof createLoss>;
  vars: tf.Variable[];
  batches: Batch[];
  numClasses: number;
  step: number;
}

async function runSteps(s: Session, n: number): Promise<{ ms: number[]; cpuMs: number[]; loss: number; gradNorm: number }> {
  const ms: number[] = [];
  const cpuMs: number[] = [];
  let loss = NaN;
  let gradNorm = NaN;
  for (let i = 0; i < n; i++) {
    const batch = s.batches[s.step % s.batches.length] as Batch;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const readout = s.parallel ? await s.parallel.step(s.model, s.optimizer, s.loss, s.vars, batch, s.numClasses) : trainStep(s.model, s.optimizer, s.loss, s.vars, batch, s.numClasses);
    s.model.commitStatistics();
    const v = (await readout.data()) as Float32Array;
    readout.dispose();
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
    loss = v[0] as number;
    gradNorm = v[1] as number;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) throw new Error(`step ${s.step}: loss ${loss}, gradient norm ${gradNorm}`);
    s.step++;
  }
  return { ms, cpuMs, loss, gradNorm };
}

async function newSession(name: WorkloadName, backendName: BackendName): Promise<Session> {
  const w = WORKLOADS[name];
  const model = new UNet(w.spec);
  const asked = arg('workers', 'auto');
  const { workers, note } = resolveWorkers({ workers: asked === 'auto' ? 'auto' : Number(asked), backend: backendName, batchSize: 4, loss: { name: 'dice', options: {} } });
  if (note) process.stderr.write(`${note}\n`);
  const parallel = workers > 1 ? await DataParallel.start({ workers, backend: backendName, spec: w.spec, loss: { name: 'dice', options: {} } }) : null;
  return { workers, parallel, model, optimizer: tf.train.adam(1e-3), loss: createLoss('dice'), vars: model.trainableVariables(), batches: syntheticBatches(w, 4), numClasses: w.numClasses, step: 0 };
}

async function serve(): Promise<void> {
  const name = await backend();
  let s: Session | null = null;
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const msg = JSON.parse(line) as { cmd: string; workload?: WorkloadName; n?: number };
    try {
      switch (msg.cmd) {
        case 'setup': {
          const w = WORKLOADS[msg.workload ?? '2d'];
          await s?.parallel?.dispose();
          s = await newSession(w.name, currentBackend);
          reply({ ok: true, backend: name, workers: s.workers, workload: w.name, params: s.model.parameterCount(), flopsPerStep: trainingFlops(w), numTensors: tf.memory().numTensors, rssMB: rssMB() });
          break;
        }
        case 'steps': {
          if (!s) throw new Error('steps before setup');
          const r = await runSteps(s, msg.n ?? 1);
          reply({ ok: true, ...r, step: s.step, numTensors: tf.memory().numTensors, rssMB: rssMB(), peakRssMB: peakRssMB() });
          break;
        }
        case 'quit':
          await s?.parallel?.dispose();
          reply({ ok: true, peakRssMB: peakRssMB() });
          rl.close();
          return;
        default:
          throw new Error(`unknown command ${msg.cmd}`);
      }
    } catch (e) {
      reply({ ok: false, error: (e as Error).stack ?? String(e) });
    }
  }
}

// ------------------------------------------------------------------------------------------------
// eval-metrics: the evaluation path's metrics on a large volume

function median(xs: number[]): number {
  const a = [...xs].sort((p, q) => p - q);
  const m = Math.floor(a.length / 2);
  return a.length % 2 ? (a[m] as number) : ((a[m - 1] as number) + (a[m] as number)) / 2;
}

function evalMetrics(): void {
  const size = Number(arg('size', '128'));
  const k = Number(arg('classes', '4'));
  const repeat = Number(arg('repeat', '3'));
  const vox = size ** 3;
  // Softmax of random logits biased towards the true class: realistic confidences, all bins populated.
  const rng = new Rng(11);
  const labels = new Uint8Array(vox);
  const probs = new Float32Array(vox * k);
  const z = new Float64Array(k);
  for (let i = 0; i < vox; i++) {
    const t = rng.int(k);
    labels[i] = t;
    let sum = 0;
    for (let c = 0; c < k; c++) {
      z[c] = Math.exp(rng.normal() + (c === t ? 2 : 0));
      sum += z[c] as number;
    }
    for (let c = 0; c < k; c++) probs[i * k + c] = (z[c] as number) / sum;
  }
  const shape = [size, size, size];
  for (const [name, fn] of [
    ['calibrationMetrics', () => calibrationMetrics({ probs, labels, shape, numClasses: k }).ece],
    ['segmentationMetrics', () => segmentationMetrics({ probs, labels, shape, numClasses: k }).mean.dsc],
  ] as const) {
    const ms: number[] = [];
    let value = NaN;
    for (let r = 0; r < repeat; r++) {
      const t0 = performance.now();
      value = fn() ?? NaN;
      ms.push(performance.now() - t0);
    }
    const m = median(ms);
    reply({ name, voxels: vox, classes: k, medianMs: m, voxelsPerSecond: vox / (m / 1000), runs: repeat, value, peakRssMB: peakRssMB() });
  }
}

// ------------------------------------------------------------------------------------------------
// epoch: one epoch of the bbbc039 example through the product's own runExperiment

async function epoch(): Promise<void> {
  const smoke = process.argv.includes('--smoke');
  const example = join(REPO, 'examples', 'bbbc039');
  const tmp = mkdtempSync(join(tmpdir(), 'dscpp-bench-epoch-'));
  try {
    // The example's config, with its folders made absolute, one loss (the first), and the output in tmp.
    const text = readFileSync(join(example, 'quickstart.dscpp.yaml'), 'utf8')
      .replace(/^\$schema:.*$/m, '')
      .replace(/^ {2}images: images$/m, `  images: ${join(example, 'images')}`)
      .replace(/^ {2}masks: masks$/m, `  masks: ${join(example, 'masks')}`)
      .replace(/^train:$/m, smoke ? 'train:\n  stepsPerEpoch: 1' : 'train:');
    const configPath = join(tmp, 'bench.dscpp.yaml');
    writeFileSync(configPath, text);
    const config = loadConfig(configPath);
    const events: TrainingEvent[] = [];
    const t0 = performance.now();
    const outcomes = await runExperiment({ configPath, lossIndex: 0, epochs: 1, out: join(tmp, 'runs'), backend: arg('backend', 'wasm'), signal: { requested: false }, emit: (e) => events.push(e) });
    const totalMs = performance.now() - t0;
    const o = outcomes[0];
    if (!o || o.status !== 'completed') throw new Error(`the epoch run did not complete: ${o?.error ?? 'no outcome'}`);
    const ep = events.find((e): e is Extract<TrainingEvent, { type: 'epoch' }> => e.type === 'epoch');
    const started = events.find((e): e is Extract<TrainingEvent, { type: 'started' }> => e.type === 'started');
    reply({
      name: 'bbbc039-epoch',
      config: 'examples/bbbc039/quickstart.dscpp.yaml',
      loss: config.losses[0]?.name,
      size: config.data.size,
      steps: started?.stepsPerEpoch,
      backend: started?.backend.name,
      epochMs: ep?.epochMs,
      totalMs,
      valLoss: ep?.val.loss,
      numTensors: ep?.numTensors,
      peakRssMB: peakRssMB(),
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------
// memory: RSS between step 100 and step N of the 2D workload, and the tensor count

async function memory(): Promise<void> {
  const name = await backend();
  const steps = Number(arg('steps', '1000'));
  const from = Math.min(100, Math.floor(steps / 10));
  const s = await newSession('2d', currentBackend);
  const samples: { step: number; rssMB: number; numTensors: number; heapMB: number }[] = [];
  const t0 = performance.now();
  while (s.step < steps) {
    const n = Math.min(from, steps - s.step);
    await runSteps(s, n);
    const sample = { step: s.step, rssMB: rssMB(), numTensors: tf.memory().numTensors, heapMB: process.memoryUsage().heapUsed / MB };
    samples.push(sample);
    process.stderr.write(`memory: step ${sample.step} rss ${sample.rssMB.toFixed(1)} MB, tensors ${sample.numTensors}\n`);
  }
  const a = samples.find((x) => x.step === from) as (typeof samples)[number];
  const b = samples[samples.length - 1] as (typeof samples)[number];
  await s.parallel?.dispose();
  reply({
    name: 'memory-2d',
    backend: name,
    workers: s.workers,
    fromStep: a.step,
    toStep: b.step,
    rssFromMB: a.rssMB,
    rssToMB: b.rssMB,
    rssGrowthPct: ((b.rssMB - a.rssMB) / a.rssMB) * 100,
    numTensorsFrom: a.numTensors,
    numTensorsTo: b.numTensors,
    tensorCounts: [...new Set(samples.map((x) => x.numTensors))],
    peakRssMB: peakRssMB(),
    minutes: (performance.now() - t0) / 60000,
    samples,
  });
}

// ------------------------------------------------------------------------------------------------
// stream: a large synthetic data set through the trainer's data path

async function stream(): Promise<void> {
  const name = await backend();
  const count = Number(arg('images', '5000'));
  const size = Number(arg('size', '256'));
  const keep = process.argv.includes('--keep');
  const dir = mkdtempSync(join(tmpdir(), 'dscpp-bench-stream-'));
  try {
    mkdirSync(join(dir, 'images'));
    mkdirSync(join(dir, 'masks'));
    const rng = new Rng(5);
    const px = size * size;
    const img = new Uint8Array(px);
    const mask = new Uint8Array(px);
    const tw = performance.now();
    // A handful of distinct templates, each written under many names (every file is still decoded,
    // resized and z-scored separately when streamed).
    const templates = Array.from({ length: 16 }, () => {
      const cx = rng.uniform(0.2, 0.8) * size;
      const cy = rng.uniform(0.2, 0.8) * size;
      const r = rng.uniform(0.05, 0.2) * size;
      for (let i = 0; i < px; i++) {
        const y = Math.floor(i / size);
        const x = i % size;
        const inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
        mask[i] = inside ? 1 : 0;
        img[i] = Math.max(0, Math.min(255, Math.round((inside ? 170 : 60) + rng.normal() * 25)));
      }
      return { img: encodePngGrey(img, size, size), mask: encodePngGrey(mask, size, size) };
    });
    for (let i = 0; i < count; i++) {
      const t = templates[i % templates.length] as (typeof templates)[number];
      const id = `case${String(i).padStart(5, '0')}.png`;
      writeFileSync(join(dir, 'images', id), t.img);
      writeFileSync(join(dir, 'masks', id), t.mask);
    }
    const writeMs = performance.now() - tw;
    const configPath = join(dir, 'stream.dscpp.yaml');
    writeFileSync(
      configPath,
      `name: stream\ndata:\n  images: images\n  masks: masks\n  classes: [background, object]\n  size: [${size}, ${size}]\n  split: { val: 0, test: 0, seed: 1 }\nmodel: { arch: unet2d }\nloss: { name: dice }\ntrain: { batchSize: 4, augment: true }\n`,
    );
    const config = loadConfig(configPath);
    const data = await openTrainingData(config, configPath);
    const rssStart = rssMB();
    let batches = 0;
    let images = 0;
    let maxRss = rssStart;
    const t0 = performance.now();
    for await (const b of data.trainBatches(1, config.train.batchSize)) {
      // The trainer's tensors for the batch (x and float one-hot y), read back once as the step does.
      const spatial = b.shape.slice(0, -1);
      const s = tf.tidy(() => tf.add(tf.sum(tf.tensor(b.x, b.shape)), tf.sum(tf.tensor(oneHot(b.labels, 2), [...spatial, 2]))));
      await s.data();
      s.dispose();
      batches++;
      images += b.ids.length;
      if (batches % 50 === 0) maxRss = Math.max(maxRss, rssMB());
    }
    const ms = performance.now() - t0;
    reply({
      name: 'stream-2d',
      backend: name,
      images,
      size,
      batches,
      cacheMB: config.data.cacheMB,
      writeSeconds: writeMs / 1000,
      imagesPerSecond: images / (ms / 1000),
      rssStartMB: rssStart,
      rssMaxSampledMB: maxRss,
      peakRssMB: peakRssMB(),
      numTensors: tf.memory().numTensors,
      datasetMB: (count * px * 4) / MB,
      filesOnDisk: readdirSync(join(dir, 'images')).length,
    });
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const cmd = process.argv[2];
  switch (cmd) {
    case 'serve':
      return serve();
    case 'eval-metrics':
      return evalMetrics();
    case 'epoch':
      return epoch();
    case 'memory':
      return memory();
    case 'stream':
      return stream();
    default:
      throw new Error(`usage: node dist/bench/ours.cjs serve|eval-metrics|epoch|memory|stream [options] (got ${String(cmd)})`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);

