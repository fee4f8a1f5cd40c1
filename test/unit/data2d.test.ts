// 2D data pipeline: decoding, masks, errors, pairing, resizing, z-score, split, augmentation, batches,
// previews, and a real load of bbbc039 files. Fixtures are generated into a temp folder.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decode as decodePngLib, encode as encodePngLib } from 'fast-png';
import { encode as encodeJpegLib } from 'jpeg-js';
import {
  applyAugment,
  augmentIndexMap,
  type Batch2D,
  DataError,
  Dataset2D,
  decodeImage,
  decodeImageFile,
  decodeMask,
  decodeMaskFile,
  DEFAULT_AUGMENT,
  drawAugment,
  encodePng,
  heatColour,
  IDENTITY_AUGMENT,
  ImageDecodeError,
  MaskError,
  pairByStem,
  renderPreview,
  resizeBilinear,
  resizeNearest,
  resolveExplicitSplit,
  splitByFraction,
  zScoreInPlace,
  convertChannels,
} from '../../src/core/data';
import { Rng } from '../../src/core/util/rng';

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'dscpp-data2d-'));
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function write(rel: string, bytes: Uint8Array | string): string {
  const p = join(tmp, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, bytes);
  return p;
}

const grey8 = (w: number, h: number, f: (x: number, y: number) => number): Uint8Array => {
  const d = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d[y * w + x] = f(x, y);
  return d;
};

/** Chunk list of a PNG: [type, byte offset, data length]. */
function pngChunks(buf: Uint8Array): [string, number, number][] {
  const out: [string, number, number][] = [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let p = 8; p + 8 <= buf.length; ) {
    const len = dv.getUint32(p);
    out.push([String.fromCharCode(...buf.subarray(p + 4, p + 8)), p, len]);
    p += 12 + len;
  }
  return out;
}

describe('decodeImage: PNG', () => {
  test('8-bit grey: exact values', () => {
    const data = grey8(3, 2, (x, y) => [0, 7, 255, 128, 1, 254][y * 3 + x] as number);
    const img = decodeImage(encodePng({ width: 3, height: 2, channels: 1, data }), 'g8.png');
    assert.deepEqual({ w: img.width, h: img.height, c: img.channels, d: img.bitDepth, f: img.format }, { w: 3, h: 2, c: 1, d: 8, f: 'png' });
    assert.deepEqual([...img.data], [0, 7, 255, 128, 1, 254]);
  });

  test('16-bit grey: exact values above 255', () => {
    const data = Uint16Array.from([0, 1, 256, 1000, 40000, 65535]);
    const img = decodeImageFile(write('g16.png', encodePng({ width: 2, height: 3, channels: 1, bitDepth: 16, data })));
    assert.equal(img.bitDepth, 16);
    assert.equal(img.channels, 1);
    assert.deepEqual([...img.data], [0, 1, 256, 1000, 40000, 65535]);
  });

  test('RGB, RGBA (alpha dropped), grey+alpha (alpha dropped)', () => {
    const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
    const a = decodeImage(encodePng({ width: 2, height: 2, channels: 3, data: rgb }), 'rgb.png');
    assert.equal(a.channels, 3);
    assert.deepEqual([...a.data], [...rgb]);
    const rgba = Uint8Array.from([1, 2, 3, 9, 4, 5, 6, 0]);
    const b = decodeImage(encodePng({ width: 2, height: 1, channels: 4, data: rgba }), 'rgba.png');
    assert.equal(b.channels, 3);
    assert.deepEqual([...b.data], [1, 2, 3, 4, 5, 6]);
    const ga = Uint8Array.from([100, 255, 200, 0]);
    const c = decodeImage(encodePng({ width: 2, height: 1, channels: 2, data: ga }), 'ga.png');
    assert.equal(c.channels, 1);
    assert.deepEqual([...c.data], [100, 200]);
  });

  test('palette PNG: colour palette -> RGB, grey palette -> 1 channel', () => {
    const idx = Uint8Array.from([0, 1, 2, 1]);
    const colour = encodePngLib({ width: 2, height: 2, channels: 1, depth: 8, data: idx, palette: [[255, 0, 0], [0, 128, 0], [1, 2, 3]] });
    const a = decodeImage(colour, 'pal.png');
    assert.equal(a.channels, 3);
    assert.deepEqual([...a.data], [255, 0, 0, 0, 128, 0, 1, 2, 3, 0, 128, 0]);
    const greyPal = encodePngLib({ width: 2, height: 2, channels: 1, depth: 8, data: idx, palette: [[0, 0, 0], [50, 50, 50], [200, 200, 200]] });
    const b = decodeImage(greyPal, 'palg.png');
    assert.equal(b.channels, 1);
    assert.deepEqual([...b.data], [0, 50, 200, 50]);
  });

  test('format comes from the bytes, not the extension', () => {
    const p = write('really-a-png.jpg', encodePng({ width: 1, height: 1, channels: 1, data: Uint8Array.from([42]) }));
    const img = decodeImageFile(p);
    assert.equal(img.format, 'png');
    assert.deepEqual([...img.data], [42]);
  });
});

describe('decodeImage: JPEG', () => {
  test('RGB JPEG of a smooth gradient is within JPEG tolerance', () => {
    const w = 16;
    const h = 16;
    const rgba = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        rgba[i] = 40 + x * 10;
        rgba[i + 1] = 200 - y * 8;
        rgba[i + 2] = 100;
        rgba[i + 3] = 255;
      }
    }
    const jpg = encodeJpegLib({ width: w, height: h, data: rgba }, 95).data;
    const img = decodeImageFile(write('grad.jpeg', jpg));
    assert.deepEqual({ w: img.width, h: img.height, c: img.channels, d: img.bitDepth, f: img.format }, { w, h, c: 3, d: 8, f: 'jpeg' });
    let maxErr = 0;
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) maxErr = Math.max(maxErr, Math.abs((img.data[i * 3 + c] as number) - (rgba[i * 4 + c] as number)));
    assert.ok(maxErr <= 6, `max JPEG error ${maxErr}`);
  });
});

describe('decodeImage: bad files', () => {
  test('not an image: exact message', () => {
    const p = write('bad/notes.png', 'hello world, not an image');
    assert.throws(() => decodeImageFile(p), (e: unknown) => {
      assert.ok(e instanceof ImageDecodeError);
      assert.equal(e.path, p);
      assert.equal(e.message, `${p}: not a PNG or JPEG (starts with 0x68656c6c6f20776f); only PNG and JPEG images are supported`);
      return true;
    });
  });

  test('TIFF gets a conversion hint; empty and missing files', () => {
    const tif = write('bad/a.png', Uint8Array.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]));
    assert.throws(() => decodeImageFile(tif), { message: `${tif}: not a PNG or JPEG (starts with 0x49492a0008000000); it looks like a TIFF; convert it to PNG (16-bit PNG keeps 16-bit data)` });
    const empty = write('bad/empty.png', '');
    assert.throws(() => decodeImageFile(empty), { message: `${empty}: empty file (0 bytes)` });
    const missing = join(tmp, 'bad/missing.png');
    assert.throws(() => decodeImageFile(missing), { message: `${missing}: cannot read file (no such file)` });
  });

  test('truncated PNG: exact messages', () => {
    const png = encodePng({ width: 8, height: 8, channels: 1, data: grey8(8, 8, (x, y) => x * 30 + y) });
    const chunks = pngChunks(png);
    const idat = chunks.find((c) => c[0] === 'IDAT');
    assert.ok(idat);
    const cut = idat[1] + 12 + idat[2] - 3;
    const p1 = write('bad/trunc1.png', png.subarray(0, cut));
    assert.throws(() => decodeImageFile(p1), { message: `${p1}: truncated PNG: chunk IDAT at byte ${idat[1]} needs ${idat[2] + 12} bytes but the file ends at byte ${cut}` });
    const p2 = write('bad/trunc2.png', png.subarray(0, png.length - 12));
    assert.throws(() => decodeImageFile(p2), { message: `${p2}: truncated PNG: no IEND chunk; the file ends at byte ${png.length - 12} after the last complete chunk` });
    const p3 = write('bad/trunc3.png', png.subarray(0, 12));
    assert.throws(() => decodeImageFile(p3), { message: `${p3}: truncated PNG: the file ends at byte 12 inside a chunk header` });
  });

  test('corrupt PNG data (CRC) names the chunk', () => {
    const png = encodePng({ width: 8, height: 8, channels: 1, data: grey8(8, 8, (x) => x) }).slice();
    const idat = pngChunks(png).find((c) => c[0] === 'IDAT');
    assert.ok(idat);
    const crcAt = idat[1] + 8 + idat[2];
    png[crcAt] = (png[crcAt] as number) ^ 0xff;
    const p = write('bad/crc.png', png);
    assert.throws(() => decodeImageFile(p), (e: unknown) => e instanceof ImageDecodeError && e.message.startsWith(`${p}: corrupt PNG: CRC mismatch for chunk IDAT`));
  });

  test('truncated JPEG: exact message', () => {
    const rgba = new Uint8Array(64 * 64 * 4).map((_, i) => (i * 37 + (i >> 8) * 11) & 255);
    const jpg = encodeJpegLib({ width: 64, height: 64, data: rgba }, 90).data;
    const cut = jpg.length - 40;
    const p = write('bad/trunc.jpg', jpg.subarray(0, cut));
    assert.throws(() => decodeImageFile(p), { message: `${p}: truncated JPEG: no end-of-image marker (0xffd9) after the image data; the file ends at byte ${cut}` });
    // Cut inside the headers: the segment that runs past the end is named (jpeg-js writes SOI, APP0, DQT at 20).
    const p2 = write('bad/trunc2.jpg', jpg.subarray(0, 30));
    assert.throws(() => decodeImageFile(p2), { message: `${p2}: truncated JPEG: segment 0xffdb at byte 20 needs 134 bytes but the file ends at byte 30` });
  });
});

describe('decodeMask', () => {
  test('0/255 binary mask maps to {0,1}', () => {
    const m = decodeMask(encodePng({ width: 2, height: 2, channels: 1, data: Uint8Array.from([0, 255, 255, 0]) }), 'bin.png', 2);
    assert.deepEqual([...m.data], [0, 1, 1, 0]);
    assert.equal(m.mappedBinary, true);
  });

  test('class-id masks (8-bit, 16-bit, RGB with equal channels, palette indices)', () => {
    const a = decodeMask(encodePng({ width: 4, height: 1, channels: 1, data: Uint8Array.from([0, 1, 2, 1]) }), 'ids.png', 3);
    assert.deepEqual([...a.data], [0, 1, 2, 1]);
    assert.equal(a.mappedBinary, false);
    const b = decodeMask(encodePng({ width: 3, height: 1, channels: 1, bitDepth: 16, data: Uint16Array.from([0, 3, 2]) }), 'b16.png', 4);
    assert.deepEqual([...b.data], [0, 3, 2]);
    const b2 = decodeMask(encodePng({ width: 2, height: 1, channels: 1, bitDepth: 16, data: Uint16Array.from([65535, 0]) }), 'b16bin.png', 2);
    assert.deepEqual([...b2.data], [1, 0]);
    const c = decodeMask(encodePng({ width: 2, height: 1, channels: 3, data: Uint8Array.from([1, 1, 1, 0, 0, 0]) }), 'rgbeq.png', 2);
    assert.deepEqual([...c.data], [1, 0]);
    const pal = encodePngLib({ width: 3, height: 1, channels: 1, depth: 8, data: Uint8Array.from([2, 0, 1]), palette: [[0, 0, 0], [128, 0, 0], [0, 128, 0]] });
    assert.deepEqual([...decodeMask(pal, 'pal.png', 3).data], [2, 0, 1]);
  });

  test('value out of range: exact message', () => {
    const data = new Uint8Array(6 * 6);
    data[5 * 6 + 3] = 7;
    data[0] = 1;
    const p = write('masks-bad/seven.png', encodePng({ width: 6, height: 6, channels: 1, data }));
    assert.throws(() => decodeMaskFile(p, 2), (e: unknown) => {
      assert.ok(e instanceof MaskError);
      assert.equal(e.message, `mask ${p} has value 7 at (x=3, y=5) but data.classes lists 2 classes (ids 0..1); fix the mask or add classes`);
      return true;
    });
    // 0/255 is only binary when 255 is not a valid class id; values {0, 1, 255} are not binary.
    const mixed = encodePng({ width: 3, height: 1, channels: 1, data: Uint8Array.from([0, 1, 255]) });
    assert.throws(() => decodeMask(mixed, 'mixed.png', 2), { message: 'mask mixed.png has value 255 at (x=2, y=0) but data.classes lists 2 classes (ids 0..1); fix the mask or add classes' });
  });

  test('colour mask and JPEG mask are refused with the reason', () => {
    const rgb = encodePng({ width: 2, height: 1, channels: 3, data: Uint8Array.from([0, 0, 0, 255, 0, 0]) });
    assert.throws(() => decodeMask(rgb, 'col.png', 2), {
      message: 'mask col.png is a colour image with different channels at (x=1, y=0) (r=255, g=0, b=0); masks must hold one class id per pixel: save it as a greyscale PNG',
    });
    const jpg = encodeJpegLib({ width: 8, height: 8, data: new Uint8Array(256) }, 90).data;
    assert.throws(() => decodeMask(jpg, 'm.jpg', 2), {
      message: 'mask m.jpg is a JPEG; JPEG compression changes pixel values, so masks must be PNG files holding class ids (save it as an 8-bit greyscale PNG)',
    });
  });
});

describe('resize', () => {
  test('bilinear 2x2 -> 4x4, hand-worked (half-pixel centres, align-corners false)', () => {
    const out = resizeBilinear(Float32Array.from([0, 10, 20, 30]), 2, 2, 1, 4, 4);
    assert.deepEqual([...out], [0, 2.5, 7.5, 10, 5, 7.5, 12.5, 15, 15, 17.5, 22.5, 25, 20, 22.5, 27.5, 30]);
  });

  test('bilinear 1x3 -> 1x2 and a 2x reduction averages 2x2 blocks; channels stay separate', () => {
    assert.deepEqual([...resizeBilinear(Float32Array.from([0, 3, 6]), 1, 3, 1, 1, 2)], [0.75, 5.25]);
    const src = Float32Array.from([1, 3, 5, 7, 2, 4, 6, 8, 9, 9, 0, 0, 9, 9, 0, 4]);
    assert.deepEqual([...resizeBilinear(src, 4, 4, 1, 2, 2)], [2.5, 6.5, 9, 1]);
    const two = Float32Array.from([0, 100, 10, 100, 20, 100, 30, 100]);
    assert.deepEqual([...resizeBilinear(two, 2, 2, 2, 4, 4)].filter((_, i) => i % 2 === 0), [0, 2.5, 7.5, 10, 5, 7.5, 12.5, 15, 15, 17.5, 22.5, 25, 20, 22.5, 27.5, 30]);
    assert.ok([...resizeBilinear(two, 2, 2, 2, 4, 4)].filter((_, i) => i % 2 === 1).every((v) => v === 100));
  });

  test('nearest for masks: 4x4 -> 2x2 takes [1::2, 1::2]; 2x2 -> 4x4 repeats', () => {
    const m = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert.deepEqual([...resizeNearest(m, 4, 4, 2, 2)], [5, 7, 13, 15]);
    assert.deepEqual([...resizeNearest(Uint8Array.from([1, 2, 3, 4]), 2, 2, 4, 4)], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    assert.deepEqual([...resizeNearest(Uint8Array.from([0, 1, 2]), 1, 3, 1, 2)], [0, 2]);
  });

  test('RGB -> grey by BT.601 luminance, grey -> RGB by repetition', () => {
    const g = convertChannels(Float32Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255]), 1, 3, 3, 1);
    assert.deepEqual([...g].map((v) => Math.round(v * 1000) / 1000), [76.245, 149.685, 29.07]);
    assert.deepEqual([...convertChannels(Float32Array.from([1, 2]), 1, 2, 1, 3)], [1, 1, 1, 2, 2, 2]);
  });

  test('z-score: mean 0, std 1; constant image -> 0', () => {
    const d = Float32Array.from([1, 2, 3, 4, 10]);
    const { mean, std } = zScoreInPlace(d);
    assert.equal(mean, 4);
    assert.ok(Math.abs(std - Math.sqrt(10)) < 1e-12);
    const m = d.reduce((a, b) => a + b, 0) / d.length;
    const s = Math.sqrt(d.reduce((a, b) => a + (b - m) ** 2, 0) / d.length);
    assert.ok(Math.abs(m) < 1e-6 && Math.abs(s - 1) < 1e-6);
    const c = Float32Array.from([5, 5, 5]);
    zScoreInPlace(c);
    assert.deepEqual([...c], [0, 0, 0]);
  });
});

describe('pairing', () => {
  test('suffixes _mask/_seg/_label and exact stems pair; unpaired and ignored files are named', () => {
    const img = (n: string) => write(`pair/images/${n}`, encodePng({ width: 2, height: 2, channels: 1, data: new Uint8Array(4) }));
    const msk = (n: string) => write(`pair/masks/${n}`, encodePng({ width: 2, height: 2, channels: 1, data: new Uint8Array(4) }));
    ['a.png', 'b.png', 'c.jpg', 'd.png', 'e.jpeg'].forEach(img);
    write('pair/images/f.tif', 'II*\0');
    write('pair/images/.DS_Store', 'x');
    ['a_mask.png', 'b_seg.png', 'c_label.png', 'e.png', 'z_mask.png'].forEach(msk);
    const r = pairByStem(join(tmp, 'pair/images'), join(tmp, 'pair/masks'));
    assert.deepEqual(
      r.pairs.map((p) => [p.id, p.mask.split('/').pop()]),
      [['a', 'a_mask.png'], ['b', 'b_seg.png'], ['c', 'c_label.png'], ['e', 'e.png']],
    );
    assert.deepEqual(r.warnings, [
      'ignored 1 file that is not PNG or JPEG: f.tif (TIFF is not supported; convert to PNG, which keeps 16-bit data)',
      `1 image has no mask and is skipped: d.png (a mask must be named <stem>.png or <stem>_mask/_seg/_label.png in ${join(tmp, 'pair/masks')})`,
      '1 mask has no image and is skipped: z_mask.png',
    ]);
  });

  test('images and masks in one folder; two candidate masks is an error; nothing pairing is an error', () => {
    const put = (n: string) => write(`same/${n}`, encodePng({ width: 1, height: 1, channels: 1, data: new Uint8Array(1) }));
    ['x.png', 'x_mask.png', 'y.png', 'y-seg.png'].forEach(put);
    const r = pairByStem(join(tmp, 'same'), join(tmp, 'same'));
    assert.deepEqual(r.pairs.map((p) => p.id), ['x', 'y']);
    assert.deepEqual(r.warnings, []);
    put('x_seg.png');
    assert.throws(() => pairByStem(join(tmp, 'same'), join(tmp, 'same')), {
      message: `data.masks: image x.png has 2 candidate masks (x_mask.png, x_seg.png) in ${join(tmp, 'same')}; keep one`,
    });
    write('none/images/p.png', encodePng({ width: 1, height: 1, channels: 1, data: new Uint8Array(1) }));
    write('none/masks/q.png', encodePng({ width: 1, height: 1, channels: 1, data: new Uint8Array(1) }));
    assert.throws(() => pairByStem(join(tmp, 'none/images'), join(tmp, 'none/masks')), {
      message: `no image/mask pairs: 1 image in ${join(tmp, 'none/images')} and 1 mask file(s) in ${join(tmp, 'none/masks')} share no file stem (e.g. image p.png, mask q.png); name each mask like its image, optionally with a suffix _mask, _seg or _label (a.png -> a.png or a_mask.png)`,
    });
    assert.throws(() => pairByStem(join(tmp, 'nowhere'), join(tmp, 'none/masks')), {
      message: `data.images: cannot list ${join(tmp, 'nowhere')} (no such folder); check the path (it is relative to the config file)`,
    });
  });

  test('explicit split lists: unknown stem with suggestion, duplicates, image without mask', () => {
    const pairs = ['case01', 'case02', 'case03'].map((id) => ({ id, image: `${id}.png`, mask: `${id}_mask.png` }));
    const ok = resolveExplicitSplit(pairs, { train: ['case01'], val: ['case02.png'], test: [] });
    assert.deepEqual(ok, { ids: { train: ['case01'], val: ['case02'], test: [] }, unused: ['case03'] });
    assert.throws(() => resolveExplicitSplit(pairs, { train: ['case1'], val: [], test: [] }), { message: "data.split.train[0]: no image/mask pair has the stem 'case1'; did you mean 'case01'?" });
    assert.throws(() => resolveExplicitSplit(pairs, { train: ['case01'], val: ['case01'], test: [] }), {
      message: "data.split.val[0]: case 'case01' is already listed in data.split.train[0]; each case belongs to one split",
    });
    assert.throws(() => resolveExplicitSplit(pairs, { train: ['lonely'], val: [], test: [] }, ['/d/lonely.png']), {
      message: "data.split.train[0]: case 'lonely' has an image but no mask; add its mask or remove it from the list",
    });
  });
});

describe('split', () => {
  const ids = Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}`);
  test('deterministic by seed, disjoint, covering, sizes by rounding', () => {
    const a = splitByFraction(ids, { val: 0.2, test: 0.2, seed: 42 });
    const b = splitByFraction([...ids].reverse(), { val: 0.2, test: 0.2, seed: 42 });
    assert.deepEqual(a, b);
    assert.deepEqual([a.train.length, a.val.length, a.test.length], [12, 4, 4]);
    assert.deepEqual([...a.train, ...a.val, ...a.test].sort(), ids);
    const c = splitByFraction(ids, { val: 0.2, test: 0.2, seed: 43 });
    assert.notDeepEqual(a, c);
    assert.deepEqual(a.val, [...a.val].sort());
  });

  test('at least one val and test case when n >= 3; train keeps one; bad fractions', () => {
    assert.deepEqual(
      Object.values(splitByFraction(['a', 'b', 'c'], { val: 0.1, test: 0.1, seed: 1 })).map((l) => l.length),
      [1, 1, 1],
    );
    const s = splitByFraction(['a', 'b', 'c', 'd'], { val: 0.5, test: 0.4, seed: 1 });
    assert.deepEqual([s.train.length, s.val.length, s.test.length], [1, 1, 2]);
    const warnings: string[] = [];
    const two = splitByFraction(['a', 'b'], { val: 0.2, test: 0.2, seed: 1 }, (m) => warnings.push(m));
    assert.deepEqual(two, { train: ['a', 'b'], val: [], test: [] });
    assert.deepEqual(warnings, ['data.split: only 2 cases, so the test split is empty', 'data.split: only 2 cases, so the val split is empty']);
    assert.throws(() => splitByFraction(ids, { val: 0.5, test: 0.5, seed: 1 }), { message: 'data.split: val + test = 1 leaves no training cases; make the sum less than 1' });
    assert.throws(() => splitByFraction(ids, { val: -0.1, test: 0.2, seed: 1 }), { message: 'data.split.val must be a fraction in [0, 1), got -0.1' });
  });
});

describe('augmentation', () => {
  test('index map follows numpy rot90 and flips', () => {
    const src = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const apply = (p: Partial<typeof IDENTITY_AUGMENT>) => [...augmentIndexMap(3, 3, { ...IDENTITY_AUGMENT, ...p })].map((i) => src[i]);
    assert.deepEqual(apply({ rot90: 1 }), [2, 5, 8, 1, 4, 7, 0, 3, 6]);
    assert.deepEqual(apply({ rot90: 2 }), [8, 7, 6, 5, 4, 3, 2, 1, 0]);
    assert.deepEqual(apply({ rot90: 3 }), [6, 3, 0, 7, 4, 1, 8, 5, 2]);
    assert.deepEqual(apply({ flipX: true }), [2, 1, 0, 5, 4, 3, 8, 7, 6]);
    assert.deepEqual(apply({ flipY: true }), [6, 7, 8, 3, 4, 5, 0, 1, 2]);
    assert.deepEqual(apply({ flipX: true, rot90: 1 }), [8, 5, 2, 7, 4, 1, 6, 3, 0]);
  });

  test('draws are deterministic; rotations skipped for non-square; jitter within ±intensity', () => {
    const a = drawAugment(new Rng(5), 8, 8, DEFAULT_AUGMENT);
    assert.deepEqual(drawAugment(new Rng(5), 8, 8, DEFAULT_AUGMENT), a);
    const r = new Rng(9);
    for (let i = 0; i < 200; i++) {
      const p = drawAugment(r, 8, 6, DEFAULT_AUGMENT);
      assert.equal(p.rot90, 0);
      assert.ok(p.scale >= 0.9 && p.scale <= 1.1 && Math.abs(p.shift) <= 0.1);
    }
  });

  test('image and mask stay aligned under every flip/rotation', () => {
    const H = 5;
    const mask = Uint8Array.from([1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 2, 2]);
    const image = Float32Array.from(mask, (v, i) => v * 100 + (i % 7));
    for (const flipX of [false, true]) {
      for (const flipY of [false, true]) {
        for (const rot90 of [0, 1, 2, 3] as const) {
          const p = { flipX, flipY, rot90, scale: 1.05, shift: -0.1 };
          const outI = new Float32Array(H * H);
          const outM = new Uint8Array(H * H);
          applyAugment(image, mask, H, H, 1, p, outI, outM);
          const map = augmentIndexMap(H, H, p);
          for (let i = 0; i < H * H; i++) {
            assert.equal(outM[i], mask[map[i] as number]);
            assert.ok(Math.abs((outI[i] as number) - ((image[map[i] as number] as number) * 1.05 - 0.1)) < 1e-4);
            assert.equal(Math.floor(((outI[i] as number) + 0.1) / 1.05 / 100 + 1e-6), outM[i]);
          }
        }
      }
    }
  });
});

/** A small data set: n cases of 16x16 grey images with an asymmetric 0/255 blob; image = f(mask) + texture. */
function makeDataset(dir: string, n: number, opts: { rgb?: boolean; size?: number } = {}): void {
  const s = opts.size ?? 16;
  for (let k = 0; k < n; k++) {
    const m = grey8(s, s, (x, y) => (x >= 2 + (k % 3) && x < 9 && y >= 1 && y < 5 + (x % 4) ? 255 : 0));
    const img = grey8(s, s, (x, y) => ((m[y * s + x] as number) ? 180 : 40) + ((x * 7 + y * 3 + k) % 20));
    const id = `case${String(k).padStart(2, '0')}`;
    if (opts.rgb) {
      const rgb = new Uint8Array(s * s * 3);
      for (let i = 0; i < s * s; i++) rgb.set([img[i] as number, (img[i] as number) / 2, 255 - (img[i] as number)], i * 3);
      write(`${dir}/images/${id}.png`, encodePng({ width: s, height: s, channels: 3, data: rgb }));
    } else {
      write(`${dir}/images/${id}.png`, encodePng({ width: s, height: s, channels: 1, data: img }));
    }
    write(`${dir}/masks/${id}_mask.png`, encodePng({ width: s, height: s, channels: 1, data: m }));
  }
}

describe('Dataset2D', () => {
  test('loadCase: resized, z-scored image, mask ids, original size', () => {
    makeDataset('ds1', 10);
    const ds = new Dataset2D({ imagesDir: join(tmp, 'ds1/images'), masksDir: join(tmp, 'ds1/masks'), classes: ['bg', 'fg'], size: [8, 8], split: { val: 0.2, test: 0.2, seed: 1 } });
    const c = ds.loadCase('case00');
    assert.deepEqual([c.height, c.width, c.channels, c.originalSize, c.image.length, c.mask.length], [8, 8, 1, [16, 16], 64, 64]);
    const mean = c.image.reduce((a, b) => a + b, 0) / 64;
    const std = Math.sqrt(c.image.reduce((a, b) => a + (b - mean) ** 2, 0) / 64);
    assert.ok(Math.abs(mean) < 1e-5 && Math.abs(std - 1) < 1e-5, `mean ${mean} std ${std}`);
    const full = decodeMaskFile(join(tmp, 'ds1/masks/case00_mask.png'), 2);
    assert.deepEqual([...c.mask], [...resizeNearest(full.data, 16, 16, 8, 8)]);
    assert.deepEqual([ds.cases('train').length, ds.cases('val').length, ds.cases('test').length], [6, 2, 2]);
  });

  test('batches: shapes, remainder, determinism, alignment, async equals sync', async () => {
    makeDataset('ds2', 12);
    const mk = () =>
      new Dataset2D({ imagesDir: join(tmp, 'ds2/images'), masksDir: join(tmp, 'ds2/masks'), classes: ['bg', 'fg'], size: [16, 16], split: { val: 0.25, test: 0, seed: 3 }, augment: true });
    const ds = mk();
    const train = ds.cases('train');
    assert.equal(train.length, 9);
    const bs = [...ds.batches('train', { batchSize: 4, seed: 7, epoch: 0 })];
    assert.deepEqual(bs.map((b) => b.shape), [[4, 16, 16, 1], [4, 16, 16, 1], [1, 16, 16, 1]]);
    assert.deepEqual(bs.map((b) => [b.x.length, b.labels.length]), [[1024, 1024], [1024, 1024], [256, 256]]);
    assert.deepEqual(bs.flatMap((b) => b.ids).sort(), train);
    assert.equal([...ds.batches('train', { batchSize: 4, seed: 7, dropRemainder: true })].length, 2);
    assert.equal(ds.numBatches('train', 4), 3);

    const again = [...mk().batches('train', { batchSize: 4, seed: 7, epoch: 0 })];
    assert.deepEqual(again.map((b) => b.ids), bs.map((b) => b.ids));
    assert.deepEqual(again.map((b) => [...b.x]), bs.map((b) => [...b.x]));
    assert.deepEqual(again.map((b) => [...b.labels]), bs.map((b) => [...b.labels]));
    const epoch1 = [...ds.batches('train', { batchSize: 4, seed: 7, epoch: 1 })];
    assert.notDeepEqual(epoch1.map((b) => b.ids), bs.map((b) => b.ids));
    assert.ok(bs.flatMap((b) => b.augment).some((p) => p.rot90 !== 0) && bs.flatMap((b) => b.augment).some((p) => p.flipX));

    // Every augmented case keeps foreground pixels brighter than background ones (image and mask aligned),
    // and equals the un-augmented case moved by its own parameters.
    for (const b of bs) {
      b.ids.forEach((id, i) => {
        const x = b.x.subarray(i * 256, (i + 1) * 256);
        const y = b.labels.subarray(i * 256, (i + 1) * 256);
        let minFg = Infinity;
        let maxBg = -Infinity;
        for (let j = 0; j < 256; j++) {
          if (y[j]) minFg = Math.min(minFg, x[j] as number);
          else maxBg = Math.max(maxBg, x[j] as number);
        }
        assert.ok(minFg > maxBg, `${id}: foreground ${minFg} <= background ${maxBg}`);
        const c = ds.loadCase(id);
        const p = b.augment[i] as typeof IDENTITY_AUGMENT;
        const map = augmentIndexMap(16, 16, p);
        for (let j = 0; j < 256; j++) {
          assert.equal(y[j], c.mask[map[j] as number]);
          assert.ok(Math.abs((x[j] as number) - ((c.image[map[j] as number] as number) * p.scale + p.shift)) < 1e-5);
        }
      });
    }

    // val: not shuffled, not augmented by default.
    const val = [...ds.batches('val', { batchSize: 2 })];
    assert.deepEqual(val.flatMap((b) => b.ids), ds.cases('val'));
    assert.ok(val.flatMap((b) => b.augment).every((p) => JSON.stringify(p) === JSON.stringify(IDENTITY_AUGMENT)));

    const asyncBatches: Batch2D[] = [];
    for await (const b of ds.batchesAsync('train', { batchSize: 4, seed: 7, epoch: 0 })) asyncBatches.push(b);
    assert.deepEqual(asyncBatches.map((b) => [b.ids, [...b.x]]), bs.map((b) => [b.ids, [...b.x]]));
    // Breaking out early closes the generator cleanly.
    for await (const b of ds.batchesAsync('train', { batchSize: 2, seed: 7 })) {
      assert.equal(b.ids.length, 2);
      break;
    }
  });

  test('RGB images: channels 1 gives luminance, channels 3 keeps colour', () => {
    makeDataset('ds3', 4, { rgb: true });
    const common = { imagesDir: join(tmp, 'ds3/images'), masksDir: join(tmp, 'ds3/masks'), classes: ['bg', 'fg'], size: [16, 16] as [number, number], split: { val: 0, test: 0, seed: 1 } };
    const one = new Dataset2D({ ...common, channels: 1 });
    const three = new Dataset2D({ ...common, channels: 3 });
    const b1 = [...one.batches('train', { batchSize: 4 })][0] as Batch2D;
    const b3 = [...three.batches('train', { batchSize: 4 })][0] as Batch2D;
    assert.deepEqual(b1.shape, [4, 16, 16, 1]);
    assert.deepEqual(b3.shape, [4, 16, 16, 3]);
    const raw = decodeImageFile(join(tmp, 'ds3/images/case00.png'));
    const lum = convertChannels(raw.data, 16, 16, 3, 1);
    zScoreInPlace(lum);
    assert.ok(one.loadCase('case00').image.every((v, i) => Math.abs(v - (lum[i] as number)) < 1e-5));
  });

  test('corrupt image: throws with path, or skipped with a warning when skipUnreadable', () => {
    makeDataset('ds4', 5);
    const bad = write('ds4/images/case02.png', 'GIF89a not really');
    const opts = { imagesDir: join(tmp, 'ds4/images'), masksDir: join(tmp, 'ds4/masks'), classes: ['bg', 'fg'], size: [8, 8] as [number, number], split: { val: 0, test: 0, seed: 1 } };
    const strict = new Dataset2D(opts);
    assert.throws(() => [...strict.batches('train', { batchSize: 2 })], { message: `${bad}: not a PNG or JPEG (starts with 0x474946383961206e); it looks like a GIF; convert it to PNG` });
    const warnings: string[] = [];
    const lenient = new Dataset2D({ ...opts, skipUnreadable: true, onWarning: (m) => warnings.push(m) });
    const bs = [...lenient.batches('train', { batchSize: 2, shuffle: false })];
    assert.deepEqual(bs.map((b) => b.ids), [['case00', 'case01'], ['case03', 'case04']]);
    assert.deepEqual(warnings, [`skipping case 'case02': ${bad}: not a PNG or JPEG (starts with 0x474946383961206e); it looks like a GIF; convert it to PNG (data.skipUnreadable is true)`]);
    assert.deepEqual(lenient.cases('train'), ['case00', 'case01', 'case03', 'case04']);
    assert.equal([...lenient.batches('train', { batchSize: 2 })].length, 2);
    assert.equal(warnings.length, 1);
    assert.deepEqual(lenient.validate(), { ok: 4, skipped: ['case02'] });
    assert.equal(lenient.tryLoadCase('case02'), null);
    assert.equal(lenient.tryLoadCase('case03')?.id, 'case03');
    assert.throws(() => strict.tryLoadCase('case02'), ImageDecodeError);
    assert.throws(() => lenient.loadCase('case02'), ImageDecodeError);
  });

  test('mask errors are not skipped; size mismatch names both files', () => {
    makeDataset('ds5', 3);
    const m = write('ds5/masks/case01_mask.png', encodePng({ width: 8, height: 16, channels: 1, data: new Uint8Array(128) }));
    const ds = new Dataset2D({ imagesDir: join(tmp, 'ds5/images'), masksDir: join(tmp, 'ds5/masks'), classes: ['bg', 'fg'], size: [8, 8], skipUnreadable: true, split: { val: 0, test: 0, seed: 1 } });
    assert.throws(() => ds.loadCase('case01'), {
      message: `mask ${m} is 8x16 (width x height) but its image ${join(tmp, 'ds5/images/case01.png')} is 16x16; a mask must have the size of its image`,
    });
    assert.throws(() => [...ds.batches('train', { batchSize: 3, shuffle: false })], MaskError);
  });

  test('LRU cache stays within cacheMB', () => {
    makeDataset('ds6', 8);
    const ds = new Dataset2D({ imagesDir: join(tmp, 'ds6/images'), masksDir: join(tmp, 'ds6/masks'), classes: ['bg', 'fg'], size: [16, 16], split: { val: 0, test: 0, seed: 1 }, cacheMB: 0.01 });
    // One case: 16*16*4 + 16*16 + 256 = 1536 bytes; 0.01 MB = 10485 bytes -> 6 cases.
    for (let e = 0; e < 2; e++) assert.equal([...ds.batches('train', { batchSize: 3, seed: 1, epoch: e })].length, 3);
    const s = ds.cacheStats();
    assert.equal(s.entries, 6);
    assert.equal(s.bytes, 6 * 1536);
    assert.ok(s.bytes <= s.limitBytes);
    assert.equal(s.hits + s.misses, 16);
    ds.loadCase(ds.cases('train')[0] as string);
  });

  test('bad options are named', () => {
    makeDataset('ds7', 3);
    const base = { imagesDir: join(tmp, 'ds7/images'), masksDir: join(tmp, 'ds7/masks'), classes: ['bg', 'fg'], size: [8, 8] as [number, number], split: { val: 0, test: 0, seed: 1 } };
    assert.throws(() => new Dataset2D({ ...base, size: [8, 0] }), { message: 'data.size must be [height, width] with positive integers, got [8,0]' });
    assert.throws(() => new Dataset2D({ ...base, classes: [] }), { message: 'data.classes must list 1 to 256 class names (class id i is classes[i]), got 0' });
    assert.throws(() => new Dataset2D({ ...base, split: { train: ['case00'], val: ['case9'], test: [] } }), DataError);
    assert.throws(() => [...new Dataset2D(base).batches('train', { batchSize: 0 })], { message: 'batchSize must be a positive integer, got 0' });
  });
});

describe('preview', () => {
  test('renderPreview: four panels side by side, overlay and heat-map colours', () => {
    const W = 4;
    const H = 2;
    const image = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    const truth = Uint8Array.from([0, 1, 0, 0, 0, 0, 0, 0]);
    const pred = Uint8Array.from([0, 0, 1, 0, 0, 0, 0, 0]);
    const prob = Float32Array.from([0, 0.25, 0.5, 1, 0, 0, 0, 0]);
    const png = decodePngLib(renderPreview({ image, truth, pred, prob, width: W, height: H }));
    assert.deepEqual([png.width, png.height, png.channels], [4 * W + 6, H, 3]);
    const px = (x: number, y: number) => [...png.data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3)];
    assert.deepEqual(px(W, 0), [128, 128, 128]);
    const g1 = px(1, 0)[0] as number;
    assert.deepEqual(px(W + 2 + 1, 0), [255, 64, 64].map((c) => Math.round(g1 * (1 - 0.45) + c * 0.45)));
    assert.deepEqual(px(2 * (W + 2) + 1, 0), [g1, g1, g1]);
    const x0 = 3 * (W + 2);
    assert.deepEqual([px(x0, 0), px(x0 + 1, 0), px(x0 + 2, 0), px(x0 + 3, 0)], [[0, 0, 4], [87, 16, 110], [188, 55, 84], [252, 255, 164]]);
    assert.deepEqual(heatColour(0.125), [44, 8, 57]);
    assert.throws(() => renderPreview({ image, truth: new Uint8Array(3), pred, prob, width: W, height: H }), { message: 'renderPreview: truth has 3 values, expected [2, 4] = 8' });
  });
});

describe('bbbc039 (real files)', () => {
  const root = resolve(__dirname, '../../..');
  const candidates = [join(root, 'examples/bbbc039'), join(root, '..', 'shared', 'data', 'bbbc039')];
  const dir = candidates.find((d) => existsSync(join(d, 'images')));
  test('a few cases load at 128x128 with class ids in {0, 1}', { skip: dir === undefined ? 'no bbbc039 copy found' : false }, () => {
    const d = dir as string;
    const names = readdirSync(join(d, 'images')).sort().slice(0, 4);
    const raw = decodeImageFile(join(d, 'images', names[0] as string));
    assert.deepEqual([raw.width, raw.height, raw.channels, raw.bitDepth], [256, 256, 1, 8]);
    const ds = new Dataset2D({
      imagesDir: join(d, 'images'),
      masksDir: join(d, 'masks'),
      classes: ['background', 'nucleus'],
      size: [128, 128],
      split: { train: names.slice(0, 2), val: names.slice(2, 3), test: names.slice(3, 4) },
    });
    for (const name of names) {
      const id = name.replace(/\.png$/, '');
      const c = ds.loadCase(id);
      assert.deepEqual(c.originalSize, [256, 256]);
      assert.equal(c.image.length, 128 * 128);
      const ids = new Set(c.mask);
      assert.deepEqual([...ids].sort(), [0, 1]);
      const full = decodeMaskFile(join(d, 'masks', name), 2);
      for (let y = 0; y < 128; y += 17) for (let x = 0; x < 128; x += 13) assert.equal(c.mask[y * 128 + x], full.data[(2 * y + 1) * 256 + 2 * x + 1]);
    }
    const b = [...ds.batches('train', { batchSize: 2, seed: 1 })];
    assert.deepEqual(b.map((x) => x.shape), [[2, 128, 128, 1]]);
  });
});
