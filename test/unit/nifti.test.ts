// NIfTI reading and writing: every supported data type (files built byte by byte here from the NIfTI-1
// layout, independent of our writer), big-endian files, scl_slope/scl_inter, sform/qform/pixdim affines,
// a file we write with a non-identity affine and a scale slope read back exactly, 4D probability maps,
// real hippocampus files checked against the data set's manifest, and the error cases with their text.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  affineToQuatern,
  encodeNifti,
  labelsFromVolume,
  NIFTI_DATATYPE_CODES,
  NiftiError,
  parseNifti,
  quaternToAffine,
  readNifti,
  readNiftiHeader,
  writeNifti,
  type Mat4,
  type NiftiDataType,
} from '../../src/core/data/nifti';

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'dscpp-nifti-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const REPO = resolve(__dirname, '..', '..', '..');
const HIPPO = join(REPO, 'examples', 'hippocampus');

interface RawSpec {
  dims: number[]; // [ni, nj, nk, (nt)]
  datatype: number;
  bitpix: number;
  values: number[];
  put: (v: DataView, off: number, x: number, le: boolean) => void;
  le?: boolean;
  pixdim?: number[];
  slope?: number;
  inter?: number;
  sform?: { code: number; rows: number[][] };
  qform?: { code: number; b: number; c: number; d: number; x: number; y: number; z: number };
  magic?: string;
  voxOffset?: number;
}

/** Builds NIfTI-1 bytes field by field from the nifti1.h layout (independent of encodeNifti). */
function buildNifti(s: RawSpec): Uint8Array {
  const le = s.le ?? true;
  const bpv = s.bitpix / 8;
  const off = s.voxOffset ?? 352;
  const buf = new Uint8Array(off + s.values.length * bpv);
  const v = new DataView(buf.buffer);
  v.setInt32(0, 348, le);
  const dim = [s.dims.length, ...s.dims, ...new Array(7 - s.dims.length).fill(1)];
  dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, s.datatype, le);
  v.setInt16(72, s.bitpix, le);
  (s.pixdim ?? [1, 1, 1, 1, 0, 0, 0, 0]).forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
  v.setFloat32(108, off, le);
  v.setFloat32(112, s.slope ?? 0, le);
  v.setFloat32(116, s.inter ?? 0, le);
  v.setUint8(123, 10);
  if (s.qform) {
    v.setInt16(252, s.qform.code, le);
    [s.qform.b, s.qform.c, s.qform.d, s.qform.x, s.qform.y, s.qform.z].forEach((x, i) => v.setFloat32(256 + 4 * i, x, le));
  }
  if (s.sform) {
    v.setInt16(254, s.sform.code, le);
    s.sform.rows.forEach((row, r) => row.forEach((x, j) => v.setFloat32(280 + 16 * r + 4 * j, x, le)));
  }
  const magic = s.magic ?? 'n+1\0';
  for (let i = 0; i < 4; i++) v.setUint8(344 + i, magic.charCodeAt(i));
  s.values.forEach((x, i) => s.put(v, off + i * bpv, x, le));
  return buf;
}

const PUT: Record<NiftiDataType, (v: DataView, o: number, x: number, le: boolean) => void> = {
  uint8: (v, o, x) => v.setUint8(o, x),
  int8: (v, o, x) => v.setInt8(o, x),
  int16: (v, o, x, le) => v.setInt16(o, x, le),
  uint16: (v, o, x, le) => v.setUint16(o, x, le),
  int32: (v, o, x, le) => v.setInt32(o, x, le),
  uint32: (v, o, x, le) => v.setUint32(o, x, le),
  float32: (v, o, x, le) => v.setFloat32(o, x, le),
  float64: (v, o, x, le) => v.setFloat64(o, x, le),
};
const BITS: Record<NiftiDataType, number> = { uint8: 8, int8: 8, int16: 16, uint16: 16, int32: 32, uint32: 32, float32: 32, float64: 64 };

// 4×3×2 volumes (i fastest), with values at the edges of each type's range.
const DTYPE_VALUES: [NiftiDataType, number[]][] = [
  ['uint8', [0, 1, 2, 127, 128, 255, ...Array.from({ length: 18 }, (_, i) => i * 7)]],
  ['int8', [-128, -1, 0, 1, 127, ...Array.from({ length: 19 }, (_, i) => i - 9)]],
  ['int16', [-32768, -1, 0, 1, 32767, ...Array.from({ length: 19 }, (_, i) => i * 1000 - 9000)]],
  ['uint16', [0, 1, 65535, 40000, ...Array.from({ length: 20 }, (_, i) => i * 3000)]],
  ['int32', [-2147483648, -1, 0, 1, 2147483647, ...Array.from({ length: 19 }, (_, i) => i * 100000 - 900000)]],
  ['uint32', [0, 1, 4294967295, ...Array.from({ length: 21 }, (_, i) => i * 100001)]],
  ['float32', [-1.5, 0, 0.25, 3.75, -1e6, 1e-3, ...Array.from({ length: 18 }, (_, i) => i / 8 - 1)]],
  ['float64', [-1.5, 0, 0.25, 3.75, -1e6, 2 ** -20, ...Array.from({ length: 18 }, (_, i) => i / 16 - 1)]],
];

describe('reading each data type', () => {
  for (const [type, values] of DTYPE_VALUES) {
    for (const le of [true, false]) {
      test(`${type}, ${le ? 'little' : 'big'}-endian, .nii and .nii.gz`, () => {
        const bytes = buildNifti({ dims: [4, 3, 2], datatype: NIFTI_DATATYPE_CODES[type], bitpix: BITS[type], values, put: PUT[type], le });
        for (const [name, b] of [[`${type}.nii`, bytes], [`${type}.nii.gz`, gzipSync(bytes)]] as const) {
          const vol = parseNifti(b, name);
          assert.equal(vol.datatype, type);
          assert.equal(vol.littleEndian, le);
          assert.deepEqual(vol.dims, [4, 3, 2]);
          assert.deepEqual(vol.spatial, [2, 3, 4]);
          assert.equal(vol.volumes, 1);
          // Float32 is the in-memory type: every value as Math.fround of the stored one.
          assert.deepEqual(Array.from(vol.data), values.map((x) => Math.fround(x)));
          assert.equal(vol.slope, 1);
          assert.equal(vol.inter, 0);
        }
      });
    }
  }

  test('scl_slope and scl_inter are applied (value = slope·raw + inter); slope 0 means none', () => {
    const values = [0, 1, 2, 3, 100, -100];
    const scaled = parseNifti(buildNifti({ dims: [6, 1, 1], datatype: 4, bitpix: 16, values, put: PUT.int16, slope: 0.5, inter: -3 }), 's.nii');
    assert.deepEqual(Array.from(scaled.data), [-3, -2.5, -2, -1.5, 47, -53]);
    assert.equal(scaled.slope, 0.5);
    assert.equal(scaled.inter, -3);
    const none = parseNifti(buildNifti({ dims: [6, 1, 1], datatype: 4, bitpix: 16, values, put: PUT.int16, slope: 0, inter: 7 }), 'n.nii');
    assert.deepEqual(Array.from(none.data), values);
  });

  test('voxel order: i fastest, so data is row-major [k, j, i] = [D, H, W]', () => {
    const values = Array.from({ length: 24 }, (_, n) => n);
    const vol = parseNifti(buildNifti({ dims: [4, 3, 2], datatype: 2, bitpix: 8, values, put: PUT.uint8 }), 'o.nii');
    // Voxel (i, j, k) = (3, 1, 1) is at ((k·3 + j)·4 + i) = 19.
    assert.equal(vol.data[(1 * 3 + 1) * 4 + 3], 19);
  });
});

describe('NIfTI-2', () => {
  /** A NIfTI-2 file (540-byte header, 64-bit sizes and float64 fields) built from the nifti2.h layout. */
  function buildNifti2(dims: number[], values: number[], slope: number, inter: number, srow: number[][]): Uint8Array {
    const off = 544;
    const buf = new Uint8Array(off + values.length * 2);
    const v = new DataView(buf.buffer);
    v.setInt32(0, 540, true);
    'n+2\0\r\n\x1a\n'.split('').forEach((c, i) => v.setUint8(4 + i, c.charCodeAt(0)));
    v.setInt16(12, 4, true); // int16
    v.setInt16(14, 16, true);
    [3, ...dims, 1, 1, 1, 1].forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), true));
    [1, 0.5, 0.5, 2, 0, 0, 0, 0].forEach((p, i) => v.setFloat64(104 + 8 * i, p, true));
    v.setBigInt64(168, BigInt(off), true);
    v.setFloat64(176, slope, true);
    v.setFloat64(184, inter, true);
    v.setInt32(348, 1, true); // sform_code
    srow.forEach((row, r) => row.forEach((x, j) => v.setFloat64(400 + 32 * r + 8 * j, x, true)));
    v.setInt32(500, 10, true);
    values.forEach((x, i) => v.setInt16(off + 2 * i, x, true));
    return buf;
  }

  test('a NIfTI-2 .nii.gz: int16 with slope and intercept, float64 sform', () => {
    const srow = [
      [0.5, 0, 0, -10.125],
      [0, 0, 0.5, 3.5],
      [0, -2, 0, 1e-7],
    ];
    const values = Array.from({ length: 12 }, (_, i) => i * 100 - 600);
    const vol = parseNifti(gzipSync(buildNifti2([3, 2, 2], values, 0.1, 5, srow)), 'two.nii.gz');
    assert.equal(vol.version, 2);
    assert.equal(vol.datatype, 'int16');
    assert.deepEqual(vol.dims, [3, 2, 2]);
    assert.deepEqual(Array.from(vol.data), values.map((x) => Math.fround(x * 0.1 + 5)));
    assert.deepEqual(vol.affine, [...srow, [0, 0, 0, 1]]);
    assert.deepEqual(vol.spacing, [0.5, 0.5, 2]);
    assert.throws(() => parseNifti(buildNifti2([3, 2, 2], values, 1, 0, srow).subarray(0, 500), 'short.nii'), { message: 'short.nii: truncated: 500 bytes, shorter than a NIfTI-2 header (540 bytes)' });
  });
});

describe('affines', () => {
  const sformRows = [
    [0, -2, 0, 10],
    [1.5, 0, 0, -20],
    [0, 0, 3, 5.5],
  ];

  test('sform is used when sform_code > 0, even when a qform is present with a higher code', () => {
    const vol = parseNifti(
      buildNifti({ dims: [2, 2, 2], datatype: 2, bitpix: 8, values: new Array(8).fill(0), put: PUT.uint8, pixdim: [1, 1.5, 2, 3, 0, 0, 0, 0], sform: { code: 1, rows: sformRows }, qform: { code: 2, b: 0, c: 0, d: 0, x: 9, y: 9, z: 9 } }),
      'a.nii',
    );
    assert.deepEqual(vol.affine, [...sformRows, [0, 0, 0, 1]]);
    assert.deepEqual(vol.spacing, [1.5, 2, 3]);
    assert.equal(vol.sformCode, 1);
    assert.equal(vol.qformCode, 2);
  });

  test('qform (quaternion) when sform_code is 0: a 90° rotation about z with qfac −1', () => {
    const h = Math.SQRT1_2;
    const vol = parseNifti(
      buildNifti({ dims: [2, 2, 2], datatype: 2, bitpix: 8, values: new Array(8).fill(0), put: PUT.uint8, pixdim: [-1, 2, 3, 4, 0, 0, 0, 0], qform: { code: 1, b: 0, c: 0, d: h, x: 1, y: 2, z: 3 } }),
      'q.nii',
    );
    const expected = [
      [0, -3, 0, 1],
      [2, 0, 0, 2],
      [0, 0, -4, 3],
      [0, 0, 0, 1],
    ];
    vol.affine.forEach((row, r) => row.forEach((x, c) => assert.ok(Math.abs(x - (expected[r]![c] as number)) < 1e-6, `affine[${r}][${c}] = ${x}, expected ${expected[r]![c]}`)));
  });

  test('neither: diag(pixdim) with no offset', () => {
    const vol = parseNifti(buildNifti({ dims: [2, 2, 2], datatype: 2, bitpix: 8, values: new Array(8).fill(0), put: PUT.uint8, pixdim: [1, 0.5, 0.75, 2, 0, 0, 0, 0] }), 'd.nii');
    assert.deepEqual(vol.affine, [
      [0.5, 0, 0, 0],
      [0, 0.75, 0, 0],
      [0, 0, 2, 0],
      [0, 0, 0, 1],
    ]);
  });

  test('affineToQuatern inverts quaternToAffine (rotations, reflections, spacings)', () => {
    const cases: [number, number, number, number][] = [
      [0, 0, 0, 1],
      [0.1, -0.2, 0.3, 1],
      [0, 0, Math.SQRT1_2, -1],
      [0.9, 0.1, -0.2, -1],
      [0, 1, 0, 1], // 180° about y: a = 0, the branch without the trace
    ];
    for (const [b, c, d, qfac] of cases) {
      const m = quaternToAffine(b, c, d, 4, -5, 6, 0.8, 1.2, 2.5, qfac);
      const q = affineToQuatern(m);
      assert.ok(q, `no qform for ${[b, c, d, qfac]}`);
      const back = quaternToAffine(q.b, q.c, q.d, q.qx, q.qy, q.qz, q.spacing[0], q.spacing[1], q.spacing[2], q.qfac);
      back.forEach((row, r) => row.forEach((x, k) => assert.ok(Math.abs(x - (m[r]![k] as number)) < 1e-9, `(${[b, c, d, qfac]}) [${r}][${k}]: ${x} vs ${m[r]![k]}`)));
    }
    // A sheared matrix has no qform.
    assert.equal(
      affineToQuatern([
        [1, 0.5, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]),
      null,
    );
  });
});

describe('writing', () => {
  // A rotation about x by 30°, a flip of the third axis (det < 0) and anisotropic voxels, with an offset.
  const c30 = Math.cos(Math.PI / 6);
  const s30 = Math.sin(Math.PI / 6);
  const affine: Mat4 = [
    [0.9, 0, 0, -12.5],
    [0, 1.1 * c30, 2.5 * s30, 30.25],
    [0, 1.1 * s30, -2.5 * c30, 7],
    [0, 0, 0, 1],
  ];

  test('a .nii.gz we write (int16, non-identity affine, scl_slope 0.25, scl_inter −10) reads back with the same affine and values', () => {
    const [D, H, W] = [3, 4, 5];
    const raw = Int16Array.from({ length: D * H * W }, (_, i) => (i * 37) % 200 - 100);
    const path = join(tmp, 'written.nii.gz');
    writeNifti(path, { data: raw, spatial: [D, H, W], datatype: 'int16', affine, spacing: [0.9, 1.1, 2.5], slope: 0.25, inter: -10, sformCode: 1, qformCode: 1 });
    const bytes = readFileSync(path);
    assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b], 'not gzip-compressed');
    const vol = readNifti(path);
    assert.equal(vol.version, 1);
    assert.equal(vol.datatype, 'int16');
    assert.deepEqual(vol.dims, [W, H, D]);
    assert.deepEqual(vol.spatial, [D, H, W]);
    assert.equal(vol.slope, 0.25);
    assert.equal(vol.inter, -10);
    assert.deepEqual(Array.from(vol.data), Array.from(raw, (x) => x * 0.25 - 10));
    assert.equal(vol.sformCode, 1);
    assert.equal(vol.qformCode, 1);
    vol.affine.forEach((row, r) => row.forEach((x, c) => assert.equal(x, Math.fround(affine[r]![c] as number), `sform [${r}][${c}]`)));
    assert.deepEqual(vol.spacing, [0.9, 1.1, 2.5].map(Math.fround));
    // The qform holds the same affine (to float32 precision): read it with the sform code cleared.
    const nii = Buffer.from(encodeNifti({ data: raw, spatial: [D, H, W], datatype: 'int16', affine, slope: 0.25, inter: -10 }));
    nii.writeInt16LE(0, 254);
    const q = parseNifti(nii, 'qform-only.nii');
    assert.equal(q.sformCode, 0);
    assert.equal(q.qformCode, 2);
    q.affine.forEach((row, r) => row.forEach((x, c) => assert.ok(Math.abs(x - (affine[r]![c] as number)) < 1e-5, `qform [${r}][${c}]: ${x} vs ${affine[r]![c]}`)));
    // The header is 348 bytes + 4 extension bytes, data at 352.
    assert.equal(nii.readInt32LE(0), 348);
    assert.equal(nii.readFloatLE(108), 352);
    assert.equal(nii.length, 352 + D * H * W * 2);
    assert.equal(nii.toString('latin1', 344, 348), 'n+1\0');
  });

  test('a uint8 label map and a float32 probability map (4D, one volume per class) round-trip', () => {
    const [D, H, W, K] = [2, 3, 4, 3];
    const labels = Uint8Array.from({ length: D * H * W }, (_, i) => i % K);
    writeNifti(join(tmp, 'labels.nii.gz'), { data: labels, spatial: [D, H, W], datatype: 'uint8', affine });
    const l = readNifti(join(tmp, 'labels.nii.gz'));
    assert.equal(l.datatype, 'uint8');
    assert.deepEqual(Array.from(l.data), Array.from(labels));
    const probs = Float32Array.from({ length: D * H * W * K }, (_, i) => ((i * 7919) % 1000) / 1000);
    writeNifti(join(tmp, 'probs.nii.gz'), { data: probs, spatial: [D, H, W], channels: K, datatype: 'float32', affine });
    assert.throws(() => readNifti(join(tmp, 'probs.nii.gz')), { message: `${join(tmp, 'probs.nii.gz')}: has 4 dimensions (4×3×2×3); expected one 3D volume (dimensions beyond the third must be 1). Split multi-volume (4D) files into one file per volume` });
    const p = readNifti(join(tmp, 'probs.nii.gz'), { allowMultiVolume: true });
    assert.equal(p.volumes, K);
    assert.equal(p.datatype, 'float32');
    // File order is [class, D, H, W]; the input was channels-last [D, H, W, class].
    for (let v = 0; v < D * H * W; v++) for (let k = 0; k < K; k++) assert.equal(p.data[k * D * H * W + v], probs[v * K + k]);
    p.affine.forEach((row, r) => row.forEach((x, c) => assert.equal(x, Math.fround(affine[r]![c] as number))));
  });

  test('encodeNifti checks its input', () => {
    assert.throws(() => encodeNifti({ data: new Uint8Array(5), spatial: [1, 2, 3], datatype: 'uint8' }), { message: 'encodeNifti: data has 5 values, but [1, 2, 3] needs 6' });
    assert.throws(() => encodeNifti({ data: new Uint8Array(6), spatial: [6, 1], datatype: 'uint8' }), { message: 'encodeNifti: spatial must be [D, H, W], got [6, 1]' });
  });
});

describe('real data: hippocampus (examples/hippocampus, copied from the MSD)', () => {
  // From the shared msd_hippocampus manifest.json (examples/hippocampus/manifest.json).
  const cases = [
    { id: 'hippocampus_001', shape: [35, 51, 35], dtype: 'uint8', perClass: [59527, 1324, 1624] },
    { id: 'hippocampus_004', shape: [36, 52, 38], dtype: 'float32', perClass: [67438, 1832, 1866] },
  ];
  for (const c of cases) {
    test(`${c.id}: ${c.dtype} image, uint8 labels, shape, affine and class counts as in the manifest`, () => {
      const img = readNifti(join(HIPPO, 'images', `${c.id}.nii.gz`));
      const lab = readNifti(join(HIPPO, 'labels', `${c.id}.nii.gz`));
      assert.equal(img.datatype, c.dtype);
      assert.equal(lab.datatype, 'uint8');
      assert.deepEqual(img.dims, c.shape);
      assert.deepEqual(lab.dims, c.shape);
      assert.deepEqual(img.spacing, [1, 1, 1]);
      assert.deepEqual(img.affine, [
        [1, 0, 0, 1],
        [0, 1, 0, 1],
        [0, 0, 1, 1],
        [0, 0, 0, 1],
      ]);
      const ids = labelsFromVolume(lab, ['background', 'Anterior', 'Posterior']);
      const counts = [0, 0, 0];
      for (const v of ids) counts[v]!++;
      assert.deepEqual(counts, c.perClass);
      const h = readNiftiHeader(join(HIPPO, 'images', `${c.id}.nii.gz`));
      assert.deepEqual(h.dims, c.shape);
      assert.equal(h.datatype, c.dtype);
    });
  }
});

describe('errors name the file and say what is wrong', () => {
  const good = () => buildNifti({ dims: [4, 3, 2], datatype: 4, bitpix: 16, values: Array.from({ length: 24 }, (_, i) => i), put: PUT.int16 });

  test('truncated .nii.gz', () => {
    const gz = gzipSync(good());
    const p = join(tmp, 'cut.nii.gz');
    writeFileSync(p, gz.subarray(0, gz.length - 20));
    assert.throws(() => readNifti(p), (e: unknown) => {
      assert.ok(e instanceof NiftiError);
      assert.equal(e.message, `${p}: truncated or corrupt gzip data (the gzip stream ends early); the file may be incompletely downloaded or copied`);
      return true;
    });
  });

  test('corrupt .nii.gz (damaged deflate data)', () => {
    const gz = Buffer.from(gzipSync(good()));
    for (let i = 12; i < 40; i++) gz[i] = 0xff;
    const p = join(tmp, 'bad.nii.gz');
    writeFileSync(p, gz);
    assert.throws(() => readNifti(p), (e: unknown) => {
      assert.ok(e instanceof NiftiError);
      assert.match(e.message, new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated or corrupt gzip data \\(.+\\); the file may be incompletely downloaded or copied$`));
      return true;
    });
  });

  test('truncated .nii (voxel data cut short)', () => {
    const p = join(tmp, 'cut.nii');
    writeFileSync(p, good().subarray(0, 380));
    assert.throws(() => readNifti(p), { message: `${p}: truncated: the header describes 4×3×2 int16 voxels (48 bytes from offset 352), but the file has 380 bytes` });
    const q = join(tmp, 'cut-header.nii');
    writeFileSync(q, good().subarray(0, 200));
    assert.throws(() => readNifti(q), { message: `${q}: truncated: 200 bytes, shorter than a NIfTI header (348 bytes)` });
  });

  test('not a NIfTI file', () => {
    const p = join(tmp, 'image.nii');
    writeFileSync(p, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(400)]));
    assert.throws(() => readNifti(p), { message: `${p}: not a NIfTI file (no 'n+1' or 'n+2' magic at byte 344 or 4); expected a .nii or .nii.gz volume` });
    const e = join(tmp, 'empty.nii.gz');
    writeFileSync(e, Buffer.alloc(0));
    assert.throws(() => readNifti(e), { message: `${e}: empty file (0 bytes); expected a .nii or .nii.gz volume` });
    const pair = join(tmp, 'pair.nii');
    writeFileSync(pair, buildNifti({ dims: [2, 1, 1], datatype: 2, bitpix: 8, values: [1, 2], put: PUT.uint8, magic: 'ni1\0' }));
    assert.throws(() => readNifti(pair), { message: `${pair}: is the header of a .hdr/.img pair; only single-file NIfTI (.nii or .nii.gz) is supported (convert it, e.g. with nibabel or fslchfiletype)` });
    const missing = join(tmp, 'missing.nii.gz');
    assert.throws(() => readNifti(missing), { message: `${missing}: cannot read: no such file` });
  });

  test('unsupported data types', () => {
    const p = join(tmp, 'complex.nii');
    writeFileSync(p, buildNifti({ dims: [2, 1, 1], datatype: 32, bitpix: 64, values: [0, 0], put: PUT.float64 }));
    assert.throws(() => readNifti(p), { message: `${p}: unsupported NIfTI data type complex64; supported: uint8, int16, int32, float32, float64, int8, uint16, uint32` });
    const r = join(tmp, 'rgb.nii');
    writeFileSync(r, buildNifti({ dims: [1, 1, 1], datatype: 128, bitpix: 24, values: [], put: PUT.uint8 }));
    assert.throws(() => readNifti(r), { message: `${r}: unsupported NIfTI data type RGB24; supported: uint8, int16, int32, float32, float64, int8, uint16, uint32` });
    const b = join(tmp, 'bitpix.nii');
    writeFileSync(b, buildNifti({ dims: [2, 1, 1], datatype: 4, bitpix: 8, values: [1, 2], put: PUT.uint8 }));
    assert.throws(() => readNifti(b), { message: `${b}: corrupt NIfTI header: bitpix is 8 but the data type int16 has 16 bits` });
  });

  test('label values outside the classes, or not integers', () => {
    const classes = ['background', 'Anterior', 'Posterior'];
    const out = parseNifti(buildNifti({ dims: [4, 3, 2], datatype: 2, bitpix: 8, values: [0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0], put: PUT.uint8 }), 'lab.nii.gz');
    assert.throws(() => labelsFromVolume(out, classes), { message: 'lab.nii.gz: label value 3 at voxel (i, j, k) = (1, 1, 1) is outside the classes 0..2 (data.classes: background, Anterior, Posterior); fix the label file or add the missing class names to data.classes' });
    const neg = parseNifti(buildNifti({ dims: [2, 1, 1], datatype: 4, bitpix: 16, values: [0, -1], put: PUT.int16 }), 'neg.nii');
    assert.throws(() => labelsFromVolume(neg, classes), { message: 'neg.nii: label value -1 at voxel (i, j, k) = (1, 0, 0) is outside the classes 0..2 (data.classes: background, Anterior, Posterior); fix the label file or add the missing class names to data.classes' });
    const frac = parseNifti(buildNifti({ dims: [2, 1, 1], datatype: 16, bitpix: 32, values: [1, 0.5], put: PUT.float32 }), 'frac.nii');
    assert.throws(() => labelsFromVolume(frac, classes), { message: 'frac.nii: label value 0.5 at voxel (i, j, k) = (1, 0, 0) is not an integer class id; a label volume holds class ids 0..2' });
    // Float labels holding integers are fine.
    const ok = parseNifti(buildNifti({ dims: [3, 1, 1], datatype: 16, bitpix: 32, values: [2, 0, 1], put: PUT.float32 }), 'ok.nii');
    assert.deepEqual(Array.from(labelsFromVolume(ok, classes)), [2, 0, 1]);
  });

  test('4D and bad dimensions', () => {
    const p = join(tmp, 'fourd.nii');
    writeFileSync(p, buildNifti({ dims: [2, 1, 1, 2], datatype: 2, bitpix: 8, values: [1, 2, 3, 4], put: PUT.uint8 }));
    assert.throws(() => readNifti(p), { message: `${p}: has 4 dimensions (2×1×1×2); expected one 3D volume (dimensions beyond the third must be 1). Split multi-volume (4D) files into one file per volume` });
    const z = Buffer.from(good());
    z.writeInt16LE(0, 42); // dim[1] = 0
    assert.throws(() => parseNifti(z, 'zero.nii'), { message: 'zero.nii: corrupt NIfTI header: dim[1] is 0, expected a positive size' });
  });
});
