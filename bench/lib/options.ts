// The bench's command line. Commander splits it and writes --help; every value is checked here,
// and bad input becomes one line naming the flag and exit code 2, as in the emulator's CLI
// (src/cli/args.ts).
import { Command, CommanderError, Option } from 'commander';
import { parseChoiceList, parseCount, UsageError } from '../../src/config/parse.js';
import type { BenchSection } from '../sections/section.js';

export const MAX_REPS = 1000;

export interface BenchOptions {
  quick: boolean;
  reps: number;
  /** The sections to run, in the order given (they run in the registry's order). */
  only: string[];
  name: string;
  /** Rewrite the generated part of docs/performance.md. */
  doc: boolean;
  /** A results file to render instead of measuring. */
  renderOnly: string | null;
}

export type OptionsOutcome =
  { kind: 'run'; options: BenchOptions } | { kind: 'exit'; code: number; output: string };

function program(sections: readonly BenchSection<unknown>[]): Command {
  const names = sections.map((s) => s.name).join(',');
  const measuring = ['quick', 'reps', 'only', 'name', 'profile'];
  return new Command()
    .name('npm run bench --')
    .description(
      'Measures the emulator against its timing model and the machine; writes bench/results/<name>.json ' +
        'and the generated part of docs/performance.md.',
    )
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureHelp({ helpWidth: 110 })
    .allowExcessArguments(false)
    .option('--quick', '3 repetitions and shorter windows (under 3 minutes); no profiles')
    .option('--reps <n>', `repetitions of every figure (1-${MAX_REPS}; default 5, 3 with --quick)`)
    .option('--only <list>', `comma-separated sections to run (${names})`)
    .option('--name <name>', 'results file bench/results/<name>.json (default full, or quick with --quick)')
    .option('--profile', 'run the profile section in quick mode too')
    .option('--no-doc', 'leave docs/performance.md alone (the Markdown still goes to stdout)')
    .addOption(
      new Option(
        '--render-only <file>',
        'measure nothing: render docs/performance.md (and stdout) from a saved results file',
      ).conflicts(measuring),
    );
}

function resolve(
  o: Record<string, string | boolean | undefined>,
  sections: readonly BenchSection<unknown>[],
) {
  const quick = o.quick === true;
  const mode = { quick, profile: o.profile === true };
  const names = sections.map((s) => s.name);
  const only =
    typeof o.only === 'string'
      ? parseChoiceList('--only', o.only, names)
      : sections.filter((s) => s.byDefault(mode)).map((s) => s.name);
  const name = typeof o.name === 'string' ? o.name : quick ? 'quick' : 'full';
  if (!/^[\w.-]+$/.test(name))
    throw new UsageError(`--name: "${name}" is not a file name (letters, digits, '.', '-', '_')`);
  return {
    quick,
    reps: typeof o.reps === 'string' ? parseCount('--reps', o.reps, 1, MAX_REPS) : quick ? 3 : 5,
    only,
    name,
    doc: o.doc !== false,
    renderOnly: typeof o.renderOnly === 'string' ? o.renderOnly : null,
  };
}

/** Parses argv (without node and script). Never throws for bad input: returns an exit outcome. */
export function parseBenchOptions(
  argv: readonly string[],
  sections: readonly BenchSection<unknown>[],
): OptionsOutcome {
  const p = program(sections);
  let printed = '';
  p.configureOutput({ writeOut: (s) => (printed += s), writeErr: () => {} });
  try {
    p.parse([...argv], { from: 'user' });
    return { kind: 'run', options: resolve(p.opts(), sections) };
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed') return { kind: 'exit', code: 0, output: printed };
      const msg = e.message.replace(/^error: /, '').split('\n')[0];
      return { kind: 'exit', code: 2, output: `bench: ${msg} (see --help)\n` };
    }
    if (e instanceof UsageError) return { kind: 'exit', code: 2, output: `bench: ${e.message}\n` };
    throw e;
  }
}
