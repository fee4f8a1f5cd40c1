#!/usr/bin/env node
// The benchmark (`npm run bench`, which first bundles bench/*.bench.ts to dist/bench/). It runs the reference
// workloads of compute-notes (bench/reference.ts) on our selected backend (dist/bench/ours.cjs) and on
// PyTorch (bench/torch_ref.py, Debian's python3-torch run by /usr/bin/python3), alternating chunks of steps
// between the two in the same run, then times the evaluation path. It prints a table, and one JSON line per
// measurement prefixed `BENCH `. It is not a test: CI runs only `npm run bench -- --smoke` (1 step of each).
//
// Options:
//   --smoke                 1 step of each workload and side, one metrics pass, a 1-step epoch
//   --backend NAME          our backend (default wasm; auto, wasm, cpu, webgpu, tensorflow, tensorflow-gpu)
//   --steps N               timed steps per workload and side (default 200; the tensor count is read
//                           before and after them)
//   --chunk N               steps per turn when alternating (default 20)
//   --warmup N              untimed steps first (default 3)
//   --only LIST             comma-separated sections: 2d,3d,eval,epoch,memory,stream
//                           (default 2d,3d,eval,epoch; memory and stream are long, ask for them)
//   --memory-steps N        steps of the memory section (default 1000)
//   --stream-images N       images of the stream section (default 5000)
//   --no-torch              our half only
//   --python PATH           the Python with torch (default /usr/bin/python3)
//   --torch-device D        cpu (default) or cuda
//   --torch-threads N       PyTorch intra-op threads (default 2)
//   --deadline SECONDS      stop taking timed steps after this many seconds from the start (the steps
//                           taken so far are reported; for bench/gpu-check.sh's 5-minute budget)
//   --workers LIST          our data-parallel slices per batch (train.workers), comma-separated, each
//                           run as its own side of the alternation (default auto; e.g. 1,auto shows
//                           what the worker threads gain)
//   --verbose               forward the workers' logs
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OURS = join(ROOT, 'dist', 'bench', 'ours.cjs');
const TORCH = join(ROOT, 'bench', 'torch_ref.py');
const TARGETS = { '2d': 0.5, '3d': 0.3 };

function parseArgs(argv) {
  const o = { smoke: false, backend: 'wasm', steps: 200, chunk: 20, warmup: 3, only: null, memorySteps: 1000, streamImages: 5000, torch: true, python: '/usr/bin/python3', torchDevice: 'cpu', torchThreads: 2, verbose: false, deadline: null, workers: ['auto'] };
  const num = (v, name) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`bench: ${name} needs a non-negative integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (argv[i + 1] === undefined) throw new Error(`bench: ${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--smoke': o.smoke = true; break;
      case '--backend': o.backend = next(); break;
      case '--steps': o.steps = num(next(), a); break;
      case '--chunk': o.chunk = Math.max(1, num(next(), a)); break;
      case '--warmup': o.warmup = num(next(), a); break;
      case '--only': o.only = next().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--memory-steps': o.memorySteps = num(next(), a); break;
      case '--stream-images': o.streamImages = num(next(), a); break;
      case '--no-torch': o.torch = false; break;
      case '--python': o.python = next(); break;
      case '--torch-device': o.torchDevice = next(); break;
      case '--torch-threads': o.torchThreads = num(next(), a); break;
      case '--verbose': o.verbose = true; break;
      case '--workers': o.workers = next().split(',').map((w) => {
        const t = w.trim();
        if (t !== 'auto' && !(Number.isInteger(Number(t)) && Number(t) >= 1)) throw new Error(`bench: --workers takes auto or positive integers, got '${t}'`);
        return t;
      }); break;
      case '--deadline': o.deadline = Date.now() + 1000 * num(next(), a); break;
      default: throw new Error(`bench: unknown option ${a} (see the header of bench/run.mjs)`);
    }
  }
  const sections = ['2d', '3d', 'eval', 'epoch', 'memory', 'stream'];
  for (const s of o.only ?? []) if (!sections.includes(s)) throw new Error(`bench: --only: unknown section '${s}'; use ${sections.join(', ')}`);
  if (o.smoke) Object.assign(o, { steps: 1, chunk: 1, warmup: 0, memorySteps: 20, streamImages: 40 });
  o.sections = o.only ?? ['2d', '3d', 'eval', 'epoch'];
  return o;
}

const results = [];
function bench(obj) {
  results.push(obj);
  console.log(`BENCH ${JSON.stringify(obj)}`);
}

function median(xs) {
  const a = [...xs].sort((p, q) => p - q);
  const m = Math.floor(a.length / 2);
  return a.length === 0 ? NaN : a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

/** The q-quantile (nearest rank). The 10th percentile shows what a step costs when the shared CPU is free. */
function quantile(xs, q) {
  const a = [...xs].sort((p, r) => p - r);
  return a.length === 0 ? NaN : a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))];
}

/** A JSON-lines worker: one request at a time; replies are the stdout lines that start with "@@ ". */
class Worker {
  constructor(label, cmd, args, verbose, env = process.env) {
    this.label = label;
    this.pending = [];
    this.stderr = '';
    this.exited = null;
    this.proc = spawn(cmd, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env });
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (line.startsWith('@@ ')) {
        const p = this.pending.shift();
        if (p) p.resolve(JSON.parse(line.slice(3)));
      } else if (verbose) process.stderr.write(`[${label}] ${line}\n`);
    });
    this.proc.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
      if (verbose) process.stderr.write(`[${label}] ${d}`);
    });
    this.proc.on('error', (e) => this.fail(e));
    this.proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
      this.fail(new Error(`${label} exited (${signal ?? `code ${code}`}) before replying${this.stderr ? `; its last output:\n${this.stderr.trim()}` : ''}`));
    });
  }
  fail(e) {
    for (const p of this.pending.splice(0)) p.reject(e);
  }
  async request(msg) {
    if (this.exited) throw new Error(`${this.label} has exited`);
    const reply = await new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.proc.stdin.write(`${JSON.stringify(msg)}\n`);
    });
    if (reply.ok === false) throw new Error(`${this.label}: ${reply.error}`);
    return reply;
  }
  async close() {
    const r = await this.request({ cmd: 'quit' });
    this.proc.stdin.end();
    await new Promise((resolve) => (this.exited ? resolve() : this.proc.on('exit', resolve)));
    return r;
  }
}

/**
 * The PyTorch worker's environment. OpenMP threads spin at barriers by default; on this shared 2-vCPU
 * machine, with other sessions' processes runnable, a 2-thread step then takes 5–15× its idle time
 * (measured: median 1,197 ms against 90 ms at best), which would flatter our ratio. OMP_WAIT_POLICY=PASSIVE
 * makes waiting threads sleep; it is the default here unless the caller sets OMP_WAIT_POLICY.
 */
function torchEnv() {
  return { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
}

/** Runs a one-shot subcommand of ours.cjs and returns its "@@ " lines. */
function runOnce(args, verbose) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [OURS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (line.startsWith('@@ ')) out.push(JSON.parse(line.slice(3)));
      else if (verbose) process.stderr.write(`[ours] ${line}\n`);
    });
    proc.stderr.on('data', (d) => {
      err = (err + d.toString()).slice(-4000);
      if (verbose) process.stderr.write(`[ours] ${d}`);
    });
    proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`ours.cjs ${args[0]} exited with code ${code}:\n${err.trim()}`))));
  });
}

/** Is PyTorch usable? null when yes, else the reason the PyTorch half is skipped. */
function torchUnavailable(o) {
  if (!o.torch) return 'PyTorch half skipped: --no-torch';
  if (!existsSync(o.python)) return `PyTorch half skipped: ${o.python} does not exist (install Debian's python3-torch: apt-get install --no-install-recommends python3-torch, about 620 MB installed, or pass --python)`;
  const r = spawnSync(o.python, [TORCH, 'probe'], { encoding: 'utf8', timeout: 120_000 });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('@@ '));
  const probe = line ? JSON.parse(line.slice(3)) : null;
  if (!probe || probe.ok !== true) {
    return `PyTorch half skipped: ${probe?.error ?? (r.stderr || r.error?.message || 'the probe failed').trim()} (install Debian's python3-torch: apt-get install --no-install-recommends python3-torch, about 620 MB installed, 174 packages; CI does not install it)`;
  }
  if (o.torchDevice === 'cuda' && !probe.cuda) return `PyTorch half skipped: torch ${probe.version} at ${o.python} has no usable CUDA device`;
  return null;
}

async function trainSection(name, o, torchOk) {
  const ours = o.workers.map((w) => ({ key: 'ours', workers: w, w: new Worker(`ours (workers ${w})`, process.execPath, [OURS, 'serve', '--backend', o.backend, '--workers', w], o.verbose), ms: [], cpuMs: [] }));
  const torch = torchOk ? new Worker('pytorch', o.python, [TORCH, 'serve', '--threads', String(o.torchThreads), '--device', o.torchDevice], o.verbose, torchEnv()) : null;
  const sides = [...ours, ...(torch ? [{ key: 'pytorch', w: torch, ms: [], cpuMs: [] }] : [])];
  try {
    for (const s of sides) s.setup = await s.w.request({ cmd: 'setup', workload: name });
    for (const s of sides) if (o.warmup > 0) s.before = await s.w.request({ cmd: 'steps', n: o.warmup });
    for (let done = 0; done < o.steps; ) {
      if (o.deadline !== null && Date.now() > o.deadline && done > 0) {
        console.log(`${name}: --deadline reached after ${done} of ${o.steps} timed steps per side`);
        break;
      }
      const n = Math.min(o.chunk, o.steps - done);
      for (const s of sides) {
        const r = await s.w.request({ cmd: 'steps', n });
        s.ms.push(...r.ms);
        s.cpuMs.push(...(r.cpuMs ?? []));
        s.last = r;
      }
      done += n;
    }
    for (const s of sides) s.quit = await s.w.close();
  } catch (e) {
    for (const s of sides) s.w.proc.kill();
    throw e;
  }
  const flops = sides[0].setup.flopsPerStep;
  const rows = [];
  for (const s of sides) {
    const med = median(s.ms);
    const row = {
      name: `train-${name}`,
      impl: s.key,
      backend: s.setup.backend,
      workers: s.key === 'ours' ? s.setup.workers : null,
      steps: s.ms.length,
      warmup: o.warmup,
      medianMs: med,
      p10Ms: quantile(s.ms, 0.1),
      // CPU time of the process per step (all its threads): what a step costs in core-ms, whatever the load.
      medianCpuMs: median(s.cpuMs),
      minMs: Math.min(...s.ms),
      maxMs: Math.max(...s.ms),
      gflops: flops / (med / 1000) / 1e9,
      gflopPerStep: flops / 1e9,
      params: s.setup.params,
      peakRssMB: s.quit.peakRssMB,
      loss: s.last?.loss,
    };
    if (s.key === 'ours') {
      row.numTensorsBefore = o.warmup > 0 ? s.before.numTensors : s.setup.numTensors;
      row.numTensorsAfter = s.last?.numTensors;
    }
    bench(row);
    rows.push(row);
  }
  const torchRow = rows.find((r) => r.impl === 'pytorch');
  if (torchRow) {
    for (const ourRow of rows.filter((r) => r.impl === 'ours')) {
      const ratio = torchRow.medianMs / ourRow.medianMs;
      // The target is on the ratio of medians. The ratio of 10th percentiles is printed beside it: under
      // load from other processes PyTorch's 2-thread steps slow down far more than our 1-thread ones.
      const ratioP10 = torchRow.p10Ms / ourRow.p10Ms;
      const cpuRatio = torchRow.medianCpuMs / ourRow.medianCpuMs;
      bench({ name: `ratio-${name}`, workers: ourRow.workers, ratio, ratioP10, cpuRatio, target: TARGETS[name], met: ratio >= TARGETS[name], oursMs: ourRow.medianMs, pytorchMs: torchRow.medianMs, oursP10Ms: ourRow.p10Ms, pytorchP10Ms: torchRow.p10Ms, backend: ourRow.backend });
    }
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(OURS)) throw new Error(`bench: ${OURS} is missing; run \`npm run bench\` (it bundles bench/*.bench.ts first)`);
  const t0 = Date.now();
  const env = { name: 'environment', cpu: cpus()[0]?.model, cores: cpus().length, memGB: Math.round(totalmem() / 2 ** 30), node: process.version, loadavgStart: loadavg().map((x) => +x.toFixed(2)), date: new Date().toISOString(), smoke: o.smoke, backend: o.backend, sections: o.sections };
  const needsTorch = o.sections.some((s) => s === '2d' || s === '3d');
  const torchWhy = needsTorch ? torchUnavailable(o) : 'not needed';
  if (needsTorch && torchWhy) console.log(torchWhy);
  bench({ ...env, pytorch: needsTorch ? (torchWhy ?? `${o.python} (${o.torchDevice}, ${o.torchThreads} threads, OMP_WAIT_POLICY=${torchEnv().OMP_WAIT_POLICY})`) : null });

  for (const section of o.sections) {
    const ts = Date.now();
    if (section === '2d' || section === '3d') {
      // With --deadline, each remaining training section gets an equal share of the time left.
      const left = o.sections.slice(o.sections.indexOf(section)).filter((x) => x === '2d' || x === '3d').length;
      const until = o.deadline === null ? null : Date.now() + (o.deadline - Date.now()) / left;
      await trainSection(section, { ...o, deadline: until }, !torchWhy);
    }
    else if (section === 'eval') for (const r of await runOnce(['eval-metrics', ...(o.smoke ? ['--repeat', '1'] : [])], o.verbose)) bench(r);
    else if (section === 'epoch') for (const r of await runOnce(['epoch', '--backend', o.backend, ...(o.smoke ? ['--smoke'] : [])], o.verbose)) bench(r);
    else if (section === 'memory') {
      for (const r of await runOnce(['memory', '--backend', o.backend, '--steps', String(o.memorySteps), '--workers', o.workers.at(-1)], o.verbose)) {
        const { samples, ...rest } = r;
        bench({ ...rest, target: 'rss growth < 5%, constant tensor count', met: rest.rssGrowthPct < 5 && rest.tensorCounts.length === 1, samples });
      }
    } else if (section === 'stream') {
      for (const r of await runOnce(['stream', '--backend', o.backend, '--images', String(o.streamImages)], o.verbose)) bench({ ...r, target: 'peak RSS < 2048 MB', met: r.peakRssMB < 2048 });
    }
    if (o.verbose) process.stderr.write(`section ${section}: ${((Date.now() - ts) / 1000).toFixed(1)} s\n`);
  }
  bench({ name: 'done', seconds: (Date.now() - t0) / 1000, loadavgEnd: loadavg().map((x) => +x.toFixed(2)) });
  printTable();
}

function fmt(v, d = 1) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : v === undefined || v === null ? '' : String(v);
}

function printTable() {
  const lines = [];
  const env = results.find((r) => r.name === 'environment');
  lines.push('', `DSC++ Lab benchmark — ${env.cpu}, ${env.cores} cores, node ${env.node}, load ${env.loadavgStart.join(' ')}${env.smoke ? ' (smoke: 1 step, not a measurement)' : ''}`);
  const train = results.filter((r) => r.name.startsWith('train-'));
  if (train.length) {
    lines.push('', '| workload | impl | backend | median ms/step | p10 ms/step | CPU ms/step | GFLOP/s (median) | GFLOP/step | peak RSS MB | tensors before → after | steps |', '|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|');
    for (const r of train) lines.push(`| ${r.name.slice(6)} | ${r.impl === 'ours' ? `ours, ${r.workers} slice${r.workers === 1 ? '' : 's'}` : r.impl} | ${r.backend} | ${fmt(r.medianMs)} | ${fmt(r.p10Ms)} | ${fmt(r.medianCpuMs)} | ${fmt(r.gflops, 2)} | ${fmt(r.gflopPerStep, 2)} | ${fmt(r.peakRssMB, 0)} | ${r.impl === 'ours' ? `${r.numTensorsBefore} → ${r.numTensorsAfter}` : ''} | ${r.steps} |`);
  }
  const ratios = results.filter((r) => r.name.startsWith('ratio-'));
  if (ratios.length) {
    lines.push('', '| workload | PyTorch ms ÷ our ms (medians) | target | met | same ratio of p10s | PyTorch CPU ms ÷ our CPU ms |', '|---|---:|---:|---|---:|---:|');
    for (const r of ratios) lines.push(`| ${r.name.slice(6)}, ${r.workers} slice${r.workers === 1 ? '' : 's'} | ${fmt(r.ratio, 3)} | ≥ ${r.target} | ${r.met ? 'yes' : 'no'} | ${fmt(r.ratioP10, 3)} | ${fmt(r.cpuRatio, 3)} |`);
  }
  const evals = results.filter((r) => r.name === 'calibrationMetrics' || r.name === 'segmentationMetrics');
  if (evals.length) {
    lines.push('', '| evaluation | volume | median ms | voxels/s |', '|---|---|---:|---:|');
    for (const r of evals) lines.push(`| ${r.name} | ${Math.round(Math.cbrt(r.voxels))}³ × ${r.classes} classes | ${fmt(r.medianMs)} | ${(r.voxelsPerSecond / 1e6).toFixed(2)} M |`);
  }
  for (const r of results.filter((x) => x.name === 'bbbc039-epoch')) {
    lines.push('', `bbbc039 example, one epoch (${r.loss}, ${r.size.join('×')}, ${r.steps} steps, ${r.backend}): epoch ${fmt(r.epochMs / 1000, 1)} s (train + validation + previews), whole run ${fmt(r.totalMs / 1000, 1)} s (+ checkpoints and test evaluation), peak RSS ${fmt(r.peakRssMB, 0)} MB`);
  }
  for (const r of results.filter((x) => x.name === 'memory-2d')) {
    lines.push('', `memory, 2D workload on ${r.backend}, ${r.workers} slice(s): RSS ${fmt(r.rssFromMB)} MB at step ${r.fromStep} → ${fmt(r.rssToMB)} MB at step ${r.toStep} (${fmt(r.rssGrowthPct, 2)}%), tensor counts seen ${r.tensorCounts.join(', ')}, peak RSS ${fmt(r.peakRssMB, 0)} MB — ${r.met ? 'target met' : 'TARGET NOT MET'}`);
  }
  for (const r of results.filter((x) => x.name === 'stream-2d')) {
    lines.push('', `streaming ${r.images} synthetic ${r.size}×${r.size} images (${fmt(r.datasetMB, 0)} MB as float32, cache ${r.cacheMB} MB) in ${r.batches} batches: ${fmt(r.imagesPerSecond, 0)} images/s, peak RSS ${fmt(r.peakRssMB, 0)} MB — ${r.met ? 'target met' : 'TARGET NOT MET'}`);
  }
  const done = results.find((r) => r.name === 'done');
  lines.push('', `total ${fmt(done.seconds, 1)} s; load average at the end ${done.loadavgEnd.join(' ')}`);
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
