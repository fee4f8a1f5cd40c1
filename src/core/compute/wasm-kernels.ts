// Replacement kernels for tfjs-backend-wasm 4.22, built from the wasm backend's own kernels so that they
// run on its fast paths (XNNPACK Conv2D, C++ Transpose / PadV2 / Reverse):
//  - Conv2DBackpropFilter: missing on wasm, so the gradient of every conv2d fails. Computed as one
//    forward Conv2D: the padded input transposed to put channels in the batch position ([Cin, Hp, Wp, N]),
//    "filtered" by dy transposed to [Ho, Wo, N, Cout] with dilation = the forward stride.
//  - Conv2DBackpropInput: a naive loop on wasm (the forward of conv2dTranspose and the input gradient of
//    conv2d). Computed as one forward Conv2D: dy with stride−1 zeros inserted between its pixels, padded,
//    convolved with the spatially flipped filter whose in/out channels are swapped.
//  - MaxPoolGrad, MaxPool3D, MaxPool3DGrad: wasm's C++ pooling starts its running maximum at
//    std::numeric_limits<float>::min() (the smallest *positive* float) instead of −∞, so any window whose
//    values are all <= 0 gets the maximum 1.2e-38 (MaxPool3D) and its gradient is sent to input element 0
//    (MaxPoolGrad, MaxPool3DGrad; also MaxPoolWithArgmax, which we do not use). Random inputs in [−1, 1]
//    give relative errors of 0.5–1. Only the 2D forward MaxPool (XNNPACK) is right. Replaced by plain
//    loops over the wasm heap with cpu's semantics (running maximum from −∞; ties: first element in 2D,
//    last in 3D, as tfjs-backend-cpu), a few ms for a U-Net's pooling.
//  - Conv2D, FusedConv2D, DepthwiseConv2dNative with pad 'same': wasm hands 'same' to XNNPACK, which
//    does not clamp the padding at 0 where (out − 1)·stride + k < in on one axis while the other axis has
//    k > 1 (e.g. x [1, 6, 5, 2], filter 1×2, stride 2: every output shifted, relative error 1). The
//    wrappers pass the same padding as explicit pads computed by tfjs-core (which clamps), then call the
//    built-in kernel.
//  - Slice, SplitV: wasm's Slice copies the whole input out of the wasm heap (readSync) on every call, then
//    copies the slice row by row; SplitV calls it once per output. Replaced by copies of contiguous runs
//    between views of the heap (for the channel split in the gradient of a skip concat, and the depth
//    slices of ops3d.conv3d). Concat likewise copies rows with one subarray/set call each, slow for the
//    16-channel rows of a U-Net's skip concat: short rows are copied element by element.
// With these, tf.grad of conv2d, conv2dTranspose and fused conv2d (bias, activation) works on wasm for
// strides 1 and 2, 'same' / 'valid' / explicit padding, odd sizes, NHWC, dilation 1.
// Every replacement is gradient-checked against cpu before it is registered (gradcheck.ts).
//
// Kernel functions here call other kernels directly (not through the engine), so every intermediate
// TensorInfo is released with backend.disposeData. registerKernel would keep a kernel already registered
// under the same name only with a warning, so a replacement first unregisters the built-in one.
import * as tf from '@tensorflow/tfjs-core';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

/** Runs kernels of one backend directly and releases their outputs on dispose() unless kept. */
class KernelScope {
  private readonly owned = new Set<tf.TensorInfo>();
  constructor(
    private readonly backend: tf.KernelBackend,
    private readonly backendName: string,
  ) {}

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const k = tf.getKernel(kernelName, this.backendName);
    if (!k) throw new Error(`kernel '${kernelName}' is not registered for backend '${this.backendName}'`);
    const out = k.kernelFunc({ inputs, backend: this.backend, attrs });
    if (Array.isArray(out)) throw new Error(`kernel '${kernelName}' returned ${out.length} outputs; expected one`);
    this.owned.add(out);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Pads (positive) or crops (negative) the two spatial axes of an NHWC tensor. */
  padOrCrop4d(x: tf.TensorInfo, top: number, bottom: number, left: number, right: number): tf.TensorInfo {
    let y = x;
    if (top < 0 || bottom < 0 || left < 0 || right < 0) {
      const [n, h, w, c] = y.shape as Shape4;
      const t = Math.max(0, -top);
      const l = Math.max(0, -left);
      y = this.run('Slice', { x: y }, { begin: [0, t, l, 0], size: [n, h - t - Math.max(0, -bottom), w - l - Math.max(0, -right), c] });
    }
    const p = [Math.max(0, top), Math.max(0, bottom), Math.max(0, left), Math.max(0, right)] as const;
    if (p.some((v) => v > 0)) {
      y = this.run('PadV2', { x: y }, { paddings: [[0, 0], [p[0], p[1]], [p[2], p[3]], [0, 0]], constantValue: 0 });
    }
    return y;
  }

  /** Hands `t` to the caller (the engine): it is not released by dispose(). */
  keep(t: tf.TensorInfo): tf.TensorInfo {
    this.owned.delete(t);
    return t;
  }

  dispose(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.clear();
  }
}

function withScope(backend: tf.KernelBackend, backendName: string, f: (s: KernelScope) => tf.TensorInfo): tf.TensorInfo {
  const s = new KernelScope(backend, backendName);
  try {
    return s.keep(f(s));
  } finally {
    s.dispose();
  }
}

function checkNhwc(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') throw new Error(`${kernel} on wasm: only dataFormat 'NHWC' is supported (got '${String(dataFormat)}'); the wasm backend's Conv2D is channels-last only`);
}

interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: Rounding;
}

/** dL/dfilter of y = conv2d(x, filter) as one forward Conv2D. Output [fh, fw, Cin, Cout]. */
export function conv2dBackpropFilterKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as ConvBackpropAttrs & { filterShape: Shape4 };
    checkNhwc('Conv2DBackpropFilter', a.dataFormat);
    const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const [fh, fw, cin, cout] = a.filterShape;
    return withScope(backend as tf.KernelBackend, backendName, (s) => {
      const { top, bottom, left, right } = info.padInfo;
      const xp = s.padOrCrop4d(x, top, bottom, left, right);
      const xT = s.run('Transpose', { x: xp }, { perm: [3, 1, 2, 0] }); // [Cin, Hp, Wp, N]
      const dyT = s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Cout]
      const r = s.run('Conv2D', { x: xT, filter: dyT }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [info.strideHeight, info.strideWidth] }); // [Cin, ≥fh, ≥fw, Cout]
      const cropped = r.shape[1] === fh && r.shape[2] === fw ? r : s.run('Slice', { x: r }, { begin: [0, 0, 0, 0], size: [cin, fh, fw, cout] });
      return s.run('Transpose', { x: cropped }, { perm: [1, 2, 0, 3] });
    });
  };
}

/** dL/dx of y = conv2d(x, filter) as one forward Conv2D (also the forward of conv2dTranspose). Output inputShape. */
export function conv2dBackpropInputKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as unknown as ConvBackpropAttrs & { inputShape: Shape4 };
    checkNhwc('Conv2DBackpropInput', a.dataFormat);
    const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as Shape4, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const [n, ho, wo, cout] = dy.shape as Shape4;
    const [, H, W] = a.inputShape;
    const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
    return withScope(backend as tf.KernelBackend, backendName, (s) => {
      // Zero insertion: [n, ho, 1, wo, 1, c] padded after the unit axes gives [n, ho·sh, wo·sw, c], whose
      // last sh−1 rows / sw−1 columns are zeros beyond the dilated dy (removed by the padding below).
      let dyd = dy;
      if (sh > 1 || sw > 1) {
        const d6 = s.reshape(dy, [n, ho, 1, wo, 1, cout]);
        const p6 = s.run('PadV2', { x: d6 }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
        dyd = s.reshape(p6, [n, ho * sh, wo * sw, cout]);
      }
      // Pad to H + fh − 1 rows (W + fw − 1 columns) so that a 'valid' conv with the fh×fw filter gives H×W;
      // a negative amount crops (the trailing zeros of the insertion, or explicit pads larger than fh − 1).
      const pt = fh - 1 - info.padInfo.top;
      const pl = fw - 1 - info.padInfo.left;
      const pb = H + fh - 1 - pt - dyd.shape[1]!;
      const pr = W + fw - 1 - pl - dyd.shape[2]!;
      const dyp = s.padOrCrop4d(dyd, pt, pb, pl, pr);
      const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
      const wf = s.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }); // [fh, fw, Cout, Cin]
      return s.run('Conv2D', { x: dyp, filter: wf }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] });
    });
  };
}

/** The pieces of the wasm backend that the pooling loops use (BackendWasm, not exported by tfjs-core). */
interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function heapBackend(backend: unknown): HeapBackend {
  const b = backend as Partial<HeapBackend>;
  if (typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function') throw new Error('the max-pooling replacement kernels need the wasm backend (makeOutput, typedArrayFromHeap)');
  return b as HeapBackend;
}

/** Pooling geometry, 2D pooling as depth 1. */
interface PoolGeometry {
  n: number;
  c: number;
  inD: number;
  inH: number;
  inW: number;
  outD: number;
  outH: number;
  outW: number;
  fd: number;
  fh: number;
  fw: number;
  sd: number;
  sh: number;
  sw: number;
  front: number;
  top: number;
  left: number;
}

type PoolAttrs = { filterSize: number | number[]; strides: number | number[]; pad: Pad; dimRoundingMode?: Rounding };

function geometry2d(xShape: number[], a: PoolAttrs): PoolGeometry {
  const i = tf.backend_util.computePool2DInfo(xShape as Shape4, a.filterSize as number | [number, number], a.strides as number | [number, number], 1, a.pad, a.dimRoundingMode);
  return { n: i.batchSize, c: i.inChannels, inD: 1, inH: i.inHeight, inW: i.inWidth, outD: 1, outH: i.outHeight, outW: i.outWidth, fd: 1, fh: i.effectiveFilterHeight, fw: i.effectiveFilterWidth, sd: 1, sh: i.strideHeight, sw: i.strideWidth, front: 0, top: i.padInfo.top, left: i.padInfo.left };
}

function geometry3d(xShape: number[], a: PoolAttrs): PoolGeometry {
  const i = tf.backend_util.computePool3DInfo(xShape as [number, number, number, number, number], a.filterSize as number | [number, number, number], a.strides as number | [number, number, number], 1, a.pad as 'same' | 'valid' | number, a.dimRoundingMode);
  return { n: i.batchSize, c: i.inChannels, inD: i.inDepth, inH: i.inHeight, inW: i.inWidth, outD: i.outDepth, outH: i.outHeight, outW: i.outWidth, fd: i.effectiveFilterDepth, fh: i.effectiveFilterHeight, fw: i.effectiveFilterWidth, sd: i.strideDepth, sh: i.strideHeight, sw: i.strideWidth, front: i.padInfo.front, top: i.padInfo.top, left: i.padInfo.left };
}

/**
 * For every output element, the flat index in x of its window's maximum (−1 for a window that lies in
 * the padding). `lastOnTies`: which of equal maxima wins (cpu: the first in 2D, the last in 3D).
 */
export function maxPoolPositions(x: ArrayLike<number>, g: PoolGeometry, lastOnTies: boolean): Int32Array {
  const pos = new Int32Array(g.n * g.outD * g.outH * g.outW * g.c);
  // Channels innermost: contiguous reads, a running maximum per channel.
  const best = new Float64Array(g.c);
  const at = new Int32Array(g.c);
  let o = 0;
  for (let b = 0; b < g.n; b++) {
    for (let od = 0; od < g.outD; od++) {
      const d0 = od * g.sd - g.front;
      const dA = Math.max(0, d0);
      const dB = Math.min(g.inD, d0 + g.fd);
      for (let oh = 0; oh < g.outH; oh++) {
        const h0 = oh * g.sh - g.top;
        const hA = Math.max(0, h0);
        const hB = Math.min(g.inH, h0 + g.fh);
        for (let ow = 0; ow < g.outW; ow++) {
          const w0 = ow * g.sw - g.left;
          const wA = Math.max(0, w0);
          const wB = Math.min(g.inW, w0 + g.fw);
          best.fill(Number.NEGATIVE_INFINITY);
          at.fill(-1);
          for (let d = dA; d < dB; d++) {
            for (let h = hA; h < hB; h++) {
              for (let w = wA; w < wB; w++) {
                const base = (((b * g.inD + d) * g.inH + h) * g.inW + w) * g.c;
                for (let ch = 0; ch < g.c; ch++) {
                  const v = x[base + ch] as number;
                  const m = best[ch] as number;
                  if (v > m || (lastOnTies && v === m) || (at[ch] as number) < 0) {
                    best[ch] = v;
                    at[ch] = base + ch;
                  }
                }
              }
            }
          }
          pos.set(at, o);
          o += g.c;
        }
      }
    }
  }
  return pos;
}

/** The U-Net's 2×2, stride-2 pooling without padding: disjoint windows, dy written at each window's first maximum. */
function pool2x2Grad(x: Float32Array, dy: Float32Array, dx: Float32Array, g: PoolGeometry): void {
  const c = g.c;
  const row = g.inW * c;
  let o = 0;
  for (let b = 0; b < g.n; b++) {
    for (let oh = 0; oh < g.outH; oh++) {
      let i00 = (b * g.inH + 2 * oh) * row;
      for (let ow = 0; ow < g.outW; ow++, i00 += 2 * c) {
        for (let ch = 0; ch < c; ch++, o++) {
          const a = i00 + ch;
          let at = a;
          let m = x[a] as number;
          const p = a + c;
          if ((x[p] as number) > m) {
            m = x[p] as number;
            at = p;
          }
          const q = a + row;
          if ((x[q] as number) > m) {
            m = x[q] as number;
            at = q;
          }
          const r = q + c;
          if ((x[r] as number) > m) at = r;
          dx[at] = dy[o] as number;
        }
      }
    }
  }
}

function poolOutput(backend: unknown, shape: number[], fill: (out: Float32Array) => void): tf.TensorInfo {
  const hb = heapBackend(backend);
  const out = hb.makeOutput(shape, 'float32');
  fill(hb.typedArrayFromHeap(out) as Float32Array); // after makeOutput: allocating may move the heap
  return out;
}

function inputValues(backend: unknown, t: tf.TensorInfo): Float32Array {
  return heapBackend(backend).typedArrayFromHeap(t) as Float32Array;
}

/** MaxPool3D with cpu's semantics. */
function maxPool3dKernel(): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const g = geometry3d(x.shape, attrs as unknown as PoolAttrs);
    return poolOutput(backend, [g.n, g.outD, g.outH, g.outW, g.c], (out) => {
      const xv = inputValues(backend, x);
      const pos = maxPoolPositions(xv, g, true);
      for (let i = 0; i < pos.length; i++) out[i] = pos[i]! >= 0 ? (xv[pos[i]!] as number) : Number.NEGATIVE_INFINITY;
    });
  };
}

/** MaxPoolGrad (2D) or MaxPool3DGrad: dy of each window added at the position of its maximum. */
function maxPoolGradKernel(dims: 2 | 3): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const a = attrs as unknown as PoolAttrs;
    if (typeof a.pad === 'object') throw new Error(`MaxPool${dims === 3 ? '3D' : ''}Grad on wasm: explicit padding is not supported (got ${JSON.stringify(a.pad)}); use pad 'same' or 'valid'`);
    const g = dims === 2 ? geometry2d(input.shape, a) : geometry3d(input.shape, a);
    return poolOutput(backend, input.shape, (dx) => {
      const xv = inputValues(backend, input);
      const dyv = inputValues(backend, dy);
      dx.fill(0);
      if (dims === 2 && g.fh === 2 && g.fw === 2 && g.sh === 2 && g.sw === 2 && g.top === 0 && g.left === 0 && g.outH * 2 <= g.inH && g.outW * 2 <= g.inW) {
        pool2x2Grad(xv, dyv, dx, g);
        return;
      }
      const pos = maxPoolPositions(xv, g, dims === 3);
      for (let i = 0; i < pos.length; i++) if (pos[i]! >= 0) dx[pos[i]!]! += dyv[i] as number;
    });
  };
}

type HeapArray = Float32Array | Int32Array | Uint8Array;

/**
 * Copies x[begin : begin + size] (x of `shape`, row-major) into `out`, as runs of contiguous elements: the
 * trailing axes that the slice covers fully join the run of the last axis it cuts.
 */
export function copySlice(x: HeapArray, shape: readonly number[], begin: readonly number[], size: readonly number[], out: HeapArray): void {
  const rank = shape.length;
  let k = rank - 1;
  let inner = 1; // elements per index step of axis k
  while (k >= 0 && begin[k] === 0 && size[k] === shape[k]) {
    inner *= shape[k] as number;
    k--;
  }
  if (k < 0) {
    out.set(x.subarray(0, inner));
    return;
  }
  const run = (size[k] as number) * inner;
  const strides = new Array<number>(rank).fill(0);
  for (let j = rank - 1, acc = 1; j >= 0; j--) {
    strides[j] = acc;
    acc *= shape[j] as number;
  }
  let base = (begin[k] as number) * (strides[k] as number);
  for (let j = 0; j < k; j++) base += (begin[j] as number) * (strides[j] as number);
  const idx = new Array<number>(k).fill(0); // odometer over the axes before k
  const outer = size.slice(0, k).reduce((a, b) => a * b, 1);
  let src = base;
  let o = 0;
  for (let r = 0; r < outer; r++) {
    if (run >= 32) out.set(x.subarray(src, src + run), o);
    else for (let i = 0; i < run; i++) out[o + i] = x[src + i] as number;
    o += run;
    // advance the odometer
    for (let j = k - 1; j >= 0; j--) {
      idx[j]!++;
      src += strides[j] as number;
      if ((idx[j] as number) < (size[j] as number)) break;
      src -= (size[j] as number) * (strides[j] as number);
      idx[j] = 0;
    }
  }
}

function heapSlice(backend: unknown, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const hb = heapBackend(backend);
  const out = hb.makeOutput(size, x.dtype as 'float32');
  if (size.every((v) => v > 0)) copySlice(hb.typedArrayFromHeap(x), x.shape, begin, size, hb.typedArrayFromHeap(out)); // views after makeOutput
  return out;
}

function sliceKernel(backendName: string): tf.KernelFunc {
  const builtin = builtinKernel('Slice', backendName);
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string' || x.dtype === 'complex64') {
      if (!builtin) throw new Error(`Slice of ${x.dtype} needs the built-in kernel`);
      return builtin.kernelFunc(args);
    }
    const a = args.attrs as unknown as { begin: number | number[]; size?: number | number[] };
    const [begin, size] = tf.backend_util.slice_util.parseSliceParams(x, a.begin, a.size) as [number[], number[]];
    return heapSlice(args.backend, x, begin, size);
  };
}

function splitVKernel(backendName: string): tf.KernelFunc {
  const builtin = builtinKernel('SplitV', backendName);
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string' || x.dtype === 'complex64') {
      if (!builtin) throw new Error(`SplitV of ${x.dtype} needs the built-in kernel`);
      return builtin.kernelFunc(args);
    }
    const a = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number | number[] };
    const axis = tf.util.parseAxisParam(a.axis, x.shape)[0] as number;
    const dim = x.shape[axis] as number;
    let sizes: number[];
    if (typeof a.numOrSizeSplits === 'number') {
      if (dim % a.numOrSizeSplits !== 0) throw new Error(`SplitV: axis ${axis} of size ${dim} does not split into ${a.numOrSizeSplits} equal parts`);
      sizes = new Array<number>(a.numOrSizeSplits).fill(dim / a.numOrSizeSplits);
    } else {
      sizes = [...a.numOrSizeSplits];
      const free = sizes.indexOf(-1);
      if (free >= 0) sizes[free] = dim - sizes.reduce((p, q) => p + (q === -1 ? 0 : q), 0);
    }
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((sz) => {
      const size = [...x.shape];
      size[axis] = sz;
      const out = heapSlice(args.backend, x, [...begin], size);
      begin[axis]! += sz;
      return out;
    });
  };
}

function concatKernel(backendName: string): tf.KernelFunc {
  const builtin = builtinKernel('Concat', backendName);
  return (args) => {
    const xs = Object.values(args.inputs) as tf.TensorInfo[];
    const first = xs[0];
    if (!first || first.dtype === 'string' || first.dtype === 'complex64') {
      if (!builtin) throw new Error('Concat: needs the built-in kernel for this input');
      return builtin.kernelFunc(args);
    }
    const axis = tf.util.parseAxisParam((args.attrs as unknown as { axis: number | number[] }).axis, first.shape)[0] as number;
    tf.backend_util.assertParamsConsistent(xs.map((t) => t.shape), axis);
    const outShape = tf.backend_util.computeOutShape(xs.map((t) => t.shape), axis);
    const hb = heapBackend(args.backend);
    const out = hb.makeOutput(outShape, first.dtype as 'float32');
    const rows = first.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = xs.map((t) => t.shape.slice(axis).reduce((a, b) => a * b, 1));
    const total = inner.reduce((a, b) => a + b, 0);
    const dst = hb.typedArrayFromHeap(out); // views after makeOutput
    let offset = 0;
    xs.forEach((t, i) => {
      const run = inner[i] as number;
      if (run === 0) return;
      const src = hb.typedArrayFromHeap(t);
      for (let r = 0; r < rows; r++) {
        const s0 = r * run;
        const d0 = r * total + offset;
        if (run >= 32) dst.set(src.subarray(s0, s0 + run), d0);
        else for (let j = 0; j < run; j++) dst[d0 + j] = src[s0 + j] as number;
      }
      offset += run;
    });
    return out;
  };
}

/** Wraps a built-in convolution kernel so that pad 'same' reaches it as explicit pads (see the header). */
function explicitSamePadding(kernelName: string, depthwise: boolean): (backendName: string) => tf.KernelFunc {
  return (backendName) => {
    const builtin = builtinKernel(kernelName, backendName);
    if (!builtin) throw new Error(`kernel '${kernelName}' is not registered for backend '${backendName}'`);
    return (args) => {
      const a = args.attrs as unknown as { pad: Pad; strides: number | [number, number]; dilations?: number | [number, number]; dimRoundingMode?: Rounding };
      if (a.pad !== 'same') return builtin.kernelFunc(args);
      const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filter.shape as Shape4, a.strides, a.dilations ?? 1, 'same', a.dimRoundingMode, depthwise, 'channelsLast');
      const { top, bottom, left, right } = info.padInfo;
      const pad: tf.backend_util.ExplicitPadding = [[0, 0], [top, bottom], [left, right], [0, 0]];
      return builtin.kernelFunc({ ...args, attrs: { ...args.attrs, pad } as unknown as tf.NamedAttrMap });
    };
  };
}

export interface ReplacementKernel {
  kernelName: string;
  /** What it is computed with. */
  method: string;
  make: (backendName: string) => tf.KernelFunc;
}

export const WASM_REPLACEMENTS: readonly ReplacementKernel[] = [
  { kernelName: 'Conv2DBackpropFilter', method: 'one forward Conv2D: transposed padded input, dy as filter, dilation = stride', make: conv2dBackpropFilterKernel },
  { kernelName: 'Conv2DBackpropInput', method: 'one forward Conv2D: zero-inserted padded dy, flipped filter with in/out channels swapped', make: conv2dBackpropInputKernel },
  { kernelName: 'MaxPoolGrad', method: 'loop over the wasm heap, running maximum from -Infinity (the built-in starts at +1.2e-38)', make: () => maxPoolGradKernel(2) },
  { kernelName: 'MaxPool3D', method: 'loop over the wasm heap, running maximum from -Infinity (the built-in starts at +1.2e-38)', make: () => maxPool3dKernel() },
  { kernelName: 'MaxPool3DGrad', method: 'loop over the wasm heap, running maximum from -Infinity (the built-in starts at +1.2e-38)', make: () => maxPoolGradKernel(3) },
  { kernelName: 'Slice', method: 'contiguous runs copied between views of the wasm heap (the built-in copies its whole input first)', make: sliceKernel },
  { kernelName: 'SplitV', method: 'one heap-view Slice per output', make: splitVKernel },
  { kernelName: 'Concat', method: 'rows copied between views of the wasm heap, short rows element by element', make: concatKernel },
  { kernelName: 'Conv2D', method: "the built-in, with pad 'same' passed as explicit (clamped) pads", make: explicitSamePadding('Conv2D', false) },
  { kernelName: 'FusedConv2D', method: "the built-in, with pad 'same' passed as explicit (clamped) pads", make: explicitSamePadding('FusedConv2D', false) },
  { kernelName: 'DepthwiseConv2dNative', method: "the built-in, with pad 'same' passed as explicit (clamped) pads", make: explicitSamePadding('DepthwiseConv2dNative', true) },
];

/**
 * Kernels of tfjs-backend-wasm 4.22 that give wrong values and that we do not re-implement: they are
 * replaced by kernels that fail with how to avoid them, so that nothing trains silently on wrong
 * gradients. Conv3DBackpropInputV2 is wrong at every stride and Conv3DBackpropFilterV2 at stride > 1
 * (compute-notes); they are the gradients of tf.conv3d (and Conv3DBackpropInputV2 the forward of
 * tf.conv3dTranspose). ops3d.conv3d / ops3d.upsample3d train correctly instead.
 */
export const WASM_GUARDS: readonly { kernelName: string; reason: string }[] = [
  { kernelName: 'Conv3DBackpropInputV2', reason: 'gives wrong values at every stride' },
  { kernelName: 'Conv3DBackpropFilterV2', reason: 'gives wrong values at strides > 1' },
];

export function guardKernel(backendName: string, kernelName: string, reason: string): tf.KernelFunc {
  return () => {
    throw new Error(`${kernelName} on ${backendName}: tfjs-backend-wasm's kernel ${reason}, so it is disabled. tf.conv3d can run forward on wasm but not be trained, and tf.conv3dTranspose does not run; use ops3d.conv3d and ops3d.upsample3d from src/core/compute/ops3d.ts (correct gradients on every backend), or the cpu backend`);
  };
}

const originals = new Map<string, tf.KernelConfig | null>();

/** Registers `kernelFunc` as `kernelName` on `backendName`, replacing (and remembering) the built-in one. */
export function replaceKernel(kernelName: string, backendName: string, kernelFunc: tf.KernelFunc): void {
  const key = `${backendName}_${kernelName}`;
  const existing = tf.getKernel(kernelName, backendName) ?? null;
  if (!originals.has(key)) originals.set(key, existing);
  if (existing) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ kernelName, backendName, kernelFunc });
}

/** Puts back the built-in kernel (or none) that replaceKernel replaced. For benchmarks and tests. */
export function restoreKernel(kernelName: string, backendName: string): void {
  const key = `${backendName}_${kernelName}`;
  if (!originals.has(key)) return;
  const orig = originals.get(key) ?? null;
  originals.delete(key);
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  if (orig) tf.registerKernel(orig);
}

/** Whether `kernelName` on `backendName` is currently one of ours. */
export function isReplaced(kernelName: string, backendName = 'wasm'): boolean {
  return originals.has(`${backendName}_${kernelName}`);
}

/** The built-in kernel that a replacement displaced (null when there was none or nothing was replaced). */
export function builtinKernel(kernelName: string, backendName = 'wasm'): tf.KernelConfig | null {
  const key = `${backendName}_${kernelName}`;
  return originals.has(key) ? (originals.get(key) ?? null) : (tf.getKernel(kernelName, backendName) ?? null);
}
