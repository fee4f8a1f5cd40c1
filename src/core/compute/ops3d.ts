// 3D operations that train correctly on every backend, wasm included. tfjs-wasm's Conv3D backprop
// kernels give wrong values and tfjs-core has no gradient for Conv3DBackpropInputV2 (compute-notes), so:
//  - conv3d is a sum over kernel-depth offsets of Conv2D calls on depth-shifted slices reshaped to
//    [N·D', H, W, C]; autodiff goes through Conv2D, whose gradients are the Conv2DBackprop* kernels (on
//    wasm our forward-convolution replacements). Optional bias and ReLU are applied on that 4-D view.
//  - maxPool3d is tf.maxPool3d: on wasm the MaxPool3D / MaxPool3DGrad kernels are our replacements
//    (wasm-kernels.ts; the built-in ones are wrong for windows whose values are all <= 0).
//  - upsample3d (nearest, integer factor) replaces conv3dTranspose: three rank-3 concatenations, so that its
//    gradient is sums of rank-3 slices (not ResizeNearestNeighborGrad, which tfjs-backend-cpu 4.22 gets
//    wrong for batch > 1, nor a rank-5 op).
//  - concatChannels concatenates channels on the [N·D·H·W, C] view: the gradient of a rank-5 concat is a
//    rank-5 Slice, a per-element JavaScript loop on wasm (bench/NOTES.md), the 2-D one is a row copy.
// Every op here is gradient-checked against cpu in test/unit/gradcheck3d.test.ts.
// All tensors are channels-last [N, D, H, W, C]; tensors of rank > 5 are never created.
import * as tf from '@tensorflow/tfjs-core';

export interface Conv3dOptions {
  /** Stride on D, H and W (default 1). */
  strides?: number;
  /** Default 'same'. */
  pad?: 'same' | 'valid';
  /** [outC], added to the output. */
  bias?: tf.Tensor1D | tf.Tensor;
  /** Applied after the bias (default 'linear'). */
  activation?: 'linear' | 'relu';
}

function shapeText(t: tf.Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

function samePad(inSize: number, k: number, s: number): { out: number; front: number; back: number } {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + k - inSize, 0);
  const front = Math.floor(total / 2);
  return { out, front, back: total - front };
}

/**
 * Depth planes [start, start + count) of [N, D, H, W, C], taken on the 3-D view [N, D, H·W·C]:
 * tfjs-wasm's Slice of a rank-5 tensor is a per-element JavaScript loop, ranks 2–4 have fast paths.
 */
function depthSlice(x: tf.Tensor5D, start: number, count: number): tf.Tensor5D {
  const [n, d, h, w, c] = x.shape;
  if (start === 0 && count === d) return x;
  const flat = tf.reshape(x, [n, d, h * w * c]);
  return tf.reshape(tf.slice(flat, [0, start, 0], [n, count, h * w * c]), [n, count, h, w, c]);
}

/** Zero planes before and after the depth axis of [N, D, H, W, C], on the 3-D view (its gradient is a 3-D Slice). */
function depthPad(x: tf.Tensor5D, front: number, back: number): tf.Tensor5D {
  if (!front && !back) return x;
  const [n, d, h, w, c] = x.shape;
  const flat = tf.reshape(x, [n, d, h * w * c]);
  return tf.reshape(tf.pad(flat, [[0, 0], [front, back], [0, 0]]), [n, d + front + back, h, w, c]);
}

/** Planes start, start + s, …, start + (count−1)·s of the depth axis, through reshapes and rank-3 slices. */
function depthStrided(x: tf.Tensor5D, start: number, count: number, s: number): tf.Tensor5D {
  const [n, d, h, w, c] = x.shape;
  if (s === 1) return depthSlice(x, start, count);
  // count·s planes from `start` (zero planes appended past the end), viewed as [n·count, s, h·w·c]; keep phase 0.
  const need = count * s;
  const avail = d - start;
  let part = depthSlice(x, start, Math.min(need, avail));
  if (avail < need) part = depthPad(part, 0, need - avail);
  const r = tf.reshape(part, [n * count, s, h * w * c]);
  const phase0 = tf.slice(r, [0, 0, 0], [n * count, 1, h * w * c]);
  return tf.reshape(phase0, [n, count, h, w, c]);
}

/** 3D convolution, channels-last, dilation 1. filter: [kd, kh, kw, inC, outC]. */
export function conv3d(x: tf.Tensor5D, filter: tf.Tensor5D, opts: Conv3dOptions = {}): tf.Tensor5D {
  const s = opts.strides ?? 1;
  const pad = opts.pad ?? 'same';
  const activation = opts.activation ?? 'linear';
  if (x.rank !== 5 || filter.rank !== 5) throw new Error(`conv3d: expected x [N, D, H, W, C] and filter [kd, kh, kw, inC, outC], got x shape ${shapeText(x)} and filter shape ${shapeText(filter)}`);
  if (!Number.isInteger(s) || s < 1) throw new Error(`conv3d: strides must be a positive integer, got ${s}`);
  if (pad !== 'same' && pad !== 'valid') throw new Error(`conv3d: pad must be 'same' or 'valid', got ${JSON.stringify(pad)}`);
  if (activation !== 'linear' && activation !== 'relu') throw new Error(`conv3d: activation must be 'linear' or 'relu', got ${JSON.stringify(activation)}`);
  const [n, d, h, w, c] = x.shape;
  const [kd, kh, kw, ci, co] = filter.shape;
  if (ci !== c) throw new Error(`conv3d: filter shape ${shapeText(filter)} expects ${ci} input channels but x shape ${shapeText(x)} has ${c}`);
  if (opts.bias && (opts.bias.rank !== 1 || opts.bias.shape[0] !== co)) throw new Error(`conv3d: bias must have shape [${co}] (the filter's output channels), got ${shapeText(opts.bias)}`);
  if (pad === 'valid' && (d < kd || h < kh || w < kw)) throw new Error(`conv3d: 'valid' padding needs x at least as large as the kernel [${kd}, ${kh}, ${kw}], got x shape ${shapeText(x)}`);
  return tf.tidy(() => {
    let xp = x;
    let dOut: number;
    if (pad === 'same') {
      const p = samePad(d, kd, s);
      dOut = p.out;
      xp = depthPad(x, p.front, p.back);
    } else {
      dOut = Math.floor((d - kd) / s) + 1;
    }
    let acc: tf.Tensor4D | null = null;
    for (let k = 0; k < kd; k++) {
      const slab = tf.reshape(depthStrided(xp, k, dOut, s), [n * dOut, h, w, c]) as tf.Tensor4D;
      const f2 = tf.reshape(tf.slice(filter, [k, 0, 0, 0, 0], [1, kh, kw, ci, co]), [kh, kw, ci, co]) as tf.Tensor4D;
      const y = tf.conv2d(slab, f2, s, pad);
      acc = acc ? (tf.add(acc, y) as tf.Tensor4D) : y;
    }
    let y = acc as tf.Tensor4D;
    if (opts.bias) y = tf.add(y, opts.bias) as tf.Tensor4D;
    if (activation === 'relu') y = tf.relu(y);
    return tf.reshape(y, [n, dOut, y.shape[1], y.shape[2], co]) as tf.Tensor5D;
  });
}

/** 3D max pooling (default: 2×2×2, stride = size, 'valid'). */
export function maxPool3d(x: tf.Tensor5D, size: number | [number, number, number] = 2, strides: number | [number, number, number] = size, pad: 'same' | 'valid' = 'valid'): tf.Tensor5D {
  if (x.rank !== 5) throw new Error(`maxPool3d: expected x [N, D, H, W, C], got shape ${shapeText(x)}`);
  const k = typeof size === 'number' ? [size, size, size] : size;
  if (pad === 'valid' && x.shape.slice(1, 4).some((v, i) => v < (k[i] as number))) throw new Error(`maxPool3d: 'valid' pooling needs x at least as large as the window [${k.join(', ')}], got x shape ${shapeText(x)}`);
  return tf.maxPool3d(x, size, strides, pad);
}

/** Nearest-neighbour up-sampling by an integer factor on D, H and W: [N, D, H, W, C] → [N, fD, fH, fW, C]. */
export function upsample3d(x: tf.Tensor5D, factor = 2): tf.Tensor5D {
  if (x.rank !== 5) throw new Error(`upsample3d: expected x [N, D, H, W, C], got shape ${shapeText(x)}`);
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`upsample3d: factor must be a positive integer, got ${factor}`);
  if (factor === 1) return x;
  const [n, d, h, w, c] = x.shape;
  const f = factor;
  return tf.tidy(() => {
    // Each step repeats one axis: the rows of a [rows, 1, row length] view, concatenated f times on axis 1
    // (not tf.tile: tfjs-wasm's Tile is a generic per-element loop, about 20× slower than Concat here).
    const repeat = (t: tf.Tensor, rows: number, len: number) => tf.concat(new Array<tf.Tensor>(f).fill(tf.reshape(t, [rows, 1, len])), 1);
    const ww = repeat(x, n * d * h * w, c); // W
    const hh = repeat(ww, n * d * h, w * f * c); // H
    const dd = repeat(hh, n * d, h * f * w * f * c); // D
    return tf.reshape(dd, [n, d * f, h * f, w * f, c]) as tf.Tensor5D;
  });
}

/** Concatenation along the channel axis of tensors that agree on every other axis, done on the [N·D·H·W, C] view. */
export function concatChannels(xs: tf.Tensor[]): tf.Tensor {
  if (xs.length === 0) throw new Error('concatChannels: no tensors');
  const first = xs[0] as tf.Tensor;
  const outer = first.shape.slice(0, -1);
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.slice(0, -1).some((v, i) => v !== outer[i])) throw new Error(`concatChannels: all tensors must agree on every axis but the last, got shapes ${xs.map(shapeText).join(' and ')}`);
  }
  const rows = outer.reduce((a, b) => a * b, 1);
  return tf.tidy(() => {
    const y = tf.concat(
      xs.map((t) => tf.reshape(t, [rows, t.shape[t.rank - 1] as number])),
      1,
    );
    return tf.reshape(y, [...outer, y.shape[1] as number]);
  });
}

/** Instance normalisation over the spatial axes of [N, ...spatial, C] (per sample and channel), then γ·x̂ + β. */
export function instanceNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon = 1e-5): tf.Tensor {
  if (x.rank < 3) throw new Error(`instanceNorm: expected x [N, ...spatial, C], got shape ${shapeText(x)}`);
  const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 1);
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, axes, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), gamma), beta);
  });
}
