// The CLI's command registry: each command is a module under commands/ that exports a Command.
export interface Command {
  name: string;
  /** One line for `dscpp-lab --help`. */
  summary: string;
  /** Full usage text for `dscpp-lab <name> --help`. */
  usage: string;
  /** Returns the process exit code: 0 success, 1 failed run, 2 usage or config error. */
  run(argv: string[]): Promise<number>;
}

export class UsageError extends Error {}

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

/** Minimal, strict flag parser: `--name value`, `--name=value`, boolean flags listed in `booleans`. */
export function parseArgs(argv: string[], spec: { values?: string[]; booleans?: string[] }, command: string): ParsedArgs {
  const values = new Set(spec.values ?? []);
  const booleans = new Set([...(spec.booleans ?? []), 'help']);
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (booleans.has(name)) {
        if (eq > 0) throw new UsageError(`${command}: option --${name} takes no value`);
        flags.set(name, true);
      } else if (values.has(name)) {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined || (eq < 0 && v.startsWith('--'))) throw new UsageError(`${command}: option --${name} needs a value`);
        flags.set(name, v);
      } else {
        const known = [...values, ...booleans].map((k) => `--${k}`).join(', ');
        throw new UsageError(`${command}: unknown option --${name} (known: ${known})`);
      }
    } else if (a === '-h') flags.set('help', true);
    else positionals.push(a);
  }
  return { positionals, flags };
}

export function intFlag(p: ParsedArgs, name: string, command: string, min = 0): number | undefined {
  const v = p.flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === true || !Number.isInteger(n) || n < min) throw new UsageError(`${command}: --${name} must be an integer >= ${min}, got '${String(v)}'`);
  return n;
}

export function stringFlag(p: ParsedArgs, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}
