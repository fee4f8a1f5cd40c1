// Gradient checks of the replacement convolution gradients against the `cpu` backend's own kernels
// (Conv2DBackpropFilter / Conv2DBackpropInput), on small random inputs covering strides 1 and 2,
// 'same' and 'valid' padding and odd sizes. Run at start-up on backends that use them, and in the tests.
import * as tf from '@tensorflow/tfjs-core';
import { conv2dFilterGrad, conv2dInputGrad } from './conv2d';
import { Rng } from '../util/rng';

export const GRADCHECK_TOLERANCE = 1e-3;

export interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number;
  pad: 'same' | 'valid';
}

/** The start-up set: small, but covering both strides, both paddings and odd sizes. */
export const STARTUP_CASES: ConvCase[] = [
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'same' },
  { x: [1, 9, 7, 2], filter: [3, 3, 2, 3], strides: 2, pad: 'valid' },
  { x: [1, 8, 8, 4], filter: [2, 2, 4, 2], strides: 2, pad: 'same' },
];

function random(shape: number[], rng: Rng): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(-1, 1);
  return out;
}

export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] as number) - (b[i] as number)));
    den = Math.max(den, Math.abs(b[i] as number));
  }
  return num / Math.max(den, 1e-12);
}

export interface ConvGradResult {
  case: ConvCase;
  filterError: number;
  inputError: number;
}

/** Compares our gradients on the active backend with cpu's kernels. Leaves the active backend as it was. */
export async function checkConvCases(cases: ConvCase[] = STARTUP_CASES, seed = 1234): Promise<ConvGradResult[]> {
  const active = tf.getBackend();
  const rng = new Rng(seed);
  const inputs = cases.map((c) => {
    const probe = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
    const dyShape: [number, number, number, number] = [c.x[0], probe.outHeight, probe.outWidth, c.filter[3]];
    return { c, x: random(c.x, rng), f: random(c.filter, rng), dy: random(dyShape, rng), dyShape };
  });
  const ours: { fg: Float32Array; ig: Float32Array }[] = [];
  for (const { c, x, f, dy, dyShape } of inputs) {
    const res = tf.tidy(() => {
      const xt = tf.tensor4d(x, c.x);
      const ft = tf.tensor4d(f, c.filter);
      const dyt = tf.tensor(dy, dyShape) as tf.Tensor4D;
      return [conv2dFilterGrad(xt, dyt, c.filter, c.strides, c.pad), conv2dInputGrad(c.x, dyt, ft, c.strides, c.pad)];
    });
    ours.push({ fg: (await res[0]!.data()) as Float32Array, ig: (await res[1]!.data()) as Float32Array });
    res.forEach((t) => t.dispose());
  }
  await tf.setBackend('cpu');
  const out: ConvGradResult[] = [];
  try {
    for (let i = 0; i < inputs.length; i++) {
      const { c, x, f, dy, dyShape } = inputs[i]!;
      const res = tf.tidy(() => {
        const xt = tf.tensor4d(x, c.x);
        const ft = tf.tensor4d(f, c.filter);
        const dyt = tf.tensor(dy, dyShape);
        const fg = tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: c.filter } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const ig = tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt, filter: ft }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor;
        return [fg, ig];
      });
      const fgRef = res[0]!.dataSync();
      const igRef = res[1]!.dataSync();
      res.forEach((t) => t.dispose());
      out.push({ case: c, filterError: maxRelError(ours[i]!.fg, fgRef), inputError: maxRelError(ours[i]!.ig, igRef) });
    }
  } finally {
    await tf.setBackend(active);
  }
  return out;
}

/** The start-up check, summarised per replacement (max over cases). */
export async function runGradientChecks(): Promise<{ name: string; maxRelError: number }[]> {
  const r = await checkConvCases();
  return [
    { name: 'Conv2D filter gradient (forward Conv2D, dilation = stride)', maxRelError: Math.max(...r.map((x) => x.filterError)) },
    { name: 'Conv2D input gradient (dilated dy, flipped filter, forward Conv2D)', maxRelError: Math.max(...r.map((x) => x.inputError)) },
  ];
}
