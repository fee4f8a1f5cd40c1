// 2D convolution gradients as ops. They run the Conv2DBackpropFilter / Conv2DBackpropInput kernels of
// the active backend: on wasm these are our replacements (wasm-kernels.ts: one forward XNNPACK Conv2D
// each), elsewhere the backend's own. tfjs-core's gradients of conv2d, conv2dTranspose and fused conv2d
// call the same kernels, so no gradient is overridden here.
import * as tf from '@tensorflow/tfjs-core';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil';

/** dL/dfilter of y = conv2d(x, filter, strides, pad) (NHWC, dilation 1). Returns filterShape [fh, fw, cin, cout]. */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], strides: number | [number, number], pad: Pad, dimRoundingMode?: Rounding): tf.Tensor4D {
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides, pad, dataFormat: 'NHWC', dimRoundingMode, filterShape } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** dL/dx of y = conv2d(x, filter, strides, pad) (NHWC, dilation 1). Returns xShape. */
export function conv2dInputGrad(xShape: [number, number, number, number], dy: tf.Tensor4D, filter: tf.Tensor4D, strides: number | [number, number], pad: Pad, dimRoundingMode?: Rounding): tf.Tensor4D {
  return tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides, pad, dataFormat: 'NHWC', dimRoundingMode, inputShape: xShape } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** tf.conv2dTranspose (NHWC). filter: [fh, fw, outC, inC]. Kept as the model builder's entry point. */
export function conv2dTranspose(x: tf.Tensor4D, filter: tf.Tensor4D, outputShape: [number, number, number, number], strides: number | [number, number], pad: 'same' | 'valid'): tf.Tensor4D {
  return tf.conv2dTranspose(x, filter, outputShape, strides, pad);
}

export interface FusedConv2dOptions {
  strides?: number | [number, number];
  pad?: 'same' | 'valid';
  /** Default 'relu'. */
  activation?: 'linear' | 'relu';
}

/**
 * activation(conv2d(x, filter) + bias) as one FusedConv2D kernel also while gradients are recorded
 * (tfjs-core's tf.fused.conv2d runs conv, add and relu separately under a gradient tape unless the
 * activation is linear). The gradient: dy masked by the output's ReLU, then the Conv2DBackpropInput and
 * Conv2DBackpropFilter kernels and a sum for the bias. NHWC, dilation 1.
 */
export function fusedConv2d(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, opts: FusedConv2dOptions = {}): tf.Tensor4D {
  const strides = opts.strides ?? 1;
  const pad = opts.pad ?? 'same';
  const activation = opts.activation ?? 'relu';
  if (bias.rank !== 1 || bias.shape[0] !== filter.shape[3]) throw new Error(`fusedConv2d: bias must have shape [${filter.shape[3]}] (the filter's output channels), got [${bias.shape.join(', ')}]`);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, fs, bs, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
    const y = tf.engine().runKernel('FusedConv2D', { x: xs, filter: fs, bias: bs }, { strides, pad, dataFormat: 'NHWC', dilations: 1, activation, leakyreluAlpha: 0 } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    save([xs, fs, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sf, sy] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const dya = (activation === 'relu' ? tf.mul(dy, tf.step(sy)) : dy) as tf.Tensor4D;
        return [conv2dInputGrad(sx.shape, dya, sf, strides, pad), conv2dFilterGrad(sx, dya, sf.shape, strides, pad), tf.sum(dya, [0, 1, 2])];
      },
    };
  });
  return f(x, filter, bias) as tf.Tensor4D;
}
