// Decoding of 2D images and masks (PNG and JPEG) into plain typed arrays, and PNG encoding for previews.
//
// Conventions:
// - The format is detected from the first bytes, never from the file extension.
// - Images come back as raw sample values (0..255 for 8-bit, 0..65535 for 16-bit, 0..2^d-1 for 1/2/4-bit
//   grey) in HWC order, with 1 channel (grey, grey+alpha, grey palette) or 3 channels (RGB, RGBA, colour
//   palette, colour JPEG). Alpha is dropped.
// - Masks come back as class ids, one byte per pixel. See decodeMask for the rules.

import { readFileSync } from 'node:fs';
import { decode as decodePngLib, encode as encodePngLib } from 'fast-png';
import { decode as decodeJpegLib } from 'jpeg-js';
import { ImageDecodeError, MaskError } from './errors';

export type ImageFormat = 'png' | 'jpeg';

export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  /** 16 for 16-bit PNGs, 8 otherwise (1/2/4-bit grey PNGs report 8 but keep their raw values). */
  bitDepth: 8 | 16;
  format: ImageFormat;
  /** Raw sample values, HWC, length height*width*channels. */
  data: Float32Array;
}

export interface DecodedMask {
  width: number;
  height: number;
  /** Class ids, row-major, length height*width. */
  data: Uint8Array;
  /** True when the file was a 0/255 (or 0/65535) binary mask that was mapped to {0,1}. */
  mappedBinary: boolean;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format of an encoded image from its first bytes, or null when it is neither PNG nor JPEG. */
export function detectImageFormat(buf: Uint8Array): ImageFormat | null {
  if (buf.length >= 8 && PNG_SIGNATURE.every((b, i) => buf[i] === b)) return 'png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  return null;
}

function hexStart(buf: Uint8Array, n = 8): string {
  let s = '';
  for (let i = 0; i < Math.min(n, buf.length); i++) s += (buf[i] as number).toString(16).padStart(2, '0');
  return '0x' + s;
}

function unknownFormatReason(buf: Uint8Array): string {
  let hint = 'only PNG and JPEG images are supported';
  const b0 = buf[0];
  const b1 = buf[1];
  if ((b0 === 0x49 && b1 === 0x49 && buf[2] === 0x2a) || (b0 === 0x4d && b1 === 0x4d && buf[3] === 0x2a)) {
    hint = 'it looks like a TIFF; convert it to PNG (16-bit PNG keeps 16-bit data)';
  } else if (b0 === 0x42 && b1 === 0x4d) {
    hint = 'it looks like a BMP; convert it to PNG';
  } else if (b0 === 0x1f && b1 === 0x8b) {
    hint = 'it looks like a gzip file (a .nii.gz volume?); 2D data must be PNG or JPEG';
  } else if (buf.length >= 4 && buf[0] === 0x47 && buf[1] === 0x49 && buf[2] === 0x46) {
    hint = 'it looks like a GIF; convert it to PNG';
  }
  return `not a PNG or JPEG (starts with ${hexStart(buf)}); ${hint}`;
}

interface RawImage {
  width: number;
  height: number;
  /** Channels of `values` (1 or 3). */
  channels: 1 | 3;
  /** Bit depth of one sample in the file (1, 2, 4, 8 or 16). */
  depth: number;
  format: ImageFormat;
  /** True when `values` holds palette indices (masks only). */
  indexed: boolean;
  values: Uint8Array | Uint16Array;
}

function u32(buf: Uint8Array, p: number): number {
  return (((buf[p] as number) << 24) | ((buf[p + 1] as number) << 16) | ((buf[p + 2] as number) << 8) | (buf[p + 3] as number)) >>> 0;
}

function chunkName(buf: Uint8Array, p: number): string {
  let s = '';
  for (let i = 0; i < 4; i++) {
    const c = buf[p + i] as number;
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) s += String.fromCharCode(c);
    else return hexStart(buf.subarray(p, p + 4), 4);
  }
  return s;
}

/** Walks the chunk list so that truncation is reported as such, before the decoder sees the bytes. */
function checkPngChunks(buf: Uint8Array, name: string): void {
  let pos = 8;
  let first = true;
  for (;;) {
    if (pos === buf.length) {
      throw new ImageDecodeError(name, `truncated PNG: no IEND chunk; the file ends at byte ${pos} after the last complete chunk`);
    }
    if (pos + 8 > buf.length) {
      throw new ImageDecodeError(name, `truncated PNG: the file ends at byte ${buf.length} inside a chunk header`);
    }
    const len = u32(buf, pos);
    const type = chunkName(buf, pos + 4);
    if (first && type !== 'IHDR') {
      throw new ImageDecodeError(name, `corrupt PNG: the first chunk is ${type}, expected IHDR`);
    }
    first = false;
    if (len > 0x7fffffff || pos + 12 + len > buf.length) {
      throw new ImageDecodeError(name, `truncated PNG: chunk ${type} at byte ${pos} needs ${len + 12} bytes but the file ends at byte ${buf.length}`);
    }
    pos += 12 + len;
    if (type === 'IEND') return;
  }
}

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  let msg = e.message;
  const cause = (e as Error & { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message) msg = `${msg.replace(/:\s*$/, '')}: ${cause.message}`;
  return msg;
}

/** Unpacks samples of 1/2/4-bit single-channel PNG rows into one byte per sample. */
function unpackLowDepth(packed: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const maskBits = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = packed[y * rowBytes + (bit >> 3)] as number;
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & maskBits;
    }
  }
  return out;
}

function decodePngRaw(buf: Uint8Array, name: string, paletteAsIndex: boolean): RawImage {
  checkPngChunks(buf, name);
  let png: ReturnType<typeof decodePngLib>;
  try {
    png = decodePngLib(buf, { checkCrc: true });
  } catch (e) {
    throw new ImageDecodeError(name, `corrupt PNG: ${errorText(e)}`);
  }
  const { width, height, depth } = png;
  const n = width * height;
  if (width <= 0 || height <= 0) throw new ImageDecodeError(name, `corrupt PNG: image size ${width}x${height}`);
  const expected = depth < 8 ? Math.ceil((width * depth) / 8) * height : n * png.channels;
  if (png.data.length < expected) {
    throw new ImageDecodeError(name, `truncated PNG: the image data holds ${png.data.length} samples, expected ${expected} for ${width}x${height}`);
  }

  if (png.palette) {
    const idx = depth < 8 ? unpackLowDepth(png.data, width, height, depth) : Uint8Array.from(png.data.subarray(0, n));
    if (paletteAsIndex) return { width, height, channels: 1, depth: 8, format: 'png', indexed: true, values: idx };
    const pal = png.palette;
    for (let i = 0; i < n; i++) {
      if ((idx[i] as number) >= pal.length) {
        throw new ImageDecodeError(name, `corrupt PNG: palette index ${idx[i]} at pixel ${i} but the palette has ${pal.length} colours`);
      }
    }
    const grey = pal.every((c) => c[0] === c[1] && c[1] === c[2]);
    const channels = grey ? 1 : 3;
    const values = new Uint8Array(n * channels);
    for (let i = 0; i < n; i++) {
      const c = pal[idx[i] as number] as number[];
      if (grey) values[i] = c[0] as number;
      else {
        values[i * 3] = c[0] as number;
        values[i * 3 + 1] = c[1] as number;
        values[i * 3 + 2] = c[2] as number;
      }
    }
    return { width, height, channels, depth: 8, format: 'png', indexed: false, values };
  }

  if (depth < 8) {
    return { width, height, channels: 1, depth, format: 'png', indexed: false, values: unpackLowDepth(png.data, width, height, depth) };
  }
  const src = png.data;
  const inCh = png.channels;
  const outCh: 1 | 3 = inCh >= 3 ? 3 : 1;
  const values = depth === 16 ? new Uint16Array(n * outCh) : new Uint8Array(n * outCh);
  if (inCh === outCh) values.set(src.subarray(0, n * outCh));
  else {
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < outCh; c++) values[i * outCh + c] = src[i * inCh + c] as number;
    }
  }
  return { width, height, channels: outCh, depth, format: 'png', indexed: false, values };
}

interface JpegInfo {
  components: number;
  precision: number;
}

/** Reads the JPEG marker segments up to the first scan: checks structure and gets the frame header. */
function inspectJpeg(buf: Uint8Array, name: string): JpegInfo {
  let pos = 2;
  let info: JpegInfo | null = null;
  for (;;) {
    if (pos + 2 > buf.length) throw new ImageDecodeError(name, `truncated JPEG: the file ends at byte ${buf.length} before the image data`);
    if (buf[pos] !== 0xff) throw new ImageDecodeError(name, `corrupt JPEG: expected a marker at byte ${pos}, found 0x${(buf[pos] as number).toString(16).padStart(2, '0')}`);
    let m = buf[pos + 1] as number;
    while (m === 0xff && pos + 2 < buf.length) {
      pos++;
      m = buf[pos + 1] as number;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (m === 0xd9) throw new ImageDecodeError(name, 'corrupt JPEG: end-of-image marker before any image data');
    if (pos + 4 > buf.length) throw new ImageDecodeError(name, `truncated JPEG: the file ends at byte ${buf.length} inside a marker`);
    const len = ((buf[pos + 2] as number) << 8) | (buf[pos + 3] as number);
    if (pos + 2 + len > buf.length) {
      throw new ImageDecodeError(name, `truncated JPEG: segment 0xff${m.toString(16)} at byte ${pos} needs ${len + 2} bytes but the file ends at byte ${buf.length}`);
    }
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof) {
      const precision = buf[pos + 4] as number;
      const components = buf[pos + 9] as number;
      if (m !== 0xc0 && m !== 0xc1 && m !== 0xc2) {
        throw new ImageDecodeError(name, `unsupported JPEG: frame type 0xff${m.toString(16)} (lossless or arithmetic coding); save it as PNG`);
      }
      if (precision !== 8) throw new ImageDecodeError(name, `unsupported JPEG: ${precision}-bit samples; save it as a 16-bit PNG`);
      info = { components, precision };
    }
    if (m === 0xda) {
      if (!info) throw new ImageDecodeError(name, 'corrupt JPEG: image data (SOS) before the frame header (SOF)');
      // The entropy-coded data never holds 0xFFD9 (0xFF bytes are stuffed), so the end marker must follow.
      for (let p = buf.length - 2; p > pos; p--) {
        if (buf[p] === 0xff && buf[p + 1] === 0xd9) return info;
      }
      throw new ImageDecodeError(name, `truncated JPEG: no end-of-image marker (0xffd9) after the image data; the file ends at byte ${buf.length}`);
    }
    pos += 2 + len;
  }
}

function decodeJpegRaw(buf: Uint8Array, name: string): RawImage {
  const info = inspectJpeg(buf, name);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = decodeJpegLib(buf, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 2048 });
  } catch (e) {
    throw new ImageDecodeError(name, `corrupt JPEG: ${errorText(e)}`);
  }
  const n = img.width * img.height;
  if (info.components === 1) {
    const values = new Uint8Array(n);
    for (let i = 0; i < n; i++) values[i] = img.data[i * 3] as number;
    return { width: img.width, height: img.height, channels: 1, depth: 8, format: 'jpeg', indexed: false, values };
  }
  return { width: img.width, height: img.height, channels: 3, depth: 8, format: 'jpeg', indexed: false, values: img.data.subarray(0, n * 3) };
}

function decodeRaw(buf: Uint8Array, name: string, paletteAsIndex: boolean): RawImage {
  if (buf.length === 0) throw new ImageDecodeError(name, 'empty file (0 bytes)');
  const format = detectImageFormat(buf);
  if (format === 'png') return decodePngRaw(buf, name, paletteAsIndex);
  if (format === 'jpeg') return decodeJpegRaw(buf, name);
  throw new ImageDecodeError(name, unknownFormatReason(buf));
}

/** Reads a file, turning file-system errors into ImageDecodeError. */
export function readImageBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : errorText(e);
    throw new ImageDecodeError(path, `cannot read file (${why})`);
  }
}

/** Decodes a PNG or JPEG held in memory. `nameForErrors` is the path used in error messages. */
export function decodeImage(buffer: Uint8Array, nameForErrors: string): DecodedImage {
  const raw = decodeRaw(buffer, nameForErrors, false);
  return {
    width: raw.width,
    height: raw.height,
    channels: raw.channels,
    bitDepth: raw.depth === 16 ? 16 : 8,
    format: raw.format,
    data: Float32Array.from(raw.values),
  };
}

/** Reads and decodes a PNG or JPEG file. */
export function decodeImageFile(path: string): DecodedImage {
  return decodeImage(readImageBytes(path), path);
}

/**
 * Decodes a mask into class ids.
 * - Grey (or grey+alpha) values are the class ids; 16-bit masks are allowed.
 * - A binary mask whose values are all in {0, 255} (16-bit: {0, 65535}) maps 255 to 1.
 * - A palette PNG gives its palette indices as class ids (the PASCAL VOC convention).
 * - An RGB(A) mask is accepted only when R = G = B at every pixel.
 * - JPEG masks are refused (lossy compression changes the ids).
 * - Any id >= numClasses is an error that names the file, the value, the pixel and the fix.
 */
export function decodeMask(buffer: Uint8Array, nameForErrors: string, numClasses: number): DecodedMask {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 256) {
    throw new RangeError(`decodeMask: numClasses must be an integer in 1..256, got ${numClasses}`);
  }
  const name = nameForErrors;
  if (buffer.length > 0 && detectImageFormat(buffer) === 'jpeg') {
    throw new MaskError(name, `mask ${name} is a JPEG; JPEG compression changes pixel values, so masks must be PNG files holding class ids (save it as an 8-bit greyscale PNG)`);
  }
  const raw = decodeRaw(buffer, name, true);
  const { width, height } = raw;
  const n = width * height;
  const v = raw.values;
  if (raw.channels === 3) {
    for (let i = 0; i < n; i++) {
      const r = v[i * 3] as number;
      const g = v[i * 3 + 1] as number;
      const b = v[i * 3 + 2] as number;
      if (r !== g || g !== b) {
        throw new MaskError(
          name,
          `mask ${name} is a colour image with different channels at (x=${i % width}, y=${Math.floor(i / width)}) (r=${r}, g=${g}, b=${b}); masks must hold one class id per pixel: save it as a greyscale PNG`,
        );
      }
    }
  }
  const step = raw.channels;
  const high = raw.depth === 16 ? 65535 : 255;
  let binary = !raw.indexed && high >= numClasses;
  let sawHigh = false;
  if (binary) {
    for (let i = 0; i < n; i++) {
      const x = v[i * step] as number;
      if (x === high) sawHigh = true;
      else if (x !== 0) {
        binary = false;
        break;
      }
    }
    binary = binary && sawHigh;
  }
  const out = new Uint8Array(n);
  if (binary) {
    for (let i = 0; i < n; i++) out[i] = (v[i * step] as number) === 0 ? 0 : 1;
    return { width, height, data: out, mappedBinary: true };
  }
  for (let i = 0; i < n; i++) {
    const x = v[i * step] as number;
    if (x >= numClasses) {
      throw new MaskError(
        name,
        `mask ${name} has value ${x} at (x=${i % width}, y=${Math.floor(i / width)}) but data.classes lists ${numClasses} classes (ids 0..${numClasses - 1}); fix the mask or add classes`,
      );
    }
    out[i] = x;
  }
  return { width, height, data: out, mappedBinary: false };
}

/** Reads and decodes a mask file (see decodeMask). */
export function decodeMaskFile(path: string, numClasses: number): DecodedMask {
  return decodeMask(readImageBytes(path), path, numClasses);
}

export interface PngPixels {
  width: number;
  height: number;
  /** 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** 8 (default) or 16; 16-bit data must be a Uint16Array. */
  bitDepth?: 8 | 16;
  /** Samples, HWC. */
  data: Uint8Array | Uint16Array;
}

/** Encodes pixels as a PNG file. */
export function encodePng(img: PngPixels): Uint8Array {
  const depth = img.bitDepth ?? 8;
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`encodePng: width and height must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(`encodePng: data has ${data.length} samples, expected ${width}x${height}x${channels} = ${width * height * channels}`);
  }
  if (depth === 16 && !(data instanceof Uint16Array)) throw new TypeError('encodePng: 16-bit data must be a Uint16Array');
  if (depth === 8 && !(data instanceof Uint8Array)) throw new TypeError('encodePng: 8-bit data must be a Uint8Array');
  return encodePngLib({ width, height, channels, depth, data });
}

/** Encodes an 8-bit greyscale PNG (data: H*W bytes). */
export function encodePngGrey(data: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng({ width, height, channels: 1, data });
}

/** Encodes an 8-bit RGB PNG (data: H*W*3 bytes, HWC). */
export function encodePngRgb(data: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng({ width, height, channels: 3, data });
}
