// The run manager: hosts training runs as child Node processes (dist/backend.js, forked with an IPC
// channel), one process per (config, loss entry) so that each run queues and stops on its own.
// - Runs beyond `maxConcurrent` wait in a FIFO queue.
// - Stop is cooperative (a `stop` message: the trainer finishes the step, saves `last`, marks the run
//   stopped) and escalates to SIGKILL after `stopTimeoutMs`.
// - A process that dies without reporting an outcome marks its run failed, with the tail of stderr.
// - dispose() stops everything and waits (bounded) for the processes to exit: no orphans. A child whose
//   host dies anyway sees its IPC channel close and stops itself (src/backend/main.ts).
// No vscode import: the extension wraps it (src/extension/runs.ts) and the unit tests fork real backends.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { BACKEND_PROTOCOL_VERSION, type HostToBackend, type StartRunOptions } from '../../protocol/backend';
import type { TrainingEvent } from '../../protocol/training';
import { appendLog, readRunRecord, writeRunRecord } from '../../core/train/runs';
import { Emitter } from './emitter';
import type { LiveProgress } from './format';
import { parseBackendMessage, RunTracker, TailBuffer } from './messages';

export interface RunRequest {
  configPath: string;
  /** The loss entry to train (one process per entry). */
  lossIndex: number;
  /** Shown while queued, before the run has an id. */
  lossName: string;
  experiment: string;
  /** Resume this run folder instead of starting a new run. */
  resume?: string;
  backend?: string;
  epochs?: number;
  /** Runs root override (the dscpp.runsDirectory setting). */
  out?: string;
  backendsDirectory?: string;
}

export type JobState = 'queued' | 'starting' | 'running' | 'stopping' | 'completed' | 'failed' | 'stopped' | 'cancelled';

export const ACTIVE_STATES: readonly JobState[] = ['queued', 'starting', 'running', 'stopping'];

export interface RunJob {
  readonly id: string;
  readonly request: RunRequest;
  state: JobState;
  runId: string | null;
  runDir: string | null;
  pid: number | null;
  progress: LiveProgress | null;
  error: { message: string; detail?: string } | null;
  exitCode: number | null;
  signal: string | null;
  /** Whether the process had to be killed (stop timeout or shutdown). */
  killed: boolean;
  queuedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** The last lines of the process's stderr. */
  stderrTail: string;
}

export interface RunManagerOptions {
  /** Absolute path of dist/backend.js. */
  backendScript: string;
  maxConcurrent: number;
  /** How long a cooperative stop may take before the process is killed (default 30 s). */
  stopTimeoutMs?: number;
  /** How long dispose() waits for a cooperative stop before killing (default 3 s). */
  shutdownGraceMs?: number;
  /** Extra environment for the backend processes. */
  env?: Record<string, string>;
}

export type LogStream = 'event' | 'stderr' | 'stdout' | 'host';

interface Hosted {
  job: RunJob;
  child: ChildProcess | null;
  tracker: RunTracker;
  stderr: TailBuffer;
  stopRequested: boolean;
  stopReason: string | null;
  fatal: { message: string; detail?: string; exitCode: number } | null;
  killTimer: NodeJS.Timeout | null;
  closed: Promise<void>;
  markClosed: () => void;
}

let jobCounter = 0;

export class RunManager {
  readonly onDidChangeJob = new Emitter<RunJob>();
  readonly onDidEndJob = new Emitter<RunJob>();
  readonly onEvent = new Emitter<{ job: RunJob; event: TrainingEvent }>();
  readonly onLog = new Emitter<{ job: RunJob; line: string; stream: LogStream }>();

  private readonly hosted = new Map<string, Hosted>();
  private readonly queue: string[] = [];
  private maxConcurrent: number;
  private disposed = false;
  /** Finished jobs kept for lookups (newest last), bounded. */
  private readonly finished: RunJob[] = [];

  constructor(private readonly opts: RunManagerOptions) {
    this.maxConcurrent = Math.max(1, Math.floor(opts.maxConcurrent));
  }

  /** Adds a run to the queue (it starts at once when a slot is free). */
  enqueue(request: RunRequest): RunJob {
    if (this.disposed) throw new Error('the run manager is shut down');
    if (!existsSync(this.opts.backendScript)) throw new Error(`the training backend ${this.opts.backendScript} is missing: rebuild the extension (npm run build) or reinstall it`);
    const job: RunJob = {
      id: `job-${++jobCounter}`,
      request,
      state: 'queued',
      runId: request.resume ? basename(request.resume) : null,
      runDir: request.resume ?? null,
      pid: null,
      progress: null,
      error: null,
      exitCode: null,
      signal: null,
      killed: false,
      queuedAt: Date.now(),
      startedAt: null,
      endedAt: null,
      stderrTail: '',
    };
    let markClosed = () => undefined as void;
    const closed = new Promise<void>((r) => (markClosed = r));
    this.hosted.set(job.id, { job, child: null, tracker: new RunTracker(), stderr: new TailBuffer(60), stopRequested: false, stopReason: null, fatal: null, killTimer: null, closed, markClosed });
    this.queue.push(job.id);
    this.onDidChangeJob.fire(job);
    this.pump();
    return job;
  }

  /** Every job that is queued, starting, running or stopping, in queue order. */
  activeJobs(): RunJob[] {
    return [...this.hosted.values()].map((h) => h.job).filter((j) => ACTIVE_STATES.includes(j.state));
  }

  /** Active jobs, then finished ones (newest first). */
  allJobs(): RunJob[] {
    return [...this.activeJobs(), ...[...this.finished].reverse()];
  }

  job(id: string): RunJob | undefined {
    return this.hosted.get(id)?.job ?? this.finished.find((j) => j.id === id);
  }

  /** The active job that writes (or will resume) this run folder. */
  jobForRunDir(dir: string): RunJob | undefined {
    return this.activeJobs().find((j) => j.runDir === dir);
  }

  setMaxConcurrent(n: number): void {
    this.maxConcurrent = Math.max(1, Math.floor(n));
    this.pump();
  }

  /**
   * Stops a job: a queued one is cancelled; a running one gets a cooperative stop and is killed if it
   * has not exited after the stop timeout. Returns false when the job is not active.
   */
  stop(jobId: string, reason = 'stopped by the user'): boolean {
    const h = this.hosted.get(jobId);
    if (!h || !ACTIVE_STATES.includes(h.job.state)) return false;
    if (h.job.state === 'queued') {
      this.queue.splice(this.queue.indexOf(jobId), 1);
      h.job.state = 'cancelled';
      h.job.endedAt = Date.now();
      this.log(h, 'host', `cancelled before it started (${reason})`);
      h.markClosed();
      this.retire(h);
      return true;
    }
    if (h.stopRequested) return true;
    h.stopRequested = true;
    h.stopReason = reason;
    h.job.state = 'stopping';
    this.onDidChangeJob.fire(h.job);
    const timeout = this.opts.stopTimeoutMs ?? 30_000;
    if (h.child && h.child.connected) {
      this.log(h, 'host', `stop requested (${reason}): finishing the current step and saving the 'last' checkpoint; killing the process if it has not exited in ${Math.round(timeout / 1000)} s`);
      this.send(h, { type: 'stop', reason });
      h.killTimer = setTimeout(() => this.kill(h, `it did not stop within ${Math.round(timeout / 1000)} s`), timeout);
    } else this.kill(h, 'its IPC channel is closed');
    return true;
  }

  /** Stops everything: cancels the queue, asks running processes to stop, kills what is left after the grace time. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const id of [...this.queue]) this.stop(id, 'the window is closing');
    const running = [...this.hosted.values()].filter((h) => h.child);
    for (const h of running) this.stop(h.job.id, 'the window is closing');
    const grace = this.opts.shutdownGraceMs ?? 3_000;
    await Promise.race([Promise.all(running.map((h) => h.closed)), delay(grace)]);
    for (const h of running) if (this.hosted.has(h.job.id)) this.kill(h, 'the window is closing');
    await Promise.race([Promise.all(running.map((h) => h.closed)), delay(2_000)]);
    this.onDidChangeJob.clear();
    this.onDidEndJob.clear();
    this.onEvent.clear();
    this.onLog.clear();
  }

  private pump(): void {
    if (this.disposed) return;
    while (this.queue.length) {
      const running = [...this.hosted.values()].filter((h) => h.job.state !== 'queued' && ACTIVE_STATES.includes(h.job.state)).length;
      if (running >= this.maxConcurrent) return;
      const id = this.queue.shift();
      const h = id ? this.hosted.get(id) : undefined;
      if (h) this.launch(h);
    }
  }

  private launch(h: Hosted): void {
    const { job } = h;
    job.state = 'starting';
    job.startedAt = Date.now();
    let child: ChildProcess;
    try {
      child = fork(this.opts.backendScript, [], {
        execArgv: [],
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        cwd: dirname(job.request.configPath),
        env: { ...process.env, ...(this.opts.env ?? {}) },
      });
    } catch (e) {
      this.finish(h, 'failed', { message: `could not start the training process: ${(e as Error).message}` });
      return;
    }
    h.child = child;
    job.pid = child.pid ?? null;
    this.onDidChangeJob.fire(job);
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      for (const l of d.split(/\r?\n/)) if (l.trim()) this.log(h, 'stdout', l);
    });
    child.stderr?.on('data', (d: string) => {
      for (const l of h.stderr.push(d)) if (l.trim()) this.log(h, 'stderr', l);
    });
    child.on('message', (raw: unknown) => this.onMessage(h, raw));
    child.on('error', (e) => {
      // Spawn failures and IPC send failures; 'close' follows a spawn failure.
      this.log(h, 'host', `process error: ${e.message}`);
      if (!h.fatal && !h.tracker.outcome) h.fatal = { message: `the training process could not run: ${e.message}`, exitCode: 1 };
    });
    child.on('close', (code, signal) => this.onClose(h, code, signal));
  }

  private onMessage(h: Hosted, raw: unknown): void {
    const parsed = parseBackendMessage(raw);
    if (!parsed.ok) {
      this.log(h, 'host', `ignored a malformed message from the training process: ${parsed.error}`);
      return;
    }
    const msg = parsed.msg;
    const { job } = h;
    switch (msg.type) {
      case 'hello': {
        if (msg.protocol !== BACKEND_PROTOCOL_VERSION) {
          h.fatal = { message: `the training process speaks protocol ${msg.protocol}, this extension ${BACKEND_PROTOCOL_VERSION}: reinstall the extension`, exitCode: 2 };
          this.kill(h, 'protocol mismatch');
          return;
        }
        if (h.stopRequested) {
          this.kill(h, 'stopped before it started');
          return;
        }
        const r = job.request;
        const options: StartRunOptions = { configPath: r.configPath, lossIndex: r.lossIndex };
        if (r.resume) options.resume = r.resume;
        if (r.backend) options.backend = r.backend;
        if (r.epochs !== undefined) options.epochs = r.epochs;
        if (r.out) options.out = r.out;
        if (r.backendsDirectory) options.backendsDirectory = r.backendsDirectory;
        this.send(h, { type: 'start', protocol: BACKEND_PROTOCOL_VERSION, options });
        return;
      }
      case 'event': {
        const e = msg.event;
        const line = h.tracker.apply(e);
        if (e.type === 'started') {
          job.runId = e.runId;
          job.runDir = e.runDir;
          if (job.state === 'starting') job.state = 'running';
        }
        job.progress = h.tracker.progress;
        if (line !== null) this.log(h, 'event', line);
        this.onEvent.fire({ job, event: e });
        if (e.type === 'started' || e.type === 'finished' || e.type === 'failed' || e.type === 'epoch') this.onDidChangeJob.fire(job);
        return;
      }
      case 'fatal':
        h.fatal = { message: msg.message, detail: msg.detail, exitCode: msg.exitCode };
        this.log(h, 'host', `error: ${msg.message}`);
        return;
      case 'done':
        job.exitCode = msg.exitCode;
        return;
      case 'pong':
        return;
      default: {
        const never: never = msg;
        this.log(h, 'host', `unhandled message from the training process: ${JSON.stringify(never)}`);
      }
    }
  }

  private onClose(h: Hosted, code: number | null, signal: NodeJS.Signals | null): void {
    const { job } = h;
    if (h.killTimer) clearTimeout(h.killTimer);
    h.killTimer = null;
    job.exitCode = code;
    job.signal = signal;
    job.stderrTail = h.stderr.text();
    const outcome = h.tracker.outcome;
    if (outcome && outcome.status === 'failed') this.finish(h, 'failed', outcome.error);
    else if (outcome) this.finish(h, outcome.status, null);
    else if (h.fatal) this.finish(h, 'failed', { message: h.fatal.message, detail: h.fatal.detail });
    else if (h.stopRequested) {
      this.markRunFolder(h, 'stopped', null, job.killed ? `killed by DSC++ Lab: ${h.stopReason ?? 'stop requested'} and the process did not stop in time` : null);
      this.finish(h, job.runId ? 'stopped' : 'cancelled', null);
    } else if (code === 0 && !job.runId) this.finish(h, 'completed', null);
    else {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const error = { message: `the training process ${how} without reporting an outcome`, detail: h.stderr.last(20) || undefined };
      this.markRunFolder(h, 'failed', error, `${error.message}${error.detail ? `\n${error.detail}` : ''}`);
      this.finish(h, 'failed', error);
    }
  }

  /** Writes the outcome into run.json when the process could not (killed or crashed). */
  private markRunFolder(h: Hosted, status: 'failed' | 'stopped', error: { message: string; detail?: string } | null, logLine: string | null): void {
    const dir = h.job.runDir;
    if (!dir || !existsSync(dir)) return;
    try {
      const rec = readRunRecord(dir);
      if (rec.status !== 'running') return;
      const now = new Date().toISOString();
      writeRunRecord(dir, { ...rec, status, endedAt: now, updatedAt: now, error: error ?? rec.error });
      if (logLine) appendLog(dir, `${now} HOST  ${logLine}`);
    } catch (e) {
      this.log(h, 'host', `could not update ${dir}/run.json: ${(e as Error).message}`);
    }
  }

  private finish(h: Hosted, state: 'completed' | 'failed' | 'stopped' | 'cancelled', error: { message: string; detail?: string } | null): void {
    const { job } = h;
    job.state = state;
    job.error = error;
    job.endedAt = Date.now();
    h.child = null;
    this.log(h, 'host', `process ${job.pid ?? '?'} exited (${job.signal ? `signal ${job.signal}` : `code ${job.exitCode}`}); run ${state}${error ? `: ${error.message}` : ''}`);
    h.markClosed();
    this.retire(h);
    this.pump();
  }

  private retire(h: Hosted): void {
    this.hosted.delete(h.job.id);
    this.finished.push(h.job);
    if (this.finished.length > 100) this.finished.shift();
    this.onDidChangeJob.fire(h.job);
    this.onDidEndJob.fire(h.job);
  }

  private kill(h: Hosted, why: string): void {
    const child = h.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    h.job.killed = true;
    this.log(h, 'host', `killing process ${child.pid}: ${why}`);
    child.kill('SIGKILL');
  }

  private send(h: Hosted, msg: HostToBackend): void {
    const child = h.child;
    if (!child || !child.connected) return;
    child.send(msg, (e) => {
      if (e) this.log(h, 'host', `could not send '${msg.type}' to the training process: ${e.message}`);
    });
  }

  private log(h: Hosted, stream: LogStream, line: string): void {
    this.onLog.fire({ job: h.job, line, stream });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
