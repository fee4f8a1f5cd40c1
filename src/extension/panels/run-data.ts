// RunDataSource: how the panels read run folders (run.json, metrics.jsonl, evaluation.json,
// predictions/previews.json and its binaries) and write threshold.json. The panels never touch the
// disk themselves. No vscode import here, so that the browser tests use the same reader.
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { endianness } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { EvaluationReport, PreviewIndex, ThresholdChoice } from '../../protocol/evaluation';
import type { MetricsRecord, RunRecord } from '../../protocol/training';
import type { MaskCaseData } from '../../protocol/webview-masks';

export const RUN_FILE_NAMES = {
  record: 'run.json',
  metrics: 'metrics.jsonl',
  evaluation: 'evaluation.json',
  threshold: 'threshold.json',
  previews: join('predictions', 'previews.json'),
} as const;

/** A run folder's file is missing a field, malformed or inconsistent; the message names the file. */
export class RunDataError extends Error {
  override name = 'RunDataError';
}

export interface MetricsRead {
  records: MetricsRecord[];
  /** Lines that could not be parsed ("metrics.jsonl line 12: ..."); a torn last line is not reported. */
  skipped: string[];
}

export interface RunDataSource {
  readRun(dir: string): Promise<RunRecord>;
  readMetrics(dir: string): Promise<MetricsRead>;
  /** null when the run has no evaluation.json (not evaluated yet). */
  readEvaluation(dir: string): Promise<EvaluationReport | null>;
  /** null when the run has no threshold.json. */
  readThreshold(dir: string): Promise<ThresholdChoice | null>;
  /** null when the run has no predictions/previews.json. */
  readPreviews(dir: string): Promise<PreviewIndex | null>;
  /** The arrays of preview case `index`, checked against the sizes the index declares. */
  readPreviewCase(dir: string, previews: PreviewIndex, index: number): Promise<MaskCaseData>;
  /** Writes threshold.json atomically; returns its path. */
  writeThreshold(dir: string, choice: ThresholdChoice): Promise<string>;
}

async function readText(file: string): Promise<string | null> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RunDataError(`${file}: cannot be read (${(e as Error).message})`);
  }
}

function parseJson(file: string, text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new RunDataError(`${file}: not valid JSON (${(e as Error).message}); the file may be damaged, re-run the step that writes it`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RunDataError(`${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}

function need(file: string, obj: Record<string, unknown>, field: string, type: 'string' | 'number' | 'array' | 'object'): void {
  const v = obj[field];
  const ok = type === 'array' ? Array.isArray(v) : type === 'object' ? v !== null && typeof v === 'object' : typeof v === type;
  if (!ok) throw new RunDataError(`${file}: field "${field}" must be ${type === 'array' ? 'an array' : `a ${type}`} (found ${v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 40)})`);
}

function schemaVersion(file: string, obj: Record<string, unknown>): void {
  if (obj.schemaVersion !== 1) throw new RunDataError(`${file}: schemaVersion ${JSON.stringify(obj.schemaVersion)} is not supported (expected 1); update DSC++ Lab or re-run the evaluation`);
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Copies little-endian bytes into a fresh, aligned typed array. */
function floats(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  if (endianness() === 'LE') new Uint8Array(out.buffer).set(bytes);
  else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}

export class FsRunDataSource implements RunDataSource {
  async readRun(dir: string): Promise<RunRecord> {
    const file = join(dir, RUN_FILE_NAMES.record);
    const text = await readText(file);
    if (text === null) throw new RunDataError(`${file}: not found; ${dir} is not a DSC++ run folder (pick a folder under runs/<experiment>/)`);
    const obj = parseJson(file, text);
    schemaVersion(file, obj);
    need(file, obj, 'id', 'string');
    need(file, obj, 'status', 'string');
    need(file, obj, 'loss', 'object');
    need(file, obj, 'summary', 'object');
    return obj as unknown as RunRecord;
  }

  async readMetrics(dir: string): Promise<MetricsRead> {
    const file = join(dir, RUN_FILE_NAMES.metrics);
    const text = await readText(file);
    if (text === null) return { records: [], skipped: [] };
    const lines = text.split('\n');
    const records: MetricsRecord[] = [];
    const skipped: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim() === '') continue;
      try {
        const r = JSON.parse(line) as MetricsRecord;
        if (r.kind === 'step' || r.kind === 'epoch') records.push(r);
        else skipped.push(`${file} line ${i + 1}: unknown record kind ${JSON.stringify((r as { kind?: unknown }).kind)}`);
      } catch (e) {
        // The trainer may be writing the last line right now; only earlier lines are damage.
        if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim() !== '')) skipped.push(`${file} line ${i + 1}: ${(e as Error).message}`);
      }
    }
    return { records, skipped };
  }

  async readEvaluation(dir: string): Promise<EvaluationReport | null> {
    const file = join(dir, RUN_FILE_NAMES.evaluation);
    const text = await readText(file);
    if (text === null) return null;
    const obj = parseJson(file, text);
    schemaVersion(file, obj);
    for (const f of ['classes', 'reliability', 'perClass', 'thresholdSweep', 'cases'] as const) need(file, obj, f, 'array');
    for (const f of ['overall', 'temperature'] as const) need(file, obj, f, 'object');
    return obj as unknown as EvaluationReport;
  }

  async readThreshold(dir: string): Promise<ThresholdChoice | null> {
    const file = join(dir, RUN_FILE_NAMES.threshold);
    const text = await readText(file);
    if (text === null) return null;
    const obj = parseJson(file, text);
    schemaVersion(file, obj);
    need(file, obj, 'threshold', 'number');
    need(file, obj, 'classIndex', 'number');
    return obj as unknown as ThresholdChoice;
  }

  async readPreviews(dir: string): Promise<PreviewIndex | null> {
    const file = join(dir, RUN_FILE_NAMES.previews);
    const text = await readText(file);
    if (text === null) return null;
    const obj = parseJson(file, text);
    schemaVersion(file, obj);
    need(file, obj, 'cases', 'array');
    need(file, obj, 'numClasses', 'number');
    need(file, obj, 'channels', 'number');
    (obj.cases as unknown[]).forEach((c, i) => {
      const where = `${file}: cases[${i}]`;
      if (c === null || typeof c !== 'object') throw new RunDataError(`${where} must be an object`);
      const cc = c as Record<string, unknown>;
      if (!Array.isArray(cc.spatial) || (cc.spatial.length !== 2 && cc.spatial.length !== 3) || !cc.spatial.every((n) => Number.isInteger(n) && (n as number) > 0)) {
        throw new RunDataError(`${where}.spatial must be [H, W] or [D, H, W] of positive integers (found ${JSON.stringify(cc.spatial)})`);
      }
      for (const f of ['id', 'image', 'labels', 'probs']) if (typeof cc[f] !== 'string') throw new RunDataError(`${where}.${f} must be a string`);
    });
    return obj as unknown as PreviewIndex;
  }

  async readPreviewCase(dir: string, previews: PreviewIndex, index: number): Promise<MaskCaseData> {
    const c = previews.cases[index];
    if (!Number.isInteger(index) || c === undefined) throw new RunDataError(`preview case ${index} does not exist (the run has ${previews.cases.length})`);
    const base = dirname(join(dir, RUN_FILE_NAMES.previews));
    const root = resolve(dir);
    const read = async (field: 'image' | 'labels' | 'probs'): Promise<Uint8Array> => {
      const p = resolve(base, c[field]);
      const rel = relative(root, p);
      if (rel.startsWith('..') || isAbsolute(rel)) throw new RunDataError(`${join(base, 'previews.json')}: cases[${index}].${field} "${c[field]}" points outside the run folder`);
      try {
        return new Uint8Array(await fsp.readFile(p));
      } catch (e) {
        throw new RunDataError(`${p}: cannot be read (${(e as Error).message}); predictions/previews.json lists it for case ${c.id}`);
      }
    };
    const [imageB, labelsB, probsB] = await Promise.all([read('image'), read('labels'), read('probs')]);
    const nvox = product(c.spatial);
    const check = (field: string, got: number, want: number, what: string): void => {
      if (got !== want) throw new RunDataError(`${join(base, basename(c[field as 'image']))}: ${got} bytes, expected ${want} (${what} for spatial [${c.spatial.join(', ')}]) for case ${c.id}`);
    };
    check('image', imageB.byteLength, nvox * previews.channels * 4, `Float32 × ${previews.channels} channel(s)`);
    check('labels', labelsB.byteLength, nvox, 'Uint8 class ids');
    const probChannels = probsB.byteLength / (nvox * 4);
    if (probChannels !== 1 && probChannels !== previews.numClasses) check('probs', probsB.byteLength, nvox * previews.numClasses * 4, `Float32 × ${previews.numClasses} classes, or × 1 for a sigmoid head`);
    return {
      index,
      spatial: [...c.spatial],
      channels: previews.channels,
      numClasses: previews.numClasses,
      image: floats(imageB),
      labels: labelsB,
      probs: floats(probsB),
      probChannels,
    };
  }

  async writeThreshold(dir: string, choice: ThresholdChoice): Promise<string> {
    const file = join(dir, RUN_FILE_NAMES.threshold);
    const tmp = join(dir, `.${RUN_FILE_NAMES.threshold}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(choice, null, 2) + '\n', 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw new RunDataError(`${file}: cannot be written (${(e as Error).message})`);
    }
    return file;
  }
}

/** Checks a threshold choice that came from a webview before it is written. */
export function validateThresholdChoice(v: unknown): ThresholdChoice {
  const o = (v ?? {}) as Record<string, unknown>;
  const num01 = (x: unknown): boolean => x === null || (typeof x === 'number' && x >= 0 && x <= 1);
  if (o.schemaVersion !== 1) throw new RunDataError('threshold choice: schemaVersion must be 1');
  if (typeof o.threshold !== 'number' || !(o.threshold > 0 && o.threshold < 1)) throw new RunDataError(`threshold choice: threshold must be a number strictly between 0 and 1 (got ${JSON.stringify(o.threshold)})`);
  if (typeof o.classIndex !== 'number' || !Number.isInteger(o.classIndex) || o.classIndex < 0) throw new RunDataError(`threshold choice: classIndex must be a non-negative integer (got ${JSON.stringify(o.classIndex)})`);
  if (typeof o.className !== 'string') throw new RunDataError('threshold choice: className must be a string');
  for (const f of ['precision', 'recall', 'dsc']) if (!num01(o[f])) throw new RunDataError(`threshold choice: ${f} must be null or in [0, 1] (got ${JSON.stringify(o[f])})`);
  if (typeof o.chosenAt !== 'string' || Number.isNaN(Date.parse(o.chosenAt))) throw new RunDataError('threshold choice: chosenAt must be an ISO date');
  return { schemaVersion: 1, classIndex: o.classIndex, className: o.className, threshold: o.threshold, precision: o.precision as number | null, recall: o.recall as number | null, dsc: o.dsc as number | null, chosenAt: o.chosenAt };
}
