// The host side of the backend IPC channel: checks what arrives from the training process, and turns
// training events into log lines and live progress. No vscode import: unit-tested outside VS Code.
import type { BackendToHost } from '../../protocol/backend';
import type { TrainingEvent, TrainingEventType } from '../../protocol/training';
import { formatDuration, formatMetric, type LiveProgress } from './format';

const EVENT_TYPES: readonly TrainingEventType[] = ['started', 'step', 'epoch', 'checkpoint', 'evaluated', 'finished', 'failed', 'log'];

/** Required fields of each event type and their JS types (what the host relies on). */
const EVENT_FIELDS: Record<TrainingEventType, Record<string, 'string' | 'number' | 'object'>> = {
  started: { runId: 'string', runDir: 'string', loss: 'string', backend: 'object', totalEpochs: 'number', stepsPerEpoch: 'number', startEpoch: 'number', seed: 'number' },
  step: { runId: 'string', epoch: 'number', step: 'number', globalStep: 'number', totalSteps: 'number' },
  epoch: { runId: 'string', epoch: 'number', val: 'object' },
  checkpoint: { runId: 'string', kind: 'string', epoch: 'number' },
  evaluated: { runId: 'string', path: 'string', test: 'object' },
  finished: { runId: 'string', status: 'string', summary: 'object' },
  failed: { runId: 'string', error: 'object' },
  log: { runId: 'string', level: 'string', message: 'string' },
};

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Checks an IPC payload from the backend; returns the message or an error text naming the bad field. */
export function parseBackendMessage(raw: unknown): { ok: true; msg: BackendToHost } | { ok: false; error: string } {
  if (typeOf(raw) !== 'object') return { ok: false, error: `backend message must be an object, got ${typeOf(raw)}` };
  const m = raw as Record<string, unknown>;
  const need = (obj: Record<string, unknown>, field: string, t: string, where: string): string | null =>
    typeOf(obj[field]) === t ? null : `backend message '${where}': field '${field}' must be ${t === 'object' ? 'an object' : `a ${t}`}, got ${typeOf(obj[field])}`;
  let err: string | null = null;
  switch (m.type) {
    case 'hello':
      err = need(m, 'protocol', 'number', 'hello') ?? need(m, 'pid', 'number', 'hello');
      break;
    case 'pong':
      err = need(m, 'id', 'number', 'pong');
      break;
    case 'fatal':
      err = need(m, 'message', 'string', 'fatal') ?? need(m, 'exitCode', 'number', 'fatal');
      break;
    case 'done':
      err = need(m, 'exitCode', 'number', 'done');
      break;
    case 'event': {
      err = need(m, 'event', 'object', 'event');
      if (err) break;
      const e = m.event as Record<string, unknown>;
      if (!EVENT_TYPES.includes(e.type as TrainingEventType)) {
        err = `backend event has unknown type ${JSON.stringify(e.type)}; expected one of ${EVENT_TYPES.join(', ')}`;
        break;
      }
      for (const [field, t] of Object.entries(EVENT_FIELDS[e.type as TrainingEventType])) {
        err = need(e, field, t, `event ${String(e.type)}`);
        if (err) break;
      }
      break;
    }
    default:
      err = `backend message has unknown type ${JSON.stringify(m.type)}; expected one of hello, event, pong, fatal, done`;
  }
  return err ? { ok: false, error: err } : { ok: true, msg: raw as BackendToHost };
}

/** Follows one run's events: its identity, live progress, outcome, and a log line per event. */
export class RunTracker {
  runId: string | null = null;
  runDir: string | null = null;
  totalEpochs = 0;
  stepsPerEpoch = 0;
  progress: LiveProgress | null = null;
  /** Set by `finished` or `failed`. */
  outcome: { status: 'completed' | 'stopped' } | { status: 'failed'; error: { message: string; detail?: string } } | null = null;
  bestDsc: number | null = null;

  /** Applies an event; returns the line for the run's log (null for nothing worth a line). */
  apply(e: TrainingEvent): string | null {
    switch (e.type) {
      case 'started':
        this.runId = e.runId;
        this.runDir = e.runDir;
        this.totalEpochs = e.totalEpochs;
        this.stepsPerEpoch = e.stepsPerEpoch;
        this.progress = { epoch: e.startEpoch, totalEpochs: e.totalEpochs, step: 0, stepsPerEpoch: e.stepsPerEpoch, loss: null, etaMs: null };
        return `started run ${e.runId} (${e.experiment}, loss ${e.loss}) on ${e.backend.name}${(e.slices ?? 1) > 1 ? ` (${e.slices} slices per batch)` : ''}: ${e.totalEpochs} epochs × ${e.stepsPerEpoch} steps, seed ${e.seed}${e.startEpoch > 1 ? `, resuming at epoch ${e.startEpoch}` : ''}\n  folder: ${e.runDir}`;
      case 'step': {
        const spe = this.stepsPerEpoch || (e.totalSteps > 0 && this.totalEpochs > 0 ? Math.round(e.totalSteps / this.totalEpochs) : 0);
        this.progress = { epoch: e.epoch, totalEpochs: this.totalEpochs, step: e.step, stepsPerEpoch: spe, loss: e.loss, etaMs: e.etaMs };
        return `epoch ${e.epoch}/${this.totalEpochs} step ${e.step}/${spe}  loss ${formatMetric(e.loss, 4)}  lr ${e.lr}  ETA ${formatDuration(e.etaMs)}`;
      }
      case 'epoch':
        if (this.progress) this.progress = { ...this.progress, epoch: e.epoch, step: this.progress.stepsPerEpoch, etaMs: e.etaMs };
        if (e.best) this.bestDsc = e.val.dsc;
        return `epoch ${e.epoch}/${this.totalEpochs} done in ${formatDuration(e.epochMs)}: train loss ${formatMetric(e.trainLoss, 4)}, val loss ${formatMetric(e.val.loss, 4)}, DSC ${formatMetric(e.val.dsc)}, NLL ${formatMetric(e.val.nll)}, Brier ${formatMetric(e.val.brier)}${e.best ? '  (best so far)' : ''}`;
      case 'checkpoint':
        return `saved checkpoint '${e.kind}' (epoch ${e.epoch})`;
      case 'evaluated':
        return `test evaluation: DSC ${formatMetric(e.test.dsc)}, IoU ${formatMetric(e.test.iou)}, NLL ${formatMetric(e.test.nll)}, Brier ${formatMetric(e.test.brier)}, ECE ${formatMetric(e.test.ece)}  → ${e.path}`;
      case 'finished': {
        this.outcome = { status: e.status };
        const s = e.summary;
        return `${e.status} after ${s.epochsCompleted} epoch${s.epochsCompleted === 1 ? '' : 's'} in ${formatDuration(s.durationMs)}${s.best ? `; best validation DSC ${formatMetric(s.best.dsc)}, NLL ${formatMetric(s.best.nll)} (epoch ${s.bestEpoch})` : ''}`;
      }
      case 'failed':
        this.outcome = { status: 'failed', error: e.error };
        return `failed: ${e.error.message}${e.error.detail ? `\n${e.error.detail}` : ''}`;
      case 'log':
        return `[${e.level}] ${e.message}`;
      default: {
        const never: never = e;
        return `unhandled training event ${JSON.stringify(never)}`;
      }
    }
  }
}

/** Keeps the last `maxLines` lines of a stream (e.g. stderr) for error messages. */
export class TailBuffer {
  private lines: string[] = [];
  private partial = '';

  constructor(private readonly maxLines = 40) {}

  /** Appends a chunk; returns the complete lines it finished. */
  push(chunk: string): string[] {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    for (const l of parts) this.lines.push(l);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
    return parts;
  }

  /** The kept lines (and an unfinished last line), without blank lines at the ends. */
  text(): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.join('\n').trim();
  }

  /** The last `n` non-empty lines. */
  last(n: number): string {
    const all = (this.partial ? [...this.lines, this.partial] : this.lines).filter((l) => l.trim());
    return all.slice(-n).join('\n');
  }
}
