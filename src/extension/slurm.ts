// Slurm runs inside VS Code: a SlurmTracker over the runs folders the Experiments view shows (squeue
// polled with a bounded, backing-off interval), the Slurm state of each run for the tree, and a status
// bar item with "n queued / m running on <cluster>" while any Slurm run is queued or running.
import * as vscode from 'vscode';
import { SlurmTracker, type TrackerSnapshot } from '../core/executors';
import { slurmRunsOf, slurmStatusBar, type SlurmRunInfo } from './model/slurm';

export class SlurmMonitor implements vscode.Disposable {
  private readonly status: vscode.StatusBarItem;
  private watcher: { dispose(): void; pollNow(): void } | null = null;
  private roots: string[] = [];
  private current = new Map<string, SlurmRunInfo>();
  private lastError: string | null = null;
  private disposed = false;

  /** `onChange` runs when a poll changed some run's state (the view refreshes). */
  constructor(private readonly onChange: () => void) {
    this.status = vscode.window.createStatusBarItem('dscpp.slurmStatus', vscode.StatusBarAlignment.Left, 39);
    this.status.name = 'DSC++ Slurm';
    this.status.command = { command: 'dscpp.experiments.focus', title: 'Show Experiments' };
  }

  /** Run folder → Slurm job, from the last poll. */
  runs(): ReadonlyMap<string, SlurmRunInfo> {
    return this.current;
  }

  /** Tracks these runs roots / experiment folders (restarts the tracker when the set changed). */
  setRoots(dirs: readonly string[]): void {
    if (this.disposed) return;
    const next = [...new Set(dirs)].sort();
    if (next.length === this.roots.length && next.every((d, i) => d === this.roots[i])) return;
    this.roots = next;
    this.watcher?.dispose();
    this.watcher = null;
    if (!next.length) {
      this.current = new Map();
      this.status.hide();
      return;
    }
    const tracker = new SlurmTracker({ roots: next });
    let first = true;
    this.watcher = tracker.watch(
      (snap) => {
        const notify = first || snap.changed || snap.persisted.length > 0;
        first = false;
        this.onSnapshot(snap);
        if (notify) this.onChange();
      },
      (err) => console.error('DSC++: Slurm tracker poll failed', err),
    );
  }

  /** Polls at once (after a submit or a cancel). */
  pollNow(): void {
    this.watcher?.pollNow();
  }

  private onSnapshot(snap: TrackerSnapshot): void {
    this.current = slurmRunsOf(snap);
    const item = slurmStatusBar(snap);
    if (item) {
      this.status.text = item.text;
      this.status.tooltip = item.tooltip;
      this.status.backgroundColor = item.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
      this.status.show();
    } else this.status.hide();
    if (snap.slurmAnswered === false && snap.error && snap.error !== this.lastError) console.warn(`DSC++: squeue did not answer: ${snap.error}`);
    this.lastError = snap.slurmAnswered === false ? snap.error : null;
  }

  dispose(): void {
    this.disposed = true;
    this.watcher?.dispose();
    this.watcher = null;
    this.status.dispose();
  }
}
