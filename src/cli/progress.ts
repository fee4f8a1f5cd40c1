// Console rendering of training events: a single updating progress line on a TTY, plain lines otherwise.
import type { TrainingEvent } from '../protocol/training';

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function num(v: number | null | undefined, d = 4): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d);
}

export class ConsoleProgress {
  private lineOpen = false;
  private totalEpochs = 0;
  private stepsPerEpoch = 0;
  private loss = '';

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly tty = Boolean(process.stdout.isTTY) && !process.env.CI,
  ) {}

  private print(line: string): void {
    if (this.lineOpen) {
      this.out.write('\r\x1b[2K');
      this.lineOpen = false;
    }
    this.out.write(line + '\n');
  }

  private bar(frac: number, width = 20): string {
    const n = Math.max(0, Math.min(width, Math.round(frac * width)));
    return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
  }

  handle(e: TrainingEvent): void {
    switch (e.type) {
      case 'started':
        this.totalEpochs = e.totalEpochs;
        this.stepsPerEpoch = e.stepsPerEpoch;
        this.print(`▶ ${e.runId}: loss ${e.loss}, backend ${e.backend.name}${(e.slices ?? 1) > 1 ? ` (${e.slices} slices per batch)` : ''}, seed ${e.seed}, ${e.totalEpochs} epochs × ${e.stepsPerEpoch} steps → ${e.runDir}`);
        break;
      case 'step':
        this.loss = num(e.loss);
        if (this.tty) {
          const frac = e.globalStep / Math.max(1, e.totalSteps);
          this.out.write(`\r\x1b[2Kepoch ${e.epoch}/${this.totalEpochs} ${this.bar(frac)} step ${e.step}/${this.stepsPerEpoch} loss ${this.loss} ETA ${formatDuration(e.etaMs)}`);
          this.lineOpen = true;
        } else if (e.step === this.stepsPerEpoch || e.step % Math.max(1, Math.ceil(this.stepsPerEpoch / 4)) === 0) {
          this.print(`  epoch ${e.epoch}/${this.totalEpochs} step ${e.step}/${this.stepsPerEpoch} loss ${this.loss} ETA ${formatDuration(e.etaMs)}`);
        }
        break;
      case 'epoch':
        this.print(`  epoch ${e.epoch}/${this.totalEpochs}: train ${num(e.trainLoss)} | val loss ${num(e.val.loss)} DSC ${num(e.val.dsc)} NLL ${num(e.val.nll)} Brier ${num(e.val.brier)} ECE ${num(e.val.ece)}${e.best ? ' *' : ''} (${formatDuration(e.epochMs)}, ETA ${formatDuration(e.etaMs)})`);
        break;
      case 'checkpoint':
        break;
      case 'evaluated':
        this.print(`  test: DSC ${num(e.test.dsc)} IoU ${num(e.test.iou)} NLL ${num(e.test.nll)} Brier ${num(e.test.brier)} ECE ${num(e.test.ece)} → ${e.path}`);
        break;
      case 'finished':
        this.print(`■ ${e.runId}: ${e.status} in ${formatDuration(e.summary.durationMs)}`);
        break;
      case 'failed':
        this.print(`✖ ${e.runId}: failed: ${e.error.message}`);
        break;
      case 'log':
        if (e.level === 'warn' || e.level === 'error') this.print(`  ${e.level}: ${e.message}`);
        break;
      default: {
        const never: never = e;
        this.print(`unknown event ${JSON.stringify(never)}`);
      }
    }
  }

  close(): void {
    if (this.lineOpen) this.out.write('\n');
    this.lineOpen = false;
  }
}

export interface SummaryRow {
  run: string;
  loss: string;
  status: string;
  metrics: Record<string, number | null | undefined>;
}

/** A plain-text table: numbers (4 decimals) right-aligned, text left-aligned. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined));
  const cells = rows.map((r) => r.map((v) => (typeof v === 'number' ? num(v) : v === null || v === undefined ? '—' : v)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
