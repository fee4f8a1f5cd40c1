// NIfTI volumes: reading .nii / .nii.gz (NIfTI-1 and NIfTI-2 headers parsed by nifti-reader-js; gzip
// and the voxel data handled here) and writing NIfTI-1 .nii / .nii.gz files for predictions.
//
// Conventions:
// - Voxel data are kept in file order: i (x) fastest, then j, then k. As a row-major array that is
//   [nk, nj, ni] = [D, H, W], the layout the rest of the product uses (channels-last [D, H, W, C]). So
//   `spatial` = [dim3, dim2, dim1]; "axial" slices fix k (D), "coronal" fix j (H), "sagittal" fix i (W).
// - Values are returned as float32 with scl_slope / scl_inter applied (value = slope·raw + inter; a
//   slope of 0 or a non-finite slope means "no scaling", as the NIfTI-1 standard says).
// - The affine maps voxel (i, j, k, 1) to world coordinates: the sform when sform_code > 0, else the
//   qform (quaternion) when qform_code > 0, else diag(pixdim) (NIfTI "method 1"). This is the
//   preference of nibabel and ITK; nifti-reader-js's own `affine` picks qform over a lower sform code,
//   so it is not used.
// - Every failure is a NiftiError whose message starts with the file path and says what was wrong.
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import { isNIFTI1, isNIFTI2, readHeader, type NIFTI1, type NIFTI2 } from 'nifti-reader-js';
import { writeFileAtomic } from '../util/fsx';

export type NiftiDataType = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

/** NIfTI datatype codes (nifti1.h) of the types this reader and writer handle. */
export const NIFTI_DATATYPE_CODES: Readonly<Record<NiftiDataType, number>> = { uint8: 2, int16: 4, int32: 8, float32: 16, float64: 64, int8: 256, uint16: 512, uint32: 768 };
const BYTES: Readonly<Record<NiftiDataType, number>> = { uint8: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };
/** Names of the other NIfTI datatype codes, for error messages. */
const OTHER_TYPES: Readonly<Record<number, string>> = { 1: 'binary (1 bit)', 32: 'complex64', 128: 'RGB24', 1024: 'int64', 1280: 'uint64', 1536: 'float128', 1792: 'complex128', 2048: 'complex256', 2304: 'RGBA32' };

function typeOfCode(code: number): NiftiDataType | null {
  for (const [k, v] of Object.entries(NIFTI_DATATYPE_CODES)) if (v === code) return k as NiftiDataType;
  return null;
}

/** A NIfTI file that cannot be read: missing, truncated, corrupt, not NIfTI, or unsupported. */
export class NiftiError extends Error {
  override readonly name = 'NiftiError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

export type Mat4 = [[number, number, number, number], [number, number, number, number], [number, number, number, number], [number, number, number, number]];

export interface NiftiHeaderInfo {
  path: string;
  version: 1 | 2;
  /** Voxels along i, j, k (dim[1..3]). */
  dims: [number, number, number];
  /** [D, H, W] = [dim3, dim2, dim1]: the row-major layout of `data`. */
  spatial: [number, number, number];
  datatype: NiftiDataType;
  /** Volumes in the file (the product of dim[4..7]); 1 for a 3D file. */
  volumes: number;
  /** pixdim[1..3]: voxel size along i, j, k (usually mm; see xyztUnits). */
  spacing: [number, number, number];
  /** Voxel (i, j, k, 1) → world, rows of a 4×4 matrix. */
  affine: Mat4;
  sformCode: number;
  qformCode: number;
  /** Scaling applied to the raw values (1 and 0 when the file has none). */
  slope: number;
  inter: number;
  xyztUnits: number;
  description: string;
  littleEndian: boolean;
  voxOffset: number;
}

export interface NiftiVolume extends NiftiHeaderInfo {
  /** Scaled voxel values, [volumes, D, H, W] row-major (i fastest); [D, H, W] for a 3D file. */
  data: Float32Array;
}

export interface NiftiReadOptions {
  /** Accept files with several volumes (dim[4..7] > 1, e.g. a 4D probability map). Default false: one 3D volume. */
  allowMultiVolume?: boolean;
}

const GZIP_MAGIC = [0x1f, 0x8b];

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === GZIP_MAGIC[0] && b[1] === GZIP_MAGIC[1];
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NiftiError(path, code === 'ENOENT' ? 'cannot read: no such file' : code === 'EISDIR' ? 'cannot read: it is a folder, not a file' : `cannot read: ${(e as Error).message}`);
  }
}

function gunzip(path: string, bytes: Uint8Array, partial: boolean): Uint8Array {
  try {
    return partial ? gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH }) : gunzipSync(bytes);
  } catch (e) {
    const msg = (e as Error).message;
    const what = /unexpected end/i.test(msg) ? 'the gzip stream ends early' : msg;
    throw new NiftiError(path, `truncated or corrupt gzip data (${what}); the file may be incompletely downloaded or copied`);
  }
}

/** Quaternion (b, c, d) + offsets + pixdim → 4×4 affine, as nifti1_io's quatern_to_mat44. */
export function quaternToAffine(b: number, c: number, d: number, qx: number, qy: number, qz: number, dx: number, dy: number, dz: number, qfac: number): Mat4 {
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // Not a unit quaternion: normalise (b, c, d) and use a = 0 (a 180° rotation).
    const s = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= s;
    c *= s;
    d *= s;
    a = 0;
  } else a = Math.sqrt(a);
  const xd = dx > 0 ? dx : 1;
  const yd = dy > 0 ? dy : 1;
  const zd = (dz > 0 ? dz : 1) * (qfac < 0 ? -1 : 1);
  return [
    [(a * a + b * b - c * c - d * d) * xd, 2 * (b * c - a * d) * yd, 2 * (b * d + a * c) * zd, qx],
    [2 * (b * c + a * d) * xd, (a * a + c * c - b * b - d * d) * yd, 2 * (c * d - a * b) * zd, qy],
    [2 * (b * d - a * c) * xd, 2 * (c * d + a * b) * yd, (a * a + d * d - c * c - b * b) * zd, qz],
    [0, 0, 0, 1],
  ];
}

/**
 * The qform of an affine: quaternion (b, c, d), offsets and qfac, with the column lengths as voxel
 * sizes; null when the 3×3 part is not a rotation times a diagonal scale (shear), which a qform cannot hold.
 */
export function affineToQuatern(m: Mat4): { b: number; c: number; d: number; qx: number; qy: number; qz: number; spacing: [number, number, number]; qfac: 1 | -1 } | null {
  const col = (j: number) => [m[0][j], m[1][j], m[2][j]] as [number, number, number];
  const cols = [col(0), col(1), col(2)];
  const len = cols.map((v) => Math.hypot(...v));
  if (len.some((l) => !(l > 0))) return null;
  const r = cols.map((v, j) => v.map((x) => x / (len[j] as number)) as [number, number, number]);
  const dot = (u: number[], v: number[]) => (u[0] as number) * (v[0] as number) + (u[1] as number) * (v[1] as number) + (u[2] as number) * (v[2] as number);
  if (Math.abs(dot(r[0]!, r[1]!)) > 1e-4 || Math.abs(dot(r[0]!, r[2]!)) > 1e-4 || Math.abs(dot(r[1]!, r[2]!)) > 1e-4) return null;
  // R[i][j]: row i, column j.
  const R = [0, 1, 2].map((i) => [0, 1, 2].map((j) => r[j]![i] as number));
  const det = R[0]![0]! * (R[1]![1]! * R[2]![2]! - R[1]![2]! * R[2]![1]!) - R[0]![1]! * (R[1]![0]! * R[2]![2]! - R[1]![2]! * R[2]![0]!) + R[0]![2]! * (R[1]![0]! * R[2]![1]! - R[1]![1]! * R[2]![0]!);
  let qfac: 1 | -1 = 1;
  if (det < 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) R[i]![2] = -R[i]![2]!;
  }
  const r11 = R[0]![0]!, r12 = R[0]![1]!, r13 = R[0]![2]!;
  const r21 = R[1]![0]!, r22 = R[1]![1]!, r23 = R[1]![2]!;
  const r31 = R[2]![0]!, r32 = R[2]![1]!, r33 = R[2]![2]!;
  let a = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qx: m[0][3], qy: m[1][3], qz: m[2][3], spacing: len as [number, number, number], qfac };
}

/** Parses the header of NIfTI bytes (already decompressed, at least the header). */
function parseHeader(path: string, raw: Uint8Array, opts: NiftiReadOptions = {}): NiftiHeaderInfo {
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
  if (raw.byteLength < 348) throw new NiftiError(path, `truncated: ${raw.byteLength} bytes, shorter than a NIfTI header (348 bytes)`);
  let version: 1 | 2;
  if (isNIFTI1(buf)) version = 1;
  else if (isNIFTI2(buf)) version = 2;
  else if (isNIFTI1(buf, true) || isNIFTI2(buf, true)) throw new NiftiError(path, `is the header of a .hdr/.img pair; only single-file NIfTI (.nii or .nii.gz) is supported (convert it, e.g. with nibabel or fslchfiletype)`);
  else throw new NiftiError(path, `not a NIfTI file (no 'n+1' or 'n+2' magic at byte 344 or 4); expected a .nii or .nii.gz volume`);
  if (version === 2 && raw.byteLength < 540) throw new NiftiError(path, `truncated: ${raw.byteLength} bytes, shorter than a NIfTI-2 header (540 bytes)`);
  let h: NIFTI1 | NIFTI2;
  try {
    // Only the fixed header: extensions (which we do not use) are not parsed.
    h = readHeader(buf.slice(0, version === 1 ? 348 : 540));
  } catch (e) {
    throw new NiftiError(path, `corrupt NIfTI header (${(e as Error).message})`);
  }
  const dims = h.dims;
  const ndim = dims[0] as number;
  if (!(ndim >= 1 && ndim <= 7)) throw new NiftiError(path, `corrupt NIfTI header: dim[0] (the number of dimensions) is ${ndim}, expected 1 to 7`);
  const size = (i: number) => (i <= ndim ? (dims[i] as number) : 1);
  for (let i = 1; i <= ndim; i++) if (!(size(i) >= 1)) throw new NiftiError(path, `corrupt NIfTI header: dim[${i}] is ${dims[i]}, expected a positive size`);
  let volumes = 1;
  for (let i = 4; i <= ndim; i++) volumes *= size(i);
  for (let i = 4; i <= ndim && !opts.allowMultiVolume; i++) {
    if (size(i) !== 1) throw new NiftiError(path, `has ${ndim} dimensions (${Array.from({ length: ndim }, (_, k) => size(k + 1)).join('×')}); expected one 3D volume (dimensions beyond the third must be 1). Split multi-volume (4D) files into one file per volume`);
  }
  const datatype = typeOfCode(h.datatypeCode);
  if (!datatype) {
    const name = OTHER_TYPES[h.datatypeCode] ?? `code ${h.datatypeCode}`;
    throw new NiftiError(path, `unsupported NIfTI data type ${name}; supported: ${Object.keys(NIFTI_DATATYPE_CODES).join(', ')}`);
  }
  if (h.numBitsPerVoxel !== BYTES[datatype] * 8) throw new NiftiError(path, `corrupt NIfTI header: bitpix is ${h.numBitsPerVoxel} but the data type ${datatype} has ${BYTES[datatype] * 8} bits`);
  const pix = h.pixDims;
  const spacing: [number, number, number] = [Math.abs(pix[1] ?? 1) || 1, Math.abs(pix[2] ?? 1) || 1, Math.abs(pix[3] ?? 1) || 1];
  const view = new DataView(buf);
  const le = h.littleEndian;
  let affine: Mat4;
  if (h.sform_code > 0) {
    // srow_x/y/z: NIfTI-1 float32 at 280, 296, 312; NIfTI-2 float64 at 400, 432, 464.
    const row = (r: number): [number, number, number, number] =>
      [0, 1, 2, 3].map((j) => (version === 1 ? view.getFloat32(280 + r * 16 + j * 4, le) : view.getFloat64(400 + r * 32 + j * 8, le))) as [number, number, number, number];
    affine = [row(0), row(1), row(2), [0, 0, 0, 1]];
  } else if (h.qform_code > 0) {
    affine = quaternToAffine(h.quatern_b, h.quatern_c, h.quatern_d, h.qoffset_x, h.qoffset_y, h.qoffset_z, pix[1] as number, pix[2] as number, pix[3] as number, pix[0] as number);
  } else {
    affine = [
      [spacing[0], 0, 0, 0],
      [0, spacing[1], 0, 0],
      [0, 0, spacing[2], 0],
      [0, 0, 0, 1],
    ];
  }
  if (affine.some((r) => r.some((v) => !Number.isFinite(v)))) throw new NiftiError(path, `corrupt NIfTI header: the ${h.sform_code > 0 ? 'sform' : 'qform'} affine has non-finite values`);
  const slopeOk = Number.isFinite(h.scl_slope) && h.scl_slope !== 0;
  const slope = slopeOk ? h.scl_slope : 1;
  const inter = slopeOk && Number.isFinite(h.scl_inter) ? h.scl_inter : 0;
  const minOffset = version === 1 ? 352 : 544;
  const voxOffset = Math.max(Math.round(h.vox_offset), minOffset);
  return {
    path,
    version,
    dims: [size(1), size(2), size(3)],
    spatial: [size(3), size(2), size(1)],
    datatype,
    volumes,
    spacing,
    affine,
    sformCode: h.sform_code,
    qformCode: h.qform_code,
    slope,
    inter,
    xyztUnits: h.xyzt_units,
    description: h.description,
    littleEndian: le,
    voxOffset,
  };
}

/** Decodes raw voxel bytes of a data type into float32, applying slope and intercept. */
function decodeVoxels(bytes: Uint8Array, offset: number, n: number, type: NiftiDataType, le: boolean, slope: number, inter: number): Float32Array {
  const out = new Float32Array(n);
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, n * BYTES[type]);
  const get: (i: number) => number =
    type === 'uint8'
      ? (i) => v.getUint8(i)
      : type === 'int8'
        ? (i) => v.getInt8(i)
        : type === 'int16'
          ? (i) => v.getInt16(i * 2, le)
          : type === 'uint16'
            ? (i) => v.getUint16(i * 2, le)
            : type === 'int32'
              ? (i) => v.getInt32(i * 4, le)
              : type === 'uint32'
                ? (i) => v.getUint32(i * 4, le)
                : type === 'float32'
                  ? (i) => v.getFloat32(i * 4, le)
                  : (i) => v.getFloat64(i * 8, le);
  if (slope === 1 && inter === 0) for (let i = 0; i < n; i++) out[i] = get(i);
  else for (let i = 0; i < n; i++) out[i] = get(i) * slope + inter;
  return out;
}

/** Parses NIfTI bytes (.nii, or gzip-compressed .nii.gz, detected from the bytes). `path` names it in errors. */
export function parseNifti(bytes: Uint8Array, path: string, opts: NiftiReadOptions = {}): NiftiVolume {
  if (bytes.length === 0) throw new NiftiError(path, 'empty file (0 bytes); expected a .nii or .nii.gz volume');
  const raw = isGzip(bytes) ? gunzip(path, bytes, false) : bytes;
  const hdr = parseHeader(path, raw, opts);
  const n = hdr.dims[0] * hdr.dims[1] * hdr.dims[2] * hdr.volumes;
  const need = hdr.voxOffset + n * BYTES[hdr.datatype];
  if (raw.byteLength < need) {
    throw new NiftiError(path, `truncated: the header describes ${[...hdr.dims, ...(hdr.volumes > 1 ? [hdr.volumes] : [])].join('×')} ${hdr.datatype} voxels (${n * BYTES[hdr.datatype]} bytes from offset ${hdr.voxOffset}), but the ${isGzip(bytes) ? 'decompressed ' : ''}file has ${raw.byteLength} bytes`);
  }
  const data = decodeVoxels(raw, hdr.voxOffset, n, hdr.datatype, hdr.littleEndian, hdr.slope, hdr.inter);
  return { ...hdr, data };
}

/** Reads a .nii or .nii.gz file. */
export function readNifti(path: string, opts: NiftiReadOptions = {}): NiftiVolume {
  return parseNifti(readBytes(path), path, opts);
}

/** Reads only the header (decompressing just the start of a .nii.gz): shape, type, spacing, affine. */
export function readNiftiHeader(path: string, opts: NiftiReadOptions = {}): NiftiHeaderInfo {
  const bytes = readBytes(path);
  if (bytes.length === 0) throw new NiftiError(path, 'empty file (0 bytes); expected a .nii or .nii.gz volume');
  let raw = bytes;
  if (isGzip(bytes)) {
    // Inflate a growing prefix until the header (and NIfTI-2's larger header) is there. A damaged end of
    // the stream is not seen here (whatever the file size): readNifti reports it.
    for (let take = 4096; ; take *= 4) {
      raw = gunzip(path, bytes.subarray(0, Math.min(take, bytes.length)), true);
      if (raw.byteLength >= 544 || take >= bytes.length) break;
    }
  }
  return parseHeader(path, raw, opts);
}

/** A label volume: integer class ids checked against the number of classes. */
export function labelsFromVolume(vol: NiftiVolume, classes: readonly string[]): Uint8Array {
  const k = classes.length;
  const out = new Uint8Array(vol.data.length);
  const [ni, nj] = vol.dims;
  const where = (idx: number) => `(i, j, k) = (${idx % ni}, ${Math.floor(idx / ni) % nj}, ${Math.floor(idx / (ni * nj))})`;
  for (let i = 0; i < vol.data.length; i++) {
    const v = vol.data[i] as number;
    if (!Number.isInteger(v)) throw new NiftiError(vol.path, `label value ${v} at voxel ${where(i)} is not an integer class id; a label volume holds class ids 0..${k - 1}`);
    if (v < 0 || v >= k) throw new NiftiError(vol.path, `label value ${v} at voxel ${where(i)} is outside the classes 0..${k - 1} (data.classes: ${classes.join(', ')}); fix the label file or add the missing class names to data.classes`);
    out[i] = v;
  }
  return out;
}

export interface NiftiWriteInput {
  /** [D, H, W] (one value per voxel) or [D, H, W, C] channels-last (C > 1 is written as a 4D file, one volume per channel). */
  data: Uint8Array | Int16Array | Uint16Array | Int32Array | Float32Array | Float64Array;
  /** [D, H, W] of the data. */
  spatial: readonly [number, number, number] | readonly number[];
  /** Channels per voxel (default 1). */
  channels?: number;
  datatype: NiftiDataType;
  /** Voxel → world. Default: diag(spacing). */
  affine?: Mat4 | number[][];
  /** Voxel sizes along i, j, k. Default: the affine's column lengths. */
  spacing?: readonly number[];
  /** sform_code / qform_code (default 2, aligned anatomical, when an affine is given; else 0 and 0). */
  sformCode?: number;
  qformCode?: number;
  /** scl_slope / scl_inter stored in the header (the data are written raw). Default 1 / 0. */
  slope?: number;
  inter?: number;
  /** Up to 79 ASCII characters. */
  description?: string;
  /** xyzt_units (default 2 + 8: mm and seconds). */
  xyztUnits?: number;
}

/** Encodes a NIfTI-1 single file (.nii bytes; 348-byte header + 4 extension bytes + data, little-endian). */
export function encodeNifti(input: NiftiWriteInput): Uint8Array {
  const ch = input.channels ?? 1;
  if (input.spatial.length !== 3) throw new Error(`encodeNifti: spatial must be [D, H, W], got [${input.spatial.join(', ')}]`);
  const [D, H, W] = input.spatial as [number, number, number];
  const vox = D * H * W;
  if (!Number.isInteger(ch) || ch < 1) throw new Error(`encodeNifti: channels must be a positive integer, got ${ch}`);
  if (input.data.length !== vox * ch) throw new Error(`encodeNifti: data has ${input.data.length} values, but [${D}, ${H}, ${W}${ch > 1 ? `, ${ch}` : ''}] needs ${vox * ch}`);
  if ([D, H, W].some((s) => s > 32767) || ch > 32767) throw new Error(`encodeNifti: NIfTI-1 sizes are at most 32767, got [${D}, ${H}, ${W}, ${ch}]`);
  const type = input.datatype;
  const code = NIFTI_DATATYPE_CODES[type];
  if (code === undefined) throw new Error(`encodeNifti: unsupported data type '${String(type)}'`);
  const bpv = BYTES[type];
  const hasAffine = input.affine !== undefined;
  const spacingIn = input.spacing;
  const affine: Mat4 = (input.affine as Mat4 | undefined) ?? [
    [spacingIn?.[0] ?? 1, 0, 0, 0],
    [0, spacingIn?.[1] ?? 1, 0, 0],
    [0, 0, spacingIn?.[2] ?? 1, 0],
    [0, 0, 0, 1],
  ];
  if (affine.length < 3 || affine.slice(0, 3).some((r) => r.length !== 4 || r.some((v) => !Number.isFinite(v)))) throw new Error('encodeNifti: affine must be a 4×4 (or 3×4) matrix of finite numbers');
  const q = affineToQuatern(affine);
  const spacing = spacingIn ?? q?.spacing ?? [0, 1, 2].map((j) => Math.hypot(affine[0][j], affine[1][j], affine[2][j]));
  const voxOffset = 352;
  const out = new Uint8Array(voxOffset + vox * ch * bpv);
  const v = new DataView(out.buffer);
  const le = true;
  v.setInt32(0, 348, le); // sizeof_hdr
  // dim_info (39) stays 0.
  const dims = ch > 1 ? [4, W, H, D, ch, 1, 1, 1] : [3, W, H, D, 1, 1, 1, 1];
  dims.forEach((d, i) => v.setInt16(40 + i * 2, d, le));
  v.setInt16(68, 0, le); // intent_code: none
  v.setInt16(70, code, le);
  v.setInt16(72, bpv * 8, le);
  const pixdim = [q?.qfac ?? 1, spacing[0] ?? 1, spacing[1] ?? 1, spacing[2] ?? 1, ch > 1 ? 1 : 0, 0, 0, 0];
  pixdim.forEach((p, i) => v.setFloat32(76 + i * 4, p, le));
  v.setFloat32(108, voxOffset, le);
  v.setFloat32(112, input.slope ?? 1, le);
  v.setFloat32(116, input.inter ?? 0, le);
  v.setUint8(123, input.xyztUnits ?? 2 + 8);
  const desc = (input.description ?? 'DSC++ Lab').replace(/[^\x20-\x7e]/g, '?').slice(0, 79);
  for (let i = 0; i < desc.length; i++) v.setUint8(148 + i, desc.charCodeAt(i));
  const sformCode = input.sformCode ?? (hasAffine ? 2 : 0);
  const qformCode = q ? (input.qformCode ?? (hasAffine ? 2 : 0)) : 0;
  v.setInt16(252, qformCode, le);
  v.setInt16(254, sformCode, le);
  if (q) {
    v.setFloat32(256, q.b, le);
    v.setFloat32(260, q.c, le);
    v.setFloat32(264, q.d, le);
    v.setFloat32(268, q.qx, le);
    v.setFloat32(272, q.qy, le);
    v.setFloat32(276, q.qz, le);
  }
  for (let r = 0; r < 3; r++) for (let j = 0; j < 4; j++) v.setFloat32(280 + r * 16 + j * 4, affine[r]![j] as number, le);
  'n+1\0'.split('').forEach((c, i) => v.setUint8(344 + i, c.charCodeAt(0)));
  // Bytes 348..351: no extensions (zeros).
  const put: (o: number, x: number) => void =
    type === 'uint8'
      ? (o, x) => v.setUint8(o, x)
      : type === 'int8'
        ? (o, x) => v.setInt8(o, x)
        : type === 'int16'
          ? (o, x) => v.setInt16(o, x, le)
          : type === 'uint16'
            ? (o, x) => v.setUint16(o, x, le)
            : type === 'int32'
              ? (o, x) => v.setInt32(o, x, le)
              : type === 'uint32'
                ? (o, x) => v.setUint32(o, x, le)
                : type === 'float32'
                  ? (o, x) => v.setFloat32(o, x, le)
                  : (o, x) => v.setFloat64(o, x, le);
  // Channels-last [D, H, W, C] → file order: channel slowest, then k, j, i.
  for (let c = 0; c < ch; c++) {
    const base = voxOffset + c * vox * bpv;
    for (let i = 0; i < vox; i++) put(base + i * bpv, input.data[i * ch + c] as number);
  }
  return out;
}

/** Writes a NIfTI-1 file; gzip-compressed when the path ends in .gz. Atomic (temp file + rename). */
export function writeNifti(path: string, input: NiftiWriteInput): void {
  const bytes = encodeNifti(input);
  writeFileAtomic(path, /\.gz$/i.test(path) ? gzipSync(bytes, { level: 6 }) : bytes);
}

/** The file stem of a NIfTI path: the name without .nii.gz / .nii. */
export function niftiStem(name: string): string {
  return name.replace(/\.nii(\.gz)?$/i, '');
}

export function isNiftiFileName(name: string): boolean {
  return /\.nii(\.gz)?$/i.test(name);
}
