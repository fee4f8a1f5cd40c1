// Gradient checks against the `cpu` backend (the reference):
//  - checkReplacement / runGradientChecks: each replacement kernel of wasm-kernels.ts against cpu's own
//    kernel, on small random inputs covering strides 1 and 2, 'same' and 'valid' padding and odd sizes.
//    Kernels are called directly on each backend (no engine, no change of the active backend), so the
//    check runs before a replacement is registered; selectBackend refuses a kernel that fails it.
//  - checkConvCases: the Conv2DBackpropFilter / Conv2DBackpropInput kernels of the active backend.
//  - checkOpGradients: the value and the gradients of any differentiable function on a backend against
//    cpu (used by the tests for conv2d, conv2dTranspose, fused conv2d and the 3D composites).
// The error measure is max |a − b| / max |b| over all elements (b = cpu): relative to the largest
// reference magnitude, so that near-zero entries do not blow it up.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng';
import { WASM_REPLACEMENTS, type ReplacementKernel } from './wasm-kernels';

/** A replacement kernel whose error against cpu exceeds this is refused. */
export const GRADCHECK_TOLERANCE = 1e-3;

type Shape4 = [number, number, number, number];

export interface ConvCase {
  x: Shape4;
  filter: Shape4;
  strides: number | [number, number];
  pad: 'same' | 'valid' | tf.backend_util.ExplicitPadding;
}

export interface PoolCase {
  x: Shape4;
  size: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid';
}

export interface Pool3dCase {
  x: [number, number, number, number, number];
  size: number | [number, number, number];
  strides: number | [number, number, number];
  pad: 'same' | 'valid';
}

/** The start-up set: small (the whole check takes well under a second) but covering both strides, both paddings and odd sizes. */
export const STARTUP_CONV_CASES: ConvCase[] = [
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'same' },
  { x: [1, 9, 7, 2], filter: [3, 3, 2, 3], strides: 2, pad: 'valid' },
  { x: [1, 6, 5, 2], filter: [3, 3, 2, 2], strides: 1, pad: 'valid' },
  { x: [1, 8, 8, 4], filter: [2, 2, 4, 2], strides: 2, pad: 'same' },
  // An axis with kernel 1, stride 2 and an even size: wasm's built-in 'same' convolutions shift these.
  { x: [1, 6, 5, 2], filter: [1, 2, 2, 3], strides: 2, pad: 'same' },
  { x: [1, 5, 6, 2], filter: [3, 1, 2, 2], strides: 2, pad: 'same' },
];
export interface SliceCase {
  x: number[];
  begin: number[];
  size: number[];
}
export interface SplitCase {
  x: number[];
  sizes: number[] | number;
  axis: number;
}
export const STARTUP_SLICE_CASES: SliceCase[] = [
  { x: [3, 7], begin: [1, 2], size: [2, 4] },
  { x: [2, 5, 6, 3], begin: [0, 1, 0, 0], size: [2, 3, 6, 3] },
  { x: [2, 5, 6, 3], begin: [1, 1, 2, 1], size: [1, 4, 3, 2] },
  { x: [2, 3, 4, 5, 3], begin: [0, 1, 0, 2, 0], size: [2, 2, 4, 3, 3] },
  { x: [2, 3, 1, 4, 2, 3], begin: [1, 0, 0, 1, 0, 1], size: [1, 3, 1, 2, 2, 2] },
  { x: [4, 6], begin: [0, 0], size: [4, 6] },
];
export const STARTUP_SPLIT_CASES: SplitCase[] = [
  { x: [2, 5, 6, 7], sizes: [3, 4], axis: 3 },
  { x: [2, 5, 6, 6], sizes: 3, axis: 3 },
  { x: [2, 5, 6, 3], sizes: [2, -1], axis: 1 },
  { x: [2, 3, 4, 5, 5], sizes: [1, 4], axis: 4 },
];

export interface ConcatCase {
  xs: number[][];
  axis: number;
}
export const STARTUP_CONCAT_CASES: ConcatCase[] = [
  { xs: [[2, 5, 6, 3], [2, 5, 6, 4]], axis: 3 },
  { xs: [[2, 5, 6, 3], [2, 2, 6, 3], [2, 1, 6, 3]], axis: 1 },
  { xs: [[3, 4], [2, 4]], axis: 0 },
  { xs: [[2, 3, 4, 5, 40], [2, 3, 4, 5, 1]], axis: 4 },
];

export const STARTUP_POOL_CASES: PoolCase[] = [
  { x: [2, 6, 6, 3], size: 2, strides: 2, pad: 'valid' },
  { x: [1, 7, 5, 2], size: 3, strides: 2, pad: 'same' },
  { x: [1, 5, 9, 2], size: 2, strides: 2, pad: 'same' },
];
export const STARTUP_POOL3D_CASES: Pool3dCase[] = [
  { x: [2, 4, 6, 4, 3], size: 2, strides: 2, pad: 'valid' },
  { x: [1, 5, 7, 3, 2], size: 3, strides: 2, pad: 'same' },
  { x: [1, 3, 5, 4, 2], size: 2, strides: 1, pad: 'valid' },
];
/** Pooling inputs are drawn from [−1.5, 0.5]: many windows are all negative, where wasm's built-in pooling is wrong. */
export const POOL_INPUT_RANGE: [number, number] = [-1.5, 0.5];
/** Kept for callers of the earlier API. */
export const STARTUP_CASES = STARTUP_CONV_CASES;

export interface Data {
  values: Float32Array;
  shape: number[];
}

export function randomData(shape: number[], rng: Rng, lo = -1, hi = 1): Data {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = rng.uniform(lo, hi);
  return { values, shape };
}

export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= num)) num = d; // NaN propagates
    den = Math.max(den, Math.abs(b[i] as number));
  }
  return num / Math.max(den, 1e-12);
}

/** Runs one kernel function on a backend, outside the engine, and returns its output values. */
export function runKernelDirect(backendName: string, kernel: tf.KernelFunc | string, inputs: Record<string, Data>, attrs: tf.NamedAttrMap): Data {
  const backend = tf.findBackend(backendName);
  if (!backend) throw new Error(`backend '${backendName}' is not registered or not initialised`);
  const kernelFunc = typeof kernel === 'string' ? tf.getKernel(kernel, backendName)?.kernelFunc : kernel;
  if (!kernelFunc) throw new Error(`kernel '${String(kernel)}' is not registered for backend '${backendName}'`);
  const infos: Record<string, tf.TensorInfo> = {};
  try {
    for (const [k, d] of Object.entries(inputs)) infos[k] = { dataId: backend.write(d.values.slice(), d.shape, 'float32'), shape: d.shape, dtype: 'float32' };
    // Inputs named 0, 1, … are a list (Concat's kernels take an array).
    const list = Object.keys(infos).length > 0 && Object.keys(infos).every((k) => /^\d+$/.test(k));
    const kernelInputs = (list ? Object.keys(infos).sort((a, b) => Number(a) - Number(b)).map((k) => infos[k]) : infos) as unknown as tf.NamedTensorInfoMap;
    const res = kernelFunc({ inputs: kernelInputs, backend, attrs });
    const outs = Array.isArray(res) ? res : [res];
    try {
      // Several outputs (SplitV): their values one after the other, with the shape of each as [..]+[..].
      const parts = outs.map((o) => Float32Array.from(backend.readSync(o.dataId) as Float32Array));
      const values = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) {
        values.set(p, at);
        at += p.length;
      }
      return { values, shape: outs.length === 1 ? (outs[0] as tf.TensorInfo).shape : outs.flatMap((o) => [...o.shape, -1]) };
    } finally {
      for (const o of outs) backend.disposeData(o.dataId);
    }
  } finally {
    for (const t of Object.values(infos)) backend.disposeData(t.dataId);
  }
}

function convAttrs(c: ConvCase): tf.NamedAttrMap {
  return { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
}

function convInputs(c: ConvCase, rng: Rng) {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
  return { x: randomData(c.x, rng), filter: randomData(c.filter, rng), dy: randomData([c.x[0], info.outHeight, info.outWidth, c.filter[3]], rng) };
}

export interface CaseError {
  /** A readable description of the case. */
  case: string;
  maxRelError: number;
}

export interface KernelCheck {
  kernelName: string;
  method: string;
  maxRelError: number;
  cases: CaseError[];
}

function describePool(c: PoolCase | Pool3dCase): string {
  return `x [${c.x.join(', ')}], size ${JSON.stringify(c.size)}, strides ${JSON.stringify(c.strides)}, pad '${c.pad}'`;
}

function describeConv(c: ConvCase): string {
  return `x [${c.x.join(', ')}], filter [${c.filter.join(', ')}], strides ${JSON.stringify(c.strides)}, pad ${JSON.stringify(c.pad)}`;
}

/**
 * One replacement kernel (not yet registered, or registered: `kernelFunc` is run as given) on `backendName`
 * against cpu's kernel, on the conv or pool cases that fit it.
 */
export function checkReplacement(r: ReplacementKernel, backendName = 'wasm', cases: { conv?: ConvCase[]; pool?: PoolCase[]; pool3d?: Pool3dCase[]; slice?: SliceCase[]; split?: SplitCase[]; concat?: ConcatCase[] } = {}, seed = 1234): KernelCheck {
  const convCases = cases.conv ?? STARTUP_CONV_CASES;
  const poolCases = cases.pool ?? STARTUP_POOL_CASES;
  const pool3dCases = cases.pool3d ?? STARTUP_POOL3D_CASES;
  const rng = new Rng(seed);
  const kernelFunc = r.make(backendName);
  const errors: CaseError[] = [];
  const compare = (label: string, inputs: Record<string, Data>, attrs: tf.NamedAttrMap) => {
    const ours = runKernelDirect(backendName, kernelFunc, inputs, attrs);
    const ref = runKernelDirect('cpu', r.kernelName, inputs, attrs);
    const shapeOk = ours.shape.length === ref.shape.length && ours.shape.every((d, i) => d === ref.shape[i]);
    errors.push({ case: label, maxRelError: shapeOk ? maxRelError(ours.values, ref.values) : Infinity });
  };
  switch (r.kernelName) {
    case 'Conv2DBackpropFilter':
      for (const c of convCases) {
        const d = convInputs(c, rng);
        compare(describeConv(c), { x: d.x, dy: d.dy }, { ...convAttrs(c), filterShape: c.filter });
      }
      break;
    case 'Conv2DBackpropInput':
      for (const c of convCases) {
        const d = convInputs(c, rng);
        compare(describeConv(c), { dy: d.dy, filter: d.filter }, { ...convAttrs(c), inputShape: c.x });
      }
      break;
    case 'MaxPoolGrad':
      for (const c of poolCases) {
        const attrs = { filterSize: c.size, strides: c.strides, pad: c.pad, dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
        const input = randomData(c.x, rng, ...POOL_INPUT_RANGE);
        const output = runKernelDirect('cpu', 'MaxPool', { x: input }, attrs);
        const dy = randomData(output.shape, rng);
        compare(describePool(c), { dy, input, output }, attrs);
      }
      break;
    case 'Conv2D':
    case 'FusedConv2D':
    case 'DepthwiseConv2dNative':
      for (const c of convCases) {
        const depthwise = r.kernelName === 'DepthwiseConv2dNative';
        const filterShape: Shape4 = depthwise ? [c.filter[0], c.filter[1], c.x[3], 2] : c.filter;
        const d = convInputs({ ...c, filter: filterShape }, rng);
        const attrs = { ...convAttrs(c), dilations: 1 } as tf.NamedAttrMap;
        if (r.kernelName === 'FusedConv2D') {
          const bias = randomData([filterShape[3]], rng);
          compare(describeConv(c) + ', bias, relu', { x: d.x, filter: d.filter, bias }, { ...attrs, activation: 'relu', leakyreluAlpha: 0 });
        } else {
          compare(describeConv({ ...c, filter: filterShape }), { x: d.x, filter: d.filter }, attrs);
        }
      }
      break;
    case 'Slice':
      for (const c of cases.slice ?? STARTUP_SLICE_CASES) compare(`x [${c.x.join(', ')}], begin [${c.begin.join(', ')}], size [${c.size.join(', ')}]`, { x: randomData(c.x, rng) }, { begin: c.begin, size: c.size });
      break;
    case 'SplitV':
      for (const c of cases.split ?? STARTUP_SPLIT_CASES) compare(`x [${c.x.join(', ')}], sizes ${JSON.stringify(c.sizes)}, axis ${c.axis}`, { x: randomData(c.x, rng) }, { numOrSizeSplits: c.sizes, axis: c.axis });
      break;
    case 'Concat':
      for (const c of cases.concat ?? STARTUP_CONCAT_CASES) {
        const inputs: Record<string, Data> = {};
        c.xs.forEach((shape, i) => (inputs[String(i)] = randomData(shape, rng)));
        compare(`${c.xs.map((x) => `[${x.join(', ')}]`).join(' + ')} on axis ${c.axis}`, inputs, { axis: c.axis });
      }
      break;
    case 'MaxPool3D':
    case 'MaxPool3DGrad':
      for (const c of pool3dCases) {
        const attrs = { filterSize: c.size, strides: c.strides, pad: c.pad, dimRoundingMode: undefined, dataFormat: 'NDHWC' } as unknown as tf.NamedAttrMap;
        const x = randomData(c.x, rng, ...POOL_INPUT_RANGE);
        if (r.kernelName === 'MaxPool3D') {
          compare(describePool(c), { x }, attrs);
        } else {
          const output = runKernelDirect('cpu', 'MaxPool3D', { x }, attrs);
          compare(describePool(c), { dy: randomData(output.shape, rng), input: x, output }, attrs);
        }
      }
      break;
    default:
      throw new Error(`no gradient check defined for replacement kernel '${r.kernelName}'`);
  }
  return { kernelName: r.kernelName, method: r.method, maxRelError: Math.max(...errors.map((c) => c.maxRelError)), cases: errors };
}

/** The start-up check of every wasm replacement kernel (run before they are registered). */
export function runGradientChecks(backendName = 'wasm'): KernelCheck[] {
  return WASM_REPLACEMENTS.map((r) => checkReplacement(r, backendName));
}

export interface ConvGradResult {
  case: ConvCase;
  filterError: number;
  inputError: number;
}

/**
 * The Conv2DBackpropFilter and Conv2DBackpropInput kernels of the active backend (through the engine:
 * on wasm our replacements, elsewhere the backend's own) against cpu's, with async reads (webgpu).
 */
export async function checkConvCases(cases: ConvCase[] = STARTUP_CONV_CASES, seed = 1234): Promise<ConvGradResult[]> {
  const rng = new Rng(seed);
  const out: ConvGradResult[] = [];
  for (const c of cases) {
    const d = convInputs(c, rng);
    const [fg, ig] = tf.tidy(() => {
      const attrs = convAttrs(c);
      const x = tf.tensor(d.x.values, d.x.shape);
      const filter = tf.tensor(d.filter.values, d.filter.shape);
      const dy = tf.tensor(d.dy.values, d.dy.shape);
      return [
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: c.filter }) as tf.Tensor,
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: c.x }) as tf.Tensor,
      ];
    });
    const fgv = (await fg.data()) as Float32Array;
    const igv = (await ig.data()) as Float32Array;
    fg.dispose();
    ig.dispose();
    const fgRef = runKernelDirect('cpu', 'Conv2DBackpropFilter', { x: d.x, dy: d.dy }, { ...convAttrs(c), filterShape: c.filter });
    const igRef = runKernelDirect('cpu', 'Conv2DBackpropInput', { dy: d.dy, filter: d.filter }, { ...convAttrs(c), inputShape: c.x });
    out.push({ case: c, filterError: maxRelError(fgv, fgRef.values), inputError: maxRelError(igv, igRef.values) });
  }
  return out;
}

export interface OpGradCheck {
  /** Error of f's value. */
  forward: number;
  /** Error of the gradient with respect to each input, in order. */
  grads: number[];
  shape: number[];
}

/**
 * Value and gradients of sum(f(inputs) · r), r a fixed random tensor, on `backend` against cpu. Leaves
 * the active backend as it was.
 */
export async function checkOpGradients(backend: string, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: Data[], seed = 77): Promise<OpGradCheck> {
  const active = tf.getBackend();
  const run = async (name: string) => {
    await tf.setBackend(name);
    const xs = inputs.map((d) => tf.tensor(d.values, d.shape));
    try {
      const y = f(...xs);
      const r = randomData(y.shape, new Rng(seed));
      const rt = tf.tensor(r.values, r.shape);
      const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), rt)))(xs);
      const out = { y: (await y.data()) as Float32Array, shape: y.shape, grads: [] as Float32Array[] };
      for (const g of grads) out.grads.push((await g.data()) as Float32Array);
      [y, rt, ...grads].forEach((t) => t.dispose());
      return out;
    } finally {
      xs.forEach((t) => t.dispose());
    }
  };
  try {
    const ref = await run('cpu');
    const ours = await run(backend);
    const sameShape = ours.shape.length === ref.shape.length && ours.shape.every((d, i) => d === ref.shape[i]);
    return { forward: sameShape ? maxRelError(ours.y, ref.y) : Infinity, grads: ours.grads.map((g, i) => maxRelError(g, ref.grads[i]!)), shape: ours.shape };
  } finally {
    await tf.setBackend(active);
  }
}
