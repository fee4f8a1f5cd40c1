// The IPC channel between the extension host (run manager) and the training backend process
// (src/backend/main.ts, forked with an IPC channel). Imports nothing but sibling protocol types.
import type { TrainingEvent } from './training';

export const BACKEND_PROTOCOL_VERSION = 1;

export interface StartRunOptions {
  /** Absolute path of the *.dscpp.yaml / *.json config. */
  configPath: string;
  /** Which entry of the config's `losses` list to train (default: all, one after another). */
  lossIndex?: number;
  /** Resume this run folder (absolute path) instead of starting a new run. */
  resume?: string;
  /** Overrides of the config. */
  backend?: string;
  epochs?: number;
  /** Output root (overrides `output:` in the config). */
  out?: string;
  /** Extra module search folders for on-demand backends (tfjs-node, tfjs-node-gpu). */
  backendsDirectory?: string;
}

/** Host → backend. */
export type HostToBackend =
  | { type: 'start'; protocol: number; options: StartRunOptions }
  | { type: 'stop'; reason?: string }
  | { type: 'ping'; id: number };

/** Backend → host. */
export type BackendToHost =
  | { type: 'hello'; protocol: number; pid: number; node: string }
  | { type: 'event'; event: TrainingEvent }
  | { type: 'pong'; id: number }
  /** A fatal error before or outside any run (bad config, no backend); sent before the process exits. */
  | { type: 'fatal'; message: string; detail?: string; exitCode: number }
  | { type: 'done'; exitCode: number };

/** Checks that an incoming IPC payload is a well-formed HostToBackend message; returns an error text otherwise. */
export function validateHostMessage(msg: unknown): string | null {
  if (typeof msg !== 'object' || msg === null) return `IPC message must be an object, got ${msg === null ? 'null' : typeof msg}`;
  const m = msg as Record<string, unknown>;
  switch (m.type) {
    case 'start': {
      if (m.protocol !== BACKEND_PROTOCOL_VERSION) return `IPC 'start': protocol ${String(m.protocol)} is not supported (expected ${BACKEND_PROTOCOL_VERSION}); rebuild the extension and backend together`;
      const o = m.options as Record<string, unknown> | undefined;
      if (typeof o !== 'object' || o === null) return `IPC 'start': field 'options' must be an object`;
      if (typeof o.configPath !== 'string' || o.configPath.length === 0) return `IPC 'start': field 'options.configPath' must be a non-empty string`;
      for (const k of ['resume', 'backend', 'out', 'backendsDirectory'] as const) {
        if (o[k] !== undefined && typeof o[k] !== 'string') return `IPC 'start': field 'options.${k}' must be a string`;
      }
      for (const k of ['lossIndex', 'epochs'] as const) {
        if (o[k] !== undefined && !(Number.isInteger(o[k]) && (o[k] as number) >= 0)) return `IPC 'start': field 'options.${k}' must be a non-negative integer`;
      }
      return null;
    }
    case 'stop':
      return null;
    case 'ping':
      return typeof m.id === 'number' ? null : `IPC 'ping': field 'id' must be a number`;
    default:
      return `IPC message has unknown type ${JSON.stringify(m.type)}; expected one of 'start', 'stop', 'ping'`;
  }
}
