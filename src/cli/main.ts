// dscpp-lab: the headless CLI over the core library. Exit codes: 0 success, 1 a failed run,
// 2 a usage or config error.
import { ConfigError } from '../core/config';
import { UsageError, type Command } from './command';
import { COMMANDS } from './commands';

const VERSION = '0.1.0';

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `dscpp-lab ${VERSION}: train and evaluate calibrated segmentation models (DSC++ and the Dice loss family).`,
    '',
    'Usage: dscpp-lab <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `dscpp-lab <command> --help` for a command\'s options.',
    'Exit codes: 0 success, 1 a run failed, 2 usage or config error.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd: Command | undefined = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    const { suggest } = await import('../core/util/suggest');
    const hint = suggest(name, COMMANDS.map((c) => c.name));
    process.stderr.write(`dscpp-lab: unknown command '${name}'${hint ? `; did you mean '${hint}'?` : ''}\n\n${mainHelp()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.usage + '\n');
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`dscpp-lab: ${e.message}\n\n${cmd.usage}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    const err = e as Error;
    process.stderr.write(`dscpp-lab ${name}: ${err.message}\n`);
    if (process.env.DSCPP_DEBUG) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`dscpp-lab: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
