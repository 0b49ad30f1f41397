// What every subcommand (compare, merge, report, ...) does the same way: commander parses its own
// argv; --help goes to stdout with exit 0; a usage error or a UsageError from the work is one line
// on stderr with exit 2.
import { Command, CommanderError } from 'commander';
import { UsageError } from '../config/parse.js';
import { commanderMessage } from './args.js';

export interface Out {
  write(s: string): unknown;
}

/** A subcommand's program with the settings every one of them shares. */
export function subcommandProgram(name: string, description: string): Command {
  return new Command()
    .name(`tlbsync-emu ${name}`)
    .description(description)
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureHelp({ helpWidth: 120 })
    .allowExcessArguments(false);
}

/** Parses argv into `program`; returns the exit code instead when there is nothing more to do. */
export function parseSubcommand(
  program: Command,
  argv: readonly string[],
  stdout: Out,
  stderr: Out,
): number | null {
  let printed = '';
  program.configureOutput({ writeOut: (s) => (printed += s), writeErr: () => {} });
  try {
    program.parse([...argv], { from: 'user' });
    return null;
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed') {
      stdout.write(printed);
      return 0;
    }
    const name = program.name().replace(/^tlbsync-emu /, '');
    stderr.write(`tlbsync-emu: ${name}: ${commanderMessage(e)} (see tlbsync-emu ${name} --help)\n`);
    return 2;
  }
}

/** A UsageError from a subcommand's work: its one line and exit 2. Anything else propagates. */
export function usageExit(e: unknown, stderr: Out): number {
  if (!(e instanceof UsageError)) throw e;
  stderr.write(`tlbsync-emu: ${e.message}\n`);
  return 2;
}
