// File helpers that keep run folders readable whatever happens: atomic JSON writes (temp file, fsync,
// rename) and line-by-line appends.
import { closeSync, fsyncSync, openSync, renameSync, writeSync, appendFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

let counter = 0;

/** Writes `data` to `file` atomically: readers see the old or the new content, never a torn file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${counter++}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, jsonReplacer, 2) + '\n');
}

/** JSON cannot hold NaN/Infinity: they are written as null. */
export function jsonReplacer(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/** Appends one JSON line (flushed by the OS on return; a kill leaves at most a partial last line). */
export function appendJsonLine(file: string, value: unknown): void {
  appendFileSync(file, JSON.stringify(value, jsonReplacer) + '\n');
}
