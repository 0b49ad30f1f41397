// Flags -> Config. Commander only splits the command line; every value is validated here, before
// any worker starts, and a bad one becomes a UsageError naming the flag and what is allowed.
import { Command, CommanderError, Option } from 'commander';
import {
  DEFAULTS,
  MAX_CPUS,
  MAX_PAGES,
  type Config,
  type StatsMode,
  type WaitMode,
} from '../config/config.js';
import {
  parseChoice,
  parseChoiceList,
  parseCount,
  parseDuration,
  parseNs,
  parsePowerOfTwo,
  UsageError,
} from '../config/parse.js';
import { IOTLB_WAYS } from '../hardware/iotlb.js';
import { Q_MAX_SHIFT } from '../hardware/queue.js';
import { STRATEGY_NAMES } from '../driver/strategies/index.js';
import { LOCK_NAMES, type LockName } from '../sync/lock.js';
import { checkWritable } from '../report/atomic-write.js';
import { TOOL } from './version.js';

const MAX_LATENCY_NS = 10_000_000; // 10 ms per command: beyond that a run measures nothing useful

type RawOptions = Record<string, string | boolean | undefined>;

export function buildProgram(): Command {
  const d = DEFAULTS;
  const p = new Command()
    .name('tlbsync-emu')
    .description(
      'Emulates CPUs unmapping DMA buffers through an ARM SMMUv3 command queue in shared memory, ' +
        'and profiles what each TLB-invalidation strategy costs in lock contention and syncs.',
    )
    .version(TOOL.version, '-V, --version')
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureHelp({ helpWidth: 120 })
    .configureOutput({ writeErr: () => {} })
    .allowExcessArguments(false)
    .option('--cpus <n>', `emulated CPUs, one worker thread each (1-${MAX_CPUS})`, String(d.cpus))
    .option(
      '--strategy <list>',
      `comma-separated strategies, first is the baseline (${STRATEGY_NAMES.join(', ')})`,
      d.strategies.join(','),
    )
    .option('--pages <n>', `4 KiB pages per DMA buffer (1-${MAX_PAGES})`, String(d.pages))
    .option(
      '--queue-entries <n>',
      `command queue entries, a power of two (2-${2 ** Q_MAX_SHIFT})`,
      String(d.queueEntries),
    )
    .option('--tlbi-ns <ns>', 'modelled SMMU time per TLBI command (ns, or e.g. 1us)', String(d.tlbiNs))
    .option('--sync-ns <ns>', 'modelled SMMU time to complete a CMD_SYNC (ns, or e.g. 1us)', String(d.syncNs))
    .option('--duration <time>', 'measured time per strategy (e.g. 500ms, 2s)', `${d.durationMs / 1000}s`)
    .option('--warmup <time>', 'uncounted warm-up before each measured window', `${d.warmupMs}ms`)
    .option('--lock <name>', `lock algorithm for cmdq and iova (${LOCK_NAMES.join(', ')})`, d.lock)
    .option(
      '--wait <policy>',
      'how waits wait: spin, park (spin then Atomics.wait), auto (park if oversubscribed)',
      d.wait,
    )
    .option('--spin-ns <ns>', 'how long a parking wait spins before it parks', String(d.spinNs))
    .option(
      '--sync-mode <mode>',
      'CMD_SYNC completion: poll (CONS, under the lock) or msi (memory word, outside it)',
      d.syncMode,
    )
    .option(
      '--sync-coalesce',
      'locked designs: wait on a CMD_SYNC already queued after our commands (Linux, 2018)',
    )
    .option('--fq-size <n>', 'lazy: per-CPU flush queue entries (1-65536)', String(d.fqSize))
    .option('--fq-timeout <time>', 'lazy: flush a non-empty queue after this long', `${d.fqTimeoutMs}ms`)
    .option('--domains <mode>', 'shared (one ASID for all CPUs) or per-cpu (ASID = cpu + 1)', d.domains)
    .option(
      '--iotlb-entries <n>',
      `IOTLB capacity, a power of two >= ${IOTLB_WAYS} (${IOTLB_WAYS}-way sets)`,
      String(d.iotlbEntries),
    )
    .option(
      '--stats <mode>',
      'full (times every wait and hold) or counters (counts only, reads no clock)',
      d.stats,
    )
    .option('--json <file>', 'write all results as one JSON document')
    .option('--cmd-log <file>', 'write consumed commands (raw 16-byte entries) to FILE.<strategy>.bin')
    .addOption(new Option('-q, --quiet', 'print nothing but errors'));
  return p;
}

function str(o: RawOptions, k: string): string {
  return String(o[k]);
}

export function toConfig(o: RawOptions): Config {
  const cpus = parseCount('--cpus', str(o, 'cpus'), 1, MAX_CPUS);
  const lock = parseChoice<LockName>('--lock', str(o, 'lock'), LOCK_NAMES);
  const wait = parseChoice<WaitMode>('--wait', str(o, 'wait'), ['spin', 'park', 'auto']);
  if (lock === 'spin-park' && wait === 'spin')
    throw new UsageError(
      '--lock spin-park contradicts --wait spin: the spin-park lock always parks (use --wait auto or park)',
    );
  const out = (flag: string, v: string | boolean | undefined): string | null => {
    if (v === undefined) return null;
    const path = String(v);
    try {
      checkWritable(path);
    } catch (e) {
      // Node's messages repeat the path ("EACCES: permission denied, open '/x'"): keep the cause.
      const msg = (e as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
      throw new UsageError(`${flag}: cannot write ${path}: ${msg}`);
    }
    return path;
  };
  return {
    cpus,
    strategies: parseChoiceList('--strategy', str(o, 'strategy'), STRATEGY_NAMES),
    pages: parseCount('--pages', str(o, 'pages'), 1, MAX_PAGES),
    queueEntries: parsePowerOfTwo('--queue-entries', str(o, 'queueEntries'), 2, 2 ** Q_MAX_SHIFT),
    tlbiNs: parseNs('--tlbi-ns', str(o, 'tlbiNs'), MAX_LATENCY_NS),
    syncNs: parseNs('--sync-ns', str(o, 'syncNs'), MAX_LATENCY_NS),
    durationMs: parseDuration('--duration', str(o, 'duration'), 10, 3_600_000),
    warmupMs: parseDuration('--warmup', str(o, 'warmup'), 0, 60_000),
    lock,
    wait,
    spinNs: parseNs('--spin-ns', str(o, 'spinNs'), 1_000_000_000),
    syncMode: parseChoice('--sync-mode', str(o, 'syncMode'), ['poll', 'msi'] as const),
    syncCoalesce: o.syncCoalesce === true,
    fqSize: parseCount('--fq-size', str(o, 'fqSize'), 1, 65536),
    fqTimeoutMs: parseDuration('--fq-timeout', str(o, 'fqTimeout'), 0.001, 10_000),
    domains: parseChoice('--domains', str(o, 'domains'), ['shared', 'per-cpu'] as const),
    iotlbEntries: parsePowerOfTwo('--iotlb-entries', str(o, 'iotlbEntries'), IOTLB_WAYS, 1 << 20),
    stats: parseChoice<StatsMode>('--stats', str(o, 'stats'), ['full', 'counters']),
    json: out('--json', o.json),
    cmdLog: out('--cmd-log', o.cmdLog),
    quiet: o.quiet === true,
  };
}

export type ParseOutcome = { kind: 'run'; config: Config } | { kind: 'exit'; code: number; output: string };

/** Parses argv (without node and script). Never throws for bad input: returns an exit outcome. */
export function parseArgs(argv: readonly string[]): ParseOutcome {
  const program = buildProgram();
  let printed = '';
  program.configureOutput({ writeOut: (s) => (printed += s), writeErr: () => {} });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version')
        return { kind: 'exit', code: 0, output: printed };
      // Commander's messages start with "error: "; keep one line.
      const msg = e.message.replace(/^error: /, '').split('\n')[0];
      return { kind: 'exit', code: 2, output: `tlbsync-emu: ${msg} (see --help)\n` };
    }
    throw e;
  }
  try {
    return { kind: 'run', config: toConfig(program.opts()) };
  } catch (e) {
    if (e instanceof UsageError) return { kind: 'exit', code: 2, output: `tlbsync-emu: ${e.message}\n` };
    throw e;
  }
}
