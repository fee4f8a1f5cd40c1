// Loading and validating experiment configs (*.dscpp.yaml, or JSON). Every problem becomes a
// diagnostic with file:line:column, the field path, what was expected and what was found, and a
// suggestion where one is obvious. The CLI, the backend and the extension all use this one validator.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
// options.ts holds the registry without tfjs, so the editor can validate configs without loading tfjs.
import { LOSS_NAMES, validateLossOptions } from '../losses/options';
import { suggest } from '../util/suggest';
import { experimentSchema, type ExperimentConfig, type LossEntry } from './schema';

export * from './schema';

export interface ConfigDiagnostic {
  file: string;
  /** 1-based. */
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  /** Field path such as `data.split.val` or `losses[1].name` ('' for the whole file). */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly diagnostics: ConfigDiagnostic[],
  ) {
    super(formatDiagnostics(diagnostics.filter((d) => d.severity === 'error')));
    this.name = 'ConfigError';
  }
}

export function formatDiagnostic(d: ConfigDiagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.path ? `${d.path}: ` : ''}${d.message}`;
}

export function formatDiagnostics(ds: ConfigDiagnostic[]): string {
  return ds.map(formatDiagnostic).join('\n');
}

type PathKey = string | number;

export function formatPath(path: readonly PathKey[]): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : s ? `.${k}` : k;
  return s;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

function typeName(t: string): string {
  switch (t) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
    case 'tuple':
      return 'a list';
    case 'object':
    case 'record':
      return 'a mapping';
    default:
      return t;
  }
}

function getAt(value: unknown, path: readonly PathKey[]): unknown {
  let v = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PathKey, unknown>)[k];
  }
  return v;
}

/** Turns one zod issue into our message: what was expected, what was found, and a hint. */
function issueMessage(issue: z.core.$ZodIssue, root: unknown): { path: PathKey[]; message: string; keyOf?: string } {
  const path = issue.path.filter((k): k is PathKey => typeof k !== 'symbol');
  const found = 'input' in issue ? issue.input : getAt(root, path);
  switch (issue.code) {
    case 'invalid_type':
      if (found === undefined) return { path, message: `required field is missing: expected ${typeName(issue.expected)}` };
      return { path, message: `expected ${typeName(issue.expected)}, found ${describeValue(found)}` };
    case 'invalid_value': {
      const values = issue.values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v)));
      const hint = typeof found === 'string' ? suggest(found, issue.values.filter((v): v is string => typeof v === 'string')) : null;
      return { path, message: `expected one of ${values.join(', ')}, found ${describeValue(found)}${hint ? `; did you mean '${hint}'?` : ''}` };
    }
    case 'unrecognized_keys': {
      const key = issue.keys[0] ?? '';
      const parentShape = shapeKeysAt(path);
      const hint = suggest(key, parentShape);
      return { path: [...path, key], keyOf: key, message: `unknown field '${key}'${hint ? `; did you mean '${hint}'?` : ''}${parentShape.length ? ` (allowed: ${parentShape.join(', ')})` : ''}` };
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') return { path, message: `expected a list of at least ${min} item${min === 1 ? '' : 's'}, found ${describeValue(found)}` };
      if (issue.origin === 'string') return { path, message: `expected a non-empty string, found ${describeValue(found)}` };
      return { path, message: `expected a number ${issue.inclusive ? '>=' : '>'} ${min}, found ${describeValue(found)}` };
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array') return { path, message: `expected a list of at most ${max} items, found ${describeValue(found)}` };
      return { path, message: `expected a number ${issue.inclusive ? '<=' : '<'} ${max}, found ${describeValue(found)}` };
    }
    case 'invalid_union': {
      // Report the branch that got furthest (most specific): its first issue.
      const branches = issue.errors.filter((b) => b.length > 0).sort((a, b) => a.length - b.length);
      const first = branches[0]?.[0];
      if (first) {
        const inner = issueMessage({ ...first, path: [...issue.path, ...first.path] } as z.core.$ZodIssue, root);
        return inner;
      }
      return { path, message: `found ${describeValue(found)}, which matches none of the allowed forms` };
    }
    case 'invalid_format':
      return { path, message: `expected ${issue.message.replace(/^Invalid string: (must )?/, '')}, found ${describeValue(found)}` };
    default:
      return { path, message: issue.message };
  }
}

/** Allowed keys of the object schema at `path` (for "did you mean" on unknown keys). */
function shapeKeysAt(path: readonly PathKey[]): string[] {
  let s: unknown = experimentSchema;
  for (const k of path) {
    s = unwrap(s);
    if (typeof k === 'number') {
      const def = (s as { def?: { element?: unknown } }).def;
      s = def?.element;
    } else {
      const shape = (s as { shape?: Record<string, unknown> }).shape;
      s = shape?.[k];
    }
    if (!s) return [];
  }
  s = unwrap(s);
  const shape = (s as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(s: unknown): unknown {
  let cur = s as { def?: { type?: string; innerType?: unknown; options?: unknown[] } } | undefined;
  for (let i = 0; i < 8 && cur?.def; i++) {
    const t = cur.def.type;
    if ((t === 'default' || t === 'optional' || t === 'nullable' || t === 'prefault') && cur.def.innerType) cur = cur.def.innerType as typeof cur;
    else if (t === 'union' && cur.def.options) cur = cur.def.options.find((o) => (o as { shape?: unknown }).shape) as typeof cur;
    else break;
  }
  return cur;
}

class Locator {
  private readonly lc = new LineCounter();
  readonly doc: Document.Parsed;
  constructor(readonly text: string) {
    this.doc = parseDocument(text, { lineCounter: this.lc, prettyErrors: false, uniqueKeys: true });
  }

  pos(offset: number): { line: number; column: number } {
    const p = this.lc.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { line: p.line, column: p.col };
  }

  /** Range of the node at `path`; for a key problem (`keyOf`), the key itself. Falls back to the nearest existing parent. */
  range(path: readonly PathKey[], keyOf?: string): [number, number] {
    let node: unknown = this.doc.contents;
    let best: [number, number] = [0, Math.min(this.text.length, 1)];
    const setBest = (n: unknown) => {
      const r = (n as { range?: [number, number, number] } | null)?.range;
      if (r) best = [r[0], r[1]];
    };
    setBest(node);
    for (let i = 0; i < path.length; i++) {
      const k = path[i] as PathKey;
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(k));
        if (!pair) return best;
        const isLast = i === path.length - 1;
        if ((isLast && keyOf !== undefined) || pair.value === null) {
          setBest(pair.key);
          if (isLast) return best;
        }
        node = pair.value;
        setBest(node);
        if (isLast && keyOf === undefined && pair.value !== null) return best;
      } else if (isSeq(node) && typeof k === 'number') {
        node = node.items[k];
        if (!node) return best;
        setBest(node);
      } else return best;
    }
    return best;
  }
}

function diag(file: string, loc: Locator, path: readonly PathKey[], message: string, severity: 'error' | 'warning' = 'error', keyOf?: string): ConfigDiagnostic {
  const [s, e] = loc.range(path, keyOf);
  const a = loc.pos(s);
  const b = loc.pos(Math.max(e, s + 1));
  return { file, line: a.line, column: a.column, endLine: b.line, endColumn: b.column, path: formatPath(path), message, severity };
}

export interface ParseOptions {
  /** Check that the data folders exist (relative to the config). Default true when `file` is absolute. */
  checkPaths?: boolean;
}

/** Parses and validates a config text. Never throws: every problem is a diagnostic. */
export function parseConfigText(text: string, file: string, opts: ParseOptions = {}): { config: ExperimentConfig | null; diagnostics: ConfigDiagnostic[] } {
  const loc = new Locator(text);
  const diagnostics: ConfigDiagnostic[] = [];
  for (const err of loc.doc.errors) {
    const [s, e] = err.pos;
    const a = loc.pos(s);
    const b = loc.pos(Math.max(e, s + 1));
    diagnostics.push({ file, line: a.line, column: a.column, endLine: b.line, endColumn: b.column, path: '', message: `YAML syntax error: ${err.message.split('\n')[0]}`, severity: 'error' });
  }
  if (diagnostics.length) return { config: null, diagnostics };
  const raw: unknown = loc.doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    diagnostics.push(diag(file, loc, [], `expected a mapping with at least 'name', 'data' and 'loss' or 'losses', found ${describeValue(raw)}`));
    return { config: null, diagnostics };
  }
  const result = experimentSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const { path, message, keyOf } = issueMessage(issue, raw);
      diagnostics.push(diag(file, loc, path, message, 'error', keyOf));
    }
    return { config: null, diagnostics: dedupe(diagnostics) };
  }
  const parsed = result.data;
  const { loss, losses, ...rest } = parsed;
  // Cross-field rules.
  if (loss && losses) diagnostics.push(diag(file, loc, ['losses'], `write either 'loss' (one entry) or 'losses' (several), not both`));
  // sweep.losses (names or entries) is the loss dimension of a sweep; alone, it also stands for 'losses'.
  const sweepLosses = (parsed.sweep?.losses ?? []).map((v, i) => ({ entry: (typeof v === 'string' ? { name: v } : v) as LossEntry, path: ['sweep', 'losses', i] as PathKey[] }));
  if (!loss && !losses && !sweepLosses.length) diagnostics.push(diag(file, loc, [], `required field is missing: 'loss' (one entry) or 'losses' (a list), e.g. losses: [{ name: dice }, { name: dscpp, gamma: 2 }]`));
  const own: { entry: LossEntry; path: PathKey[] }[] = losses ? losses.map((e, i) => ({ entry: e as LossEntry, path: ['losses', i] })) : loss ? [{ entry: loss as LossEntry, path: ['loss'] }] : [];
  const entries = own.length ? own : sweepLosses;
  for (const { entry, path } of [...own, ...sweepLosses]) {
    const { name, ...options } = entry;
    if (!(LOSS_NAMES as readonly string[]).includes(name)) {
      const hint = suggest(name, [...LOSS_NAMES]);
      diagnostics.push(diag(file, loc, [...path, 'name'], `unknown loss '${name}'${hint ? `; did you mean '${hint}'?` : ''} (known: ${LOSS_NAMES.join(', ')})`));
      continue;
    }
    const err = validateLossOptions(name, options);
    if (err) {
      const badKey = Object.keys(options).find((k) => err.includes(`'${k}'`));
      diagnostics.push(diag(file, loc, badKey ? [...path, badKey] : path, err));
    }
  }
  const d = parsed.data;
  if (d.format === 'png') {
    if (!d.masks) diagnostics.push(diag(file, loc, ['data'], `required field is missing: 'masks' (the folder of masks) for data.format png`));
    if (parsed.model.arch !== 'unet2d') diagnostics.push(diag(file, loc, ['model', 'arch'], `expected 'unet2d' for data.format png, found '${parsed.model.arch}'`));
    if (d.patch) diagnostics.push(diag(file, loc, ['data', 'patch'], `'patch' applies to 3D volumes (data.format nifti); use 'size' for 2D images`, 'warning'));
  } else {
    if (!d.labels && !d.masks) diagnostics.push(diag(file, loc, ['data'], `required field is missing: 'labels' (the folder of label volumes) for data.format nifti`));
    if (parsed.model.arch !== 'unet3d') diagnostics.push(diag(file, loc, ['model', 'arch'], `expected 'unet3d' for data.format nifti, found '${parsed.model.arch}'`));
    if (!d.patch) diagnostics.push(diag(file, loc, ['data'], `required field is missing: 'patch' ([D, H, W], e.g. [32, 32, 32]) for data.format nifti`));
    if (d.size) diagnostics.push(diag(file, loc, ['data', 'size'], `'size' applies to 2D images; 3D volumes are cropped into 'patch'`, 'warning'));
  }
  if (parsed.model.head === 'sigmoid' && d.classes.length !== 2) {
    diagnostics.push(diag(file, loc, ['model', 'head'], `a sigmoid head needs exactly 2 classes (background and one foreground), found ${d.classes.length}; use head: softmax`));
  }
  if ('val' in d.split && typeof d.split.val === 'number' && 'test' in d.split && typeof d.split.test === 'number' && d.split.val + (d.split.test as number) >= 1) {
    diagnostics.push(diag(file, loc, ['data', 'split'], `val + test must leave cases for training: found val ${d.split.val} + test ${d.split.test} >= 1`));
  }
  if (parsed.model.depth > 1 && d.size) {
    const f = 2 ** (parsed.model.depth - 1);
    d.size.forEach((s, i) => {
      if (s % f !== 0) diagnostics.push(diag(file, loc, ['data', 'size', i], `expected a multiple of ${f} (2^(depth-1) for model.depth ${parsed.model.depth}), found ${s}; try ${Math.max(f, Math.round(s / f) * f)}`));
    });
  }
  if (parsed.model.depth > 1 && d.patch) {
    const f = 2 ** (parsed.model.depth - 1);
    d.patch.forEach((s, i) => {
      if (s % f !== 0) diagnostics.push(diag(file, loc, ['data', 'patch', i], `expected a multiple of ${f} (2^(depth-1) for model.depth ${parsed.model.depth}), found ${s}; try ${Math.max(f, Math.round(s / f) * f)}`));
    });
  }
  const checkPaths = opts.checkPaths ?? isAbsolute(file);
  if (checkPaths) {
    const base = dirname(file);
    for (const key of ['images', 'masks', 'labels'] as const) {
      const p = d[key];
      if (!p) continue;
      const abs = resolve(base, p);
      if (!existsSync(abs) || !statSync(abs).isDirectory()) {
        diagnostics.push(diag(file, loc, ['data', key], `folder not found: ${abs} (paths are relative to the config file)`));
      }
    }
  }
  const errors = diagnostics.filter((x) => x.severity === 'error');
  if (errors.length) return { config: null, diagnostics: dedupe(diagnostics) };
  const config: ExperimentConfig = { ...rest, losses: entries.map((e) => e.entry) };
  return { config, diagnostics };
}

function dedupe(ds: ConfigDiagnostic[]): ConfigDiagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const k = `${d.line}:${d.column}:${d.path}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Reads and validates a config file; throws ConfigError (with every diagnostic) when it is invalid. */
export function loadConfig(file: string, opts: ParseOptions = {}): ExperimentConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message;
    throw new ConfigError(abs, [{ file: abs, line: 1, column: 1, endLine: 1, endColumn: 1, path: '', message: `cannot read config: ${reason}`, severity: 'error' }]);
  }
  const { config, diagnostics } = parseConfigText(text, abs, { checkPaths: opts.checkPaths ?? true });
  if (!config) throw new ConfigError(abs, diagnostics);
  return config;
}

/** Absolute path of a data folder given in the config. */
export function resolveConfigPath(configPath: string, p: string): string {
  return resolve(dirname(resolve(configPath)), p);
}

/** The runs root for a config: `output` relative to the config file, unless overridden. */
export function runsRootFor(config: Pick<ExperimentConfig, 'output'>, configPath: string, override?: string): string {
  return override ? resolve(override) : resolveConfigPath(configPath, config.output);
}

/** True for file names the product treats as experiment configs. */
export function isConfigFileName(name: string): boolean {
  return /\.dscpp\.(ya?ml|json)$/i.test(name);
}
