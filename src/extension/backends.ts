// "Select Compute Backend" and "Install GPU Backend". Both run the CLI (dist/cli.js) in a child
// process, so that tfjs and npm never load into the extension host: `backend list --json` reports what
// this host has and what `auto` picks; `backend install` runs npm into the backends directory.
import * as vscode from 'vscode';
import { fork } from 'node:child_process';
import type { BackendName } from '../protocol/training';
import { readSettings, updateSetting, type BackendSetting } from './settings';

interface Availability {
  name: BackendName;
  available: boolean;
  reason: string;
  version: string | null;
}

interface BackendList {
  auto: BackendName;
  backendsDirectory: string;
  backends: Availability[];
}

/** Runs dist/cli.js with `args`; streams output lines; resolves with the exit code and the output. */
function runCli(cliScript: string, args: string[], onLine: (line: string) => void, token?: vscode.CancellationToken): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = fork(cliScript, args, { execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      stdout += d;
      for (const l of d.split(/\r?\n/)) if (l.trim()) onLine(l);
    });
    child.stderr?.on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 400_000) stderr = stderr.slice(-200_000);
      for (const l of d.split(/\r?\n/)) if (l.trim()) onLine(l);
    });
    const sub = token?.onCancellationRequested(() => child.kill('SIGTERM'));
    child.on('error', (e) => {
      stderr += `\n${e.message}`;
    });
    child.on('close', (code) => {
      sub?.dispose();
      resolve({ code, stdout, stderr });
    });
  });
}

export class BackendCommands implements vscode.Disposable {
  private output: vscode.OutputChannel | null = null;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly cliScript: string,
  ) {}

  private channel(): vscode.OutputChannel {
    this.output ??= vscode.window.createOutputChannel('DSC++ Backends');
    return this.output;
  }

  async list(): Promise<BackendList> {
    const dir = readSettings(this.context).backendsDirectory;
    const r = await runCli(this.cliScript, ['backend', 'list', '--json', '--backends-dir', dir], () => undefined);
    try {
      return JSON.parse(r.stdout) as BackendList;
    } catch {
      throw new Error(`could not list the compute backends (exit code ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`);
    }
  }

  async select(): Promise<void> {
    let list: BackendList;
    try {
      list = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'DSC++: checking compute backends' }, () => this.list());
    } catch (e) {
      void vscode.window.showErrorMessage(`DSC++: ${(e as Error).message}`);
      return;
    }
    const current = readSettings(this.context).backend;
    type Item = vscode.QuickPickItem & { value: BackendSetting | 'install' };
    const items: Item[] = [
      { label: `${current === 'config' ? '$(check) ' : ''}Use each config's backend`, description: 'the `backend:` field of the config', value: 'config' },
      { label: `${current === 'auto' ? '$(check) ' : ''}auto`, description: `picks ${list.auto} on this host`, detail: 'tensorflow-gpu, then tensorflow, webgpu (hardware only), wasm, cpu', value: 'auto' },
      { label: '', kind: vscode.QuickPickItemKind.Separator, value: 'config' },
      ...list.backends.map(
        (b): Item => ({
          label: `${current === b.name ? '$(check) ' : ''}${b.available ? '$(pass)' : '$(circle-slash)'} ${b.name}`,
          description: b.available ? `available${b.version ? ` · ${b.version}` : ''}${b.name === list.auto ? ' · auto picks this' : ''}` : 'not available',
          detail: b.available ? undefined : b.reason,
          value: b.name,
        }),
      ),
      { label: '$(cloud-download) Install GPU Backend…', description: `into ${list.backendsDirectory}`, value: 'install' },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'DSC++: Select Compute Backend', placeHolder: `Training backend for runs started from VS Code (auto picks ${list.auto} here)`, matchOnDetail: true });
    if (!pick) return;
    if (pick.value === 'install') return this.install();
    const b = list.backends.find((x) => x.name === pick.value);
    if (b && !b.available) {
      const action = b.name.startsWith('tensorflow') ? 'Install GPU Backend' : undefined;
      const choice = await vscode.window.showWarningMessage(`DSC++: ${b.name} is not available here: ${b.reason}`, ...(action ? [action] : []));
      if (choice === action) await this.install(b.name === 'tensorflow' ? 'tensorflow' : 'tensorflow-gpu');
      return;
    }
    await updateSetting('backend', pick.value);
    void vscode.window.showInformationMessage(pick.value === 'config' ? 'DSC++: runs use the backend of each config.' : `DSC++: runs started from VS Code use '${pick.value}'${pick.value === 'auto' ? ` (${list.auto} on this host)` : ''}.`);
  }

  async install(preset?: 'tensorflow' | 'tensorflow-gpu'): Promise<void> {
    const kind =
      preset ??
      (
        await vscode.window.showQuickPick(
          [
            { label: 'tensorflow-gpu', description: '@tensorflow/tfjs-node-gpu', detail: 'NVIDIA GPU: needs the NVIDIA driver, CUDA 11.2 and cuDNN 8.1, and internet access to download libtensorflow', value: 'tensorflow-gpu' as const },
            { label: 'tensorflow', description: '@tensorflow/tfjs-node', detail: 'Native TensorFlow on the CPU (faster than wasm); needs internet access to download libtensorflow', value: 'tensorflow' as const },
          ],
          { title: 'DSC++: Install GPU Backend', placeHolder: 'Which TensorFlow backend to install' },
        )
      )?.value;
    if (!kind) return;
    const dir = readSettings(this.context).backendsDirectory;
    const out = this.channel();
    out.appendLine(`${new Date().toISOString()} installing ${kind} into ${dir}`);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `DSC++: installing ${kind}`, cancellable: true }, async (progress, token) => {
      progress.report({ message: `npm install into ${dir}` });
      return runCli(
        this.cliScript,
        ['backend', 'install', kind, '--backends-dir', dir],
        (line) => {
          out.appendLine(line);
          progress.report({ message: line.length > 120 ? `${line.slice(0, 117)}…` : line });
        },
        token,
      );
    });
    const verdict = result.stdout.split('\n').reverse().find((l) => l.startsWith('✔') || l.startsWith('✖'));
    if (result.code === 0) {
      const choice = await vscode.window.showInformationMessage(`DSC++: ${kind} installed in ${dir}.`, `Use ${kind}`);
      if (choice) await updateSetting('backend', kind);
      return;
    }
    const why = verdict ? verdict.replace(/^✖\s*/, '') : result.code === null ? 'the installation was cancelled.' : `the installer exited with code ${result.code}.`;
    const choice = await vscode.window.showErrorMessage(`DSC++: ${kind} could not be installed: ${why} DSC++ Lab keeps working on the wasm backend.`, 'Show Output');
    if (choice) out.show(true);
  }

  dispose(): void {
    this.output?.dispose();
  }
}
