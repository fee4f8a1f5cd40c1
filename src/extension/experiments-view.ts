// The "Experiments" view: config files, each with its runs from the run folders (status icon, loss,
// best validation DSC and NLL, a tooltip with backend, seed and duration), plus the runs this window
// has queued. Rebuilt from disk (so it survives a window reload), refreshed by file watchers and,
// live, by the run manager's events.
import * as vscode from 'vscode';
import { relative } from 'node:path';
import { buildConfigEntry, configDescription, configLabel, readConfigInfo, runLabel, type ConfigEntry, type RunEntry } from './model/experiments';
import { runDescription, runTooltipLines, STATUS_STYLES } from './model/format';
import type { RunJob, RunManager } from './model/run-manager';
import { slurmDescription, slurmTooltipLines, type SlurmRunInfo } from './model/slurm';

/** Where the view gets Slurm's view of runs (the extension's SlurmMonitor). */
export interface SlurmRunsSource {
  runs(): ReadonlyMap<string, SlurmRunInfo>;
  /** The experiment folders the view shows (what the tracker watches). */
  setRoots(dirs: readonly string[]): void;
}

export const VIEW_ID = 'dscpp.experiments';
export const CONFIG_GLOB = '**/*.dscpp.{yaml,yml,json}';
const EXCLUDE_GLOB = '**/{node_modules,.git,.tools}/**';

export type ExperimentNode =
  | { kind: 'config'; entry: ConfigEntry }
  | { kind: 'run'; run: RunEntry; config: ConfigEntry }
  | { kind: 'pending'; job: RunJob; config: ConfigEntry };

export class ExperimentsView implements vscode.TreeDataProvider<ExperimentNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ExperimentNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<ExperimentNode>;
  private readonly disposables: vscode.Disposable[] = [];
  private configs: ConfigEntry[] = [];
  private configPaths: string[] | null = null;
  private runWatchers = new Map<string, vscode.Disposable>();
  private refreshTimer: NodeJS.Timeout | null = null;
  private rescan = false;
  private liveTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly runs: RunManager,
    private readonly runsRootOverride: () => string | undefined,
    private readonly slurm?: SlurmRunsSource,
  ) {
    this.view = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: this, canSelectMany: true, showCollapseAll: true });
    const configWatcher = vscode.workspace.createFileSystemWatcher(CONFIG_GLOB);
    this.disposables.push(
      this.view,
      this.changed,
      configWatcher,
      configWatcher.onDidCreate(() => this.scheduleRefresh(true)),
      configWatcher.onDidDelete(() => this.scheduleRefresh(true)),
      configWatcher.onDidChange(() => this.scheduleRefresh(false)),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.scheduleRefresh(true)),
    );
    const offChange = runs.onDidChangeJob.on(() => this.scheduleRefresh(false, 100));
    const offEvent = runs.onEvent.on(({ event }) => {
      if (event.type === 'step') this.scheduleLive();
    });
    this.disposables.push({ dispose: offChange }, { dispose: offEvent });
  }

  /** Re-reads configs and run folders (rescanning the workspace for config files when `rescan`). */
  scheduleRefresh(rescan: boolean, delayMs = 250): void {
    this.rescan ||= rescan;
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      const again = this.rescan;
      this.rescan = false;
      void this.refresh(again);
    }, delayMs);
  }

  /** Live progress (step events): redraw at most once a second. */
  private scheduleLive(): void {
    if (this.liveTimer) return;
    this.liveTimer = setTimeout(() => {
      this.liveTimer = null;
      this.changed.fire(undefined);
    }, 1000);
  }

  async refresh(rescan = true): Promise<void> {
    if (rescan || this.configPaths === null) {
      const uris = await vscode.workspace.findFiles(CONFIG_GLOB, EXCLUDE_GLOB, 500);
      this.configPaths = uris.map((u) => u.fsPath).sort((a, b) => a.localeCompare(b));
    }
    const override = this.runsRootOverride();
    const active = this.runs.activeJobs();
    const paths = new Set(this.configPaths);
    // Configs of running jobs stay visible even when outside the workspace.
    for (const j of active) paths.add(j.request.configPath);
    const slurmRuns = this.slurm?.runs();
    this.configs = [...paths].map((p) => buildConfigEntry(readConfigInfo(p), override, active, slurmRuns));
    this.slurm?.setRoots(this.configs.map((c) => c.runsDir).filter((d): d is string => d !== null));
    this.watchRunFolders();
    const slurmActive = this.configs.some((c) => c.runs.some((r) => r.slurm !== null && !r.job && (r.status === 'queued' || r.status === 'running')));
    void vscode.commands.executeCommand('setContext', 'dscpp.hasActiveRuns', active.length > 0 || slurmActive);
    this.changed.fire(undefined);
  }

  /** Watches each experiment folder (which may lie outside the workspace) for run changes. */
  private watchRunFolders(): void {
    const dirs = new Set(this.configs.map((c) => c.runsDir).filter((d): d is string => d !== null));
    for (const [dir, w] of this.runWatchers) {
      if (!dirs.has(dir)) {
        w.dispose();
        this.runWatchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.runWatchers.has(dir)) continue;
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), '{*,*/run.json}'));
      const again = () => this.scheduleRefresh(false, 500);
      const subs = [w, w.onDidCreate(again), w.onDidChange(again), w.onDidDelete(again)];
      this.runWatchers.set(dir, vscode.Disposable.from(...subs));
    }
  }

  entries(): readonly ConfigEntry[] {
    return this.configs;
  }

  entryFor(configPath: string): ConfigEntry | undefined {
    return this.configs.find((c) => c.info.configPath === configPath);
  }

  /** Every run shown in the view. */
  allRuns(): RunEntry[] {
    return this.configs.flatMap((c) => c.runs);
  }

  getChildren(node?: ExperimentNode): ExperimentNode[] {
    if (!node) return this.configs.map((entry) => ({ kind: 'config', entry }));
    if (node.kind !== 'config') return [];
    const config = this.configs.find((c) => c.info.configPath === node.entry.info.configPath) ?? node.entry;
    return [...config.pending.map((job): ExperimentNode => ({ kind: 'pending', job, config })), ...config.runs.map((run): ExperimentNode => ({ kind: 'run', run, config }))];
  }

  getParent(node: ExperimentNode): ExperimentNode | undefined {
    return node.kind === 'config' ? undefined : { kind: 'config', entry: node.config };
  }

  getTreeItem(node: ExperimentNode): vscode.TreeItem {
    switch (node.kind) {
      case 'config': {
        const { info } = node.entry;
        const hasRuns = node.entry.runs.length + node.entry.pending.length > 0;
        const item = new vscode.TreeItem(configLabel(info), hasRuns ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
        // A new id once the config has runs: VS Code keeps the collapse state per id, and an item first
        // shown without children would stay collapsed.
        item.id = `config:${hasRuns ? 'runs' : 'empty'}:${info.configPath}`;
        item.resourceUri = vscode.Uri.file(info.configPath);
        item.description = configDescription(info);
        const errors = info.diagnostics.filter((d) => d.severity === 'error');
        item.iconPath = errors.length ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground')) : new vscode.ThemeIcon('beaker');
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
        const tip = new vscode.MarkdownString(undefined, true);
        tip.appendText(`${folder ? relative(folder, info.configPath) : info.configPath}\n`);
        if (info.experiment) tip.appendText(`Experiment: ${info.experiment}\n`);
        if (info.losses.length) tip.appendText(`Losses: ${info.losses.map((l) => l.label).join(', ')}\n`);
        if (node.entry.runsDir) tip.appendText(`Runs: ${node.entry.runsDir}\n`);
        for (const d of errors.slice(0, 5)) tip.appendText(`line ${d.line}: ${d.path ? `${d.path}: ` : ''}${d.message}\n`);
        item.tooltip = tip;
        const active = node.entry.pending.length > 0 || node.entry.runs.some((r) => r.job !== null || (r.slurm !== null && (r.status === 'queued' || r.status === 'running')));
        item.contextValue = `dscpp.config${active ? '.active' : ''}`;
        item.command = { command: 'vscode.open', title: 'Open Config', arguments: [vscode.Uri.file(info.configPath)] };
        return item;
      }
      case 'run': {
        const { run } = node;
        const style = STATUS_STYLES[run.status];
        const item = new vscode.TreeItem(runLabel(run.record), vscode.TreeItemCollapsibleState.None);
        item.id = `run:${run.dir}`;
        const base = runDescription(run.record, run.status, run.job?.progress ?? null);
        item.description = run.slurm ? slurmDescription(run.slurm, base) : base;
        item.iconPath = new vscode.ThemeIcon(style.icon, style.color ? new vscode.ThemeColor(style.color) : undefined);
        const lines = runTooltipLines(run.record, run.status, run.dir);
        if (run.slurm) lines.splice(2, 0, ...slurmTooltipLines(run.slurm));
        const tip = new vscode.MarkdownString(undefined, true);
        tip.appendMarkdown(`**${lines[0]}**\n\n`);
        tip.appendText(lines.slice(1).join('\n'));
        item.tooltip = tip;
        item.contextValue = `dscpp.run.${run.status}`;
        item.accessibilityInformation = { label: `${runLabel(run.record)}, ${style.label}, ${item.description}` };
        item.command = { command: 'dscpp.showLossCurves', title: 'Show Loss Curves', arguments: [node] };
        return item;
      }
      case 'pending': {
        const { job } = node;
        const starting = job.state !== 'queued';
        const style = STATUS_STYLES[starting ? 'running' : 'queued'];
        const item = new vscode.TreeItem(job.request.lossName, vscode.TreeItemCollapsibleState.None);
        item.id = `job:${job.id}`;
        item.description = starting ? 'starting…' : 'queued';
        item.iconPath = new vscode.ThemeIcon(style.icon, style.color ? new vscode.ThemeColor(style.color) : undefined);
        item.tooltip = starting ? `Starting the training process for ${job.request.lossName}` : `Waiting for a free slot (dscpp.maxConcurrentRuns) to train ${job.request.lossName}`;
        item.contextValue = starting ? 'dscpp.pending.starting' : 'dscpp.pending.queued';
        return item;
      }
      default: {
        const never: never = node;
        throw new Error(`unknown node ${JSON.stringify(never)}`);
      }
    }
  }

  /** Shows a run in the view (used by "Open last run"). */
  async reveal(runDir: string): Promise<void> {
    for (const config of this.configs) {
      const run = config.runs.find((r) => r.dir === runDir);
      if (run) {
        await this.view.reveal({ kind: 'run', run, config }, { select: true, focus: false, expand: true });
        return;
      }
    }
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.liveTimer) clearTimeout(this.liveTimer);
    for (const w of this.runWatchers.values()) w.dispose();
    this.runWatchers.clear();
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
  }
}
