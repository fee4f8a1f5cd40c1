// Sweep expansion: the cartesian product of a config's `sweep:` lists, one run per element. The loss
// dimension is `sweep.losses` when given, else the config's own `losses` (each loss entry is a run, as
// `dscpp-lab train` does). Keys are expanded in the order written, losses first, the last key varying
// fastest. Each element's config is the config with the element's values set, without `sweep`, and is
// validated in full (the same validator as any config), so an impossible combination fails before
// anything is created or submitted.
import { parseConfigText, type ExperimentConfig, type LossEntry } from '../config';

export class SweepError extends Error {
  override name = 'SweepError';
}

/** Upper bound on the runs of one sweep (a guard against a typo such as a 1000-value list). */
export const MAX_SWEEP_RUNS = 5000;

export interface SweepDimension {
  /** 'losses', 'seed', or a dotted config path such as 'train.lr'. */
  key: string;
  values: unknown[];
}

export interface SweepElement {
  /** 0-based position in the sweep (the Slurm array task id). */
  index: number;
  /** The values this run sets, by sweep key; `losses` holds the loss entry. */
  params: Record<string, unknown>;
  /** Index of this run's loss in `config.losses`. */
  lossIndex: number;
  loss: LossEntry;
  /** The validated config of this run: the sweep's values applied, `sweep` removed. */
  config: ExperimentConfig;
}

function normaliseLoss(v: unknown): LossEntry {
  return typeof v === 'string' ? { name: v } : (v as LossEntry);
}

/** The sweep's dimensions, losses first. A config without `sweep` has one dimension: its losses. */
export function sweepDimensions(config: ExperimentConfig): SweepDimension[] {
  const sweep = config.sweep ?? {};
  const losses = sweep.losses ? sweep.losses.map(normaliseLoss) : config.losses;
  const dims: SweepDimension[] = [{ key: 'losses', values: losses }];
  for (const [key, values] of Object.entries(sweep)) if (key !== 'losses') dims.push({ key, values });
  return dims;
}

/** The number of runs a sweep expands to. */
export function sweepSize(dims: readonly SweepDimension[]): number {
  return dims.reduce((n, d) => n * d.values.length, 1);
}

/** Copy of `obj` with the value at a dotted path replaced (objects along the path are copied). */
export function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) throw new SweepError('setPath: empty path');
  if (!rest.length) return { ...obj, [head]: value };
  const inner = obj[head];
  const base = inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {};
  return { ...obj, [head]: setPath(base, rest, value) };
}

/** A loss entry as text: `dscpp` or `dscpp(gamma=2)`. */
export function lossLabel(entry: { name: string; [k: string]: unknown }): string {
  const { name, ...options } = entry;
  const keys = Object.keys(options).sort();
  return keys.length ? `${name}(${keys.map((k) => `${k}=${JSON.stringify(options[k])}`).join(',')})` : name;
}

/** One element's values as text: `loss=dscpp(gamma=2) seed=2 train.lr=0.001`. */
export function formatParams(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => (k === 'losses' ? `loss=${lossLabel(normaliseLoss(v))}` : `${k}=${JSON.stringify(v)}`))
    .join(' ');
}

/**
 * Expands a validated config into its runs. `configPath` (absolute) is where relative data folders are
 * resolved when each element's config is validated; `checkPaths` (default true) checks that they exist.
 */
export function expandSweep(config: ExperimentConfig, configPath: string, opts: { checkPaths?: boolean } = {}): SweepElement[] {
  const dims = sweepDimensions(config);
  const total = sweepSize(dims);
  if (total > MAX_SWEEP_RUNS) throw new SweepError(`${configPath}: the sweep expands to ${total} runs (${dims.map((d) => `${d.key}: ${d.values.length}`).join(' × ')}); the limit is ${MAX_SWEEP_RUNS}. Shorten the lists under sweep:.`);
  const losses = dims[0]?.values.map(normaliseLoss) ?? [];
  const { sweep: _sweep, ...base } = config;
  const out: SweepElement[] = [];
  const problems: string[] = [];
  for (let index = 0; index < total; index++) {
    // Mixed-radix digits of index, the last dimension varying fastest.
    const params: Record<string, unknown> = {};
    let rest = index;
    const digits: number[] = new Array<number>(dims.length).fill(0);
    for (let k = dims.length - 1; k >= 0; k--) {
      const len = (dims[k] as SweepDimension).values.length;
      digits[k] = rest % len;
      rest = Math.floor(rest / len);
    }
    let raw: Record<string, unknown> = { ...base, losses };
    dims.forEach((d, k) => {
      const value = d.values[digits[k] as number];
      params[d.key] = d.key === 'losses' ? normaliseLoss(value) : value;
      if (d.key === 'losses') return;
      raw = setPath(raw, d.key === 'seed' ? ['train', 'seed'] : d.key.split('.'), value);
    });
    const lossIndex = digits[0] as number;
    const parsed = parseConfigText(JSON.stringify(raw), configPath, { checkPaths: opts.checkPaths ?? true });
    if (!parsed.config) {
      for (const d of parsed.diagnostics.filter((x) => x.severity === 'error')) problems.push(`run ${index} (${formatParams(params)}): ${d.path ? `${d.path}: ` : ''}${d.message}`);
      if (problems.length >= 10) break;
      continue;
    }
    out.push({ index, params, lossIndex, loss: losses[lossIndex] as LossEntry, config: parsed.config });
  }
  if (problems.length) throw new SweepError(`${configPath}: some runs of the sweep have an invalid config:\n  ${problems.join('\n  ')}`);
  return out;
}
