// Every CLI command, in the order `--help` lists them. Add a command: write commands/<name>.ts and
// list it here.
import type { Command } from '../command';
import { trainCommand } from './train';
import { listCommand } from './list';
import { evaluateCommand } from './evaluate';
import { compareCommand } from './compare';
import { backendCommand } from './backend';
import { sweepCommand } from './sweep';
import { statusCommand } from './status';
import { cancelCommand } from './cancel';

export const COMMANDS: Command[] = [trainCommand, sweepCommand, statusCommand, cancelCommand, listCommand, evaluateCommand, compareCommand, backendCommand];
