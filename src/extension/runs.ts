// The run manager inside VS Code: one output channel per run ("DSC++: <run>"), a status bar item with
// the active run's epoch, step, loss and ETA (click: loss curves), a cancellable progress notification
// per run, and an error notification with the tail of stderr and "Open Log" when a run fails.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainingEvent } from '../protocol/training';
import { formatMetric, progressFraction, progressText } from './model/format';
import { RunManager, type RunJob, type RunRequest } from './model/run-manager';

const MAX_CHANNELS = 12;

export class RunsController implements vscode.Disposable {
  readonly manager: RunManager;
  private readonly status: vscode.StatusBarItem;
  private readonly channels = new Map<string, vscode.OutputChannel>();
  /** Lines of jobs whose channel does not exist yet (it is named after the run id, known at 'started'). */
  private readonly pendingLines = new Map<string, string[]>();
  private readonly progressDone = new Map<string, () => void>();
  private readonly progressReporters = new Map<string, { report: (p: { message?: string; increment?: number }) => void; shown: number }>();
  private readonly offs: (() => void)[] = [];
  private lastOutcome: { text: string; tooltip: string; runDir: string | null; until: number } | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private readonly bestDsc = new Map<string, number>();

  constructor(
    backendScript: string,
    maxConcurrent: number,
    private readonly onTrainingEvent: (e: TrainingEvent) => void,
  ) {
    this.manager = new RunManager({ backendScript, maxConcurrent, stopTimeoutMs: 30_000, shutdownGraceMs: 3_000 });
    this.status = vscode.window.createStatusBarItem('dscpp.runStatus', vscode.StatusBarAlignment.Left, 40);
    this.status.name = 'DSC++ Run';
    this.offs.push(
      this.manager.onLog.on(({ job, line, stream }) => this.appendLine(job, stream === 'stderr' ? `[stderr] ${line}` : stream === 'host' ? `[host] ${line}` : line)),
      this.manager.onEvent.on(({ job, event }) => {
        if (event.type === 'started') this.flushChannel(job);
        if (event.type === 'finished' && event.summary.best) this.bestDsc.set(job.id, event.summary.best.dsc);
        if (event.type === 'step' || event.type === 'epoch' || event.type === 'started') this.updateProgress(job);
        this.updateStatus();
        this.onTrainingEvent(event);
      }),
      this.manager.onDidChangeJob.on((job) => {
        if (job.state === 'starting' && !this.progressDone.has(job.id)) this.showProgress(job);
        this.updateStatus();
      }),
      this.manager.onDidEndJob.on((job) => this.onEnded(job)),
    );
  }

  /** Queues one run per request. */
  start(requests: RunRequest[]): RunJob[] {
    const jobs = requests.map((r) => this.manager.enqueue(r));
    for (const job of jobs) if (job.state === 'queued') this.showProgress(job);
    this.updateStatus();
    return jobs;
  }

  stop(job: RunJob, reason?: string): boolean {
    return this.manager.stop(job.id, reason);
  }

  /** The channel of a run, by run folder or job (null if this window did not host it). */
  channelFor(job: RunJob): vscode.OutputChannel | null {
    return this.channels.get(job.id) ?? null;
  }

  showLog(job: RunJob): void {
    const log = job.runDir ? join(job.runDir, 'log.txt') : null;
    if (log && existsSync(log)) void vscode.window.showTextDocument(vscode.Uri.file(log), { preview: true });
    else this.ensureChannel(job).show(true);
  }

  private channelName(job: RunJob): string {
    return `DSC++: ${job.runId ?? `${job.request.experiment}-${job.request.lossName}`}`;
  }

  private ensureChannel(job: RunJob): vscode.OutputChannel {
    let ch = this.channels.get(job.id);
    if (!ch) {
      ch = vscode.window.createOutputChannel(this.channelName(job));
      this.channels.set(job.id, ch);
      for (const l of this.pendingLines.get(job.id) ?? []) ch.appendLine(l);
      this.pendingLines.delete(job.id);
      // Keep the newest channels only.
      while (this.channels.size > MAX_CHANNELS) {
        const [oldest, c] = this.channels.entries().next().value as [string, vscode.OutputChannel];
        if (this.manager.job(oldest) && this.manager.activeJobs().some((j) => j.id === oldest)) break;
        c.dispose();
        this.channels.delete(oldest);
      }
    }
    return ch;
  }

  private flushChannel(job: RunJob): void {
    this.ensureChannel(job);
  }

  private appendLine(job: RunJob, line: string): void {
    const stamped = `${new Date().toISOString().slice(11, 19)} ${line}`;
    const ch = this.channels.get(job.id);
    if (ch) ch.appendLine(stamped);
    else {
      const buf = this.pendingLines.get(job.id) ?? [];
      buf.push(stamped);
      if (buf.length > 500) buf.shift();
      this.pendingLines.set(job.id, buf);
    }
  }

  private showProgress(job: RunJob): void {
    if (this.progressDone.has(job.id)) return;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolveDone = r));
    this.progressDone.set(job.id, resolveDone);
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `DSC++ ${job.request.experiment} · ${job.request.lossName}`, cancellable: true },
      (progress, token) => {
        this.progressReporters.set(job.id, { report: (p) => progress.report(p), shown: 0 });
        progress.report({ message: job.state === 'queued' ? 'queued: waiting for a free slot (dscpp.maxConcurrentRuns)' : 'starting…' });
        const sub = token.onCancellationRequested(() => {
          this.manager.stop(job.id, 'cancelled from the progress notification');
        });
        return done.finally(() => {
          sub.dispose();
          this.progressReporters.delete(job.id);
        });
      },
    );
  }

  private updateProgress(job: RunJob): void {
    const r = this.progressReporters.get(job.id);
    if (!r || !job.progress) return;
    const pct = Math.round(progressFraction(job.progress) * 100);
    const increment = Math.max(0, pct - r.shown);
    r.shown += increment;
    r.report({ message: job.state === 'stopping' ? 'stopping…' : progressText(job.progress), increment });
  }

  private onEnded(job: RunJob): void {
    this.progressDone.get(job.id)?.();
    this.progressDone.delete(job.id);
    const name = job.runId ?? `${job.request.experiment} · ${job.request.lossName}`;
    const best = this.bestDsc.get(job.id);
    this.bestDsc.delete(job.id);
    this.lastOutcome = { text: `DSC++ ${job.request.lossName}: ${job.state}${best !== undefined ? ` · best DSC ${formatMetric(best)}` : ''}`, tooltip: `${name}: ${job.state}${job.error ? `: ${job.error.message}` : ''}`, runDir: job.runDir, until: Date.now() + 60_000 };
    if (job.state === 'failed') {
      this.ensureChannel(job);
      const tail = job.stderrTail ? job.stderrTail.split('\n').filter((l) => l.trim()).slice(-3).join(' | ') : '';
      const text = `DSC++: run ${name} failed: ${job.error?.message ?? 'unknown error'}${tail && !job.error?.message.includes(tail) ? ` — stderr: ${tail}` : ''}`;
      void vscode.window.showErrorMessage(text.length > 600 ? `${text.slice(0, 597)}…` : text, 'Open Log').then((choice) => {
        if (choice === 'Open Log') this.showLog(job);
      });
    } else this.ensureChannel(job);
    this.updateStatus();
  }

  private updateStatus(): void {
    const active = this.manager.activeJobs();
    const running = active.filter((j) => j.state !== 'queued');
    const queued = active.length - running.length;
    const job = running.at(-1) ?? active[0];
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = null;
    if (job) {
      const more = [running.length > 1 ? `+${running.length - 1} running` : '', queued ? `${queued} queued` : ''].filter(Boolean).join(', ');
      const what = job.state === 'queued' ? 'queued' : job.state === 'stopping' ? 'stopping…' : job.progress ? progressText(job.progress) : 'starting…';
      this.status.text = `$(sync~spin) DSC++ ${job.request.lossName}: ${what}${more ? ` (${more})` : ''}`;
      this.status.tooltip = `${job.runId ?? job.request.experiment}: ${what}\nClick to show the loss curves.`;
      this.status.command = { command: 'dscpp.showLossCurves', title: 'Show Loss Curves', arguments: job.runDir ? [job.runDir] : [] };
      this.status.show();
      return;
    }
    const last = this.lastOutcome;
    if (last && last.until > Date.now()) {
      const icon = last.text.includes(': completed') ? '$(pass)' : last.text.includes(': failed') ? '$(error)' : '$(debug-stop)';
      this.status.text = `${icon} ${last.text}`;
      this.status.tooltip = `${last.tooltip}\nClick to show the loss curves.`;
      this.status.command = { command: 'dscpp.showLossCurves', title: 'Show Loss Curves', arguments: last.runDir ? [last.runDir] : [] };
      this.status.show();
      this.statusTimer = setTimeout(() => this.updateStatus(), last.until - Date.now() + 10);
      return;
    }
    this.status.hide();
  }

  /** Stops every run and waits (bounded) for the processes to exit. */
  async shutdown(): Promise<void> {
    await this.manager.dispose();
  }

  dispose(): void {
    void this.manager.dispose();
    for (const off of this.offs.splice(0)) off();
    if (this.statusTimer) clearTimeout(this.statusTimer);
    for (const done of this.progressDone.values()) done();
    this.progressDone.clear();
    for (const ch of this.channels.values()) ch.dispose();
    this.channels.clear();
    this.status.dispose();
  }
}
