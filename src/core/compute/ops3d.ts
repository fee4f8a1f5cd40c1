// 3D operations that train correctly on every backend, wasm included. tfjs-wasm's Conv3D backprop
// kernels give wrong values and tfjs-core has no gradient for Conv3DBackpropInputV2 (compute-notes), so:
//  - conv3d is a sum over kernel-depth offsets of Conv2D calls on depth-shifted slices reshaped to
//    [N·D', H, W, C]; autodiff goes through Conv2D (whose gradients are forward convolutions);
//  - maxPool3d(2) pools the depth pairs with a reshape + max, then H and W with a 2D max pool;
//  - upsample3d (nearest) replaces conv3dTranspose: 2D nearest resize of H and W, then each depth
//    slice repeated.
// All tensors are channels-last [N, D, H, W, C]; tensors of rank > 5 are never created.
import * as tf from '@tensorflow/tfjs-core';

export interface Conv3dOptions {
  strides?: number;
  pad?: 'same' | 'valid';
}

function samePad(inSize: number, k: number, s: number): { out: number; front: number; back: number } {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + k - inSize, 0);
  const front = Math.floor(total / 2);
  return { out, front, back: total - front };
}

/**
 * Slice of depth planes [start, start + count) of [N, D, H, W, C], taken on the 3-D view [N, D, H·W·C]:
 * tfjs-wasm's Slice of a rank-5 tensor falls back to a per-element JavaScript loop (about 0.4 s for one
 * [2, 34, 32, 32, 8] slice, 85% of a 3D training step), while ranks 2–4 have fast paths.
 */
function depthSlice(x: tf.Tensor5D, start: number, count: number): tf.Tensor5D {
  const [n, d, h, w, c] = x.shape;
  const flat = tf.reshape(x, [n, d, h * w * c]);
  return tf.reshape(tf.slice(flat, [0, start, 0], [n, count, h * w * c]), [n, count, h, w, c]);
}

/** Zero planes before and after the depth axis of [N, D, H, W, C], on the 3-D view (its gradient is a Slice). */
function depthPad(x: tf.Tensor5D, front: number, back: number): tf.Tensor5D {
  const [n, d, h, w, c] = x.shape;
  const flat = tf.reshape(x, [n, d, h * w * c]);
  return tf.reshape(tf.pad(flat, [[0, 0], [front, back], [0, 0]]), [n, d + front + back, h, w, c]);
}

/** Depth slice [start, start + (count−1)·s + 1) with step s along axis 1 of [N, D, H, W, C], via reshape (differentiable everywhere). */
function depthStrided(x: tf.Tensor5D, start: number, count: number, s: number): tf.Tensor5D {
  const [n, , h, w, c] = x.shape;
  if (s === 1) return depthSlice(x, start, count);
  // Take count·s slices from `start` (padding the end with zeros if needed), reshape so the phase
  // is its own axis, keep phase 0.
  const need = count * s;
  const avail = (x.shape[1] as number) - start;
  let part = depthSlice(x, start, Math.min(need, avail));
  if (avail < need) part = depthPad(part, 0, need - avail);
  const r = tf.reshape(part, [n * count, s, h * w * c]);
  const phase0 = tf.slice(r, [0, 0, 0], [n * count, 1, h * w * c]);
  return tf.reshape(phase0, [n, count, h, w, c]);
}

/** 3D convolution, channels-last. filter: [kd, kh, kw, inC, outC]. Dilation 1. */
export function conv3d(x: tf.Tensor5D, filter: tf.Tensor5D, opts: Conv3dOptions = {}): tf.Tensor5D {
  const s = opts.strides ?? 1;
  const pad = opts.pad ?? 'same';
  if (x.rank !== 5 || filter.rank !== 5) throw new Error(`conv3d: expected x [N, D, H, W, C] and filter [kd, kh, kw, inC, outC], got x shape [${x.shape.join(', ')}] and filter shape [${filter.shape.join(', ')}]`);
  const [n, d, h, w, c] = x.shape;
  const [kd, kh, kw, ci, co] = filter.shape;
  if (ci !== c) throw new Error(`conv3d: filter expects ${ci} input channels but x shape [${x.shape.join(', ')}] has ${c}`);
  return tf.tidy(() => {
    let xp = x;
    let dOut: number;
    if (pad === 'same') {
      const p = samePad(d, kd, s);
      dOut = p.out;
      if (p.front || p.back) xp = depthPad(x, p.front, p.back);
    } else {
      dOut = Math.floor((d - kd) / s) + 1;
      if (dOut < 1) throw new Error(`conv3d: 'valid' padding needs depth >= ${kd}, got x shape [${x.shape.join(', ')}]`);
    }
    let acc: tf.Tensor | null = null;
    for (let k = 0; k < kd; k++) {
      const slab = depthStrided(xp, k, dOut, s); // [n, dOut, h, w, c]
      const f2 = tf.reshape(tf.slice(filter, [k, 0, 0, 0, 0], [1, kh, kw, ci, co]), [kh, kw, ci, co]) as tf.Tensor4D;
      const y = tf.conv2d(tf.reshape(slab, [n * dOut, h, w, c]) as tf.Tensor4D, f2, s, pad);
      acc = acc ? tf.add(acc, y) : y;
    }
    const y = acc as tf.Tensor4D;
    return tf.reshape(y, [n, dOut, y.shape[1], y.shape[2], co]) as tf.Tensor5D;
  });
}

/** 2×2×2 max pooling with stride 2 ('valid'); spatial sizes must be even. */
export function maxPool3d(x: tf.Tensor5D, size = 2): tf.Tensor5D {
  if (size !== 2) throw new Error(`maxPool3d: only size 2 is supported, got ${size}`);
  const [n, d, h, w, c] = x.shape;
  if (d % 2 || h % 2 || w % 2) throw new Error(`maxPool3d: spatial sizes must be even, got x shape [${x.shape.join(', ')}]`);
  return tf.tidy(() => {
    const depth = tf.max(tf.reshape(x, [n * (d / 2), 2, h * w * c]), 1); // [n·d/2, h·w·c]
    const hw = tf.maxPool(tf.reshape(depth, [n * (d / 2), h, w, c]) as tf.Tensor4D, 2, 2, 'valid');
    return tf.reshape(hw, [n, d / 2, h / 2, w / 2, c]) as tf.Tensor5D;
  });
}

/**
 * Nearest-neighbour up-sampling by an integer factor on D, H and W: each axis in turn, by concatenating
 * `factor` copies on a rank-3 view (its gradient is a sum of slices, fast and correct on every backend).
 * Not tf.image.resizeNearestNeighbor: tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad is wrong for
 * batch > 1 (it reads dy with the image's batch stride), which made cpu training of the 3D U-Net wrong.
 */
export function upsample3d(x: tf.Tensor5D, factor = 2): tf.Tensor5D {
  const [n, d, h, w, c] = x.shape;
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`upsample3d: factor must be a positive integer, got ${factor}`);
  if (factor === 1) return tf.clone(x);
  return tf.tidy(() => {
    const repeat = (t: tf.Tensor, outer: number, inner: number) => tf.concat(new Array<tf.Tensor>(factor).fill(tf.reshape(t, [outer, 1, inner])), 1);
    const alongW = repeat(x, n * d * h * w, c); // [n, d, h, w·f, c]
    const alongH = repeat(alongW, n * d * h, w * factor * c); // [n, d, h·f, w·f, c]
    const alongD = repeat(alongH, n * d, h * factor * w * factor * c); // [n, d·f, h·f, w·f, c]
    return tf.reshape(alongD, [n, d * factor, h * factor, w * factor, c]) as tf.Tensor5D;
  });
}
