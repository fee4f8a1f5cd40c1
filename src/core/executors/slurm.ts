// Slurm's client commands (sbatch, squeue, scontrol, scancel, sinfo), run as child processes with a
// timeout. Every failure becomes a SlurmError that quotes the command and what it printed.
import { execFile } from 'node:child_process';
import { parseSqueue, SQUEUE_FORMAT, type SlurmTask } from './slurm-state';

export class SlurmError extends Error {
  override name = 'SlurmError';
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command; never rejects (a missing binary is code 127, a timeout code 124). */
export type CommandRunner = (cmd: string, args: string[], opts?: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string }) => Promise<CommandResult>;

export const runCommand: CommandRunner = (cmd, args, opts = {}) =>
  new Promise((resolvePromise) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env, cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolvePromise({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string | null };
      if (e.code === 'ENOENT') return resolvePromise({ code: 127, stdout: '', stderr: `${cmd}: command not found (Slurm's client commands must be on the PATH)` });
      if (e.killed || e.signal === 'SIGTERM') return resolvePromise({ code: 124, stdout, stderr: `${stderr}${cmd} did not answer within ${Math.round((opts.timeoutMs ?? 30_000) / 1000)} s` });
      resolvePromise({ code: typeof e.code === 'number' ? e.code : 1, stdout, stderr: stderr || e.message });
    });
  });

function describe(cmd: string, args: string[], r: CommandResult): string {
  const said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join('\n  ');
  return `${cmd} ${args.join(' ')} failed (exit ${r.code})${said ? `:\n  ${said}` : ''}`;
}

/** The environment given to sbatch: ours without VS Code's and Electron's own variables. */
export function submitEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!/^(VSCODE_|ELECTRON_)/.test(k)) out[k] = v;
  return out;
}

export class SlurmClient {
  constructor(
    private readonly run: CommandRunner = runCommand,
    private readonly timeoutMs = 30_000,
  ) {}

  private async call(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CommandResult> {
    return this.run(cmd, args, { timeoutMs: this.timeoutMs, ...opts });
  }

  /** True when the controller answers (sinfo succeeds); otherwise the reason. */
  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    const args = ['-h', '-o', '%T'];
    const r = await this.call('sinfo', args);
    return r.code === 0 ? { ok: true } : { ok: false, reason: describe('sinfo', args, r) };
  }

  /** Submits a batch script; returns the job id. `hold` submits it held (release with release()). */
  async submit(scriptPath: string, opts: { hold?: boolean; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ jobId: string; cluster: string | null }> {
    const args = ['--parsable', ...(opts.hold ? ['--hold'] : []), scriptPath];
    const r = await this.call('sbatch', args, { env: opts.env ?? submitEnv(), cwd: opts.cwd });
    if (r.code !== 0) throw new SlurmError(describe('sbatch', args, r));
    // --parsable prints "jobid" or "jobid;cluster".
    const m = /^(\d+)(?:;(\S+))?\s*$/m.exec(r.stdout.trim());
    if (!m) throw new SlurmError(`sbatch ${args.join(' ')} printed no job id: ${r.stdout.trim() || r.stderr.trim()}`);
    return { jobId: m[1] as string, cluster: m[2] ?? null };
  }

  async release(jobId: string): Promise<void> {
    const args = ['release', jobId];
    const r = await this.call('scontrol', args);
    if (r.code !== 0) throw new SlurmError(describe('scontrol', args, r));
  }

  /** The cluster's name (ClusterName of scontrol show config), or null when it cannot be read. */
  async clusterName(): Promise<string | null> {
    const r = await this.call('scontrol', ['show', 'config']);
    if (r.code !== 0) return null;
    return /^ClusterName\s*=\s*(\S+)/m.exec(r.stdout)?.[1] ?? null;
  }

  /**
   * The tasks of the given jobs, including jobs that ended less than MinJobAge ago (--states=all), one
   * line per array task (-r). Jobs Slurm has forgotten are simply absent.
   */
  async tasks(jobIds: readonly string[]): Promise<SlurmTask[]> {
    const ids = [...new Set(jobIds.filter((j) => /^\d+$/.test(j)))];
    if (!ids.length) return [];
    const args = ['-h', '-r', '--states=all', `--jobs=${ids.join(',')}`, '-o', SQUEUE_FORMAT];
    const r = await this.call('squeue', args);
    if (r.code !== 0) {
      // Every id unknown (ended longer ago than MinJobAge): squeue says so and exits 1.
      if (/Invalid job id specified/i.test(r.stderr)) return [];
      throw new SlurmError(describe('squeue', args, r));
    }
    return parseSqueue(r.stdout);
  }

  /** Cancels jobs or array tasks (ids such as 123 or 123_4). */
  async cancel(ids: readonly string[]): Promise<void> {
    if (!ids.length) return;
    const args = [...ids];
    const r = await this.call('scancel', args);
    if (r.code !== 0) throw new SlurmError(describe('scancel', args, r));
  }
}
