// Series maths for the curves panel: EMA smoothing and LTTB decimation (Steinarsson 2013,
// "Downsampling Time Series for Visual Representation"), written for this project.

/**
 * Exponential moving average with TensorBoard-style debiasing: s_t = w·s_{t−1} + (1−w)·v_t,
 * divided by (1 − w^n) so the first points are not pulled towards 0. Non-finite values pass
 * through as NaN and do not update the average.
 */
export function ema(values: ArrayLike<number>, weight: number): Float64Array {
  const out = new Float64Array(values.length);
  if (weight <= 0) {
    for (let i = 0; i < values.length; i++) out[i] = values[i];
    return out;
  }
  let acc = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = NaN;
      continue;
    }
    acc = acc * weight + (1 - weight) * v;
    n++;
    out[i] = acc / (1 - Math.pow(weight, n));
  }
  return out;
}

export interface XY {
  x: number;
  y: number;
}

/**
 * Largest-Triangle-Three-Buckets: keeps `threshold` points (first and last included) that preserve
 * the visual shape. Non-finite y values are dropped first. Returns all points when there are fewer.
 */
export function lttb(xs: ArrayLike<number>, ys: ArrayLike<number>, threshold: number): XY[] {
  const px: number[] = [];
  const py: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(ys[i]) && Number.isFinite(xs[i])) {
      px.push(xs[i]);
      py.push(ys[i]);
    }
  }
  const n = px.length;
  if (threshold >= n || threshold < 3) return px.map((x, i) => ({ x, y: py[i] }));
  const out: XY[] = [{ x: px[0], y: py[0] }];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    // Average of the next bucket.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += px[j];
      avgY += py[j];
    }
    const len = Math.max(1, nextEnd - nextStart);
    avgX /= len;
    avgY /= len;
    // The point of this bucket that makes the largest triangle with a and the next average.
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const area = Math.abs((px[a] - avgX) * (py[j] - py[a]) - (px[a] - px[j]) * (avgY - py[a]));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    out.push({ x: px[best], y: py[best] });
    a = best;
  }
  out.push({ x: px[n - 1], y: py[n - 1] });
  return out;
}
