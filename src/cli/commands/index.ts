// Every CLI command, in the order `--help` lists them. Add a command: write commands/<name>.ts and
// list it here.
import type { Command } from '../command';
import { trainCommand } from './train';
import { listCommand } from './list';
import { evaluateCommand } from './evaluate';
import { compareCommand } from './compare';
import { backendCommand } from './backend';

export const COMMANDS: Command[] = [trainCommand, listCommand, evaluateCommand, compareCommand, backendCommand];
