// 2D convolution gradients expressed as forward Conv2D calls, so that training runs on the fast
// forward kernel of every backend (XNNPACK on wasm) and needs no Conv2DBackpropFilter kernel (which
// tfjs-backend-wasm lacks) nor its naive Conv2DBackpropInput loop (compute-notes).
//  - filter gradient: transpose the padded input to put channels in the batch position and dy likewise,
//    then one Conv2D whose "filter" is dy and whose dilation equals the forward stride;
//  - input gradient: insert stride−1 zeros between dy pixels, pad, flip the filter spatially and swap
//    its in/out channels, then one Conv2D.
// Layout NHWC, dilation 1, any stride, 'same' / 'valid' / explicit padding.
import * as tf from '@tensorflow/tfjs-core';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

function padInfo(xShape: number[], filterShape: number[], strides: [number, number], pad: Pad, dimRoundingMode?: 'floor' | 'round' | 'ceil') {
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return info;
}

/** Pads (positive) or crops (negative) the spatial axes of an NHWC tensor. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  let y = x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = y.shape;
    const t = Math.max(0, -top);
    const l = Math.max(0, -left);
    y = tf.slice(y, [0, t, l, 0], [n, h - t - Math.max(0, -bottom), w - l - Math.max(0, -right), c]);
  }
  const pt = Math.max(0, top);
  const pb = Math.max(0, bottom);
  const pl = Math.max(0, left);
  const pr = Math.max(0, right);
  return pt || pb || pl || pr ? tf.pad(y, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) : y;
}

/** Inserts (sh−1, sw−1) zeros between pixels: [N, H, W, C] → [N, (H−1)·sh+1, (W−1)·sw+1, C]. */
export function dilateSpatial(x: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const x6 = tf.reshape(x, [n, h, 1, w, 1, c]);
  const padded = tf.pad(x6, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  const big = tf.reshape(padded, [n, h * sh, w * sw, c]) as tf.Tensor4D;
  return tf.slice(big, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]);
}

/** dL/dfilter of y = conv2d(x, filter, strides, pad), as one forward Conv2D. Returns [fh, fw, cin, cout]. */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], strides: number | [number, number], pad: Pad, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  return tf.tidy(() => {
    const [sh, sw] = pair(strides);
    const info = padInfo(x.shape, filterShape, [sh, sw], pad, dimRoundingMode);
    const { top, bottom, left, right } = info.padInfo;
    const [fh, fw, cin, cout] = filterShape;
    const xp = padOrCrop(x, top, bottom, left, right);
    const xT = tf.transpose(xp, [3, 1, 2, 0]); // [cin, Hp, Wp, N]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, cout]
    const r = tf.conv2d(xT, dyT as tf.Tensor4D, 1, 'valid', 'NHWC', [sh, sw]); // [cin, ≥fh, ≥fw, cout]
    const cropped = r.shape[1] === fh && r.shape[2] === fw ? r : tf.slice(r, [0, 0, 0, 0], [cin, fh, fw, cout]);
    return tf.transpose(cropped, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** dL/dx of y = conv2d(x, filter, strides, pad), as one forward Conv2D. Returns xShape. */
export function conv2dInputGrad(xShape: [number, number, number, number], dy: tf.Tensor4D, filter: tf.Tensor4D, strides: number | [number, number], pad: Pad, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  return tf.tidy(() => {
    const [sh, sw] = pair(strides);
    const info = padInfo(xShape, filter.shape, [sh, sw], pad, dimRoundingMode);
    const { top, left } = info.padInfo;
    const [, H, W] = xShape;
    const [fh, fw] = filter.shape;
    const dyd = dilateSpatial(dy, sh, sw);
    const pt = fh - 1 - top;
    const pl = fw - 1 - left;
    const pb = H + fh - 1 - pt - (dyd.shape[1] as number);
    const pr = W + fw - 1 - pl - (dyd.shape[2] as number);
    const dyp = padOrCrop(dyd, pt, pb, pl, pr);
    const wf = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D; // [fh, fw, cout, cin]
    return tf.conv2d(dyp, wf, 1, 'valid');
  });
}

/**
 * conv2dTranspose (NHWC) computed as conv2dInputGrad: one forward Conv2D, fully differentiable through
 * ordinary ops. filter: [fh, fw, outC, inC] as in tf.conv2dTranspose.
 */
export function conv2dTranspose(x: tf.Tensor4D, filter: tf.Tensor4D, outputShape: [number, number, number, number], strides: number | [number, number], pad: 'same' | 'valid'): tf.Tensor4D {
  return conv2dInputGrad(outputShape, x, filter, strides, pad);
}

let installed = false;

/**
 * Registers gradients for the Conv2D kernel (and Conv2DBackpropInput, the forward of conv2dTranspose)
 * that use only forward convolutions. The gradient registry is global, so this applies on every
 * backend; the math is identical to the built-in gradients (checked by gradcheck.ts).
 */
export function installConv2dGradients(): void {
  if (installed) return;
  installed = true;
  tf.registerGradient({
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const a = attrs as unknown as { strides: number | [number, number]; pad: Pad; dilations: number | [number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil'; dataFormat: string };
      const [dh, dw] = pair(a.dilations ?? 1);
      if (dh !== 1 || dw !== 1) throw new Error(`conv2d gradient: dilations > 1 are not supported by the forward-conv gradient (got [${dh}, ${dw}])`);
      if (a.dataFormat !== 'NHWC') throw new Error(`conv2d gradient: only NHWC is supported, got ${a.dataFormat}`);
      return {
        x: () => conv2dInputGrad(x.shape, dy as tf.Tensor4D, filter, a.strides, a.pad, a.dimRoundingMode),
        filter: () => conv2dFilterGrad(x, dy as tf.Tensor4D, filter.shape, a.strides, a.pad, a.dimRoundingMode),
      };
    },
  });
  tf.registerGradient({
    kernelName: 'Conv2DBackpropInput',
    inputsToSave: ['dy', 'filter'],
    gradFunc: (ddx, saved, attrs) => {
      const [dy, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const a = attrs as unknown as { strides: number | [number, number]; pad: Pad; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
      return {
        dy: () => tf.conv2d(ddx as tf.Tensor4D, filter, a.strides, a.pad as 'same' | 'valid', 'NHWC', 1, a.dimRoundingMode),
        filter: () => conv2dFilterGrad(ddx as tf.Tensor4D, dy, filter.shape, a.strides, a.pad, a.dimRoundingMode),
      };
    },
  });
}
