// Checkpoints in the tfjs weights format: <dir>/model.json (topology = our UNetSpec, and a
// weightsManifest) + <dir>/weights.bin, plus optimizer.json/optimizer.bin and trainer state for resume.
// Files are written into a temp folder and swapped in with renames, so a kill never leaves a torn
// checkpoint.
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '@tensorflow/tfjs-core/dist/tensor_types';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { writeFileAtomic } from '../util/fsx';
import type { UNetSpec } from './unet';

export const CHECKPOINT_FORMAT = 'dscpp-lab/unet@1';

export interface CheckpointMeta {
  epoch: number;
  globalStep: number;
  /** Trainer state needed to resume exactly (lr, plateau counters, best value...). */
  trainer: Record<string, unknown>;
}

interface ModelJson {
  format: string;
  generatedBy: string;
  convertedBy: null;
  modelTopology: { class: 'UNet'; spec: UNetSpec };
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata: CheckpointMeta;
}

async function writeWeights(dir: string, stem: string, named: tf.NamedTensorMap | NamedTensor[]): Promise<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> {
  const { data, specs } = await tf.io.encodeWeights(named);
  const bin = `${stem}.bin`;
  writeFileAtomic(join(dir, bin), new Uint8Array(data as ArrayBuffer));
  return { paths: [bin], weights: specs };
}

/** Saves model weights (+ optional optimizer weights) as a checkpoint folder, replacing it atomically. */
export async function saveCheckpoint(dir: string, spec: UNetSpec, named: Record<string, tf.Tensor>, meta: CheckpointMeta, optimizer?: tf.Optimizer): Promise<void> {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const manifest = await writeWeights(tmp, 'weights', named);
  const model: ModelJson = {
    format: CHECKPOINT_FORMAT,
    generatedBy: `@tensorflow/tfjs-core ${tf.version_core}`,
    convertedBy: null,
    modelTopology: { class: 'UNet', spec },
    weightsManifest: [manifest],
    userDefinedMetadata: meta,
  };
  writeFileAtomic(join(tmp, 'model.json'), JSON.stringify(model, null, 1));
  if (optimizer) {
    const ow = await optimizer.getWeights();
    const om = await writeWeights(tmp, 'optimizer', ow);
    // getWeights() creates a fresh scalar for the iteration count; the rest are the optimizer's variables.
    for (const w of ow) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
    writeFileAtomic(join(tmp, 'optimizer.json'), JSON.stringify({ class: optimizer.getClassName(), weightsManifest: [om] }, null, 1));
  }
  // Swap: old → .old, tmp → dir, drop .old. A kill in between leaves either dir or .old readable.
  const old = join(parent, `.${basename(dir)}.old`);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  spec: UNetSpec;
  meta: CheckpointMeta;
  tensors: tf.NamedTensorMap;
  optimizer: { className: string; weights: NamedTensor[] } | null;
}

function readManifest(dir: string, m: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }, what: string): tf.NamedTensorMap {
  const buffers = m.paths.map((p) => {
    const f = join(dir, p);
    if (!existsSync(f)) throw new Error(`${what}: missing weights file ${f}`);
    const b = readFileSync(f);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  });
  const total = buffers.reduce((a, b) => a + b.byteLength, 0);
  const joined = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    joined.set(new Uint8Array(b), off);
    off += b.byteLength;
  }
  return tf.io.decodeWeights(joined.buffer, m.weights);
}

/** Reads a checkpoint folder (dir or, after a kill during the swap, its `.old` sibling). */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  let d = dir;
  if (!existsSync(join(d, 'model.json'))) {
    const old = join(dirname(dir), `.${basename(dir)}.old`);
    if (existsSync(join(old, 'model.json'))) d = old;
    else throw new Error(`no checkpoint at ${dir} (model.json not found)`);
  }
  const model = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')) as ModelJson;
  if (model.format !== CHECKPOINT_FORMAT) throw new Error(`${join(d, 'model.json')}: format '${model.format}' is not '${CHECKPOINT_FORMAT}'`);
  const tensors = readManifest(d, model.weightsManifest[0] as ModelJson['weightsManifest'][number], join(d, 'model.json'));
  let optimizer: LoadedCheckpoint['optimizer'] = null;
  if (existsSync(join(d, 'optimizer.json'))) {
    const oj = JSON.parse(readFileSync(join(d, 'optimizer.json'), 'utf8')) as { class: string; weightsManifest: ModelJson['weightsManifest'] };
    const map = readManifest(d, oj.weightsManifest[0] as ModelJson['weightsManifest'][number], join(d, 'optimizer.json'));
    // Keep the manifest order: optimizers match weights by position.
    const order = (oj.weightsManifest[0] as ModelJson['weightsManifest'][number]).weights.map((w) => w.name);
    optimizer = { className: oj.class, weights: order.map((name) => ({ name, tensor: map[name] as tf.Tensor })) };
  }
  return { spec: model.modelTopology.spec, meta: model.userDefinedMetadata, tensors, optimizer };
}
