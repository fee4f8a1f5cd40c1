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
