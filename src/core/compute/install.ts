// On-demand installation of the libtensorflow backends (tfjs-node, tfjs-node-gpu) into a backends
// directory, with npm. Their install script downloads libtensorflow, so this needs internet access; a
// failure is explained in plain words and DSC++ Lab keeps working on wasm.
import { spawn } from 'node:child_process';
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

export type InstallableBackend = 'tensorflow' | 'tensorflow-gpu';

export const BACKEND_PACKAGES: Record<InstallableBackend, string> = {
  tensorflow: '@tensorflow/tfjs-node',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
};

/** The default backends directory: $DSCPP_BACKENDS_DIR, else ~/.dscpp-lab/backends. */
export function defaultBackendsDirectory(): string {
  return process.env.DSCPP_BACKENDS_DIR || join(homedir(), '.dscpp-lab', 'backends');
}

export interface InstallResult {
  ok: boolean;
  /** Plain-words explanation of a failure (or the success). */
  message: string;
  /** The tail of npm's output. */
  output: string;
  directory: string;
}

/** Explains an npm failure of a tfjs-node install in plain words. */
export function explainInstallFailure(output: string, pkg: string): string {
  const o = output.toLowerCase();
  if (/enotfound|eai_again|econnrefused|etimedout|network|getaddrinfo|unable to get|socket hang up|403|404 not found.*storage\.googleapis/.test(o) && /libtensorflow|storage\.googleapis|install\.js|node-pre-gyp|download/.test(o)) {
    return `${pkg} could not download libtensorflow during its install script: this machine has no access to the download server. Install it on a machine with internet access (or copy a backends directory from one), or keep using the wasm backend.`;
  }
  if (/enotfound|eai_again|econnrefused|etimedout|network/.test(o)) return `npm could not reach the registry to download ${pkg}: check the network or proxy settings, or keep using the wasm backend.`;
  if (/cuda|cudnn|libcudart/.test(o)) return `${pkg} installed but CUDA 11.2 / cuDNN 8.1 were not found: install them (what TensorFlow 2.9 expects), or use backend 'tensorflow' or 'wasm'.`;
  if (/unsupported platform|not supported/.test(o)) return `${pkg} has no libtensorflow build for this platform (${process.platform}-${process.arch}); keep using wasm.`;
  return `installing ${pkg} failed; see the npm output below. DSC++ Lab keeps working on the wasm backend.`;
}

/** Installs a backend package into `directory` (created if needed) with npm. */
export function installBackend(kind: InstallableBackend, directory = defaultBackendsDirectory(), onOutput: (chunk: string) => void = () => undefined, npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm'): Promise<InstallResult> {
  const pkg = BACKEND_PACKAGES[kind];
  mkdirSync(directory, { recursive: true });
  if (!existsSync(join(directory, 'package.json'))) writeFileSync(join(directory, 'package.json'), JSON.stringify({ name: 'dscpp-lab-backends', private: true, description: 'On-demand compute backends of DSC++ Lab' }, null, 2) + '\n');
  // The same tfjs version as ours, so that kernels and the engine agree.
  const spec = `${pkg}@${tf.version_core}`;
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(npmCommand, ['install', '--no-audit', '--no-fund', '--prefix', directory, spec], { cwd: directory, env: { ...process.env, npm_config_yes: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (d: Buffer) => {
      const s = d.toString();
      output += s;
      if (output.length > 200_000) output = output.slice(-100_000);
      onOutput(s);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => resolve({ ok: false, message: `could not run npm (${e.message}); install Node.js and npm, or keep using wasm`, output, directory }));
    child.on('close', (code) => {
      const tail = output.split('\n').slice(-40).join('\n');
      if (code === 0 && existsSync(join(directory, 'node_modules', ...pkg.split('/')))) resolve({ ok: true, message: `${spec} installed in ${directory}`, output: tail, directory });
      else resolve({ ok: false, message: explainInstallFailure(output, pkg), output: tail, directory });
    });
  });
}
