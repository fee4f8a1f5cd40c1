// Backend selection (src/core/compute/backend.ts) on this host, where @tensorflow/tfjs-node(-gpu) cannot
// install: the `auto` order and the reasons it records, the exact error of a pinned backend that is
// missing, the package versions, listBackends, and loading a tfjs-node from a backends directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { AUTO_ORDER, BackendUnavailableError, installHint, listBackends, resetBackendSelection, selectBackend } from '../../src/core/compute/backend';
import { GRADCHECK_TOLERANCE } from '../../src/core/compute/gradcheck';

const REPO = resolve(__dirname, '..', '..', '..');
const pkgVersion = (name: string) => (JSON.parse(readFileSync(join(REPO, 'node_modules', ...name.split('/'), 'package.json'), 'utf8')) as { version: string }).version;

/** An empty backends directory (nothing installed), so the user's ~/.dscpp-lab/backends is not consulted. */
function emptyBackendsDir(): string {
  return mkdtempSync(join(REPO, 'dist', 'test-backends-empty-'));
}

test('auto with tfjs-node absent: tensorflow-gpu, tensorflow, webgpu skipped with reasons, wasm chosen', async () => {
  resetBackendSelection();
  const dir = emptyBackendsDir();
  const logs: string[] = [];
  try {
    const info = await selectBackend('auto', { backendsDirectory: dir, log: (m) => logs.push(m) });
    assert.deepEqual(AUTO_ORDER, ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
    assert.equal(info.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.deepEqual(
      info.skipped.map((s) => s.name),
      ['tensorflow-gpu', 'tensorflow', 'webgpu'],
    );
    assert.equal(info.skipped[0]!.reason, "Cannot find module '@tensorflow/tfjs-node-gpu'");
    assert.equal(info.skipped[1]!.reason, "Cannot find module '@tensorflow/tfjs-node'");
    // webgpu: no hardware adapter on this host (none, or only a software Vulkan driver): a reason is given.
    assert.ok(info.skipped[2]!.reason.length > 10, info.skipped[2]!.reason);
    assert.deepEqual(info.versions, { '@tensorflow/tfjs-core': pkgVersion('@tensorflow/tfjs-core'), '@tensorflow/tfjs-backend-wasm': pkgVersion('@tensorflow/tfjs-backend-wasm') });
    assert.deepEqual(
      info.kernels.map((k) => k.name),
      ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'MaxPool3D', 'MaxPool3DGrad', 'Slice', 'SplitV', 'Concat', 'Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative'],
    );
    for (const k of info.kernels) assert.ok(k.maxRelError <= GRADCHECK_TOLERANCE, `${k.name}: ${k.maxRelError}`);
    assert.ok(logs.some((l) => l.startsWith("compute backend: wasm (skipped: tensorflow-gpu: Cannot find module '@tensorflow/tfjs-node-gpu'; tensorflow: Cannot find module '@tensorflow/tfjs-node'; webgpu: ")), logs.join('\n'));
    // A second call within the process returns the same selection.
    assert.equal(await selectBackend('auto', { backendsDirectory: dir }), info);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pinned backend that is not installed fails with how to install it', async () => {
  const dir = emptyBackendsDir();
  try {
    for (const [name, pkg] of [
      ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
      ['tensorflow', '@tensorflow/tfjs-node'],
    ] as const) {
      resetBackendSelection();
      await assert.rejects(selectBackend(name, { backendsDirectory: dir }), (e: unknown) => {
        assert.ok(e instanceof BackendUnavailableError);
        assert.equal(e.backend, name);
        assert.equal(e.message, `backend '${name}' is not available: Cannot find module '${pkg}'. ${installHint(name)}`);
        return true;
      });
    }
    assert.equal(
      installHint('tensorflow-gpu'),
      'Install it with `dscpp-lab backend install tensorflow-gpu` (or "DSC++: Install GPU Backend" in VS Code); it needs internet access to download libtensorflow, an NVIDIA driver, CUDA 11.2 and cuDNN 8.1 (what TensorFlow 2.9 expects). Or set backend: wasm',
    );
    assert.equal(installHint('tensorflow'), 'Install it with `dscpp-lab backend install tensorflow`; it needs internet access to download libtensorflow. Or set backend: wasm');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    resetBackendSelection();
  }
});

test('pinned cpu and wasm record their versions; cpu installs no replacement kernels', async () => {
  resetBackendSelection();
  const cpu = await selectBackend('cpu');
  assert.equal(cpu.name, 'cpu');
  assert.deepEqual(cpu.skipped, []);
  assert.deepEqual(cpu.kernels, []);
  assert.deepEqual(cpu.versions, { '@tensorflow/tfjs-core': pkgVersion('@tensorflow/tfjs-core'), '@tensorflow/tfjs-backend-cpu': pkgVersion('@tensorflow/tfjs-backend-cpu') });
  const wasm = await selectBackend('wasm');
  assert.equal(wasm.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(wasm.versions['@tensorflow/tfjs-backend-wasm'], pkgVersion('@tensorflow/tfjs-backend-wasm'));
  assert.equal(wasm.kernels.length, 11);
});

test('listBackends: availability and reasons without activating anything', async () => {
  const dir = emptyBackendsDir();
  try {
    const active = tf.getBackend();
    const { backends, auto } = await listBackends({ backendsDirectory: dir });
    assert.equal(tf.getBackend(), active);
    assert.deepEqual(
      backends.map((b) => b.name),
      ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'],
    );
    const by = Object.fromEntries(backends.map((b) => [b.name, b]));
    assert.deepEqual(by['tensorflow-gpu'], { name: 'tensorflow-gpu', available: false, version: null, reason: `Cannot find module '@tensorflow/tfjs-node-gpu'. ${installHint('tensorflow-gpu')}` });
    assert.deepEqual(by['tensorflow'], { name: 'tensorflow', available: false, version: null, reason: `Cannot find module '@tensorflow/tfjs-node'. ${installHint('tensorflow')}` });
    assert.equal(by['webgpu']!.available, false);
    assert.deepEqual(by['wasm'], { name: 'wasm', available: true, version: pkgVersion('@tensorflow/tfjs-backend-wasm'), reason: `@tensorflow/tfjs-backend-wasm ${pkgVersion('@tensorflow/tfjs-backend-wasm')}` });
    assert.deepEqual(by['cpu'], { name: 'cpu', available: true, version: pkgVersion('@tensorflow/tfjs-backend-cpu'), reason: `@tensorflow/tfjs-backend-cpu ${pkgVersion('@tensorflow/tfjs-backend-cpu')}` });
    assert.equal(auto, 'wasm');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The real tfjs-node needs libtensorflow, which cannot be downloaded here. This stand-in, installed the
 * way `dscpp-lab backend install` installs it (`<dir>/node_modules/@tensorflow/tfjs-node`), brings its
 * own copy of tfjs-core, as the real one does, and registers a 'tensorflow' backend with the CPU kernels
 * through that copy: it shows that the package resolves from the backends directory and that a second
 * tfjs-core copy registers into our engine and kernel registry.
 */
test('a tfjs-node in the backends directory, with its own tfjs-core copy, registers into our engine', async () => {
  const dir = mkdtempSync(join(REPO, 'dist', 'test-backends-'));
  try {
    const core = join(dir, 'node_modules', '@tensorflow', 'tfjs-core');
    mkdirSync(join(core, 'dist'), { recursive: true });
    cpSync(join(REPO, 'node_modules', '@tensorflow', 'tfjs-core', 'package.json'), join(core, 'package.json'));
    cpSync(join(REPO, 'node_modules', '@tensorflow', 'tfjs-core', 'dist', 'tf-core.node.js'), join(core, 'dist', 'tf-core.node.js'));
    const node = join(dir, 'node_modules', '@tensorflow', 'tfjs-node');
    mkdirSync(node, { recursive: true });
    writeFileSync(join(node, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node', version: '4.22.0', main: 'index.js' }));
    writeFileSync(
      join(node, 'index.js'),
      [
        "const tf = require('@tensorflow/tfjs-core');",
        "const cpu = tf.findBackend('cpu');",
        // firstUse = false: no "install tfjs-node" banner from this CPU backend instance.
        "tf.registerBackend('tensorflow', () => Object.assign(new cpu.constructor(), { firstUse: false }), 3);",
        "for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });",
        'module.exports = { tfCore: tf };',
      ].join('\n'),
    );
    resetBackendSelection();
    const info = await selectBackend('tensorflow', { backendsDirectory: dir });
    assert.equal(info.name, 'tensorflow');
    assert.equal(tf.getBackend(), 'tensorflow');
    assert.deepEqual(info.versions, { '@tensorflow/tfjs-core': pkgVersion('@tensorflow/tfjs-core'), '@tensorflow/tfjs-node': '4.22.0' });
    assert.deepEqual(info.kernels, []);
    const theirs = (createRequire(__filename)(join(node, 'index.js')) as { tfCore: typeof tf }).tfCore;
    assert.notEqual(theirs, tf, 'the stand-in should have its own tfjs-core module');
    assert.equal(theirs.engine(), tf.engine());
    const y = tf.add(tf.tensor([1, 2, 3]), tf.tensor([10, 20, 30]));
    assert.deepEqual(Array.from(await y.data()), [11, 22, 33]);
    y.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const k of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(k.kernelName, 'tensorflow');
    if (tf.findBackend('tensorflow')) tf.removeBackend('tensorflow');
    resetBackendSelection();
    await selectBackend('wasm');
  }
});
