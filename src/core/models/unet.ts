// U-Net for 2D and 3D segmentation, written as plain tfjs-core ops over named variables, so that the
// same model runs on every backend (including the composite 3D convolution that is correct on wasm)
// and checkpoints are plain tfjs weight files.
//
// Level l (0-based) has filters·2^l channels; each level is two [conv k3 → norm → ReLU] blocks.
// Down: max-pool 2. Up (2D): conv2dTranspose k2 s2; up (3D): nearest up-sampling ×2 then conv k2
// ('same'), which trains correctly on wasm. Skips are concatenated. Head: 1×1 conv → softmax over C
// classes (the paper's 2-channel softmax for binary tasks), or → sigmoid with one channel.
import * as tf from '@tensorflow/tfjs-core';
import * as ops3d from '../compute/ops3d';
import { conv2dTranspose } from '../compute/conv2d';
import type { ModelConfig } from '../config/schema';
import type { UNetSpec } from '../../protocol/train-worker';

// The spec is part of the data-parallel worker protocol (the main thread sends it to each worker).
export type { UNetSpec };

export function unetSpecFromConfig(model: ModelConfig, inChannels: number, numClasses: number, seed: number): UNetSpec {
  return { dims: model.arch === 'unet3d' ? 3 : 2, inChannels, numClasses, depth: model.depth, filters: model.filters, norm: model.norm, dropout: model.dropout, head: model.head, seed };
}

const BN_MOMENTUM = 0.9;
const NORM_EPS = 1e-3;

/** Pending moving-average updates of batch norm, collected during a training forward pass. */
type StatUpdate = { name: string; mean: tf.Tensor; variance: tf.Tensor };

export class UNet {
  /** Trainable weights by name (stable, sortable names: checkpoints depend on them). */
  readonly weights = new Map<string, tf.Variable>();
  /** Non-trainable state (batch-norm moving statistics). */
  readonly state = new Map<string, tf.Variable>();
  private pending: StatUpdate[] = [];
  private seedCounter = 0;
  private dropoutSeed = 0;

  constructor(readonly spec: UNetSpec) {
    if (spec.depth < 1) throw new Error(`model.depth must be >= 1, got ${spec.depth}`);
    if (spec.head === 'sigmoid' && spec.numClasses !== 2) throw new Error(`a sigmoid head needs 2 classes, got ${spec.numClasses}`);
    const k = 3;
    let cin = spec.inChannels;
    for (let l = 0; l < spec.depth; l++) {
      const c = spec.filters * 2 ** l;
      this.convBlockVars(`enc${l}a`, k, cin, c);
      this.convBlockVars(`enc${l}b`, k, c, c);
      cin = c;
    }
    for (let l = spec.depth - 2; l >= 0; l--) {
      const c = spec.filters * 2 ** l;
      const cUp = spec.filters * 2 ** (l + 1);
      if (spec.dims === 2) {
        // conv2dTranspose filter: [kh, kw, outC, inC].
        this.addWeight(`up${l}/kernel`, [2, 2, c, cUp], 'he', 4 * cUp);
      } else {
        this.addWeight(`up${l}/kernel`, [2, 2, 2, cUp, c], 'he', 8 * cUp);
      }
      this.addWeight(`up${l}/bias`, [c], 'zeros');
      this.convBlockVars(`dec${l}a`, k, 2 * c, c);
      this.convBlockVars(`dec${l}b`, k, c, c);
    }
    const outC = spec.head === 'sigmoid' ? 1 : spec.numClasses;
    const kshape = spec.dims === 2 ? [1, 1, spec.filters, outC] : [1, 1, 1, spec.filters, outC];
    this.addWeight('head/kernel', kshape, 'glorot', spec.filters, outC);
    this.addWeight('head/bias', [outC], 'zeros');
  }

  private addWeight(name: string, shape: number[], init: 'he' | 'glorot' | 'zeros' | 'ones', fanIn = 1, fanOut = 1): void {
    const seed = this.spec.seed * 1000 + this.seedCounter++;
    let t: tf.Tensor;
    if (init === 'zeros') t = tf.zeros(shape);
    else if (init === 'ones') t = tf.ones(shape);
    else if (init === 'he') t = tf.truncatedNormal(shape, 0, Math.sqrt(2 / fanIn) / 0.87962566, 'float32', seed);
    else t = tf.truncatedNormal(shape, 0, Math.sqrt(2 / (fanIn + fanOut)) / 0.87962566, 'float32', seed);
    this.weights.set(name, tf.variable(t, true, `unet/${name}`));
    t.dispose();
  }

  private convBlockVars(name: string, k: number, cin: number, cout: number): void {
    const shape = this.spec.dims === 2 ? [k, k, cin, cout] : [k, k, k, cin, cout];
    const fanIn = k ** this.spec.dims * cin;
    this.addWeight(`${name}/kernel`, shape, 'he', fanIn);
    if (this.spec.norm === 'none') {
      this.addWeight(`${name}/bias`, [cout], 'zeros');
    } else {
      this.addWeight(`${name}/gamma`, [cout], 'ones');
      this.addWeight(`${name}/beta`, [cout], 'zeros');
      if (this.spec.norm === 'batch') {
        // tf.variable copies its initial value, so the initialisers are created and freed in a tidy.
        this.state.set(`${name}/movingMean`, tf.tidy(() => tf.variable(tf.zeros([cout]), false, `unet/${name}/movingMean`)));
        this.state.set(`${name}/movingVariance`, tf.tidy(() => tf.variable(tf.ones([cout]), false, `unet/${name}/movingVariance`)));
      }
    }
  }

  private w(name: string): tf.Variable {
    const v = this.weights.get(name);
    if (!v) throw new Error(`internal: missing weight ${name}`);
    return v;
  }

  private conv(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null, relu: boolean): tf.Tensor {
    // Plain conv + bias + ReLU rather than tf.fused.conv2d: the fused op's gradient calls the
    // Conv2DBackpropFilter kernel directly, which wasm lacks; conv2d's gradient is ours (compute/conv2d.ts).
    const y = this.spec.dims === 2 ? tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'same') : ops3d.conv3d(x as tf.Tensor5D, kernel as tf.Tensor5D, { strides: 1, pad: 'same' });
    const yb = bias ? this.addBias(y, bias) : y;
    return relu ? tf.relu(yb) : yb;
  }

  /**
   * y + bias over the channels. 3D: on the [N·D·H·W, C] view, so that the bias gradient is a 2-D
   * reduction (a rank-5 reduction over the outer axes is a slow path on wasm).
   */
  private addBias(y: tf.Tensor, bias: tf.Tensor): tf.Tensor {
    if (this.spec.dims === 2) return tf.add(y, bias);
    const c = y.shape[y.rank - 1] as number;
    return tf.reshape(tf.add(tf.reshape(y, [-1, c]), bias), y.shape);
  }

  private normRelu(name: string, x: tf.Tensor, training: boolean): tf.Tensor {
    const axes = this.spec.dims === 2 ? [1, 2] : [1, 2, 3];
    const gamma = this.w(`${name}/gamma`);
    const beta = this.w(`${name}/beta`);
    if (this.spec.norm === 'instance') {
      // Per sample and channel over the spatial axes; 3D on the [N, D·H·W, C] view (rank-3 reductions
      // and broadcasts, fast on wasm), the same values.
      const c = x.shape[x.rank - 1] as number;
      const v = this.spec.dims === 3 ? tf.reshape(x, [x.shape[0] as number, -1, c]) : x;
      const { mean, variance } = tf.moments(v, this.spec.dims === 3 ? [1] : axes, true);
      const y = tf.relu(tf.add(tf.mul(tf.div(tf.sub(v, mean), tf.sqrt(tf.add(variance, NORM_EPS))), gamma), beta));
      return this.spec.dims === 3 ? tf.reshape(y, x.shape) : y;
    }
    // Batch norm: batch statistics while training (moving averages updated after the step), moving
    // statistics at inference.
    const mm = this.state.get(`${name}/movingMean`) as tf.Variable;
    const mv = this.state.get(`${name}/movingVariance`) as tf.Variable;
    if (training) {
      const { mean, variance } = tf.moments(x, [0, ...axes]);
      this.pending.push({ name, mean: tf.keep(mean), variance: tf.keep(variance) });
      return tf.relu(tf.batchNorm(x, mean, variance, beta, gamma, NORM_EPS));
    }
    return tf.relu(tf.batchNorm(x, mm, mv, beta, gamma, NORM_EPS));
  }

  private block(name: string, x: tf.Tensor, training: boolean): tf.Tensor {
    if (this.spec.norm === 'none') return this.conv(x, this.w(`${name}/kernel`), this.w(`${name}/bias`), true);
    return this.normRelu(name, this.conv(x, this.w(`${name}/kernel`), null, false), training);
  }

  private pool(x: tf.Tensor): tf.Tensor {
    return this.spec.dims === 2 ? tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid') : ops3d.maxPool3d(x as tf.Tensor5D, 2);
  }

  private up(l: number, x: tf.Tensor): tf.Tensor {
    const kernel = this.w(`up${l}/kernel`);
    const bias = this.w(`up${l}/bias`);
    if (this.spec.dims === 2) {
      const [n, h, w] = x.shape as [number, number, number, number];
      const c = kernel.shape[2] as number;
      return tf.relu(tf.add(conv2dTranspose(x as tf.Tensor4D, kernel as tf.Tensor4D, [n, h * 2, w * 2, c], 2, 'same'), bias));
    }
    const u = ops3d.upsample3d(x as tf.Tensor5D, 2);
    return tf.relu(this.addBias(ops3d.conv3d(u, kernel as tf.Tensor5D, { strides: 1, pad: 'same' }), bias));
  }

  private dropout(x: tf.Tensor, training: boolean): tf.Tensor {
    if (!training || this.spec.dropout <= 0) return x;
    return tf.dropout(x, this.spec.dropout, undefined, this.spec.seed * 7919 + this.dropoutSeed++);
  }

  /** Raw head outputs (logits), [N, ...spatial, C] (C = 1 for a sigmoid head). */
  logits(x: tf.Tensor, training = false): tf.Tensor {
    const want = this.spec.dims + 2;
    if (x.rank !== want) throw new Error(`UNet${this.spec.dims}D expects input of rank ${want} [N, ...spatial, C], got shape [${x.shape.join(', ')}]`);
    const f = 2 ** (this.spec.depth - 1);
    const spatial = x.shape.slice(1, -1);
    if (spatial.some((s) => s % f !== 0)) throw new Error(`UNet of depth ${this.spec.depth} needs spatial sizes divisible by ${f}, got [${spatial.join(', ')}]`);
    if (x.shape[x.rank - 1] !== this.spec.inChannels) throw new Error(`UNet expects ${this.spec.inChannels} input channel(s), got shape [${x.shape.join(', ')}]`);
    const skips: tf.Tensor[] = [];
    let h = x;
    for (let l = 0; l < this.spec.depth; l++) {
      h = this.block(`enc${l}a`, h, training);
      h = this.block(`enc${l}b`, h, training);
      if (l < this.spec.depth - 1) {
        skips.push(h);
        h = this.pool(h);
      } else {
        h = this.dropout(h, training);
      }
    }
    for (let l = this.spec.depth - 2; l >= 0; l--) {
      h = this.up(l, h);
      // 3D: on the [N·D·H·W, C] view (the gradient of a rank-5 concat is a slow split on wasm).
      h = this.spec.dims === 3 ? ops3d.concatChannels([skips[l] as tf.Tensor, h]) : tf.concat([skips[l] as tf.Tensor, h], -1);
      h = this.block(`dec${l}a`, h, training);
      h = this.block(`dec${l}b`, h, training);
    }
    return this.conv(h, this.w('head/kernel'), this.w('head/bias'), false);
  }

  /**
   * Probabilities, [N, ...spatial, C]. A sigmoid head is expanded to 2 channels [1−p, p] so that
   * losses and metrics always see one channel per class.
   */
  predict(x: tf.Tensor, training = false): tf.Tensor {
    const z = this.logits(x, training);
    if (this.spec.head === 'softmax') return tf.softmax(z, -1);
    const p = tf.sigmoid(z);
    return tf.concat([tf.sub(1, p), p], -1);
  }

  /** Applies the batch-norm moving-average updates collected by the last training forward pass. */
  commitStatistics(): void {
    for (const u of this.pending) {
      const mm = this.state.get(`${u.name}/movingMean`) as tf.Variable;
      const mv = this.state.get(`${u.name}/movingVariance`) as tf.Variable;
      tf.tidy(() => {
        mm.assign(tf.add(tf.mul(mm, BN_MOMENTUM), tf.mul(u.mean, 1 - BN_MOMENTUM)));
        mv.assign(tf.add(tf.mul(mv, BN_MOMENTUM), tf.mul(u.variance, 1 - BN_MOMENTUM)));
      });
      u.mean.dispose();
      u.variance.dispose();
    }
    this.pending = [];
  }

  /** Drops collected statistics without applying them (e.g. after a validation pass or a failed step). */
  discardStatistics(): void {
    for (const u of this.pending) {
      u.mean.dispose();
      u.variance.dispose();
    }
    this.pending = [];
  }

  trainableVariables(): tf.Variable[] {
    return [...this.weights.values()];
  }

  parameterCount(): number {
    let n = 0;
    for (const v of this.weights.values()) n += v.size;
    return n;
  }

  /** All tensors to checkpoint, by name: weights, then state. */
  namedTensors(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [k, v] of this.weights) out[k] = v;
    for (const [k, v] of this.state) out[k] = v;
    return out;
  }

  /** Loads tensors by name; every weight and state variable must be present with the same shape. */
  load(named: Record<string, tf.Tensor>, source: string): void {
    for (const [k, v] of [...this.weights, ...this.state]) {
      const t = named[k];
      if (!t) throw new Error(`${source}: checkpoint has no tensor '${k}'; was it written by a different model config?`);
      if (t.shape.join(',') !== v.shape.join(',')) throw new Error(`${source}: tensor '${k}' has shape [${t.shape.join(', ')}] but the model expects [${v.shape.join(', ')}]`);
      v.assign(t);
    }
  }

  dispose(): void {
    this.discardStatistics();
    for (const v of this.weights.values()) v.dispose();
    for (const v of this.state.values()) v.dispose();
    this.weights.clear();
    this.state.clear();
  }

  /** Forward FLOPs per sample, counting conv multiply-adds as 2 FLOPs (for the benchmark). */
  forwardFlops(spatial: number[]): number {
    const d = this.spec.dims;
    const k = 3 ** d;
    let flops = 0;
    let cin = this.spec.inChannels;
    let vox = spatial.reduce((a, b) => a * b, 1);
    const levelsVox: number[] = [];
    for (let l = 0; l < this.spec.depth; l++) {
      const c = this.spec.filters * 2 ** l;
      flops += 2 * vox * k * cin * c + 2 * vox * k * c * c;
      levelsVox.push(vox);
      cin = c;
      vox /= 2 ** d;
    }
    for (let l = this.spec.depth - 2; l >= 0; l--) {
      const c = this.spec.filters * 2 ** l;
      const v = levelsVox[l] as number;
      flops += 2 * v * 2 ** d * (2 * c) * c; // up-conv, k2
      flops += 2 * v * k * 2 * c * c + 2 * v * k * c * c;
    }
    flops += 2 * (levelsVox[0] as number) * this.spec.filters * (this.spec.head === 'sigmoid' ? 1 : this.spec.numClasses);
    return flops;
  }
}
