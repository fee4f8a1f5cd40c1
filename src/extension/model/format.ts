// How runs are shown: status, labels, descriptions, tooltips, durations. Pure functions of the run
// record (no vscode import), shared by the Experiments view, the status bar and the notifications.
import type { RunRecord, RunStatus } from '../../protocol/training';

/** A run's status as shown: `interrupted` is a record that says running but has no live process. */
export type DisplayStatus = RunStatus | 'interrupted';

export interface StatusStyle {
  /** Codicon id. */
  icon: string;
  /** Theme colour id (ThemeColor), when the icon is coloured. */
  color?: string;
  label: string;
}

export const STATUS_STYLES: Record<DisplayStatus, StatusStyle> = {
  queued: { icon: 'clock', label: 'queued' },
  running: { icon: 'sync~spin', color: 'charts.blue', label: 'running' },
  completed: { icon: 'pass', color: 'testing.iconPassed', label: 'completed' },
  failed: { icon: 'error', color: 'testing.iconFailed', label: 'failed' },
  stopped: { icon: 'debug-stop', color: 'charts.yellow', label: 'stopped' },
  cancelled: { icon: 'circle-slash', label: 'cancelled' },
  timeout: { icon: 'watch', color: 'testing.iconFailed', label: 'timed out' },
  interrupted: { icon: 'warning', color: 'list.warningForeground', label: 'interrupted' },
};

export function displayStatus(status: RunStatus, stale: boolean): DisplayStatus {
  return status === 'running' && stale ? 'interrupted' : status;
}

/** "12 s", "3 min 05 s", "1 h 02 min"; "—" when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A metric with `digits` decimals; "—" for null, undefined or NaN (NaN is stored as null in JSON). */
export function formatMetric(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

/** "dscpp γ=2", "tversky δ=0.7", "dice": the loss name and its options as written in the config. */
export function lossLabel(loss: { name: string; options?: Record<string, unknown> }): string {
  const names: Record<string, string> = { gamma: 'γ', delta: 'δ' };
  const opts = Object.entries(loss.options ?? {})
    .filter(([, v]) => v !== undefined && (typeof v !== 'object' || v === null))
    .map(([k, v]) => `${names[k] ?? k}=${String(v)}`);
  return opts.length ? `${loss.name} ${opts.join(' ')}` : loss.name;
}

/** Local "YYYY-MM-DD HH:MM". */
export function formatWhen(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Wall time of a run: the recorded duration, else start → end (or → now while it runs). */
export function runDurationMs(r: RunRecord, now = Date.now()): number | null {
  if (r.summary?.durationMs > 0) return r.summary.durationMs;
  if (!r.startedAt) return null;
  const start = Date.parse(r.startedAt);
  const end = r.endedAt ? Date.parse(r.endedAt) : r.status === 'running' ? now : Date.parse(r.updatedAt);
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : null;
}

/** Live progress of a run hosted by this window (from its step and epoch events). */
export interface LiveProgress {
  epoch: number;
  totalEpochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number | null;
  etaMs: number | null;
}

export function progressText(p: LiveProgress): string {
  const parts = [`epoch ${p.epoch}/${p.totalEpochs}`];
  if (p.stepsPerEpoch > 0) parts.push(`step ${p.step}/${p.stepsPerEpoch}`);
  if (p.loss !== null) parts.push(`loss ${formatMetric(p.loss, 4)}`);
  if (p.etaMs !== null) parts.push(`ETA ${formatDuration(p.etaMs)}`);
  return parts.join(' · ');
}

/** Fraction of the run done (0..1) from live progress. */
export function progressFraction(p: LiveProgress): number {
  if (p.totalEpochs <= 0) return 0;
  const within = p.stepsPerEpoch > 0 ? Math.min(1, p.step / p.stepsPerEpoch) : 0;
  return Math.max(0, Math.min(1, (p.epoch - 1 + within) / p.totalEpochs));
}

/** The description of a run in the Experiments view: live progress, or the best validation DSC and NLL. */
export function runDescription(r: RunRecord, status: DisplayStatus, live?: LiveProgress | null): string {
  const when = formatWhen(r.startedAt ?? r.createdAt);
  const tail = when ? ` · ${when}` : '';
  if (status === 'running' && live) return progressText(live);
  const best = r.summary?.best;
  if (best) return `DSC ${formatMetric(best.dsc)} · NLL ${formatMetric(best.nll)}${status === 'completed' ? '' : ` · ${STATUS_STYLES[status].label}`}${tail}`;
  if (status === 'running') return `starting${tail}`;
  return `${STATUS_STYLES[status].label}${tail}`;
}

/** Tooltip lines: status, id, backend, seed, duration, epochs, best and test metrics, error, folder. */
export function runTooltipLines(r: RunRecord, status: DisplayStatus, dir: string, now = Date.now()): string[] {
  const lines = [`${lossLabel(r.loss)} — ${STATUS_STYLES[status].label}`, `Run: ${r.id}`];
  const b = r.backend;
  if (b) {
    const core = b.versions['@tensorflow/tfjs-core'];
    lines.push(`Backend: ${b.name}${core ? ` (tfjs ${core})` : ''}`);
  } else lines.push('Backend: not chosen yet');
  lines.push(`Seed: ${r.seed}`);
  lines.push(`Duration: ${formatDuration(runDurationMs(r, now))}`);
  const s = r.summary;
  if (s) {
    lines.push(`Epochs: ${s.epochsCompleted}/${r.totalEpochs}${s.bestEpoch !== null && s.bestEpoch !== undefined ? ` (best: epoch ${s.bestEpoch})` : ''}`);
    if (s.best) lines.push(`Best validation: DSC ${formatMetric(s.best.dsc)} · NLL ${formatMetric(s.best.nll)} · Brier ${formatMetric(s.best.brier)}`);
    if (s.test) lines.push(`Test: DSC ${formatMetric(s.test.dsc)} · NLL ${formatMetric(s.test.nll)} · ECE ${formatMetric(s.test.ece)}`);
  }
  if (status === 'interrupted') lines.push('The process that ran it is gone (window closed or machine restarted): resume it from its last checkpoint.');
  if (r.error) lines.push(`Error: ${r.error.message}`);
  lines.push(`Folder: ${dir}`);
  return lines;
}
