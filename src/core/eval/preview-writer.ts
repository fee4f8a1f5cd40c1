// Writes the fixed preview subset of an evaluation: raw little-endian arrays per case plus
// predictions/previews.json (PreviewIndex). Binaries are written first and the index last (atomically),
// so a reader never sees an index that points at missing files; files of an older index that the new
// one no longer lists are removed afterwards.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PreviewIndex } from '../../protocol/evaluation';
import { RUN_FILES } from '../train/runs';
import { writeFileAtomic, writeJsonAtomic } from '../util/fsx';
import { PREVIEW_INDEX, readPreviewIndex } from './report-io';

/** Little-endian bytes of a Float32Array, whatever the host's endianness. */
export function float32ToLE(a: Float32Array): Uint8Array {
  const buf = Buffer.alloc(a.length * 4);
  for (let i = 0; i < a.length; i++) buf.writeFloatLE(a[i] as number, i * 4);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** A file-name-safe form of a case id (ids are file stems, but may hold spaces or other characters). */
export function safeCaseName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}

export interface PreviewCaseInput {
  id: string;
  spatial: number[];
  image: Float32Array;
  labels: Uint8Array;
  /** Probabilities as saved: [...spatial, probChannels]. */
  probs: Float32Array;
  dsc: number | null;
  nll: number;
}

export class PreviewWriter {
  private readonly cases: PreviewIndex['cases'] = [];
  private readonly dir: string;

  constructor(
    private readonly runDir: string,
    private readonly meta: Omit<PreviewIndex, 'schemaVersion' | 'cases'>,
  ) {
    this.dir = join(runDir, RUN_FILES.predictions);
  }

  /** Writes one case's arrays; returns its index in previews.json `cases`. */
  add(c: PreviewCaseInput): number {
    const voxels = c.spatial.reduce((a, b) => a * b, 1);
    const check = (what: string, got: number, want: number) => {
      if (got !== want) throw new Error(`preview ${c.id}: ${what} has ${got} values, expected ${want} for spatial ${c.spatial.join('×')}`);
    };
    check('image', c.image.length, voxels * this.meta.channels);
    check('labels', c.labels.length, voxels);
    check('probs', c.probs.length, voxels * (this.meta.probChannels ?? this.meta.numClasses));
    const base = `eval-${this.meta.split}-${String(this.cases.length).padStart(3, '0')}-${safeCaseName(c.id)}`;
    const names = { image: `${base}.image.f32`, labels: `${base}.labels.u8`, probs: `${base}.probs.f32` };
    writeFileAtomic(join(this.dir, names.image), float32ToLE(c.image));
    writeFileAtomic(join(this.dir, names.labels), c.labels);
    writeFileAtomic(join(this.dir, names.probs), float32ToLE(c.probs));
    this.cases.push({ id: c.id, spatial: [...c.spatial], ...names, dsc: c.dsc, nll: c.nll });
    return this.cases.length - 1;
  }

  /** Writes previews.json and removes the files of the previous index that are no longer listed. */
  finish(): PreviewIndex {
    let previous: PreviewIndex | null = null;
    if (existsSync(join(this.dir, PREVIEW_INDEX))) {
      try {
        previous = readPreviewIndex(this.runDir);
      } catch {
        previous = null; // unreadable: simply replaced
      }
    }
    const index: PreviewIndex = { schemaVersion: 1, ...this.meta, cases: this.cases };
    writeJsonAtomic(join(this.dir, PREVIEW_INDEX), index);
    if (previous) {
      const keep = new Set(this.cases.flatMap((c) => [c.image, c.labels, c.probs]));
      for (const c of previous.cases) {
        for (const f of [c.image, c.labels, c.probs]) {
          // Only plain names inside predictions/ are ever removed.
          if (typeof f === 'string' && !keep.has(f) && /^[A-Za-z0-9._-]+$/.test(f)) rmSync(join(this.dir, f), { force: true });
        }
      }
    }
    return index;
  }
}
