// The reference workloads of compute-notes, as run by the benchmark on our side (bench/torch_ref.py
// builds the same networks in PyTorch):
//  - 2D: U-Net, 3 levels, 16 base filters, conv3x3+ReLU ×2 per level, max-pool 2, conv2dTranspose k2 s2
//    up-sampling (+bias, ReLU), concatenated skips, 1×1 sigmoid head; batch 4 of 128×128×1; soft Dice.
//  - 3D: U-Net, 2 levels, 8 base filters, the same blocks in 3D, up-sampling as our UNet does it (nearest
//    ×2 then conv k2 'same', +bias, ReLU), 1×1×1 head with a 3-class softmax; batch 2 of 32³; soft Dice.
// Both use Adam (lr 1e-3) and the trainer's step (src/core/train/trainer.ts trainStep).
import type { UNetSpec } from '../src/core/models/unet';
import type { Batch } from '../src/core/train/data-source';
import { Rng } from '../src/core/util/rng';

export type WorkloadName = '2d' | '3d';

export interface Workload {
  name: WorkloadName;
  spec: UNetSpec;
  batch: number;
  spatial: number[];
  numClasses: number;
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  '2d': {
    name: '2d',
    spec: { dims: 2, inChannels: 1, numClasses: 2, depth: 3, filters: 16, norm: 'none', dropout: 0, head: 'sigmoid', seed: 1 },
    batch: 4,
    spatial: [128, 128],
    numClasses: 2,
  },
  '3d': {
    name: '3d',
    spec: { dims: 3, inChannels: 1, numClasses: 3, depth: 2, filters: 8, norm: 'none', dropout: 0, head: 'softmax', seed: 1 },
    batch: 2,
    spatial: [32, 32, 32],
    numClasses: 3,
  },
};

/**
 * Floating-point operations of one training step (multiply-add = 2 FLOPs), counting only the
 * convolutions (everything else is < 2% here): forward, plus input and filter gradients of the same
 * size each, less the input gradient of the first convolution (its input is data). The up-sampling
 * conv2dTranspose k2 s2 counts its useful work (each output pixel takes one kernel tap), not the zeros
 * our implementation multiplies through; the 3D up-sampling is a real k2 convolution on the up-sampled
 * volume. This gives the compute-notes figure of 9.5 GFLOP for 2D; 3D is 3.7 GFLOP (compute-notes'
 * 3.4 counts a conv3dTranspose instead of our up-sample + conv).
 */
export function trainingFlops(w: Workload): number {
  const { dims, depth, filters, inChannels } = w.spec;
  const k = 3 ** dims;
  let vox = w.spatial.reduce((a, b) => a * b, 1);
  const levelVox: number[] = [];
  let fwd = 0;
  let cin = inChannels;
  const firstConv = 2 * vox * k * inChannels * filters;
  for (let l = 0; l < depth; l++) {
    const c = filters * 2 ** l;
    fwd += 2 * vox * k * (cin * c + c * c);
    levelVox.push(vox);
    cin = c;
    vox /= 2 ** dims;
  }
  for (let l = depth - 2; l >= 0; l--) {
    const c = filters * 2 ** l;
    const v = levelVox[l] as number;
    fwd += dims === 2 ? 2 * v * (2 * c) * c : 2 * v * 2 ** dims * (2 * c) * c;
    fwd += 2 * v * k * (2 * c * c + c * c);
  }
  fwd += 2 * (levelVox[0] as number) * filters * (w.spec.head === 'sigmoid' ? 1 : w.numClasses);
  return w.batch * (3 * fwd - firstConv);
}

/**
 * Synthetic, deterministic batches: z-scored noise with bright discs (2D) or balls (3D) whose labels are
 * the foreground classes. The content does not change the cost of a step; it keeps the loss meaningful.
 */
export function syntheticBatches(w: Workload, count: number, seed = 7): Batch[] {
  const rng = new Rng(seed);
  const vox = w.spatial.reduce((a, b) => a * b, 1);
  const out: Batch[] = [];
  for (let b = 0; b < count; b++) {
    const x = new Float32Array(w.batch * vox);
    const labels = new Uint8Array(w.batch * vox);
    for (let n = 0; n < w.batch; n++) {
      const objects = Array.from({ length: 6 }, (_, i) => ({
        centre: w.spatial.map((s) => rng.uniform(0.15, 0.85) * s),
        radius: rng.uniform(0.06, 0.16) * (w.spatial[0] as number),
        cls: 1 + (i % (w.numClasses - 1)),
      }));
      const coord = new Array<number>(w.spatial.length).fill(0);
      for (let i = 0; i < vox; i++) {
        let r = i;
        for (let d = w.spatial.length - 1; d >= 0; d--) {
          const s = w.spatial[d] as number;
          coord[d] = r % s;
          r = Math.floor(r / s);
        }
        let label = 0;
        for (const o of objects) {
          let d2 = 0;
          for (let d = 0; d < coord.length; d++) d2 += ((coord[d] as number) - (o.centre[d] as number)) ** 2;
          if (d2 <= o.radius ** 2) label = o.cls;
        }
        labels[n * vox + i] = label;
        x[n * vox + i] = label * 1.5 + rng.normal() * 0.7 - 0.5;
      }
    }
    out.push({ ids: [`synthetic-${b}`], x, labels, shape: [w.batch, ...w.spatial, 1] });
  }
  return out;
}
