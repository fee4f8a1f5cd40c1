// The training process: forked by the extension's run manager with an IPC channel. It says `hello`,
// waits for one `start`, streams every training event back, then sends `done` and exits. Fatal errors
// (bad config, unavailable backend, bad IPC message) are reported as a `fatal` message before exit.
import { ConfigError } from '../core/config';
import { runExperiment } from '../core/train/experiment';
import type { StopSignal } from '../core/train/trainer';
import { BACKEND_PROTOCOL_VERSION, validateHostMessage, type BackendToHost, type HostToBackend } from '../protocol/backend';

function send(msg: BackendToHost): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

async function finish(code: number): Promise<never> {
  await send({ type: 'done', exitCode: code });
  process.disconnect?.();
  process.exit(code);
}

async function fatal(message: string, exitCode: number, detail?: string): Promise<never> {
  process.stderr.write(`${message}\n`);
  await send({ type: 'fatal', message, exitCode, detail });
  return finish(exitCode);
}

const signal: StopSignal = { requested: false };
let started = false;

async function start(options: Extract<HostToBackend, { type: 'start' }>['options']): Promise<void> {
  started = true;
  try {
    const outcomes = await runExperiment({ ...options, signal, emit: (event) => void send({ type: 'event', event }) });
    await finish(outcomes.some((o) => o.status === 'failed') ? 1 : 0);
  } catch (e) {
    if (e instanceof ConfigError) return void (await fatal(e.message, 2));
    const err = e as Error;
    await fatal(err.message, 1, err.stack);
  }
}

function onMessage(raw: unknown): void {
  const problem = validateHostMessage(raw);
  if (problem) {
    void fatal(`dscpp-lab backend: ${problem}`, 2);
    return;
  }
  const msg = raw as HostToBackend;
  switch (msg.type) {
    case 'start':
      if (started) {
        void send({ type: 'event', event: { type: 'log', runId: '', level: 'warn', message: 'ignored a second start message: one backend process trains one request' } });
        return;
      }
      void start(msg.options);
      return;
    case 'stop':
      signal.requested = true;
      signal.reason = msg.reason ?? 'stop requested';
      return;
    case 'ping':
      void send({ type: 'pong', id: msg.id });
      return;
    default: {
      const never: never = msg;
      process.stderr.write(`unhandled IPC message ${JSON.stringify(never)}\n`);
    }
  }
}

if (!process.send) {
  process.stderr.write('dscpp-lab backend: this is the training process of the VS Code extension and must be started with an IPC channel (use `dscpp-lab train` from a terminal).\n');
  process.exit(2);
}
process.on('message', onMessage);
process.on('disconnect', () => {
  // The host went away: stop cooperatively, then exit (no orphans).
  signal.requested = true;
  signal.reason = 'host disconnected';
  setTimeout(() => process.exit(1), 30_000).unref();
});
process.on('SIGTERM', () => {
  signal.requested = true;
  signal.reason = 'SIGTERM';
});
process.on('uncaughtException', (e) => void fatal(`dscpp-lab backend crashed: ${e.message}`, 1, e.stack));
process.on('unhandledRejection', (e) => void fatal(`dscpp-lab backend crashed: ${(e as Error)?.message ?? String(e)}`, 1, (e as Error)?.stack));
void send({ type: 'hello', protocol: BACKEND_PROTOCOL_VERSION, pid: process.pid, node: process.versions.node });
