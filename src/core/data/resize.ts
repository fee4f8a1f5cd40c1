// Resizing and channel conversion for 2D images (HWC Float32Array) and masks (HW Uint8Array).
//
// Bilinear: half-pixel centres, align-corners false (the convention of TF's resize with
// half_pixel_centers=true, PyTorch's interpolate(align_corners=False) and OpenCV's INTER_LINEAR): the
// output pixel (y, x) samples the input at ((y + 0.5) * inH / outH - 0.5, ...) with the coordinate clamped
// to [0, in - 1]. No antialiasing filter: a 2x reduction averages each 2x2 block exactly.
// Nearest (masks): the output pixel samples the input pixel floor((y + 0.5) * inH / outH), so a 2x
// reduction takes mask[1::2, 1::2].

function checkDims(what: string, len: number, h: number, w: number, c: number): void {
  for (const [k, v] of [['height', h], ['width', w], ['channels', c]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${what}: ${k} must be a positive integer, got ${v}`);
  }
  if (len !== h * w * c) throw new RangeError(`${what}: data has ${len} values, expected ${h}x${w}x${c} = ${h * w * c}`);
}

interface Axis {
  i0: Int32Array;
  i1: Int32Array;
  f: Float32Array;
}

function bilinearAxis(inN: number, outN: number): Axis {
  const i0 = new Int32Array(outN);
  const i1 = new Int32Array(outN);
  const f = new Float32Array(outN);
  const scale = inN / outN;
  for (let o = 0; o < outN; o++) {
    let s = (o + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    if (s > inN - 1) s = inN - 1;
    const lo = Math.floor(s);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, inN - 1);
    f[o] = s - lo;
  }
  return { i0, i1, f };
}

/** Bilinear resize of an HWC image. Returns a new array of outH*outW*channels values. */
export function resizeBilinear(src: Float32Array, inH: number, inW: number, channels: number, outH: number, outW: number): Float32Array {
  checkDims('resizeBilinear input', src.length, inH, inW, channels);
  checkDims('resizeBilinear output', outH * outW * channels, outH, outW, channels);
  if (inH === outH && inW === outW) return src.slice();
  const ay = bilinearAxis(inH, outH);
  const ax = bilinearAxis(inW, outW);
  const out = new Float32Array(outH * outW * channels);
  for (let y = 0; y < outH; y++) {
    const r0 = (ay.i0[y] as number) * inW;
    const r1 = (ay.i1[y] as number) * inW;
    const fy = ay.f[y] as number;
    for (let x = 0; x < outW; x++) {
      const c0 = ax.i0[x] as number;
      const c1 = ax.i1[x] as number;
      const fx = ax.f[x] as number;
      const w00 = (1 - fy) * (1 - fx);
      const w01 = (1 - fy) * fx;
      const w10 = fy * (1 - fx);
      const w11 = fy * fx;
      const o = (y * outW + x) * channels;
      const p00 = (r0 + c0) * channels;
      const p01 = (r0 + c1) * channels;
      const p10 = (r1 + c0) * channels;
      const p11 = (r1 + c1) * channels;
      for (let c = 0; c < channels; c++) {
        out[o + c] =
          w00 * (src[p00 + c] as number) + w01 * (src[p01 + c] as number) + w10 * (src[p10 + c] as number) + w11 * (src[p11 + c] as number);
      }
    }
  }
  return out;
}

function nearestAxis(inN: number, outN: number): Int32Array {
  const idx = new Int32Array(outN);
  const scale = inN / outN;
  for (let o = 0; o < outN; o++) idx[o] = Math.min(Math.floor((o + 0.5) * scale), inN - 1);
  return idx;
}

/** Nearest-neighbour resize of an HWC array (masks: channels 1). */
export function resizeNearest<T extends Uint8Array | Float32Array>(src: T, inH: number, inW: number, outH: number, outW: number, channels = 1): T {
  checkDims('resizeNearest input', src.length, inH, inW, channels);
  checkDims('resizeNearest output', outH * outW * channels, outH, outW, channels);
  if (inH === outH && inW === outW) return src.slice() as T;
  const iy = nearestAxis(inH, outH);
  const ix = nearestAxis(inW, outW);
  const out = (src instanceof Uint8Array ? new Uint8Array(outH * outW * channels) : new Float32Array(outH * outW * channels)) as T;
  for (let y = 0; y < outH; y++) {
    const row = (iy[y] as number) * inW;
    for (let x = 0; x < outW; x++) {
      const s = (row + (ix[x] as number)) * channels;
      const o = (y * outW + x) * channels;
      for (let c = 0; c < channels; c++) out[o + c] = src[s + c] as number;
    }
  }
  return out;
}

/** Luminance weights (ITU-R BT.601, as PIL's RGB->L). */
export const LUMA_WEIGHTS: readonly [number, number, number] = [0.299, 0.587, 0.114];

/**
 * Converts an HWC image between 1 and 3 channels: RGB -> grey by BT.601 luminance, grey -> RGB by
 * repeating the channel. Same channel count: a copy.
 */
export function convertChannels(src: Float32Array, height: number, width: number, from: 1 | 3, to: 1 | 3): Float32Array {
  checkDims('convertChannels', src.length, height, width, from);
  if (from === to) return src.slice();
  const n = height * width;
  if (from === 3) {
    const out = new Float32Array(n);
    const [wr, wg, wb] = LUMA_WEIGHTS;
    for (let i = 0; i < n; i++) out[i] = wr * (src[i * 3] as number) + wg * (src[i * 3 + 1] as number) + wb * (src[i * 3 + 2] as number);
    return out;
  }
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = src[i] as number;
    out[i * 3] = v;
    out[i * 3 + 1] = v;
    out[i * 3 + 2] = v;
  }
  return out;
}

/**
 * Per-image z-score, in place: subtracts the mean and divides by the (population) standard deviation of
 * all values (all channels together). A constant image becomes all zeros. Returns { mean, std } used.
 */
export function zScoreInPlace(data: Float32Array): { mean: number; std: number } {
  const n = data.length;
  if (n === 0) return { mean: 0, std: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += data[i] as number;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = (data[i] as number) - mean;
    sq += d * d;
  }
  const std = Math.sqrt(sq / n);
  const inv = std > 1e-8 * Math.max(1, Math.abs(mean)) ? 1 / std : 0;
  for (let i = 0; i < n; i++) data[i] = ((data[i] as number) - mean) * inv;
  return { mean, std };
}
