// One training step of the 2D reference workload (bench/reference.ts: U-Net 3 levels × 16 filters, batch 4
// of 128×128, soft Dice, Adam) on wasm, with variants of the compute path alternated in one run so that
// they share the (noisy, shared) machine's load:
//   ours                the trainer's step (trainStep) on the UNet model, with our wasm kernels
//   builtin-input-grad  the same with wasm's built-in Conv2DBackpropInput (a naive loop) put back
//   builtin-copies      the same with wasm's built-in Slice, SplitV and Concat put back
//   read-every-10       the trainer's step without awaiting the loss each step (read once per 10 steps)
//   fn-unfused          a functional copy of the same U-Net (same weights): conv2d, add, relu
//   fn-fused            that copy with fusedConv2d (one FusedConv2D kernel with bias + ReLU, custom gradient)
// Run: node esbuild.mjs --bench --quiet && node dist/bench/step2d.cjs [--rounds 5] [--steps 2] [--only a,b]
//      [--profile] (kernel times of one step of `ours`). Prints a table and one `BENCH {json}` line per variant.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/core/compute/backend';
import { fusedConv2d } from '../src/core/compute/conv2d';
import { replaceKernel, restoreKernel, WASM_REPLACEMENTS } from '../src/core/compute/wasm-kernels';
import { createLoss } from '../src/core/losses';
import { UNet } from '../src/core/models/unet';
import { oneHot, trainStep } from '../src/core/train/trainer';
import type { Batch } from '../src/core/train/data-source';
import { syntheticBatches, trainingFlops, WORKLOADS } from './reference';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const W = WORKLOADS['2d'];
const COPY_KERNELS = ['Slice', 'SplitV', 'Concat'];
const FLOPS = trainingFlops(W);

interface Variant {
  name: string;
  /** Called before the variant's chunk; returns the undo. */
  setup?: () => () => void;
  /** Runs `n` steps; returns the wall time of each in ms. */
  run: (n: number) => Promise<number[]>;
}

function replacement(name: string) {
  const r = WASM_REPLACEMENTS.find((k) => k.kernelName === name);
  if (!r) throw new Error(`no replacement ${name}`);
  return r;
}

async function main(): Promise<void> {
  const info = await selectBackend('wasm', { log: (m) => process.stderr.write(`${m}\n`) });
  const model = new UNet(W.spec);
  const vars = model.trainableVariables();
  const optimizer: tf.Optimizer = tf.train.adam(1e-3);
  const loss = createLoss('dice');
  const batches = syntheticBatches(W, 4);
  let k = 0;
  const next = (): Batch => batches[k++ % batches.length] as Batch;

  const trainerSteps = async (n: number) => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = trainStep(model, optimizer, loss, vars, next(), W.numClasses);
      const v = (await r.data()) as Float32Array;
      r.dispose();
      ms.push(performance.now() - t0);
      if (!Number.isFinite(v[0] as number)) throw new Error(`loss ${v[0]}`);
    }
    return ms;
  };

  // A functional copy of UNet.logits for this workload (norm none, sigmoid head), on the model's weights.
  const wt = (name: string) => {
    const v = model.weights.get(name);
    if (!v) throw new Error(`no weight ${name}`);
    return v;
  };
  const forward = (x: tf.Tensor4D, fused: boolean): tf.Tensor => {
    const conv = (h: tf.Tensor4D, name: string, relu: boolean): tf.Tensor4D => {
      const kernel = wt(`${name}/kernel`) as unknown as tf.Tensor4D;
      const bias = wt(`${name}/bias`) as unknown as tf.Tensor1D;
      if (fused) return fusedConv2d(h, kernel, bias, { activation: relu ? 'relu' : 'linear' });
      const y = tf.add(tf.conv2d(h, kernel, 1, 'same'), bias) as tf.Tensor4D;
      return relu ? tf.relu(y) : y;
    };
    const depth = W.spec.depth;
    const skips: tf.Tensor4D[] = [];
    let h = x;
    for (let l = 0; l < depth; l++) {
      h = conv(conv(h, `enc${l}a`, true), `enc${l}b`, true);
      if (l < depth - 1) {
        skips.push(h);
        h = tf.maxPool(h, 2, 2, 'valid');
      }
    }
    for (let l = depth - 2; l >= 0; l--) {
      const kernel = wt(`up${l}/kernel`) as unknown as tf.Tensor4D;
      const [n, hh, ww] = h.shape;
      h = tf.relu(tf.add(tf.conv2dTranspose(h, kernel, [n, hh * 2, ww * 2, kernel.shape[2]], 2, 'same'), wt(`up${l}/bias`))) as tf.Tensor4D;
      h = tf.concat([skips[l] as tf.Tensor4D, h], -1);
      h = conv(conv(h, `dec${l}a`, true), `dec${l}b`, true);
    }
    const p = tf.sigmoid(conv(h, 'head', false));
    return tf.concat([tf.sub(1, p), p], -1);
  };
  const functionalSteps = (fused: boolean) => async (n: number) => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const b = next();
      const t0 = performance.now();
      const r = tf.tidy(() => {
        const x = tf.tensor4d(b.x, b.shape as [number, number, number, number]);
        const y = tf.tensor(oneHot(b.labels, 2), [...b.shape.slice(0, -1), 2]);
        const { value, grads } = tf.variableGrads(() => loss(y, forward(x, fused)) as tf.Scalar, vars);
        optimizer.applyGradients(grads);
        return value;
      });
      const v = (await r.data()) as Float32Array;
      r.dispose();
      ms.push(performance.now() - t0);
      if (!Number.isFinite(v[0] as number)) throw new Error(`loss ${v[0]}`);
    }
    return ms;
  };

  const variants: Variant[] = [
    { name: 'ours', run: trainerSteps },
    {
      name: 'builtin-input-grad',
      setup: () => {
        restoreKernel('Conv2DBackpropInput', 'wasm');
        return () => replaceKernel('Conv2DBackpropInput', 'wasm', replacement('Conv2DBackpropInput').make('wasm'));
      },
      run: trainerSteps,
    },
    {
      name: 'builtin-copies',
      setup: () => {
        for (const k of COPY_KERNELS) restoreKernel(k, 'wasm');
        return () => {
          for (const k of COPY_KERNELS) replaceKernel(k, 'wasm', replacement(k).make('wasm'));
        };
      },
      run: trainerSteps,
    },
    {
      name: 'read-every-10',
      run: async (n) => {
        // Steps without awaiting their read-out; the time of a step is the chunk's time / n.
        const t0 = performance.now();
        const outs: tf.Tensor[] = [];
        for (let i = 0; i < n; i++) {
          outs.push(trainStep(model, optimizer, loss, vars, next(), W.numClasses));
          if (outs.length === 10 || i === n - 1) {
            for (const o of outs) {
              await o.data();
              o.dispose();
            }
            outs.length = 0;
          }
        }
        const per = (performance.now() - t0) / n;
        return new Array<number>(n).fill(per);
      },
    },
    { name: 'fn-unfused', run: functionalSteps(false) },
    { name: 'fn-fused', run: functionalSteps(true) },
  ];
  const only = arg('only', '');
  const chosen = only ? variants.filter((v) => only.split(',').includes(v.name)) : variants;
  const rounds = Number(arg('rounds', '5'));
  const steps = Number(arg('steps', '2'));

  if (process.argv.includes('--profile')) {
    await trainerSteps(2);
    const p = await tf.profile(async () => {
      await trainerSteps(1);
    });
    const by = new Map<string, { ms: number; n: number }>();
    for (const kk of p.kernels) {
      const e = by.get(kk.name) ?? { ms: 0, n: 0 };
      e.ms += kk.kernelTimeMs as number;
      e.n++;
      by.set(kk.name, e);
    }
    const total = [...by.values()].reduce((a, b) => a + b.ms, 0);
    console.log(`kernel time of one step: ${total.toFixed(0)} ms`);
    for (const [name, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) console.log(`  ${name.padEnd(24)} ${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(4)} calls ${((100 * e.ms) / total).toFixed(0).padStart(3)}%`);
  }

  // Wall time per step, and this process's CPU time per step (user + system, process.cpuUsage): wasm runs
  // on one thread, so CPU time is the compute time and is far less inflated than wall time when other
  // processes compete for the 2 cores.
  const times = new Map<string, number[]>(chosen.map((v) => [v.name, []]));
  const cpuTimes = new Map<string, number[]>(chosen.map((v) => [v.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const v of chosen) {
      const undo = v.setup?.();
      try {
        await v.run(1); // warm-up (JIT, operator caches after a kernel switch)
        const c0 = process.cpuUsage();
        times.get(v.name)!.push(...(await v.run(steps)));
        const c = process.cpuUsage(c0);
        cpuTimes.get(v.name)!.push((c.user + c.system) / 1000 / steps);
      } finally {
        undo?.();
      }
    }
  }
  const median = (a: number[]) => {
    const s = [...a].sort((p, q) => p - q);
    return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
  };
  const base = median(cpuTimes.get('ours') ?? [NaN]);
  console.log(`2D reference step on ${info.name} (${(FLOPS / 1e9).toFixed(2)} GFLOP/step), ${rounds} rounds × ${steps} steps; CPU ms/step is the median over rounds:`);
  console.log(`  ${'variant'.padEnd(20)} ${'CPU ms'.padStart(7)} ${'GFLOP/s'.padStart(8)} ${'vs ours'.padStart(8)} ${'wall ms (median, min)'.padStart(24)}`);
  for (const v of chosen) {
    const t = times.get(v.name)!;
    const cpu = median(cpuTimes.get(v.name)!);
    const wall = median(t);
    console.log(`  ${v.name.padEnd(20)} ${cpu.toFixed(0).padStart(7)} ${(FLOPS / 1e6 / cpu).toFixed(1).padStart(8)} ${('×' + (cpu / base).toFixed(2)).padStart(8)} ${`${wall.toFixed(0)}, ${Math.min(...t).toFixed(0)}`.padStart(24)}`);
    console.log(`BENCH ${JSON.stringify({ bench: 'step2d', variant: v.name, backend: info.name, cpuMsPerStep: cpu, cpuMsPerRound: cpuTimes.get(v.name)!.map((x) => Math.round(x)), wallMedianMs: wall, wallMinMs: Math.min(...t), steps: t.length, gflopsCpu: FLOPS / 1e6 / cpu })}`);
  }
  model.dispose();
  optimizer.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
