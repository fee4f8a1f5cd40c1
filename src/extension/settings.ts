// The extension's settings (package.json `contributes.configuration`), read in one place.
import * as vscode from 'vscode';
import { isAbsolute, join, resolve } from 'node:path';
import { parseExecutor, type ExecutorSetting } from './model/slurm';

export const SECTION = 'dscpp';

export const BACKEND_SETTING_VALUES = ['config', 'auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'webgpu'] as const;
export type BackendSetting = (typeof BACKEND_SETTING_VALUES)[number];

export interface Settings {
  /** 'config' = use each config's `backend:`; anything else overrides it. */
  backend: BackendSetting;
  /** Absolute runs root override, or undefined (the config's `output:`). */
  runsDirectory: string | undefined;
  maxConcurrentRuns: number;
  /** Absolute folder where on-demand backends are installed. */
  backendsDirectory: string;
  /** Where Run Experiment trains: this machine, or a Slurm cluster (one job array per config). */
  executor: ExecutorSetting;
}

function workspaceBase(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** Reads the settings; relative folders are resolved against the first workspace folder. */
export function readSettings(context: vscode.ExtensionContext): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const backend = c.get<string>('backend', 'config');
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(workspaceBase() ?? process.cwd(), p));
  const runs = c.get<string>('runsDirectory', '').trim();
  const backends = c.get<string>('backendsDirectory', '').trim();
  const max = c.get<number>('maxConcurrentRuns', 1);
  return {
    backend: (BACKEND_SETTING_VALUES as readonly string[]).includes(backend) ? (backend as BackendSetting) : 'config',
    runsDirectory: runs ? abs(runs) : undefined,
    maxConcurrentRuns: Number.isInteger(max) && max >= 1 ? max : 1,
    backendsDirectory: backends ? abs(backends) : join(context.globalStorageUri.fsPath, 'backends'),
    executor: parseExecutor(c.get<string>('executor', 'local')),
  };
}

/** Writes a setting in the workspace when one is open, else in the user settings. */
export async function updateSetting(key: string, value: unknown): Promise<void> {
  const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration(SECTION).update(key, value, target);
}
