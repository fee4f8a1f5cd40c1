// The training backend process (dist/backend.js) over real IPC: handshake, streamed events, cooperative
// stop, and fatal errors reported as messages before exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendToHost, HostToBackend } from '../../src/protocol/backend';
import { readRunRecord } from '../../src/core/train/runs';
import { REPO, tinyWorkspace } from '../helpers/tiny';

interface Session {
  messages: BackendToHost[];
  exit: Promise<number | null>;
  send: (m: HostToBackend | Record<string, unknown>) => void;
  waitFor: (pred: (m: BackendToHost) => boolean, ms?: number) => Promise<BackendToHost>;
}

function startBackend(): Session {
  const child = fork(join(REPO, 'dist', 'backend.js'), [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
  const messages: BackendToHost[] = [];
  const waiters: { pred: (m: BackendToHost) => boolean; resolve: (m: BackendToHost) => void }[] = [];
  child.on('message', (m: BackendToHost) => {
    messages.push(m);
    for (const w of [...waiters]) if (w.pred(m)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    messages,
    exit,
    send: (m) => child.send(m),
    waitFor: (pred, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const found = messages.find(pred);
        if (found) return resolve(found);
        const t = setTimeout(() => reject(new Error(`timed out; got ${messages.map((x) => x.type).join(', ')}`)), ms);
        waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
      }),
  };
}

test('backend: hello, start, streamed events in order, done with exit code 0', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 2 });
  const s = startBackend();
  const hello = await s.waitFor((m) => m.type === 'hello');
  assert.equal(hello.type === 'hello' && hello.protocol, 1);
  s.send({ type: 'start', protocol: 1, options: { configPath: config, lossIndex: 0 } });
  const done = await s.waitFor((m) => m.type === 'done', 120_000);
  assert.deepEqual(done, { type: 'done', exitCode: 0 });
  assert.equal(await s.exit, 0);
  const events = s.messages.flatMap((m) => (m.type === 'event' ? [m.event] : []));
  const kinds = events.filter((e) => e.type !== 'log' && e.type !== 'checkpoint').map((e) => e.type);
  assert.equal(kinds[0], 'started');
  assert.deepEqual(kinds.filter((k) => k === 'epoch').length, 2);
  assert.equal(kinds.at(-1), 'finished');
  const started = events.find((e) => e.type === 'started');
  assert.ok(started && started.type === 'started');
  assert.equal(started.backend.name, 'wasm');
  assert.equal(readRunRecord(started.runDir).status, 'completed');
});

test('backend: a stop message finishes the step, saves last and marks the run stopped', async () => {
  const { config } = tinyWorkspace({ cases: 8, epochs: 50 });
  const s = startBackend();
  await s.waitFor((m) => m.type === 'hello');
  s.send({ type: 'start', protocol: 1, options: { configPath: config } });
  const step = await s.waitFor((m) => m.type === 'event' && m.event.type === 'step' && m.event.globalStep >= 5, 120_000);
  assert.ok(step.type === 'event');
  s.send({ type: 'stop', reason: 'test' });
  const fin = await s.waitFor((m) => m.type === 'event' && m.event.type === 'finished', 60_000);
  assert.ok(fin.type === 'event' && fin.event.type === 'finished');
  assert.equal(fin.event.status, 'stopped');
  assert.equal(await s.exit, 0);
  const started = s.messages.find((m) => m.type === 'event' && m.event.type === 'started');
  assert.ok(started && started.type === 'event' && started.event.type === 'started');
  const rec = readRunRecord(started.event.runDir);
  assert.equal(rec.status, 'stopped');
  assert.ok(rec.summary.epochsCompleted < 50);
});

test('backend: a bad config is a fatal message with file:line and exit code 2', async () => {
  const { dir, config } = tinyWorkspace({ cases: 4 });
  const bad = join(dir, 'bad.dscpp.yaml');
  writeFileSync(bad, readFileSync(config, 'utf8').replace('losses: [{ name: dice }]', 'losses: [{ name: dise }]'));
  const s = startBackend();
  await s.waitFor((m) => m.type === 'hello');
  s.send({ type: 'start', protocol: 1, options: { configPath: bad } });
  const fatal = await s.waitFor((m) => m.type === 'fatal');
  assert.ok(fatal.type === 'fatal');
  assert.equal(fatal.exitCode, 2);
  assert.equal(fatal.message, `${bad}:10:18: error: losses[0].name: unknown loss 'dise'; did you mean 'dice'? (known: dice, dscpp, tversky, tversky++, focal_tversky, focal_tversky++, ce, focal, combo, combo++, unified_focal, unified_focal++)`);
  assert.equal(await s.exit, 2);
});

// [message, expected fatal text]
const BAD_IPC: [Record<string, unknown> | string, string][] = [
  ['hello', 'dscpp-lab backend: IPC message must be an object, got string'],
  [{ type: 'begin' }, `dscpp-lab backend: IPC message has unknown type "begin"; expected one of 'start', 'stop', 'ping'`],
  [{ type: 'start', protocol: 9, options: { configPath: '/x' } }, "dscpp-lab backend: IPC 'start': protocol 9 is not supported (expected 1); rebuild the extension and backend together"],
  [{ type: 'start', protocol: 1, options: { configPath: 3 } }, "dscpp-lab backend: IPC 'start': field 'options.configPath' must be a non-empty string"],
  [{ type: 'start', protocol: 1, options: { configPath: '/x', epochs: -1 } }, "dscpp-lab backend: IPC 'start': field 'options.epochs' must be a non-negative integer"],
];

for (const [msg, text] of BAD_IPC) {
  test(`backend: bad IPC message ${JSON.stringify(msg)} is refused with a clear fatal message`, async () => {
    const s = startBackend();
    await s.waitFor((m) => m.type === 'hello');
    s.send(msg as Record<string, unknown>);
    const fatal = await s.waitFor((m) => m.type === 'fatal');
    assert.deepEqual(fatal, { type: 'fatal', message: text, exitCode: 2 });
    assert.equal(await s.exit, 2);
  });
}
