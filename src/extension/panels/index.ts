// PanelManager: the four panel commands (curves, calibration, masks, compare) on real VS Code webview
// panels. One panel of each kind; showing it again replaces its runs. Each panel is restored after a
// window reload by a WebviewPanelSerializer from the view state its webview keeps with setState.
import * as vscode from 'vscode';
import { CalibrationController, CurvesController, MasksController, runDirsFromViewState, type LogLevel, type SaveFile } from './controllers';
import { panelHtml, type PanelKind } from './html';
import type { RunDataSource } from './run-data';
import type { TrainingEvent } from '../../protocol/training';
import type { CurvesHostMessage } from '../../protocol/webview-curves';
import type { CalibrationHostMessage } from '../../protocol/webview-calibration';
import type { MasksHostMessage } from '../../protocol/webview-masks';

export { FsRunDataSource, RunDataError, validateThresholdChoice, type RunDataSource, type MetricsRead } from './run-data';

export const PANEL_VIEW_TYPES: Record<PanelKind, string> = {
  curves: 'dscpp.lossCurves',
  calibration: 'dscpp.calibration',
  masks: 'dscpp.maskPreview',
};

const TITLES: Record<PanelKind, string> = {
  curves: 'DSC++ Loss Curves',
  calibration: 'DSC++ Calibration',
  masks: 'DSC++ Mask Preview',
};

interface Controller<In> {
  handle(m: In): Promise<void>;
  onTrainingEvent(e: TrainingEvent): void;
  setRunDirs(dirs: string[]): Promise<void>;
  dispose(): void;
}

interface OpenPanel {
  kind: PanelKind;
  panel: vscode.WebviewPanel;
  controller: Controller<never>;
  disposables: vscode.Disposable[];
}

/**
 * How long a visible panel's page may take to post `ready` before its HTML is set again, and how many
 * times. In VS Code for the web (code-server 4.100.3, measured), a webview page created while another
 * one is starting can request its script before the webview service worker controls it: the script
 * fails with net::ERR_NAME_NOT_RESOLVED, nothing runs and the panel stays blank. Loading the page again
 * once the worker is up fixes it. The page posts `ready` as the first thing its script does.
 */
export const PANEL_BOOT_TIMEOUT_MS = 4000;
export const PANEL_BOOT_RETRIES = 3;

export class PanelManager implements vscode.Disposable {
  private readonly open = new Map<PanelKind, OpenPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly output: vscode.LogOutputChannel;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly runs: RunDataSource,
  ) {
    this.output = vscode.window.createOutputChannel('DSC++ Panels', { log: true });
    this.disposables.push(this.output);
    for (const kind of Object.keys(PANEL_VIEW_TYPES) as PanelKind[]) {
      this.disposables.push(
        vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPES[kind], {
          deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
            const dirs = runDirsFromViewState(kind, state);
            this.adopt(kind, panel);
            await this.open.get(kind)?.controller.setRunDirs(dirs);
          },
        }),
      );
    }
  }

  showCurves(runDirs: string[]): void {
    void this.show('curves', runDirs);
  }

  showCalibration(runDirs: string[]): void {
    void this.show('calibration', runDirs);
  }

  showMasks(runDir: string): void {
    void this.show('masks', [runDir]);
  }

  /** Opens the curves and calibration panels with the runs together (each shows a summary table). */
  compare(runDirs: string[]): void {
    if (runDirs.length < 2) {
      void vscode.window.showWarningMessage(`DSC++: Compare Runs needs two or more runs (got ${runDirs.length}). Select several runs in the Experiments view, or pick them in the quick pick.`);
      if (runDirs.length === 0) return;
    }
    // One after the other: creating both webviews in the same tick left the first one blank in
    // code-server. The second opens beside the first without taking focus from it.
    void (async () => {
      await this.show('curves', runDirs, vscode.ViewColumn.One);
      await this.show('calibration', runDirs, vscode.ViewColumn.Two, true);
    })();
  }

  /** Fans a live training event out to every open panel (each batches its own updates). */
  onTrainingEvent(e: TrainingEvent): void {
    for (const p of this.open.values()) p.controller.onTrainingEvent(e);
  }

  dispose(): void {
    for (const p of [...this.open.values()]) p.panel.dispose();
    this.open.clear();
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private log(level: LogLevel, message: string): void {
    this.output[level](message);
  }

  private async show(kind: PanelKind, runDirs: string[], column?: vscode.ViewColumn, preserveFocus = false): Promise<void> {
    let p = this.open.get(kind);
    if (p) p.panel.reveal(column ?? p.panel.viewColumn, preserveFocus);
    else {
      const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPES[kind], TITLES[kind], { viewColumn: column ?? vscode.ViewColumn.Active, preserveFocus }, this.webviewOptions());
      this.adopt(kind, panel);
      p = this.open.get(kind);
    }
    await p?.controller.setRunDirs(runDirs);
  }

  private webviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    const root = this.context.extensionUri;
    // No retainContextWhenHidden: a hidden panel reloads, posts `ready` and gets a fresh snapshot.
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(root, 'dist', 'webview'), vscode.Uri.joinPath(root, 'media')] };
  }

  /** Binds a (new or restored) webview panel to a controller. */
  private adopt(kind: PanelKind, panel: vscode.WebviewPanel): void {
    this.open.get(kind)?.panel.dispose();
    const webview = panel.webview;
    webview.options = this.webviewOptions();
    const asset = (file: string): string => webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview', file)).toString();
    // A fresh nonce on every load.
    const render = (): void => {
      webview.html = panelHtml({ panel: kind, title: TITLES[kind], cspSource: webview.cspSource, scriptUri: asset(`${kind}.js`), styleUri: asset(`${kind}.css`) });
    };
    render();
    const log = (level: LogLevel, message: string): void => this.log(level, message);
    const post = (m: unknown): void => {
      void webview.postMessage(m).then(undefined, (e: unknown) => this.log('warn', `could not post to the ${kind} panel: ${String(e)}`));
    };
    let controller: Controller<never>;
    switch (kind) {
      case 'curves':
        controller = new CurvesController({ runs: this.runs, post: (m: CurvesHostMessage) => post(m), log }, this.saveFile);
        break;
      case 'calibration':
        controller = new CalibrationController({ runs: this.runs, post: (m: CalibrationHostMessage) => post(m), log });
        break;
      case 'masks':
        controller = new MasksController({ runs: this.runs, post: (m: MasksHostMessage) => post(m), log });
        break;
      default: {
        const never: never = kind;
        throw new Error(`unknown panel kind ${String(never)}`);
      }
    }
    const entry: OpenPanel = { kind, panel, controller, disposables: [] };
    const boot = this.watchBoot(kind, panel, render);
    entry.disposables.push(
      boot,
      webview.onDidReceiveMessage((m: unknown) => {
        if (m === null || typeof m !== 'object' || typeof (m as { type?: unknown }).type !== 'string') {
          this.log('warn', `${kind} panel: ignored a message without a type`);
          return;
        }
        if ((m as { type: string }).type === 'ready') boot.ready();
        controller.handle(m as never).catch((e: unknown) => this.log('error', `${kind} panel: ${e instanceof Error ? e.message : String(e)}`));
      }),
      panel.onDidDispose(() => {
        controller.dispose();
        for (const d of entry.disposables.splice(0)) d.dispose();
        if (this.open.get(kind) === entry) this.open.delete(kind);
      }),
    );
    this.open.set(kind, entry);
  }

  /**
   * Reloads a visible panel whose page has not posted `ready` within PANEL_BOOT_TIMEOUT_MS (see there).
   * Hidden panels are not watched: without retainContextWhenHidden their page is unloaded, and it loads
   * again (and is watched again) when the panel is shown.
   */
  private watchBoot(kind: PanelKind, panel: vscode.WebviewPanel, render: () => void): vscode.Disposable & { ready(): void } {
    let booted = false;
    let tries = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(check, PANEL_BOOT_TIMEOUT_MS);
    };
    const check = (): void => {
      timer = undefined;
      if (booted || !panel.visible) return;
      if (tries >= PANEL_BOOT_RETRIES) {
        this.log('error', `${kind} panel: its page did not start after ${tries} reloads; close the panel and open it again, and see Help > Toggle Developer Tools for the webview's errors`);
        return;
      }
      tries++;
      this.log('warn', `${kind} panel: no 'ready' from its page within ${PANEL_BOOT_TIMEOUT_MS} ms; loading it again (${tries}/${PANEL_BOOT_RETRIES})`);
      render();
      arm();
    };
    let wasVisible = panel.visible;
    const viewState = panel.onDidChangeViewState(() => {
      // Shown again after being hidden: the page loads anew and must say `ready` again.
      if (panel.visible && !wasVisible) {
        booted = false;
        tries = 0;
        arm();
      }
      wasVisible = panel.visible;
    });
    arm();
    return {
      ready: () => {
        booted = true;
        clearTimeout(timer);
        timer = undefined;
      },
      dispose: () => {
        clearTimeout(timer);
        viewState.dispose();
      },
    };
  }

  private readonly saveFile: SaveFile = async (suggestedName, data, kind) => {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, suggestedName) : undefined,
      filters: kind === 'png' ? { 'PNG image': ['png'] } : { CSV: ['csv'] },
      saveLabel: kind === 'png' ? 'Export PNG' : 'Export CSV',
    });
    if (!target) return null;
    await vscode.workspace.fs.writeFile(target, data);
    return target.fsPath;
  };
}
