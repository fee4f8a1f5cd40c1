// Writes protocol-conformant run folders (run.json, metrics.jsonl, evaluation.json, threshold-free,
// predictions/previews.json + little-endian binaries) from a seeded generator. Used for the
// 100,000-point performance check, and as fixtures while the core trainer cannot yet produce them.
// Metrics in evaluation.json are computed from the generated arrays (same definitions as issue 3:
// DSC on the thresholded/argmax mask, NLL and Brier per voxel, 15 equal-width top-label bins).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CalibrationSummary, CaseReport, ClassReport, EvaluationReport, PreviewIndex, ReliabilityBin, SweepPoint } from '../../src/protocol/evaluation';
import type { EpochRecord, RunRecord, StepRecord, ValMetrics } from '../../src/protocol/training';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export interface SyntheticRunOptions {
  id: string;
  experiment: string;
  loss: string;
  seed: number;
  epochs: number;
  stepsPerEpoch: number;
  /** Cases with preview arrays; spatial [H,W] or [D,H,W]. Omit for no evaluation. */
  previews?: { ids: string[]; spatial: number[]; numClasses: number; sharpness: number };
}

const iso = (ms: number): string => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();

export function writeSyntheticRun(dir: string, o: SyntheticRunOptions): void {
  mkdirSync(join(dir, 'predictions'), { recursive: true });
  const r = rng(o.seed);
  const lines: string[] = [];
  let gs = 0;
  let best: ValMetrics | null = null;
  let bestEpoch: number | null = null;
  let last: ValMetrics | null = null;
  const msPerStep = 40;
  for (let e = 1; e <= o.epochs; e++) {
    let sum = 0;
    for (let s = 1; s <= o.stepsPerEpoch; s++) {
      gs++;
      const lr = 1e-3 * Math.pow(0.5, Math.floor((e - 1) / Math.max(1, Math.ceil(o.epochs / 3))));
      const loss = 0.9 * Math.exp(-gs / (o.epochs * o.stepsPerEpoch * 0.4)) + 0.08 + 0.05 * (r() - 0.5);
      sum += loss;
      const rec: StepRecord = { kind: 'step', epoch: e, step: s, globalStep: gs, loss, lr, elapsedMs: gs * msPerStep, time: iso(gs * msPerStep) };
      lines.push(JSON.stringify(rec));
    }
    const val: ValMetrics = { loss: sum / o.stepsPerEpoch + 0.03, dsc: 0.5 + 0.4 * (1 - Math.exp(-e / 2)) + 0.01 * r(), iou: 0.4 + 0.3 * (1 - Math.exp(-e / 2)), nll: 0.4 * Math.exp(-e / 3) + 0.1, brier: 0.1 * Math.exp(-e / 3) + 0.03, ece: 0.08 * Math.exp(-e / 3) + 0.01 };
    const isBest = best === null || val.loss < best.loss;
    if (isBest) {
      best = val;
      bestEpoch = e;
    }
    last = val;
    const rec: EpochRecord = { kind: 'epoch', epoch: e, globalStep: gs, trainLoss: sum / o.stepsPerEpoch, val, lr: 1e-3, elapsedMs: gs * msPerStep + 5, epochMs: o.stepsPerEpoch * msPerStep, numTensors: 123, best: isBest, time: iso(gs * msPerStep + 5) };
    lines.push(JSON.stringify(rec));
  }
  writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
  let test: RunRecord['summary']['test'];
  if (o.previews) {
    const ev = writePreviews(dir, o, r);
    test = { dsc: ev.overall.dsc ?? NaN, iou: ev.overall.iou ?? NaN, nll: ev.overall.nll, brier: ev.overall.brier, ece: ev.overall.ece };
  }
  const record: RunRecord = {
    schemaVersion: 1,
    id: o.id,
    experiment: o.experiment,
    configPath: `/synthetic/${o.experiment}.dscpp.yaml`,
    loss: { name: o.loss, options: {} },
    lossIndex: 0,
    status: 'completed',
    seed: o.seed,
    backend: { name: 'cpu', versions: { '@tensorflow/tfjs-core': '4.22.0' }, skipped: [], kernels: [] },
    versions: { 'dscpp-lab': '0.1.0' },
    createdAt: iso(0),
    startedAt: iso(0),
    endedAt: iso(gs * msPerStep + 10),
    updatedAt: iso(gs * msPerStep + 10),
    pid: null,
    host: 'synthetic',
    config: { synthetic: true },
    totalEpochs: o.epochs,
    stepsPerEpoch: o.stepsPerEpoch,
    summary: { epochsCompleted: o.epochs, bestEpoch, best, last, durationMs: gs * msPerStep + 10, test },
    error: null,
    resumedFrom: [],
  };
  writeFileSync(join(dir, 'run.json'), JSON.stringify(record, null, 2) + '\n');
}

interface Acc {
  bins: { count: number; conf: number; acc: number }[];
}

function newBins(n: number): Acc {
  return { bins: Array.from({ length: n }, () => ({ count: 0, conf: 0, acc: 0 })) };
}

function addBin(a: Acc, conf: number, correct: boolean): void {
  const n = a.bins.length;
  const b = a.bins[Math.min(n - 1, Math.floor(conf * n))];
  b.count++;
  b.conf += conf;
  b.acc += correct ? 1 : 0;
}

function finishBins(a: Acc): { bins: ReliabilityBin[]; ece: number; mce: number; rmsce: number } {
  const n = a.bins.length;
  const total = a.bins.reduce((s, b) => s + b.count, 0);
  let ece = 0;
  let mce = 0;
  let rms = 0;
  const bins = a.bins.map((b, i) => {
    const conf = b.count ? b.conf / b.count : null;
    const acc = b.count ? b.acc / b.count : null;
    if (conf !== null && acc !== null) {
      const gap = Math.abs(acc - conf);
      ece += (b.count / total) * gap;
      rms += (b.count / total) * gap * gap;
      mce = Math.max(mce, gap);
    }
    return { lo: i / n, hi: (i + 1) / n, count: b.count, meanConfidence: conf, accuracy: acc };
  });
  return { bins, ece, mce, rmsce: Math.sqrt(rms) };
}

function writePreviews(dir: string, o: SyntheticRunOptions, r: () => number): EvaluationReport {
  const p = o.previews!;
  const C = p.numClasses;
  const sigmoid = C === 2;
  const probC = sigmoid ? 1 : C;
  const nvox = p.spatial.reduce((a, b) => a * b, 1);
  const classes = C === 2 ? ['background', 'nuclei'] : ['background', ...Array.from({ length: C - 1 }, (_, i) => `structure${i + 1}`)];
  const cases: PreviewIndex['cases'] = [];
  const caseReports: CaseReport[] = [];
  const top = newBins(15);
  const topAfter = newBins(15);
  const perClassBins = Array.from({ length: C }, () => newBins(15));
  const T = 1.35;
  let nllSum = 0;
  let brierSum = 0;
  let nllAfter = 0;
  let brierAfter = 0;
  const thresholds = Array.from({ length: 19 }, (_, i) => Math.round((0.05 + i * 0.05) * 100) / 100);
  const sweep = Array.from({ length: C }, () => thresholds.map(() => ({ tp: 0, fp: 0, fn: 0 })));
  const ovl = Array.from({ length: C }, () => ({ tp: 0, fp: 0, fn: 0 }));
  p.ids.forEach((id, ci) => {
    const labels = new Uint8Array(nvox);
    const probs = new Float32Array(nvox * probC);
    const image = new Float32Array(nvox);
    const dims = p.spatial;
    const [D, H, W] = dims.length === 3 ? dims : [1, dims[0], dims[1]];
    const blobs = Array.from({ length: 2 + ci }, () => ({ z: r() * D, y: r() * H, x: r() * W, rad: 3 + r() * Math.min(H, W) * 0.18, cls: 1 + Math.floor(r() * (C - 1)) }));
    const caseCounts = Array.from({ length: C }, () => ({ tp: 0, fp: 0, fn: 0 }));
    let caseNll = 0;
    let caseBrier = 0;
    for (let z = 0; z < D; z++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const v = (z * H + y) * W + x;
          const logits = new Array<number>(C).fill(-p.sharpness);
          logits[0] = 0;
          let lab = 0;
          for (const b of blobs) {
            const d = Math.hypot((z - b.z) * (D > 1 ? 1.5 : 0), y - b.y, x - b.x) / b.rad;
            if (d < 1) lab = b.cls;
            logits[b.cls] = Math.max(logits[b.cls], p.sharpness * (1.1 - d) * 2 + (r() - 0.5) * 2);
          }
          labels[v] = lab;
          image[v] = (lab > 0 ? 0.7 : 0.2) + 0.25 * (r() - 0.5) + 0.1 * Math.sin(x / 3);
          const softmax = (t: number): number[] => {
            const m = Math.max(...logits);
            const e = logits.map((l) => Math.exp((l - m) / t));
            const s = e.reduce((a, b) => a + b, 0);
            return e.map((x2) => x2 / s);
          };
          const pr = softmax(1);
          const pa = softmax(T);
          if (sigmoid) probs[v] = pr[1];
          else for (let c = 0; c < C; c++) probs[v * C + c] = pr[c];
          const arg = pr.indexOf(Math.max(...pr));
          addBin(top, pr[arg], arg === lab);
          const argA = pa.indexOf(Math.max(...pa));
          addBin(topAfter, pa[argA], argA === lab);
          const nl = -Math.log(Math.max(1e-7, pr[lab]));
          caseNll += nl;
          nllSum += nl;
          nllAfter += -Math.log(Math.max(1e-7, pa[lab]));
          let b1 = 0;
          let b2 = 0;
          for (let c = 0; c < C; c++) {
            b1 += ((c === lab ? 1 : 0) - pr[c]) ** 2 / C;
            b2 += ((c === lab ? 1 : 0) - pa[c]) ** 2 / C;
            addBin(perClassBins[c], pr[c], c === lab);
            const pred = arg === c;
            const truth = lab === c;
            const k = pred && truth ? 'tp' : pred ? 'fp' : truth ? 'fn' : null;
            if (k) {
              caseCounts[c][k]++;
              ovl[c][k]++;
            }
            thresholds.forEach((t, i) => {
              const pt = pr[c] >= t;
              const kk = pt && truth ? 'tp' : pt ? 'fp' : truth ? 'fn' : null;
              if (kk) sweep[c][i][kk]++;
            });
          }
          caseBrier += b1;
          brierSum += b1;
          brierAfter += b2;
        }
    const base = `case${String(ci).padStart(2, '0')}`;
    writeFileSync(join(dir, 'predictions', `${base}.image.f32`), Buffer.from(image.buffer));
    writeFileSync(join(dir, 'predictions', `${base}.labels.u8`), Buffer.from(labels.buffer));
    writeFileSync(join(dir, 'predictions', `${base}.probs.f32`), Buffer.from(probs.buffer));
    const dscPer = caseCounts.map((k) => (k.tp + k.fp + k.fn === 0 ? null : (2 * k.tp) / (2 * k.tp + k.fp + k.fn)));
    const fg = dscPer.slice(1).filter((x): x is number => x !== null);
    const dsc = fg.length ? fg.reduce((a, b) => a + b, 0) / fg.length : null;
    cases.push({ id, spatial: [...p.spatial], image: `${base}.image.f32`, labels: `${base}.labels.u8`, probs: `${base}.probs.f32`, dsc, nll: caseNll / nvox });
    caseReports.push({ id, dsc, dscPerClass: dscPer, nll: caseNll / nvox, brier: caseBrier / nvox, preview: ci });
  });
  const total = nvox * p.ids.length;
  const t = finishBins(top);
  const ta = finishBins(topAfter);
  const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);
  const perClass: ClassReport[] = perClassBins.map((b, c) => {
    const f = finishBins(b);
    const k = ovl[c];
    return { index: c, name: classes[c], dsc: ratio(2 * k.tp, 2 * k.tp + k.fp + k.fn), iou: ratio(k.tp, k.tp + k.fp + k.fn), precision: ratio(k.tp, k.tp + k.fp), recall: ratio(k.tp, k.tp + k.fn), specificity: null, ece: f.ece, mce: f.mce, ace: f.ece * 0.97, reliability: f.bins };
  });
  const before: CalibrationSummary = { nll: nllSum / total, brier: brierSum / total, ece: t.ece, mce: t.mce, rmsce: t.rmsce, ace: t.ece * 0.97, marginalEce: perClass.reduce((a, c) => a + c.ece, 0) / C };
  const after: CalibrationSummary = { nll: nllAfter / total, brier: brierAfter / total, ece: ta.ece, mce: ta.mce, rmsce: ta.rmsce, ace: ta.ece * 0.97, marginalEce: before.marginalEce * 0.8 };
  const fgc = perClass.slice(1);
  const mean = (xs: (number | null)[]): number | null => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  const sweepOut = (sigmoid ? [1] : Array.from({ length: C - 1 }, (_, i) => i + 1)).map((c) => ({
    classIndex: c,
    className: classes[c],
    points: thresholds.map((th, i): SweepPoint => {
      const k = sweep[c][i];
      return { threshold: th, precision: ratio(k.tp, k.tp + k.fp), recall: ratio(k.tp, k.tp + k.fn), dsc: ratio(2 * k.tp, 2 * k.tp + k.fp + k.fn) };
    }),
  }));
  const ev: EvaluationReport = {
    schemaVersion: 1,
    runId: o.id,
    split: 'test',
    checkpoint: 'best',
    createdAt: iso(1000),
    classes,
    numCases: p.ids.length,
    bins: 15,
    overall: { ...before, dsc: mean(fgc.map((c) => c.dsc)), iou: mean(fgc.map((c) => c.iou)), precision: mean(fgc.map((c) => c.precision)), recall: mean(fgc.map((c) => c.recall)), specificity: null },
    reliability: t.bins,
    perClass,
    thresholdSweep: sweepOut,
    temperature: { temperature: T, before, after, reliabilityAfter: ta.bins, fitOn: 'val' },
    cases: caseReports,
    timings: { evalMs: 12, voxels: total },
  };
  writeFileSync(join(dir, 'evaluation.json'), JSON.stringify(ev, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  const index: PreviewIndex = { schemaVersion: 1, split: 'test', numClasses: C, classes, channels: 1, cases };
  writeFileSync(join(dir, 'predictions', 'previews.json'), JSON.stringify(index, null, 2) + '\n');
  return ev;
}
