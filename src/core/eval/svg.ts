// Inline SVG charts for the self-contained comparison report (compare.html): reliability diagrams and
// threshold-sweep curves. Plain strings, no scripts, no external resources.
import type { ReliabilityBin, SweepPoint } from '../../protocol/evaluation';

/** Tableau-10 colours: one per run, in order. */
export const RUN_COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function runColor(i: number): string {
  return RUN_COLORS[i % RUN_COLORS.length] as string;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Fixed-precision coordinates keep the files small and stable. */
function c(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  right: number;
  bottom: number;
}

function plotArea(f: Frame) {
  const w = f.width - f.left - f.right;
  const h = f.height - f.top - f.bottom;
  return { w, h, x: (v: number) => f.left + v * w, y: (v: number) => f.top + (1 - v) * h };
}

/** Axes from 0 to 1 on both sides, with ticks every 0.2, grid lines and axis titles. */
function axes01(f: Frame, xTitle: string, yTitle: string): string {
  const { x, y } = plotArea(f);
  const parts: string[] = [];
  for (let t = 0; t <= 5; t++) {
    const v = t / 5;
    parts.push(`<line x1="${c(x(v))}" y1="${c(y(0))}" x2="${c(x(v))}" y2="${c(y(1))}" class="grid"/>`);
    parts.push(`<line x1="${c(x(0))}" y1="${c(y(v))}" x2="${c(x(1))}" y2="${c(y(v))}" class="grid"/>`);
    parts.push(`<text x="${c(x(v))}" y="${c(y(0) + 13)}" class="tick" text-anchor="middle">${v.toFixed(1)}</text>`);
    parts.push(`<text x="${c(x(0) - 4)}" y="${c(y(v) + 3)}" class="tick" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  parts.push(`<rect x="${c(x(0))}" y="${c(y(1))}" width="${c(x(1) - x(0))}" height="${c(y(0) - y(1))}" class="frame"/>`);
  if (xTitle) parts.push(`<text x="${c((x(0) + x(1)) / 2)}" y="${c(f.height - 4)}" class="axis" text-anchor="middle">${escapeXml(xTitle)}</text>`);
  if (yTitle) parts.push(`<text transform="translate(11 ${c((y(0) + y(1)) / 2)}) rotate(-90)" class="axis" text-anchor="middle">${escapeXml(yTitle)}</text>`);
  return parts.join('');
}

export interface ReliabilityChart {
  title: string;
  /** Bins before temperature scaling: bars of observed accuracy, with the gap to confidence shaded. */
  bins: ReliabilityBin[];
  /** Optional bins after temperature scaling: drawn as a line of markers. */
  after?: ReliabilityBin[] | undefined;
  color: string;
  /** Accessible description. */
  label: string;
}

/** A reliability diagram: accuracy per confidence bin against the diagonal, with a bin-count strip. */
export function reliabilitySvg(ch: ReliabilityChart): string {
  const f: Frame = { width: 280, height: 300, left: 38, top: 22, right: 10, bottom: 62 };
  const { x, y } = plotArea(f);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${escapeXml(ch.label)}">`);
  parts.push(`<title>${escapeXml(ch.label)}</title>`);
  parts.push(`<text x="${f.left}" y="14" class="title">${escapeXml(ch.title)}</text>`);
  parts.push(axes01(f, '', 'accuracy'));
  // Bars and gap.
  for (const b of ch.bins) {
    if (b.count === 0 || b.accuracy === null || b.meanConfidence === null) continue;
    const x0 = x(b.lo);
    const x1 = x(b.hi);
    parts.push(`<rect x="${c(x0)}" y="${c(y(b.accuracy))}" width="${c(Math.max(0.5, x1 - x0))}" height="${c(y(0) - y(b.accuracy))}" fill="${ch.color}" fill-opacity="0.75"><title>${b.lo.toFixed(2)}–${b.hi.toFixed(2)}: accuracy ${b.accuracy.toFixed(3)}, confidence ${b.meanConfidence.toFixed(3)}, ${b.count} voxels</title></rect>`);
    const top = Math.max(b.accuracy, b.meanConfidence);
    const bottom = Math.min(b.accuracy, b.meanConfidence);
    if (top - bottom > 1e-6) parts.push(`<rect x="${c(x0)}" y="${c(y(top))}" width="${c(Math.max(0.5, x1 - x0))}" height="${c(y(bottom) - y(top))}" class="gap"/>`);
  }
  parts.push(`<line x1="${c(x(0))}" y1="${c(y(0))}" x2="${c(x(1))}" y2="${c(y(1))}" class="diag"/>`);
  if (ch.after) {
    const pts = ch.after.filter((b) => b.count > 0 && b.accuracy !== null && b.meanConfidence !== null).map((b) => `${c(x(b.meanConfidence as number))},${c(y(b.accuracy as number))}`);
    if (pts.length) {
      parts.push(`<polyline points="${pts.join(' ')}" class="after"/>`);
      for (const p of pts) {
        const [px, py] = p.split(',');
        parts.push(`<circle cx="${px}" cy="${py}" r="2.5" class="after-dot"/>`);
      }
    }
  }
  // Count strip: log-scaled bin counts under the x axis.
  const stripTop = y(0) + 18;
  const stripH = 16;
  const maxLog = Math.max(1, ...ch.bins.map((b) => Math.log10(1 + b.count)));
  for (const b of ch.bins) {
    if (b.count === 0) continue;
    const hh = (Math.log10(1 + b.count) / maxLog) * stripH;
    parts.push(`<rect x="${c(x(b.lo))}" y="${c(stripTop + stripH - hh)}" width="${c(Math.max(0.5, x(b.hi) - x(b.lo)))}" height="${c(hh)}" fill="${ch.color}" fill-opacity="0.45"/>`);
  }
  parts.push(`<text x="${c(x(0) - 4)}" y="${c(stripTop + stripH - 3)}" class="tick" text-anchor="end">n</text>`);
  parts.push(`<text x="${c((x(0) + x(1)) / 2)}" y="${c(stripTop + stripH + 14)}" class="axis" text-anchor="middle">confidence</text>`);
  parts.push('</svg>');
  return parts.join('');
}

export interface CurveSeries {
  name: string;
  color: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

/** A line chart on [0,1]² (threshold sweeps, precision–recall) with a legend under the plot. */
export function curvesSvg(opts: { title: string; xTitle: string; yTitle: string; series: CurveSeries[]; label: string }): string {
  const legendRows = Math.ceil(opts.series.length / 2);
  const f: Frame = { width: 340, height: 290 + legendRows * 14, left: 38, top: 22, right: 12, bottom: 34 + legendRows * 14 };
  const { x, y } = plotArea(f);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${escapeXml(opts.label)}">`);
  parts.push(`<title>${escapeXml(opts.label)}</title>`);
  parts.push(`<text x="${f.left}" y="14" class="title">${escapeXml(opts.title)}</text>`);
  parts.push(axes01(f, '', opts.yTitle));
  const plotBottom = y(0);
  parts.push(`<text x="${c((x(0) + x(1)) / 2)}" y="${c(plotBottom + 27)}" class="axis" text-anchor="middle">${escapeXml(opts.xTitle)}</text>`);
  for (const s of opts.series) {
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).map((p) => `${c(x(p.x))},${c(y(p.y))}`);
    if (pts.length === 0) continue;
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="4 3"' : ''}><title>${escapeXml(s.name)}</title></polyline>`);
    for (const p of pts) {
      const [px, py] = p.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="1.8" fill="${s.color}"/>`);
    }
  }
  opts.series.forEach((s, i) => {
    const lx = f.left + (i % 2) * 150;
    const ly = plotBottom + 42 + Math.floor(i / 2) * 14;
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 16}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    parts.push(`<text x="${lx + 20}" y="${ly}" class="legend">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Sweep points as (threshold, value) pairs, skipping undefined values. */
export function sweepSeries(points: SweepPoint[], key: 'dsc' | 'precision' | 'recall'): { x: number; y: number }[] {
  return points.filter((p) => p[key] !== null && Number.isFinite(p[key] as number)).map((p) => ({ x: p.threshold, y: p[key] as number }));
}

/** The CSS the charts expect (embedded once in the page). */
export const SVG_CSS = `
svg .grid { stroke: #e3e3e3; stroke-width: 0.6; }
svg .frame { fill: none; stroke: #888; stroke-width: 0.8; }
svg .diag { stroke: #444; stroke-width: 1; stroke-dasharray: 4 3; }
svg .gap { fill: #d62728; fill-opacity: 0.25; stroke: #d62728; stroke-width: 0.5; }
svg .after { fill: none; stroke: #111; stroke-width: 1.4; }
svg .after-dot { fill: #111; }
svg .tick { font: 9px sans-serif; fill: #555; }
svg .axis { font: 10px sans-serif; fill: #333; }
svg .title { font: bold 11px sans-serif; fill: #222; }
svg .legend { font: 10px sans-serif; fill: #333; }
`;
