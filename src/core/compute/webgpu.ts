// WebGPU in Node: the `webgpu` npm package (Dawn, prebuilt binaries inside) provides navigator.gpu and the
// GPU* globals; @tensorflow/tfjs-backend-webgpu runs on it. Facts this file relies on (compute-notes, and
// the package sources):
//  - tfjs-backend-webgpu registers its 'webgpu' backend when the module is first loaded, and only if
//    globalThis.navigator.gpu exists then. So the globals go in first; if the module was loaded earlier
//    without them, we register the same factory ourselves.
//  - Dawn needs a Vulkan driver on Linux. Debian bookworm's Mesa 22.3 lavapipe is refused (no adapter);
//    Mesa 25 lavapipe from bookworm-backports works, on the CPU (about 10× slower than wasm).
//  - Software adapters (lavapipe/llvmpipe, SwiftShader) report architecture 'software' or name themselves
//    in the device/description strings; `auto` never picks them.
//  - On this backend, dataSync() throws in Node (OffscreenCanvas is not defined): read with `await data()`.
//    tf.oneHot on int32 labels gives wrong values: build one-hot as float (the trainer does both).
//  - tfjs-backend-webgpu 4.22's PadV2 generates invalid WGSL for rank 5 and 6 ("cannot index type
//    'vec5'"): the command buffer is dropped and the result is silently wrong. Its Select (tf.where, used
//    by the gradient of clipByValue in every loss) throws for rank > 4. Its binary ops (add, mul, ...)
//    broadcasting a short vector along the last axis of a rank-5 tensor (a bias add in 3D) also generate
//    invalid WGSL, silently. installWebgpuKernelFixes() wraps these kernels so that they run on an
//    equivalent tensor of rank <= 4 (our conv2dTranspose pads a rank-6 view; 3D layers add biases to and
//    losses clip rank-5 tensors).
//  - Its AddN binds every input as a storage buffer: with more than 7 inputs it exceeds WebGPU's default
//    limit of 8 storage buffers per shader stage, and the result is silently garbage (the trainer's global
//    gradient norm adds one term per weight). The wrapper adds at most 4 tensors per kernel call.
import * as tf from '@tensorflow/tfjs-core';

export type RequireFn = (name: string) => { module: unknown; path: string };

interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

interface AdapterLike {
  info?: AdapterInfoLike;
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(desc: Record<string, unknown>): Promise<unknown>;
}

interface GpuLike {
  requestAdapter(opts?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<AdapterLike | null>;
}

interface DawnModule {
  create?: (flags: string[]) => GpuLike;
  globals?: Record<string, unknown>;
}

let gpu: GpuLike | null = null;
let gpuPath = '';

/**
 * Loads the `webgpu` package once, and installs its GPU* globals and navigator.gpu (before the tfjs
 * backend package is loaded). Throws with the reason when the package cannot be loaded.
 */
export function installWebgpuGlobals(req: RequireFn): { gpu: GpuLike; path: string } {
  if (gpu) return { gpu, path: gpuPath };
  let loaded: { module: unknown; path: string };
  try {
    loaded = req('webgpu');
  } catch (e) {
    const msg = (e as Error).message;
    if ((e as { code?: string }).code === 'ERR_REQUIRE_ESM' || msg.includes('ERR_REQUIRE_ESM')) {
      throw new Error(`the 'webgpu' package is an ES module, which this Node (${process.version}) cannot require; use Node 20.19 or newer`);
    }
    throw e;
  }
  const dawn = loaded.module as DawnModule;
  if (typeof dawn.create !== 'function') throw new Error(`the 'webgpu' package at ${loaded.path} did not provide create()`);
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals ?? {})) if (!(k in g)) g[k] = v;
  gpu = dawn.create([]);
  gpuPath = loaded.path;
  const nav = (g.navigator ?? {}) as Record<string, unknown>;
  // Node 21+ defines a read-only navigator; add gpu to it, or define a plain one on Node 20.
  try {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, enumerable: true, writable: true });
    if (!g.navigator) Object.defineProperty(g, 'navigator', { value: nav, configurable: true, writable: true });
  } catch {
    Object.defineProperty(g, 'navigator', { value: { ...nav, gpu }, configurable: true, writable: true });
  }
  return { gpu, path: gpuPath };
}

export interface AdapterDescription {
  text: string;
  software: boolean;
}

export function describeAdapter(adapter: AdapterLike): AdapterDescription {
  const i = adapter.info ?? {};
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((s): s is string => !!s && s.trim() !== '');
  const text = [...new Set(parts)].join(', ') || 'unknown adapter';
  const lower = text.toLowerCase();
  const software = adapter.isFallbackAdapter === true || i.isFallbackAdapter === true || i.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|software/.test(lower);
  return { text, software };
}

/** The adapter Dawn gives, or a reason why there is none. */
export async function requestAdapter(req: RequireFn): Promise<{ adapter: AdapterLike; description: AdapterDescription } | { reason: string }> {
  let g: GpuLike;
  try {
    g = installWebgpuGlobals(req).gpu;
  } catch (e) {
    return { reason: ((e as Error).message.split('\n')[0] ?? 'unavailable').replace(/\.$/, '') };
  }
  const adapter = await g.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { reason: 'no WebGPU adapter (requestAdapter() returned null: no usable Vulkan driver; on Debian bookworm, Mesa 25 from bookworm-backports provides a software one)' };
  return { adapter, description: describeAdapter(adapter) };
}

/** null when a hardware WebGPU adapter is present (what `auto` needs), otherwise why not. */
export async function hardwareAdapterProblem(req: RequireFn): Promise<string | null> {
  const r = await requestAdapter(req);
  if ('reason' in r) return r.reason;
  if (r.description.software) return `only a software adapter (${r.description.text}); auto skips it, set backend: webgpu to use it anyway`;
  return null;
}

interface WebgpuBackendModule {
  WebGPUBackend: new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;
}

/**
 * Makes the 'webgpu' tfjs backend available (not yet active): installs the globals, loads
 * @tensorflow/tfjs-backend-webgpu, and registers its factory if the module was loaded before the globals.
 * Returns the package versions and the adapter.
 */
export async function prepareWebgpuBackend(req: RequireFn, packageVersion: (path: string, name: string) => string | null): Promise<{ versions: Record<string, string>; adapter: AdapterDescription }> {
  const r = await requestAdapter(req);
  if ('reason' in r) throw new Error(r.reason);
  const backendPkg = req('@tensorflow/tfjs-backend-webgpu');
  if (!tf.findBackendFactory('webgpu')) {
    const { WebGPUBackend } = backendPkg.module as WebgpuBackendModule;
    if (typeof WebGPUBackend !== 'function') throw new Error(`@tensorflow/tfjs-backend-webgpu at ${backendPkg.path} has no WebGPUBackend export`);
    const { gpu: g } = installWebgpuGlobals(req);
    tf.registerBackend(
      'webgpu',
      async () => {
        const adapter = await g.requestAdapter({ powerPreference: 'high-performance' });
        if (!adapter) throw new Error('no WebGPU adapter');
        const limits = adapter.limits;
        const keys = ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'];
        const device = await adapter.requestDevice({
          requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
          requiredLimits: Object.fromEntries(keys.map((k) => [k, limits[k]])),
        });
        return new WebGPUBackend(device, adapter.info);
      },
      3,
    );
  }
  installWebgpuKernelFixes();
  return {
    versions: {
      webgpu: packageVersion(installWebgpuGlobals(req).path, 'webgpu') ?? 'unknown',
      '@tensorflow/tfjs-backend-webgpu': packageVersion(backendPkg.path, '@tensorflow/tfjs-backend-webgpu') ?? 'unknown',
      'webgpu adapter': r.description.text,
    },
    adapter: r.description,
  };
}

// ------------------------------------------------------------------------------------------------
// Kernel fixes for rank > 4 (see the header)

type Pad = [number, number];

/**
 * An equivalent padding of lower rank: an axis without padding is merged into the axis outside it (the
 * outer axis's padding is then counted in blocks of the inner axis's size).
 */
export function collapsePadding(shape: readonly number[], paddings: readonly Pad[]): { shape: number[]; paddings: Pad[] } {
  const outShape: number[] = [];
  const outPad: Pad[] = [];
  for (let i = 0; i < shape.length; i++) {
    const [before, after] = paddings[i] as Pad;
    const size = shape[i] as number;
    const last = outShape.length - 1;
    if (last >= 0 && before === 0 && after === 0) {
      const [b, a] = outPad[last] as Pad;
      outPad[last] = [b * size, a * size];
      outShape[last] = (outShape[last] as number) * size;
    } else {
      outShape.push(size);
      outPad.push([before, after]);
    }
  }
  return { shape: outShape, paddings: outPad };
}

let kernelFixes = false;

/** Binary kernels of tfjs-backend-webgpu 4.22 (inputs a and b) built on its BinaryOpProgram. */
const BINARY_KERNELS = ['Add', 'Sub', 'Multiply', 'RealDiv', 'FloorDiv', 'Mod', 'Pow', 'SquaredDifference', 'Maximum', 'Minimum', 'Atan2', 'Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr'];

/** Wraps webgpu's PadV2, Select and binary kernels so that tensors of rank > 4 run as rank <= 4 views. Idempotent. */
export function installWebgpuKernelFixes(): void {
  if (kernelFixes) return;
  const pad = tf.getKernel('PadV2', 'webgpu');
  const select = tf.getKernel('Select', 'webgpu');
  const reshapeKernel = tf.getKernel('Reshape', 'webgpu');
  if (!pad || !select || !reshapeKernel) throw new Error('tfjs-backend-webgpu registered no PadV2, Select or Reshape kernel; is @tensorflow/tfjs-backend-webgpu 4.22.0 installed?');
  kernelFixes = true;
  type Backend = tf.KernelBackend & { disposeData(id: object): boolean };
  const reshape = (x: tf.TensorInfo, shape: number[], backend: Backend): tf.TensorInfo => reshapeKernel.kernelFunc({ inputs: { x }, attrs: { shape }, backend }) as tf.TensorInfo;

  tf.unregisterKernel('PadV2', 'webgpu');
  tf.registerKernel({
    kernelName: 'PadV2',
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const attrs = args.attrs as unknown as { paddings: Pad[]; constantValue: number };
      if (x.shape.length <= 4) return pad.kernelFunc(args);
      const c = collapsePadding(x.shape, attrs.paddings);
      if (c.shape.length > 4) throw new Error(`webgpu: pad of a rank-${x.shape.length} tensor [${x.shape.join(', ')}] with ${c.shape.length} padded axes is not supported (at most 4)`);
      const backend = args.backend as Backend;
      const xr = reshape(x, c.shape, backend);
      const yr = pad.kernelFunc({ inputs: { x: xr }, attrs: { paddings: c.paddings, constantValue: attrs.constantValue }, backend }) as tf.TensorInfo;
      backend.disposeData(xr.dataId);
      const y = reshape(yr, x.shape.map((s, i) => s + (attrs.paddings[i] as Pad)[0] + (attrs.paddings[i] as Pad)[1]), backend);
      backend.disposeData(yr.dataId);
      return y;
    },
  });

  // A binary op whose one operand is a vector [k] (k > 1) broadcast along the last axis of a rank > 4
  // operand [..., k]: run it on the [size / k, k] view of the big operand.
  for (const name of BINARY_KERNELS) {
    const k = tf.getKernel(name, 'webgpu');
    if (!k) continue;
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({
      kernelName: name,
      backendName: 'webgpu',
      kernelFunc: (args) => {
        const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
        const big = a.shape.length > 4 && b.shape.length === 1 ? 'a' : b.shape.length > 4 && a.shape.length === 1 ? 'b' : null;
        const vec = big === 'a' ? b : a;
        const full = big === 'a' ? a : b;
        if (!big || (vec.shape[0] as number) <= 1 || vec.shape[0] !== full.shape[full.shape.length - 1]) return k.kernelFunc(args);
        const backend = args.backend as Backend;
        const last = vec.shape[0] as number;
        const fr = reshape(full, [full.shape.reduce((x, y) => x * y, 1) / last, last], backend);
        const inputs = big === 'a' ? { a: fr, b: vec } : { a: vec, b: fr };
        const yr = k.kernelFunc({ inputs, attrs: args.attrs, backend }) as tf.TensorInfo;
        backend.disposeData(fr.dataId);
        const y = reshape(yr, [...full.shape], backend);
        backend.disposeData(yr.dataId);
        return y;
      },
    });
  }

  const addN = tf.getKernel('AddN', 'webgpu');
  if (addN) {
    const MAX_INPUTS = 4;
    tf.unregisterKernel('AddN', 'webgpu');
    tf.registerKernel({
      kernelName: 'AddN',
      backendName: 'webgpu',
      kernelFunc: (args) => {
        let level = Object.values(args.inputs) as tf.TensorInfo[];
        if (level.length <= MAX_INPUTS) return addN.kernelFunc(args);
        const backend = args.backend as Backend;
        // Partial sums are ours to free once added up; the caller's inputs are not.
        const partials = new Set<tf.TensorInfo>();
        while (level.length > 1) {
          const next: tf.TensorInfo[] = [];
          for (let i = 0; i < level.length; i += MAX_INPUTS) {
            const group = level.slice(i, i + MAX_INPUTS);
            if (group.length === 1) {
              next.push(group[0] as tf.TensorInfo);
              continue;
            }
            const sum = addN.kernelFunc({ inputs: group as unknown as tf.NamedTensorInfoMap, attrs: {}, backend }) as tf.TensorInfo;
            for (const t of group) {
              if (partials.delete(t)) backend.disposeData(t.dataId);
            }
            partials.add(sum);
            next.push(sum);
          }
          level = next;
        }
        return level[0] as tf.TensorInfo;
      },
    });
  }

  tf.unregisterKernel('Select', 'webgpu');
  tf.registerKernel({
    kernelName: 'Select',
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const { condition, t, e } = args.inputs as { condition: tf.TensorInfo; t: tf.TensorInfo; e: tf.TensorInfo };
      if (t.shape.length <= 4) return select.kernelFunc(args);
      const backend = args.backend as Backend;
      const size = t.shape.reduce((a, b) => a * b, 1);
      // Elementwise when the condition has t's shape; a rank-1 condition selects whole rows of t.
      const view = condition.shape.length === 1 ? [t.shape[0] as number, size / (t.shape[0] as number)] : [size];
      const cr = reshape(condition, condition.shape.length === 1 ? [...condition.shape] : [size], backend);
      const tr = reshape(t, view, backend);
      const er = reshape(e, view, backend);
      const yr = select.kernelFunc({ inputs: { condition: cr, t: tr, e: er }, attrs: {}, backend }) as tf.TensorInfo;
      for (const r of [cr, tr, er]) backend.disposeData(r.dataId);
      const y = reshape(yr, [...t.shape], backend);
      backend.disposeData(yr.dataId);
      return y;
    },
  });
}
