// Config files in the editor: diagnostics from the same validator as the CLI (as you type and on
// save), and the CodeLens "▶ Run experiment" / "Open last run" (plus "■ Stop" while it runs).
import * as vscode from 'vscode';
import { isConfigFileName } from '../core/config';
import { readConfigInfo } from './model/experiments';
import type { ExperimentsView } from './experiments-view';
import type { RunManager } from './model/run-manager';

export const CONFIG_SELECTOR: vscode.DocumentSelector = [
  { scheme: 'file', pattern: '**/*.dscpp.{yaml,yml,json}' },
];

function isConfigDocument(doc: vscode.TextDocument): boolean {
  return doc.uri.scheme === 'file' && isConfigFileName(doc.fileName);
}

export class ConfigEditorSupport implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('dscpp');
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly view: ExperimentsView,
    private readonly runs: RunManager,
  ) {
    this.disposables.push(
      this.diagnostics,
      this.lensesChanged,
      vscode.languages.registerCodeLensProvider(CONFIG_SELECTOR, this),
      vscode.workspace.onDidOpenTextDocument((d) => this.validate(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document)),
      vscode.workspace.onDidSaveTextDocument((d) => this.validate(d)),
      vscode.workspace.onDidCloseTextDocument((d) => {
        // Closed files keep no squiggles; the Experiments view still flags the config.
        this.diagnostics.delete(d.uri);
      }),
      view.onDidChangeTreeData(() => this.lensesChanged.fire()),
    );
    const off = runs.onDidChangeJob.on(() => this.lensesChanged.fire());
    this.disposables.push({ dispose: off });
    for (const d of vscode.workspace.textDocuments) this.validate(d);
  }

  private schedule(doc: vscode.TextDocument): void {
    if (!isConfigDocument(doc)) return;
    const key = doc.uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.validate(doc);
      }, 300),
    );
  }

  /** Validates a config document's current text (saved or not). */
  validate(doc: vscode.TextDocument): void {
    if (!isConfigDocument(doc) || doc.isClosed) return;
    const info = readConfigInfo(doc.uri.fsPath, doc.getText());
    const list = info.diagnostics.map((d) => {
      const start = new vscode.Position(d.line - 1, d.column - 1);
      let end = new vscode.Position(Math.max(0, d.endLine - 1), Math.max(0, d.endColumn - 1));
      if (!end.isAfter(start)) end = start.translate(0, 1);
      const range = new vscode.Range(start, end);
      const diag = new vscode.Diagnostic(range, d.path ? `${d.path}: ${d.message}` : d.message, d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
      diag.source = 'DSC++';
      return diag;
    });
    this.diagnostics.set(doc.uri, list);
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!isConfigDocument(doc)) return [];
    const info = readConfigInfo(doc.uri.fsPath, doc.getText());
    const range = new vscode.Range(info.lensLine, 0, info.lensLine, 0);
    const lenses = [new vscode.CodeLens(range, { title: '▶ Run experiment', command: 'dscpp.runExperiment', arguments: [doc.uri], tooltip: info.valid ? `Train ${info.losses.map((l) => l.label).join(', ')}` : 'The config has problems: see the Problems panel' })];
    const entry = this.view.entryFor(info.configPath);
    const active = this.runs.activeJobs().filter((j) => j.request.configPath === info.configPath).length;
    if (active) lenses.push(new vscode.CodeLens(range, { title: `■ Stop (${active} active)`, command: 'dscpp.stopRun', arguments: [doc.uri] }));
    if (entry && entry.runs.length) lenses.push(new vscode.CodeLens(range, { title: 'Open last run', command: 'dscpp.openLastRun', arguments: [doc.uri] }));
    return lenses;
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
  }
}
