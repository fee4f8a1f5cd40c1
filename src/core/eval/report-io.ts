// Reading the files evaluation writes into a run folder: evaluation.json and predictions/previews.json
// with its raw little-endian arrays. Every problem names the file and says what to do.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvaluationReport, PreviewIndex } from '../../protocol/evaluation';
import { RUN_FILES } from '../train/runs';

export const PREVIEW_INDEX = 'previews.json';

export class EvaluationFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationFileError';
  }
}

function readJson(file: string, what: string, hint: string): unknown {
  if (!existsSync(file)) throw new EvaluationFileError(`${file}: no ${what} (${hint})`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new EvaluationFileError(`${file}: unreadable ${what} (${(e as Error).message}); ${hint}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads and sanity-checks <runDir>/evaluation.json. */
export function readEvaluation(runDir: string): EvaluationReport {
  const file = join(runDir, RUN_FILES.evaluation);
  const hint = `re-create it with: dscpp-lab evaluate ${runDir}`;
  const v = readJson(file, 'evaluation report', hint);
  if (!isObject(v)) throw new EvaluationFileError(`${file}: expected a JSON object; ${hint}`);
  if (v.schemaVersion !== 1) throw new EvaluationFileError(`${file}: schemaVersion is ${JSON.stringify(v.schemaVersion)}, this version reads 1; ${hint}`);
  for (const key of ['overall', 'temperature'] as const) {
    if (!isObject(v[key])) throw new EvaluationFileError(`${file}: field '${key}' is missing or not an object; ${hint}`);
  }
  for (const key of ['classes', 'reliability', 'perClass', 'thresholdSweep', 'cases'] as const) {
    if (!Array.isArray(v[key])) throw new EvaluationFileError(`${file}: field '${key}' is missing or not a list; ${hint}`);
  }
  return v as unknown as EvaluationReport;
}

/** Reads <runDir>/predictions/previews.json. */
export function readPreviewIndex(runDir: string): PreviewIndex {
  const file = join(runDir, RUN_FILES.predictions, PREVIEW_INDEX);
  const hint = `re-create it with: dscpp-lab evaluate ${runDir}`;
  const v = readJson(file, 'preview index', hint);
  if (!isObject(v) || v.schemaVersion !== 1 || !Array.isArray(v.cases)) throw new EvaluationFileError(`${file}: not a schemaVersion 1 preview index; ${hint}`);
  return v as unknown as PreviewIndex;
}

export interface PreviewArrays {
  id: string;
  spatial: number[];
  /** Float32 [...spatial, channels]. */
  image: Float32Array;
  /** Uint8 [...spatial]. */
  labels: Uint8Array;
  /** Float32 [...spatial, probChannels]. */
  probs: Float32Array;
  probChannels: number;
}

function readRaw(file: string): Buffer {
  if (!existsSync(file)) throw new EvaluationFileError(`${file}: preview array file is missing; re-create the previews with dscpp-lab evaluate`);
  return readFileSync(file);
}

/** Little-endian float32 from a byte buffer (copies, so the result is aligned and owned). */
function float32LE(buf: Buffer, file: string, expected: number): Float32Array {
  if (buf.byteLength !== expected * 4) throw new EvaluationFileError(`${file}: ${buf.byteLength} bytes, expected ${expected * 4} (${expected} float32 values)`);
  const out = new Float32Array(expected);
  for (let i = 0; i < expected; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/** Loads the arrays of one preview case (index into previews.json `cases`). */
export function readPreviewCase(runDir: string, index: number, previews: PreviewIndex = readPreviewIndex(runDir)): PreviewArrays {
  const c = previews.cases[index];
  if (!c) throw new EvaluationFileError(`${join(runDir, RUN_FILES.predictions, PREVIEW_INDEX)}: no preview case ${index} (there are ${previews.cases.length})`);
  const dir = join(runDir, RUN_FILES.predictions);
  const voxels = c.spatial.reduce((a, b) => a * b, 1);
  const imageFile = join(dir, c.image);
  const labelsFile = join(dir, c.labels);
  const probsFile = join(dir, c.probs);
  const image = float32LE(readRaw(imageFile), imageFile, voxels * previews.channels);
  const lb = readRaw(labelsFile);
  if (lb.byteLength !== voxels) throw new EvaluationFileError(`${labelsFile}: ${lb.byteLength} bytes, expected ${voxels} (one uint8 per voxel of ${c.spatial.join('×')})`);
  const pb = readRaw(probsFile);
  const probChannels = previews.probChannels ?? pb.byteLength / 4 / voxels;
  if (!Number.isInteger(probChannels) || probChannels < 1) throw new EvaluationFileError(`${probsFile}: ${pb.byteLength} bytes is not a whole number of float32 channels over ${voxels} voxels`);
  const probs = float32LE(pb, probsFile, voxels * probChannels);
  return { id: c.id, spatial: [...c.spatial], image, labels: new Uint8Array(lb), probs, probChannels };
}

/** Expands 1-channel sigmoid probabilities to [1−p, p] (a no-op for softmax probabilities). */
export function expandProbs(probs: Float32Array, probChannels: number, numClasses: number): Float32Array {
  if (probChannels === numClasses) return probs;
  if (probChannels !== 1 || numClasses !== 2) throw new Error(`cannot expand ${probChannels}-channel probabilities to ${numClasses} classes`);
  const out = new Float32Array(probs.length * 2);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    out[2 * i] = 1 - p;
    out[2 * i + 1] = p;
  }
  return out;
}
