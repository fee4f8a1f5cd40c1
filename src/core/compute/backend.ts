// Compute backend selection at run time. `auto` tries, in order: tensorflow-gpu (@tensorflow/tfjs-node-gpu),
// tensorflow (@tensorflow/tfjs-node), webgpu (only with a hardware adapter), wasm, cpu. Optional
// packages resolve from our node_modules and from the backends directory that
// `dscpp-lab backend install` and the extension's "Install GPU Backend" write to. The chosen backend,
// the reasons others were skipped, package versions and the start-up gradient checks are returned
// and recorded in every run.
//
// tfjs-core keeps its engine and kernel registry on the global object (getGlobalNamespace()._tfengine
// and the 'kernelRegistry' global), so a tfjs-node installed elsewhere with its own tfjs-core copy
// registers its kernels into the same registry our engine uses.
import * as tf from '@tensorflow/tfjs-core';
// Gradients of every kernel (tfjs-core ships them separately from the ops).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BackendInfo, BackendName } from '../../protocol/training';
import { installConv2dGradients } from './conv2d';
import { runGradientChecks, GRADCHECK_TOLERANCE } from './gradcheck';
import { defaultBackendsDirectory } from './install';
import { hardwareAdapterProblem, prepareWebgpuBackend } from './webgpu';

export type BackendChoice = 'auto' | BackendName;
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface SelectOptions {
  backendsDirectory?: string;
  log?: (msg: string) => void;
  /** Run the start-up gradient checks of replacement kernels (default true). */
  gradientCheck?: boolean;
}

export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    readonly reason: string,
  ) {
    super(`backend '${backend}' is not available: ${reason}. ${installHint(backend)}`);
    this.name = 'BackendUnavailableError';
  }
}

export function installHint(b: BackendName): string {
  switch (b) {
    case 'tensorflow-gpu':
      return 'Install it with `dscpp-lab backend install tensorflow-gpu` (or "DSC++: Install GPU Backend" in VS Code); it needs internet access to download libtensorflow, an NVIDIA driver, CUDA 11.2 and cuDNN 8.1 (what TensorFlow 2.9 expects). Or set backend: wasm';
    case 'tensorflow':
      return 'Install it with `dscpp-lab backend install tensorflow`; it needs internet access to download libtensorflow. Or set backend: wasm';
    case 'webgpu':
      return 'Install `webgpu` and `@tensorflow/tfjs-backend-webgpu` (npm install webgpu @tensorflow/tfjs-backend-webgpu) and make sure a Vulkan driver is present. Or set backend: wasm';
    case 'wasm':
      return 'Reinstall the project dependencies (npm ci): @tensorflow/tfjs-backend-wasm ships with DSC++ Lab';
    case 'cpu':
      return 'Reinstall the project dependencies (npm ci): @tensorflow/tfjs-backend-cpu ships with DSC++ Lab';
    default: {
      const never: never = b;
      return String(never);
    }
  }
}

const localRequire = createRequire(__filename);

function requireFrom(name: string, backendsDirectory = defaultBackendsDirectory()): { module: unknown; path: string } {
  const errors: string[] = [];
  const bases = [__filename, ...(backendsDirectory ? [join(backendsDirectory, 'noop.js'), join(backendsDirectory, 'node_modules', 'noop.js')] : [])];
  for (const base of bases) {
    try {
      const r = createRequire(base);
      const path = r.resolve(name);
      return { module: r(name), path };
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0] ?? '';
      errors.push(msg);
    }
  }
  throw new Error(errors.find((m) => !m.startsWith('Cannot find module')) ?? `Cannot find module '${name}'`);
}

function packageVersion(modulePath: string, name: string): string | null {
  let d = dirname(modulePath);
  for (let i = 0; i < 6; i++) {
    const p = join(d, 'package.json');
    if (existsSync(p)) {
      try {
        const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (j.name === name) return j.version ?? null;
      } catch {
        /* keep looking */
      }
    }
    d = dirname(d);
  }
  return null;
}

interface Loaded {
  tfName: string;
  versions: Record<string, string>;
  replacementKernels: boolean;
}

async function activate(tfName: string): Promise<void> {
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new Error(`tf.setBackend('${tfName}') failed`);
  await tf.ready();
}

async function load(b: BackendName, dir?: string): Promise<Loaded> {
  switch (b) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = b === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      const { path } = requireFrom(pkg, dir);
      await activate('tensorflow');
      if (b === 'tensorflow-gpu') {
        // tfjs-node-gpu falls back to the CPU build of libtensorflow silently when CUDA is missing.
        const gpus = (tf.backend() as unknown as { binding?: { isUsingGpuDevice?: () => boolean } }).binding?.isUsingGpuDevice?.();
        if (gpus === false) throw new Error('tfjs-node-gpu loaded but TensorFlow found no usable GPU (check the NVIDIA driver, CUDA 11.2 and cuDNN 8.1)');
      }
      return { tfName: 'tensorflow', versions: { [pkg]: packageVersion(path, pkg) ?? 'unknown' }, replacementKernels: false };
    }
    case 'webgpu': {
      // The globals must exist before tfjs-backend-webgpu loads (see webgpu.ts); reads must be async.
      const { versions } = await prepareWebgpuBackend((name) => requireFrom(name, dir), packageVersion);
      await activate('webgpu');
      return { tfName: 'webgpu', versions, replacementKernels: false };
    }
    case 'wasm': {
      const wasmPath = localRequire.resolve('@tensorflow/tfjs-backend-wasm');
      const wasm = localRequire('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(prefix: string): void; version_wasm: string };
      // The .wasm binaries sit beside the package's main file (dist/).
      wasm.setWasmPaths(dirname(wasmPath) + '/');
      await activate('wasm');
      return { tfName: 'wasm', versions: { '@tensorflow/tfjs-backend-wasm': wasm.version_wasm }, replacementKernels: true };
    }
    case 'cpu': {
      const cpu = localRequire('@tensorflow/tfjs-backend-cpu') as { version_cpu: string };
      await activate('cpu');
      return { tfName: 'cpu', versions: { '@tensorflow/tfjs-backend-cpu': cpu.version_cpu }, replacementKernels: false };
    }
    default: {
      const never: never = b;
      throw new Error(`unknown backend ${String(never)}`);
    }
  }
}

/** null when a hardware WebGPU adapter is present, else why not (auto only picks webgpu on real hardware, not lavapipe). */
async function hasHardwareWebgpu(dir?: string): Promise<string | null> {
  try {
    return await hardwareAdapterProblem((name) => requireFrom(name, dir));
  } catch (e) {
    return (e as Error).message.split('\n')[0] ?? 'unavailable';
  }
}

let current: BackendInfo | null = null;

/** The cpu backend prints a "use tfjs-node" banner on first use; we already report the backend choice. */
function quietCpuBanner(): void {
  try {
    const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
    if (cpu) cpu.firstUse = false;
  } catch {
    /* not registered */
  }
}

/** Chooses, activates and checks a backend. Idempotent for the same choice within a process. */
export async function selectBackend(pref: BackendChoice, opts: SelectOptions = {}): Promise<BackendInfo> {
  if (current && (pref === 'auto' || pref === current.name)) return current;
  const log = opts.log ?? (() => undefined);
  localRequire('@tensorflow/tfjs-backend-cpu'); // the reference of the gradient checks
  quietCpuBanner();
  const candidates = pref === 'auto' ? AUTO_ORDER : [pref];
  const skipped: BackendInfo['skipped'] = [];
  for (const b of candidates) {
    if (pref === 'auto' && b === 'webgpu') {
      const why = await hasHardwareWebgpu(opts.backendsDirectory);
      if (why) {
        skipped.push({ name: b, reason: why });
        continue;
      }
    }
    let loaded: Loaded;
    try {
      loaded = await load(b, opts.backendsDirectory);
    } catch (e) {
      const reason = ((e as Error).message.split('\n')[0] ?? String(e)).replace(/\.$/, '');
      if (pref !== 'auto') throw new BackendUnavailableError(b, reason);
      skipped.push({ name: b, reason });
      continue;
    }
    installConv2dGradients();
    let kernels: BackendInfo['kernels'] = [];
    if (loaded.replacementKernels && opts.gradientCheck !== false) {
      kernels = await runGradientChecks();
      const bad = kernels.filter((k) => !(k.maxRelError <= GRADCHECK_TOLERANCE));
      if (bad.length) throw new Error(`gradient check failed on ${b}: ${bad.map((k) => `${k.name} max relative error ${k.maxRelError.toExponential(2)} > ${GRADCHECK_TOLERANCE}`).join('; ')}`);
      await activate(loaded.tfName);
    }
    current = { name: b, versions: { '@tensorflow/tfjs-core': tf.version_core, ...loaded.versions }, skipped, kernels };
    log(`compute backend: ${b}${skipped.length ? ` (skipped: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}`);
    return current;
  }
  throw new Error(`no compute backend could be loaded: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

export interface BackendAvailability {
  name: BackendName;
  available: boolean;
  reason: string;
  version: string | null;
}

/** What is available on this host, without activating anything (for `backend list` and the extension). */
export async function listBackends(opts: { backendsDirectory?: string } = {}): Promise<{ backends: BackendAvailability[]; auto: BackendName }> {
  const out: BackendAvailability[] = [];
  const probe = (name: BackendName, pkg: string) => {
    try {
      const { path } = requireFrom(pkg, opts.backendsDirectory);
      return { ok: true, version: packageVersion(path, pkg), reason: `${pkg} ${packageVersion(path, pkg) ?? ''}`.trim() };
    } catch (e) {
      return { ok: false, version: null, reason: `${((e as Error).message.split('\n')[0] ?? '').replace(/\.$/, '')}. ${installHint(name)}` };
    }
  };
  for (const name of AUTO_ORDER) {
    if (name === 'webgpu') {
      // The adapter check first: it installs navigator.gpu, which tfjs-backend-webgpu looks for when it loads.
      const why = await hasHardwareWebgpu(opts.backendsDirectory);
      const p = probe(name, '@tensorflow/tfjs-backend-webgpu');
      if (!p.ok) out.push({ name, available: false, reason: p.reason, version: null });
      else out.push({ name, available: why === null, reason: why ?? p.reason, version: p.version });
      continue;
    }
    const pkg = { 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node', wasm: '@tensorflow/tfjs-backend-wasm', cpu: '@tensorflow/tfjs-backend-cpu' }[name];
    const p = probe(name, pkg);
    out.push({ name, available: p.ok, reason: p.reason, version: p.version });
  }
  const auto = out.find((b) => b.available)?.name ?? 'cpu';
  return { backends: out, auto };
}

/** Test helper: forget the selected backend so that the next selectBackend chooses again. */
export function resetBackendSelection(): void {
  current = null;
}
