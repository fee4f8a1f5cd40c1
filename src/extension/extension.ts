// Entry point of the DSC++ Lab extension: activate() only assembles the Extension object, which owns
// every Disposable; deactivate() stops the training processes (bounded wait) so none is orphaned.
import type * as vscode from 'vscode';
import { Extension } from './app';

let current: Extension | null = null;

export function activate(context: vscode.ExtensionContext): void {
  current = new Extension(context);
  context.subscriptions.push(current);
}

export async function deactivate(): Promise<void> {
  const ext = current;
  current = null;
  if (ext) await ext.shutdown();
}
