// The extension object: owns every service and Disposable of DSC++ Lab (activate() only assembles it).
// Commands take what VS Code passes them: a tree node (plus the multi-selection), a config Uri (CodeLens,
// editor title, explorer), a run folder path (status bar), or nothing (command palette: then the
// active editor or a quick pick decides).
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { isConfigFileName } from '../core/config';
import { cancelRuns, createSweepFolders, defaultCliPath, formatParams, isTerminal, planSweep, submitSlurmSweep, type SweepPlan } from '../core/executors';
import { readRunRecord } from '../core/train/runs';
import { BackendCommands } from './backends';
import { ConfigEditorSupport } from './config-editor';
import { ExperimentsView, type ExperimentNode } from './experiments-view';
import { lastRun, readConfigInfo, type ConfigEntry, type RunEntry } from './model/experiments';
import { lossLabel, runDescription, STATUS_STYLES } from './model/format';
import type { RunJob, RunRequest } from './model/run-manager';
import { newExperimentConfig } from './new-config';
import { FsRunDataSource, PanelManager } from './panels';
import { RunsController } from './runs';
import { readSettings, type Settings } from './settings';
import { cancelSummary, slurmErrorText } from './model/slurm';
import { SlurmMonitor } from './slurm';

type CommandArg = ExperimentNode | vscode.Uri | string | undefined;

const RESTRICTED_MESSAGE =
  'DSC++ Lab does not start training in Restricted Mode: a run executes the training process on the data, settings and backends this workspace points to. Trust the workspace to run experiments; configs, runs and their panels stay available.';

function isNode(a: unknown): a is ExperimentNode {
  return typeof a === 'object' && a !== null && 'kind' in a && ((a as { kind: unknown }).kind === 'config' || (a as { kind: unknown }).kind === 'run' || (a as { kind: unknown }).kind === 'pending');
}

export class Extension implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  readonly runs: RunsController;
  readonly view: ExperimentsView;
  readonly panels: PanelManager;
  private readonly backends: BackendCommands;
  readonly slurm: SlurmMonitor;
  private shuttingDown: Promise<void> | null = null;

  constructor(private readonly context: vscode.ExtensionContext) {
    const settings = readSettings(context);
    this.panels = new PanelManager(context, new FsRunDataSource());
    this.runs = new RunsController(context.asAbsolutePath(join('dist', 'backend.js')), settings.maxConcurrentRuns, (e) => this.panels.onTrainingEvent(e));
    this.slurm = new SlurmMonitor(() => this.view.scheduleRefresh(false, 50));
    this.view = new ExperimentsView(this.runs.manager, () => readSettings(context).runsDirectory, this.slurm);
    this.backends = new BackendCommands(context, context.asAbsolutePath(join('dist', 'cli.js')));
    this.disposables.push(this.panels, this.runs, this.slurm, this.view, this.backends, new ConfigEditorSupport(this.view, this.runs.manager));
    // A queued sweep run this window cancelled before it started: say so in its run.json.
    const offEnd = this.runs.manager.onDidEndJob.on((job) => {
      const dir = job.request.resume;
      if (dir && job.state === 'cancelled') void this.cancelQueuedFolder(dir);
    });
    this.disposables.push({ dispose: offEnd });
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('dscpp.maxConcurrentRuns')) this.runs.manager.setMaxConcurrent(readSettings(context).maxConcurrentRuns);
        if (e.affectsConfiguration('dscpp.runsDirectory')) this.view.scheduleRefresh(false);
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.view.scheduleRefresh(false)),
    );
    this.registerCommands();
    void this.view.refresh(true);
  }

  private registerCommands(): void {
    const reg = (id: string, fn: (arg: CommandArg, selection?: ExperimentNode[]) => unknown) =>
      this.disposables.push(
        vscode.commands.registerCommand(id, async (arg: CommandArg, selection?: ExperimentNode[]) => {
          try {
            await fn(arg, Array.isArray(selection) ? selection : undefined);
          } catch (e) {
            void vscode.window.showErrorMessage(`DSC++: ${e instanceof Error ? e.message : String(e)}`);
          }
        }),
      );
    reg('dscpp.runExperiment', (a) => this.runExperiment(a));
    reg('dscpp.stopRun', (a, s) => this.stopRun(a, s));
    reg('dscpp.resumeRun', (a, s) => this.resumeRun(a, s));
    reg('dscpp.newExperimentConfig', async () => {
      if (await newExperimentConfig()) this.view.scheduleRefresh(true, 50);
    });
    reg('dscpp.showLossCurves', async (a, s) => {
      const dirs = await this.pickRuns(a, s, { many: true, title: 'DSC++: Show Loss Curves' });
      if (dirs.length) this.panels.showCurves(dirs);
    });
    reg('dscpp.showCalibration', async (a, s) => {
      const dirs = await this.pickRuns(a, s, { many: true, title: 'DSC++: Show Calibration' });
      if (dirs.length) this.panels.showCalibration(dirs);
    });
    reg('dscpp.showMaskPreview', async (a, s) => {
      const [dir] = await this.pickRuns(a, s, { many: false, title: 'DSC++: Show Mask Preview' });
      if (dir) this.panels.showMasks(dir);
    });
    reg('dscpp.compareRuns', async (a, s) => {
      let dirs = await this.pickRuns(a, s, { many: true, title: 'DSC++: Compare Runs', allOfConfig: true });
      if (dirs.length < 2) dirs = await this.pickRuns(undefined, undefined, { many: true, title: 'DSC++: Compare Runs (pick two or more)', preselect: dirs });
      if (dirs.length) this.panels.compare(dirs);
    });
    reg('dscpp.openRunFolder', async (a, s) => {
      const [dir] = await this.pickRuns(a, s, { many: false, title: 'DSC++: Open Run Folder' });
      if (dir) await this.revealFolder(dir);
    });
    reg('dscpp.openRunLog', async (a, s) => {
      const [dir] = await this.pickRuns(a, s, { many: false, title: 'DSC++: Open Run Log' });
      if (!dir) return;
      const job = this.runs.manager.jobForRunDir(dir);
      if (job) return this.runs.showLog(job);
      const log = join(dir, 'log.txt');
      if (!existsSync(log)) throw new Error(`${log} does not exist`);
      await vscode.window.showTextDocument(vscode.Uri.file(log), { preview: true });
    });
    reg('dscpp.deleteRun', (a, s) => this.deleteRuns(a, s));
    reg('dscpp.openLastRun', (a) => this.openLastRun(a));
    reg('dscpp.refreshExperiments', () => this.view.refresh(true));
    reg('dscpp.selectComputeBackend', () => this.backends.select());
    reg('dscpp.installGpuBackend', () => this.backends.install());
  }

  // ---- arguments -------------------------------------------------------------------------------

  /** The config a command is about: a node, a Uri, the active editor, or a quick pick. */
  private async pickConfig(arg: CommandArg, title: string): Promise<string | undefined> {
    if (isNode(arg)) return arg.kind === 'config' ? arg.entry.info.configPath : arg.config.info.configPath;
    if (arg instanceof vscode.Uri) return arg.fsPath;
    if (typeof arg === 'string' && isConfigFileName(arg)) return arg;
    const active = vscode.window.activeTextEditor?.document;
    if (active && active.uri.scheme === 'file' && isConfigFileName(active.fileName)) return active.uri.fsPath;
    const entries = this.view.entries();
    if (entries.length === 0) {
      const choice = await vscode.window.showWarningMessage('DSC++: no experiment config (*.dscpp.yaml) in this workspace.', 'New Experiment Config');
      if (choice) await vscode.commands.executeCommand('dscpp.newExperimentConfig');
      return undefined;
    }
    if (entries.length === 1) return entries[0]?.info.configPath;
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const pick = await vscode.window.showQuickPick(
      entries.map((e) => ({ label: relativeLabel(root, e.info.configPath), description: e.info.experiment ?? '', detail: e.info.losses.map((l) => l.label).join(', ') || undefined, path: e.info.configPath })),
      { title, placeHolder: 'Which experiment config?' },
    );
    return pick?.path;
  }

  /** The run folders a command is about: the selection, a node, a path, a config's runs, or a quick pick. */
  private async pickRuns(arg: CommandArg, selection: ExperimentNode[] | undefined, o: { many: boolean; title: string; allOfConfig?: boolean; preselect?: string[] }): Promise<string[]> {
    const fromNode = (n: ExperimentNode): string[] => {
      if (n.kind === 'run') return [n.run.dir];
      if (n.kind === 'pending') return n.job.runDir ? [n.job.runDir] : [];
      const e = this.view.entryFor(n.entry.info.configPath) ?? n.entry;
      if (o.allOfConfig || o.many) return o.allOfConfig ? e.runs.map((r) => r.dir) : latestPerLoss(e);
      const last = lastRun(e);
      return last ? [last.dir] : [];
    };
    if (selection && selection.length > 1) return [...new Set(selection.flatMap(fromNode))];
    if (isNode(arg)) return fromNode(arg);
    if (typeof arg === 'string') return [arg];
    if (arg instanceof vscode.Uri) {
      const entry = this.view.entryFor(arg.fsPath);
      if (entry) return fromNode({ kind: 'config', entry });
      return existsSync(join(arg.fsPath, 'run.json')) ? [arg.fsPath] : [];
    }
    const runs = this.view.allRuns();
    if (runs.length === 0) {
      void vscode.window.showInformationMessage('DSC++: there are no runs yet. Start one with "DSC++: Run Experiment".');
      return [];
    }
    const pre = new Set(o.preselect ?? []);
    const items = runs.map((r) => ({
      label: `$(${STATUS_STYLES[r.status].icon}) ${lossLabel(r.record.loss)}`,
      description: runDescription(r.record, r.status, r.job?.progress ?? null),
      detail: `${r.record.experiment} · ${r.record.id}`,
      dir: r.dir,
      picked: pre.has(r.dir),
    }));
    if (o.many) {
      const picks = await vscode.window.showQuickPick(items, { title: o.title, canPickMany: true, placeHolder: 'Pick runs', matchOnDetail: true });
      return picks?.map((p) => p.dir) ?? [];
    }
    const pick = await vscode.window.showQuickPick(items, { title: o.title, placeHolder: 'Pick a run', matchOnDetail: true });
    return pick ? [pick.dir] : [];
  }

  // ---- commands -------------------------------------------------------------------------------

  private refuseIfRestricted(): boolean {
    if (vscode.workspace.isTrusted) return false;
    void vscode.window.showWarningMessage(RESTRICTED_MESSAGE, 'Manage Workspace Trust').then((c) => {
      if (c) void vscode.commands.executeCommand('workbench.trust.manage');
    });
    return true;
  }

  private async runExperiment(arg: CommandArg): Promise<void> {
    if (this.refuseIfRestricted()) return;
    const configPath = await this.pickConfig(arg, 'DSC++: Run Experiment');
    if (!configPath) return;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === configPath);
    if (doc?.isDirty) await doc.save();
    const info = readConfigInfo(configPath);
    if (!info.valid || !info.experiment) {
      const errors = info.diagnostics.filter((d) => d.severity === 'error');
      const first = errors[0];
      const choice = await vscode.window.showErrorMessage(
        `DSC++: ${relativeLabel(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath, configPath)} has ${errors.length} problem${errors.length === 1 ? '' : 's'}${first ? `; line ${first.line}: ${first.path ? `${first.path}: ` : ''}${first.message}` : ''}`,
        'Open Config',
      );
      if (choice) {
        const editor = await vscode.window.showTextDocument(vscode.Uri.file(configPath));
        if (first) editor.selection = new vscode.Selection(first.line - 1, first.column - 1, first.line - 1, first.column - 1);
        void vscode.commands.executeCommand('workbench.actions.view.problems');
      }
      return;
    }
    const s = readSettings(this.context);
    if (s.executor === 'slurm') return this.submitToSlurm(configPath, s);
    if (info.hasSweep) {
      let plan: SweepPlan;
      try {
        plan = planSweep(configPath, s.runsDirectory ? { out: s.runsDirectory } : {});
      } catch (e) {
        throw new Error(slurmErrorText(e));
      }
      return this.queueLocalSweep(plan, s);
    }
    const requests: RunRequest[] = info.losses.map((l) => ({
      configPath,
      lossIndex: l.index,
      lossName: l.label,
      experiment: info.experiment as string,
      ...(s.backend !== 'config' ? { backend: s.backend } : {}),
      ...(s.runsDirectory ? { out: s.runsDirectory } : {}),
      backendsDirectory: s.backendsDirectory,
    }));
    this.runs.start(requests);
    this.view.scheduleRefresh(false, 50);
  }

  /** executor slurm: the config's runs (every loss and sweep element) go to Slurm as one job array. */
  private async submitToSlurm(configPath: string, s: Settings): Promise<void> {
    const cli = defaultCliPath();
    if (!cli) throw new Error(`the array tasks run the dscpp-lab CLI, but ${this.context.asAbsolutePath(join('dist', 'cli.js'))} is missing (build it with npm run build)`);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'DSC++: submitting to Slurm', cancellable: false }, async (progress) => {
      let plan: SweepPlan;
      try {
        plan = planSweep(configPath, s.runsDirectory ? { out: s.runsDirectory } : {});
      } catch (e) {
        throw new Error(slurmErrorText(e));
      }
      progress.report({ message: `${plan.runs.length} run${plan.runs.length === 1 ? '' : 's'} of ${plan.config.name} as one job array…` });
      try {
        const r = await submitSlurmSweep(plan, { cli });
        return { plan, ...r };
      } catch (e) {
        throw new Error(`could not submit ${plan.config.name} to Slurm: ${slurmErrorText(e)}`);
      }
    });
    this.view.scheduleRefresh(false, 50);
    this.slurm.pollNow();
    const n = result.plan.runs.length;
    void vscode.window.showInformationMessage(`DSC++: submitted ${n} run${n === 1 ? '' : 's'} of ${result.plan.config.name} to Slurm as job ${result.jobId}${result.cluster ? ` on ${result.cluster}` : ''}.`, 'Open Script').then((c) => {
      if (c) void vscode.window.showTextDocument(vscode.Uri.file(result.scriptPath), { preview: true });
    });
  }

  /** executor local, config with `sweep:`: pre-creates the run folders (status queued) and queues one run per element. */
  private queueLocalSweep(plan: SweepPlan, s: Settings): void {
    try {
      createSweepFolders(plan, 'local');
    } catch (e) {
      throw new Error(slurmErrorText(e));
    }
    const requests: RunRequest[] = plan.runs.map((r) => ({
      configPath: plan.configPath,
      lossIndex: r.lossIndex,
      lossName: `${lossLabel({ name: r.loss.name, options: Object.fromEntries(Object.entries(r.loss).filter(([k]) => k !== 'name')) })}${Object.keys(r.params).length ? ` · ${formatParams(r.params)}` : ''}`,
      experiment: plan.config.name,
      resume: r.dir,
      ...(s.backend !== 'config' ? { backend: s.backend } : {}),
      ...(s.runsDirectory ? { out: s.runsDirectory } : {}),
      backendsDirectory: s.backendsDirectory,
    }));
    this.runs.start(requests);
    this.view.scheduleRefresh(false, 50);
  }

  /** Marks a pre-created run folder that never started as cancelled (no-op when it started or ended). */
  private async cancelQueuedFolder(dir: string): Promise<void> {
    try {
      if (readRunRecord(dir).status !== 'queued') return;
      await cancelRuns([dir], { waitMs: 0 });
      this.view.scheduleRefresh(false, 50);
    } catch (e) {
      console.error(`DSC++: could not mark ${dir} cancelled`, e);
    }
  }

  /** Cancels run folders no job of this window hosts (Slurm jobs: scancel; queued folders: marked), under a progress notification. */
  private async cancelFolders(dirs: string[]): Promise<void> {
    const outcomes = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `DSC++: cancelling ${dirs.length === 1 ? 'a run' : `${dirs.length} runs`}`, cancellable: false },
      async (progress) => {
        progress.report({ message: 'waiting for the jobs to end (up to 60 s)…' });
        try {
          return await cancelRuns(dirs);
        } catch (e) {
          throw new Error(`could not cancel: ${slurmErrorText(e)}`);
        } finally {
          this.slurm.pollNow();
          this.view.scheduleRefresh(false, 50);
        }
      },
    );
    void vscode.window.showInformationMessage(`DSC++: ${cancelSummary(outcomes)}.`);
  }

  private async resumeRun(arg: CommandArg, selection?: ExperimentNode[]): Promise<void> {
    if (this.refuseIfRestricted()) return;
    const nodes = (selection?.length ? selection : isNode(arg) ? [arg] : []).filter((n): n is Extract<ExperimentNode, { kind: 'run' }> => n.kind === 'run');
    let runs: RunEntry[] = nodes.map((n) => n.run);
    if (!runs.length) {
      const dirs = await this.pickRuns(arg, selection, { many: false, title: 'DSC++: Resume Run' });
      runs = this.view.allRuns().filter((r) => dirs.includes(r.dir));
    }
    const s = readSettings(this.context);
    for (const r of runs) {
      if (r.job) {
        void vscode.window.showInformationMessage(`DSC++: ${r.record.id} is already ${r.status}.`);
        continue;
      }
      if (r.status !== 'interrupted' && r.status !== 'stopped') {
        void vscode.window.showWarningMessage(`DSC++: ${r.record.id} is ${STATUS_STYLES[r.status].label}; only interrupted or stopped runs can be resumed.`);
        continue;
      }
      this.runs.start([
        {
          configPath: r.record.configPath,
          lossIndex: r.record.lossIndex,
          lossName: lossLabel(r.record.loss),
          experiment: r.record.experiment,
          resume: r.dir,
          ...(s.backend !== 'config' ? { backend: s.backend } : {}),
          backendsDirectory: s.backendsDirectory,
        },
      ]);
    }
    this.view.scheduleRefresh(false, 50);
  }

  private async stopRun(arg: CommandArg, selection?: ExperimentNode[]): Promise<void> {
    const manager = this.runs.manager;
    const active = manager.activeJobs();
    let jobs: RunJob[] = [];
    // Run folders with no job here that can be cancelled from here: Slurm runs, and queued folders.
    const folders: string[] = [];
    const cancellable = (r: RunEntry): boolean => !r.job && !isTerminal(r.record.status) && ((r.slurm !== null && r.status !== 'stopped') || r.record.status === 'queued');
    const fromNode = (n: ExperimentNode): RunJob[] => {
      if (n.kind === 'pending') return [n.job];
      if (n.kind === 'run') {
        if (n.run.job) return [n.run.job];
        if (cancellable(n.run)) {
          folders.push(n.run.dir);
          return [];
        }
        if (n.run.status === 'running') void vscode.window.showInformationMessage(`DSC++: ${n.run.record.id} runs in another process (pid ${n.run.record.pid ?? '?'} on ${n.run.record.host}), not in this window; stop it there (Ctrl+C for the CLI).`);
        return [];
      }
      const e = this.view.entryFor(n.entry.info.configPath) ?? n.entry;
      folders.push(...e.runs.filter((r) => cancellable(r) && (r.status === 'queued' || r.status === 'running')).map((r) => r.dir));
      return active.filter((j) => j.request.configPath === n.entry.info.configPath);
    };
    if (selection && selection.length > 1) jobs = selection.flatMap(fromNode);
    else if (isNode(arg)) jobs = fromNode(arg);
    else if (arg instanceof vscode.Uri) jobs = active.filter((j) => j.request.configPath === arg.fsPath);
    else if (typeof arg === 'string') jobs = active.filter((j) => j.runDir === arg || j.request.configPath === arg);
    else if (active.length === 0) {
      const slurmRuns = this.view.allRuns().filter((r) => cancellable(r) && r.slurm !== null && (r.status === 'queued' || r.status === 'running'));
      if (slurmRuns.length) {
        const picks = await vscode.window.showQuickPick(
          slurmRuns.map((r) => ({ label: `${r.record.experiment} · ${lossLabel(r.record.loss)}`, description: `Slurm job ${r.slurm?.jobId ?? '?'} · ${r.status}`, detail: r.record.id, dir: r.dir })),
          { title: 'DSC++: Stop Run (Slurm)', canPickMany: true, placeHolder: 'Which Slurm runs to cancel?' },
        );
        folders.push(...(picks?.map((p) => p.dir) ?? []));
        if (!picks) return;
      }
    } else if (active.length === 1) jobs = active;
    else {
      const picks = await vscode.window.showQuickPick(
        active.map((j) => ({ label: `${j.request.experiment} · ${j.request.lossName}`, description: j.state === 'queued' ? 'queued' : (j.runId ?? j.state), job: j })),
        { title: 'DSC++: Stop Run', canPickMany: true, placeHolder: 'Which runs to stop?' },
      );
      jobs = picks?.map((p) => p.job) ?? [];
    }
    if (!jobs.length && !folders.length) {
      if (!isNode(arg)) void vscode.window.showInformationMessage('DSC++: no run is active in this window.');
      return;
    }
    for (const j of jobs) this.runs.stop(j, 'stopped by the user');
    if (folders.length) await this.cancelFolders([...new Set(folders)]);
  }

  private async deleteRuns(arg: CommandArg, selection?: ExperimentNode[]): Promise<void> {
    const dirs = await this.pickRuns(arg, selection, { many: true, title: 'DSC++: Delete Run' });
    const runs = this.view.allRuns().filter((r) => dirs.includes(r.dir));
    const busy = runs.filter((r) => r.job || r.status === 'running');
    if (busy.length) {
      void vscode.window.showWarningMessage(`DSC++: stop ${busy.map((r) => r.record.id).join(', ')} before deleting ${busy.length === 1 ? 'it' : 'them'}.`);
      return;
    }
    if (!runs.length) return;
    const what = runs.length === 1 ? `run ${runs[0]?.record.id}` : `${runs.length} runs`;
    const choice = await vscode.window.showWarningMessage(
      `Delete ${what}?`,
      { modal: true, detail: `This removes ${runs.length === 1 ? 'its folder' : 'their folders'} with checkpoints, metrics, predictions and logs:\n${runs.map((r) => r.dir).join('\n')}` },
      'Delete',
    );
    if (choice !== 'Delete') return;
    for (const r of runs) await vscode.workspace.fs.delete(vscode.Uri.file(r.dir), { recursive: true, useTrash: false });
    await this.view.refresh(false);
  }

  private async openLastRun(arg: CommandArg): Promise<void> {
    const configPath = await this.pickConfig(arg, 'DSC++: Open Last Run');
    if (!configPath) return;
    await this.view.refresh(false);
    const entry = this.view.entryFor(configPath);
    const last = entry ? lastRun(entry) : null;
    if (!entry || !last) {
      void vscode.window.showInformationMessage('DSC++: this config has no runs yet.');
      return;
    }
    await this.view.reveal(last.dir);
    this.panels.showCurves(latestPerLoss(entry));
  }

  private async revealFolder(dir: string): Promise<void> {
    const uri = vscode.Uri.file(dir);
    if (vscode.workspace.getWorkspaceFolder(uri)) {
      await vscode.commands.executeCommand('revealInExplorer', uri);
      return;
    }
    if (vscode.env.uiKind === vscode.UIKind.Desktop && !vscode.env.remoteName) {
      await vscode.commands.executeCommand('revealFileOnOS', uri);
      return;
    }
    // Outside the workspace on a remote/web window: open its run.json and say where it is.
    const rec = join(dir, 'run.json');
    if (existsSync(rec)) await vscode.window.showTextDocument(vscode.Uri.file(rec), { preview: true });
    void vscode.window.showInformationMessage(`DSC++: the run folder is ${dir}`);
  }

  /** Stops every run and waits for the training processes to exit (deactivate). */
  shutdown(): Promise<void> {
    this.shuttingDown ??= this.runs.shutdown();
    return this.shuttingDown;
  }

  dispose(): void {
    for (const d of this.disposables.splice(0).reverse()) {
      try {
        d.dispose();
      } catch (e) {
        console.error('DSC++: dispose failed', e);
      }
    }
  }
}

/** The newest run of each loss entry of a config (what "the runs of this config" means for curves). */
function latestPerLoss(e: ConfigEntry): string[] {
  const seen = new Set<number>();
  const out: string[] = [];
  for (const r of e.runs) {
    if (seen.has(r.record.lossIndex)) continue;
    seen.add(r.record.lossIndex);
    out.push(r.dir);
  }
  return out;
}

function relativeLabel(root: string | undefined, p: string): string {
  if (!root) return p;
  const r = relative(root, p);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : p;
}
