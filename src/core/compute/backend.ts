// Compute backend selection at run time. `auto` tries, in order: tensorflow-gpu (@tensorflow/tfjs-node-gpu),
// tensorflow (@tensorflow/tfjs-node), webgpu (only with a hardware adapter), wasm, cpu. Optional
// packages resolve from our node_modules and from the backends directory that
// `dscpp-lab backend install` and the extension's "Install GPU Backend" write to. The chosen backend,
// the reasons others were skipped, package versions and the start-up gradient checks are returned
// and recorded in every run.
//
// A tfjs-node installed in the backends directory brings its own copy of tfjs-core, and still works with
// ours: tfjs-core 4.22 keeps its engine on the global object (getOrMakeEngine() reuses
// `global._tfengine`, engine.js) and the kernel and gradient registries in `global._tfGlobals`
// (getGlobal('kernelRegistry' | 'gradRegistry'), kernel_registry.js / global_util.js). Whichever copy
// loads first creates them; the other copy's registerBackend / registerKernel write into the same
// engine and registry, and its ops run through that engine. Checked by a test that loads a second copy
// of tfjs-core from a backends directory.
//
// On wasm, the missing or wrong gradient kernels are replaced (wasm-kernels.ts); each replacement is
// gradient-checked against cpu first and refused, with an error, if it does not match.
import * as tf from '@tensorflow/tfjs-core';
// Gradients of every kernel (tfjs-core ships them separately from the ops).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BackendInfo, BackendName } from '../../protocol/training';
import { checkReplacement, GRADCHECK_TOLERANCE, type KernelCheck } from './gradcheck';
import { WASM_GUARDS, WASM_REPLACEMENTS, guardKernel, isReplaced, replaceKernel, restoreKernel } from './wasm-kernels';
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

/**
 * Loads an optional package from our node_modules, else from `<backendsDirectory>/node_modules` (where
 * `dscpp-lab backend install` puts it). The error is the first informative one (a load failure beats
 * "Cannot find module").
 */
export function requireFrom(name: string, backendsDirectory = defaultBackendsDirectory()): { module: unknown; path: string } {
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
const kernelResults = new Map<string, number>();

/** Thrown when a replacement kernel does not match cpu: it is not registered, and training must not start. */
export class KernelCheckError extends Error {
  constructor(readonly failed: KernelCheck[]) {
    super(
      `gradient check of the wasm replacement kernels failed (tolerance ${GRADCHECK_TOLERANCE}, max relative error against cpu): ` +
        failed.map((k) => `${k.kernelName} ${k.maxRelError.toExponential(2)} (worst case: ${[...k.cases].sort((a, b) => b.maxRelError - a.maxRelError)[0]?.case ?? 'none'})`).join('; ') +
        `. Those kernels were not registered, so gradients on wasm would be wrong. Pick backend: cpu (slow but correct), and report this with the tfjs versions.`,
    );
    this.name = 'KernelCheckError';
  }
}

/**
 * Registers the wasm replacement kernels, each after its gradient check against cpu (`check`), once per
 * process. Returns BackendInfo.kernels (maxRelError NaN, null in JSON, where the check was skipped).
 */
function installWasmReplacements(check: boolean, log: (msg: string) => void): BackendInfo['kernels'] {
  const failed: KernelCheck[] = [];
  for (const r of WASM_REPLACEMENTS) {
    let err = kernelResults.get(r.kernelName) ?? NaN;
    if (check && Number.isNaN(err)) {
      const t0 = Date.now();
      const c = checkReplacement(r, 'wasm');
      if (!(c.maxRelError <= GRADCHECK_TOLERANCE)) {
        if (isReplaced(r.kernelName, 'wasm')) restoreKernel(r.kernelName, 'wasm');
        kernelResults.delete(r.kernelName);
        failed.push(c);
        continue;
      }
      err = c.maxRelError;
      log(`wasm kernel ${r.kernelName}: ${r.method}; gradient check against cpu: max relative error ${err.toExponential(1)} (${Date.now() - t0} ms)`);
    }
    kernelResults.set(r.kernelName, err);
    if (!isReplaced(r.kernelName, 'wasm')) replaceKernel(r.kernelName, 'wasm', r.make('wasm'));
  }
  for (const g of WASM_GUARDS) if (!isReplaced(g.kernelName, 'wasm')) replaceKernel(g.kernelName, 'wasm', guardKernel('wasm', g.kernelName, g.reason));
  if (failed.length) throw new KernelCheckError(failed);
  return [...kernelResults].map(([name, maxRelError]) => ({ name, maxRelError }));
}

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
    const kernels = loaded.replacementKernels ? installWasmReplacements(opts.gradientCheck !== false, log) : [];
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
