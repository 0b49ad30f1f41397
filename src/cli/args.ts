// Flags -> Config. Commander only splits the command line; every value is validated here, before
// any worker starts, and a bad one becomes a UsageError naming the flag and what is allowed.
// A --config job file fills in what the command line leaves unset (config-file.ts), and --sweep /
// --repeat become the Plan around the Config (config/sweep.ts); both are checked here too.
import { Command, CommanderError, Option } from 'commander';
import {
  DEFAULTS,
  ENGINE_NAMES,
  IOVA_MODES,
  MAX_SEED,
  VIRTUAL_DEFAULTS,
  MAX_CPUS,
  MAX_PAGES,
  SYNC_COALESCE_MODES,
  type Config,
  CONS_POLL_MODES,
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
import { resolve } from 'node:path';
import { IOTLB_WAYS } from '../hardware/iotlb.js';
import { Q_MAX_SHIFT } from '../hardware/queue.js';
import { STRATEGY_NAMES } from '../driver/strategies/index.js';
import { CMDQ_DESIGN_NAMES } from '../driver/cmdq.js';
import { LOCK_NAMES, type LockName } from '../concurrency/lock.js';
import { checkWritable } from '../report/atomic-write.js';
import { TOOL } from '../version.js';
import { checkCombinations } from '../run/combinations.js';
import { INJECT_GRAMMAR, parseInjection } from '../config/inject.js';
import { parseShard, shardLabel, type Shard } from '../config/shard.js';
import { loadConfigFile, type KnownOption } from './config-file.js';
import { CalibrationError, readCalibration } from '../virtual/calibration.js';
import { calibratedConfig } from '../virtual/config-params.js';
import {
  AXIS_KEYS,
  axisName,
  checkPoint,
  MAX_LATENCY_NS,
  MAX_REPEAT,
  MAX_RUNS,
  paramsLabel,
  parseSweeps,
  sweepPoints,
  type AxisKey,
  type Plan,
} from '../config/sweep.js';

type RawOptions = Record<string, string | boolean | string[] | undefined>;

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
    .option(
      '--engine <name>',
      'threads (worker threads on this host, real time) or virtual (one thread, virtual time: any CPU count, deterministic)',
      d.engine,
    )
    .option(
      '--seed <n>',
      `--engine virtual: the PRNG seed (0-${MAX_SEED}); one seed, one result`,
      String(d.seed),
    )
    .option(
      '--calibration <file>',
      '--engine virtual: parameter file written by `calibrate` (flags given on the command line win)',
    )
    .option(
      '-t, --cpus <n>',
      `emulated CPUs, one worker thread each (1-${MAX_CPUS}); -t as dma_map_benchmark's threads`,
      String(d.cpus),
    )
    .option(
      '--strategy <list>',
      `comma-separated strategies, first is the baseline (${STRATEGY_NAMES.join(', ')})`,
      d.strategies.join(','),
    )
    .option(
      '--cmdq <design>',
      `command-queue design for every strategy (${CMDQ_DESIGN_NAMES.join(', ')}); default: each strategy's own`,
    )
    .option(
      '-g, --pages <n>',
      `4 KiB pages per DMA buffer, i.e. per map (1-${MAX_PAGES}); -g as dma_map_benchmark's granule`,
      String(d.pages),
    )
    .option(
      '--queue-entries <n>',
      `command queue entries, a power of two (2-${2 ** Q_MAX_SHIFT})`,
      String(d.queueEntries),
    )
    .option(
      '--tlbi-ns <ns>',
      'modelled SMMU time per TLBI (and any other non-SYNC) command (ns, or e.g. 1us)',
      String(d.tlbiNs),
    )
    .option('--sync-ns <ns>', 'modelled SMMU time to complete a CMD_SYNC (ns, or e.g. 1us)', String(d.syncNs))
    .option(
      '--mmio-read-ns <ns>',
      'modelled cost of each driver read of CMDQ_CONS / ECMDQ_CONS (0: free)',
      String(d.mmioReadNs),
    )
    .option(
      '--mmio-write-ns <ns>',
      'modelled cost of each driver write of CMDQ_PROD / ECMDQ_PROD (0: free)',
      String(d.mmioWriteNs),
    )
    .option(
      '-s, --duration <time>',
      "measured time per strategy (e.g. 500ms, 2s; a bare number is seconds: -s 10 as dma_map_benchmark's seconds) " +
        `(default: ${d.durationMs / 1000}s; ${VIRTUAL_DEFAULTS.durationMs}ms of virtual time under --engine virtual)`,
    )
    .option(
      '--warmup <time>',
      `uncounted warm-up before each measured window (default: ${d.warmupMs}ms; ${VIRTUAL_DEFAULTS.warmupMs}ms under --engine virtual)`,
    )
    .option(
      '--lock <name>',
      `lock algorithm for cmdq and iova (${LOCK_NAMES.join(', ')}) (default: ${d.lock})`,
    )
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
      '--sync-coalesce [scope]',
      "locked design: wait on a CMD_SYNC already queued after our commands; msi (bare flag: Linux 2018, MSI mode only), ext-poll (also poll mode: this tool's extension), off",
    )
    .option(
      '--sev <on|off>',
      'the SMMU advertises IDR0.SEV: CONS polls wait in WFE for its event',
      d.sev ? 'on' : 'off',
    )
    .option(
      '--cons-poll <mode>',
      'how the driver polls CONS: linux (WFE with SEV, else 10 reads then udelay 1, 2, 4... us) or spin (re-read, no back-off)',
      d.consPoll,
    )
    .option('--fq-size <n>', 'lazy: per-CPU flush queue entries (1-65536)', String(d.fqSize))
    .option('--fq-timeout <time>', 'lazy: flush a non-empty queue after this long', `${d.fqTimeoutMs}ms`)
    .option(
      '-x, --dma-ns <ns>',
      "time the CPU keeps each buffer mapped besides the device reads (ns or e.g. 100us, at most 10ms); -x as dma_map_benchmark's dma_trans_ns",
      String(d.dmaNs),
    )
    .option('--domains <mode>', 'shared (one ASID for all CPUs) or per-cpu (ASID = cpu + 1)', d.domains)
    .option(
      '--iova <mode>',
      'IOVA allocator: rcache (per-CPU magazines + depot, rbtree lock on a miss) or rbtree (lock per alloc/free) ' +
        '(default: rcache; rbtree for unsafe-free-before-sync)',
    )
    .option(
      '--iotlb-entries <n>',
      `IOTLB capacity, a power of two >= ${IOTLB_WAYS} (${IOTLB_WAYS}-way sets)`,
      String(d.iotlbEntries),
    )
    .option(
      '--stats <mode>',
      'full (times waits, syncs, unmaps and a sample of lock holds) or counters (counts only, no lock/sync/unmap timing)',
      d.stats,
    )
    .option(
      '--hold-sample <n>',
      'with --stats full, time the hold of 1 lock acquisition in n (a power of two; 1 = every hold)',
      String(d.holdSample),
    )
    .option(
      '--devices <n>',
      'DMA agents probing live buffers for the safety oracle, hosted on the CPU threads (0-1024)',
      'one per CPU',
    )
    .option(
      '--inject <fault>',
      `inject a fault, repeatable: ${INJECT_GRAMMAR}`,
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--sync-timeout <time>', 'report "CMD_SYNC timeout" after waiting this long (none: never)', '1s')
    .option('--watchdog <time>', 'end a run (exit 4) when no CPU completes an unmap for this long', '5s')
    .addOption(
      new Option(
        '--sweep <param=v1,v2,...>',
        `run every strategy at each value; repeat for a cross product (${AXIS_KEYS.map(axisName).join(', ')})`,
      )
        .argParser((v: string, prev: string[]) => [...prev, v])
        .default([] as string[], 'none'),
    )
    .option('--repeat <n>', `run each (point, strategy) N times, recorded separately (1-${MAX_REPEAT})`, '1')
    .option(
      '--shard <K/N|auto>',
      'run only slice K of N of the sweep points (auto: from a Slurm job array or a Kubernetes Indexed Job)',
    )
    .option('--shards <n>', "with --shard auto under Kubernetes: how many shards (the Job's completions)")
    .option('--config <file>', 'read settings from a JSON or YAML job file (flags on the command line win)')
    .option('--json <file>', 'write all results as one JSON document')
    .option('--csv <file>', 'write one row per (point, strategy, repetition) as CSV')
    .option('--report <file>', 'write a self-contained HTML report with charts')
    .option(
      '--trace <file>',
      'write a Chrome Trace Event Format file (open in Perfetto) of the end of each run',
    )
    .option('--trace-window <time>', 'how much of the end of each run --trace keeps', '200ms')
    .option('--cmd-log <file>', 'write consumed commands (raw 16-byte entries) to FILE.<strategy>.bin')
    .addOption(new Option('-q, --quiet', 'print nothing but errors'))
    .addHelpText(
      'after',
      '\nCommands:\n' +
        '  compare A.json B.json [--fail-on-regression PCT]\n' +
        '                    compare two --json files run by run: B/A per metric, marked beyond noise\n' +
        '                    (see tlbsync-emu compare --help)\n' +
        '  merge A.json B.json ... [--json F] [--csv F] [--report F]\n' +
        '                    one result document from several (e.g. the shards of a sweep)\n' +
        '  report RESULTS.json [--report F] [--csv F]\n' +
        '                    print and render a saved result without running anything\n' +
        '  replay FILE [--tlbi-ns N] [--sync-ns N] [--queue-entries N] [--no-ril] [--no-msi] [--no-sev] [--json OUT]\n' +
        '                    feed a raw command stream (--cmd-log format) through the SMMU engine\n' +
        '                    (see tlbsync-emu replay --help)\n' +
        '  calibrate [--out FILE] [--rounds N]\n' +
        "                    measure this host with the threads engine's own code and write the virtual\n" +
        "                    engine's parameter file (see tlbsync-emu calibrate --help)",
    );
  return p;
}

/** A camelCase option attribute as its flag: queueEntries -> --queue-entries. */
export function flagOf(attr: string): string {
  return `--${attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Options a --config file may set: every flag but --config, --help and --version. */
export function knownOptions(program: Command): KnownOption[] {
  return program.options.flatMap((o): KnownOption[] => {
    const attr = o.attributeName();
    if (attr === 'config' || attr === 'version' || attr === 'help' || !o.long) return [];
    const kind = o.isBoolean()
      ? 'bool'
      : attr === 'inject' || attr === 'sweep'
        ? 'list'
        : o.optional
          ? 'optional'
          : 'value';
    return [{ attr, long: o.long.replace(/^--/, ''), kind }];
  });
}

export interface ConfigContext {
  /** How messages name a setting: `--cpus`, or `job.yaml: cpus` for a value from a --config file. */
  readonly label: (attr: string) => string;
  /** Config keys a --sweep sets at each point: rules involving them are checked per point. */
  readonly swept: ReadonlySet<string>;
}

const FLAG_CONTEXT: ConfigContext = { label: flagOf, swept: new Set() };

/** A path the run will write, checked now by creating and removing a probe file beside it. */
export function outPath(label: string, v: RawOptions[string]): string | null {
  if (v === undefined) return null;
  const path = String(v);
  try {
    checkWritable(path);
  } catch (e) {
    // Node's messages repeat the path ("EACCES: permission denied, open '/x'"): keep the cause.
    const msg = (e as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    throw new UsageError(`${label}: cannot write ${path}: ${msg}`);
  }
  return path;
}

export function toConfig(o: RawOptions, ctx: ConfigContext = FLAG_CONTEXT): Config {
  // Each value is parsed under its label; messages that name the flag itself (--inject's) are
  // renamed when the value came from a file.
  const at = <T>(attr: string, parse: (label: string) => T): T => {
    const label = ctx.label(attr);
    try {
      return parse(label);
    } catch (e) {
      const flag = flagOf(attr);
      if (e instanceof UsageError && label !== flag && e.message.startsWith(flag))
        throw new UsageError(label + e.message.slice(flag.length));
      throw e;
    }
  };
  const str = (k: string): string => String(o[k]);
  const engine = at('engine', (l) => parseChoice(l, str('engine'), ENGINE_NAMES));
  const virtual = engine === 'virtual';
  // Settings whose default depends on the engine (VIRTUAL_DEFAULTS).
  const byEngine = (threads: string, virt: string): string => (virtual ? virt : threads);
  if (o.duration === undefined)
    o = { ...o, duration: byEngine(`${DEFAULTS.durationMs}ms`, `${VIRTUAL_DEFAULTS.durationMs}ms`) };
  if (o.warmup === undefined)
    o = { ...o, warmup: byEngine(`${DEFAULTS.warmupMs}ms`, `${VIRTUAL_DEFAULTS.warmupMs}ms`) };
  const cpus = at('cpus', (l) => parseCount(l, str('cpus'), 1, MAX_CPUS));
  const lock =
    o.lock === undefined
      ? DEFAULTS.lock
      : at('lock', (l) => parseChoice<LockName>(l, str('lock'), LOCK_NAMES));
  // Virtual time costs no waiting: a window of microseconds is as exact as one of seconds.
  const durationMs = at('duration', (l) =>
    parseDuration(l, str('duration'), virtual ? 0.001 : 10, 3_600_000),
  );
  const wait = at('wait', (l) => parseChoice<WaitMode>(l, str('wait'), ['spin', 'park', 'auto']));
  if (lock === 'spin-park' && wait === 'spin' && !ctx.swept.has('lock') && !ctx.swept.has('wait'))
    throw new UsageError(
      `${ctx.label('lock')} spin-park contradicts ${ctx.label('wait')} spin: the spin-park lock always parks (use --wait auto or park)`,
    );
  // With a cpus sweep, injections are checked against each point's CPUs (checkPoint).
  const injectCpus = ctx.swept.has('cpus') ? MAX_CPUS : cpus;
  return {
    engine,
    seed: at('seed', (l) => parseCount(l, str('seed'), 0, MAX_SEED)),
    calibration: o.calibration === undefined ? null : String(o.calibration),
    cpus,
    strategies: at('strategy', (l) => parseChoiceList(l, str('strategy'), STRATEGY_NAMES)),
    cmdq: o.cmdq === undefined ? null : at('cmdq', (l) => parseChoice(l, str('cmdq'), CMDQ_DESIGN_NAMES)),
    pages: at('pages', (l) => parseCount(l, str('pages'), 1, MAX_PAGES)),
    queueEntries: at('queueEntries', (l) => parsePowerOfTwo(l, str('queueEntries'), 2, 2 ** Q_MAX_SHIFT)),
    tlbiNs: at('tlbiNs', (l) => parseNs(l, str('tlbiNs'), MAX_LATENCY_NS)),
    syncNs: at('syncNs', (l) => parseNs(l, str('syncNs'), MAX_LATENCY_NS)),
    durationMs,
    warmupMs: at('warmup', (l) => parseDuration(l, str('warmup'), 0, 60_000)),
    lock,
    wait,
    spinNs: at('spinNs', (l) => parseNs(l, str('spinNs'), 1_000_000_000)),
    syncMode: at('syncMode', (l) => parseChoice(l, str('syncMode'), ['poll', 'msi'] as const)),
    syncCoalesce: at('syncCoalesce', (l) =>
      o.syncCoalesce === undefined || o.syncCoalesce === false || o.syncCoalesce === 'false'
        ? 'off'
        : o.syncCoalesce === true || o.syncCoalesce === 'true'
          ? 'msi'
          : parseChoice(l, str('syncCoalesce'), SYNC_COALESCE_MODES),
    ),
    sev: at('sev', (l) => parseChoice(l, str('sev'), ['on', 'off'] as const) === 'on'),
    consPoll: at('consPoll', (l) => parseChoice(l, str('consPoll'), CONS_POLL_MODES)),
    mmioReadNs: at('mmioReadNs', (l) => parseNs(l, str('mmioReadNs'), MAX_LATENCY_NS)),
    mmioWriteNs: at('mmioWriteNs', (l) => parseNs(l, str('mmioWriteNs'), MAX_LATENCY_NS)),
    fqSize: at('fqSize', (l) => parseCount(l, str('fqSize'), 1, 65536)),
    fqTimeoutMs: at('fqTimeout', (l) => parseDuration(l, str('fqTimeout'), 0.001, 10_000)),
    dmaNs: at('dmaNs', (l) => parseNs(l, str('dmaNs'), MAX_LATENCY_NS)),
    domains: at('domains', (l) => parseChoice(l, str('domains'), ['shared', 'per-cpu'] as const)),
    iova: o.iova === undefined ? null : at('iova', (l) => parseChoice(l, str('iova'), IOVA_MODES)),
    iotlbEntries: at('iotlbEntries', (l) => parsePowerOfTwo(l, str('iotlbEntries'), IOTLB_WAYS, 1 << 20)),
    stats: at('stats', (l) => parseChoice<StatsMode>(l, str('stats'), ['full', 'counters'])),
    holdSample: at('holdSample', (l) => parsePowerOfTwo(l, str('holdSample'), 1, 1024)),
    devices:
      o.devices === 'one per CPU' ? null : at('devices', (l) => parseCount(l, str('devices'), 0, 1024)),
    inject: at('inject', () =>
      (o.inject as string[]).map((spec) => parseInjection(spec, injectCpus, durationMs)),
    ),
    syncTimeoutMs: /^(none|inf)$/.test(str('syncTimeout'))
      ? Infinity
      : at('syncTimeout', (l) => parseDuration(l, str('syncTimeout'), 1, 3_600_000)),
    watchdogMs: at('watchdog', (l) => parseDuration(l, str('watchdog'), 100, 3_600_000)),
    json: outPath(ctx.label('json'), o.json),
    cmdLog: outPath(ctx.label('cmdLog'), o.cmdLog),
    trace: outPath(ctx.label('trace'), o.trace),
    traceWindowMs: at('traceWindow', (l) => parseDuration(l, str('traceWindow'), 1, 3_600_000)),
    quiet: o.quiet === true,
  };
}

/**
 * The command line (and --config file) as one Config plus the plan around it. Precedence: flags
 * on the command line, then the file, then the defaults. A flag on the command line that a file's
 * sweep also sweeps wins (that axis is dropped); the same parameter given both as a flag and in
 * --sweep on the command line, or both as a key and in sweep in the file, is refused.
 */
export function resolveOptions(program: Command): { config: Config; plan: Plan } {
  const labels = new Map<string, string>();
  const source = (attr: string): string | undefined => program.getOptionValueSource(attr);
  const file = program.opts().config as string | undefined;
  if (file !== undefined)
    for (const s of loadConfigFile(file, knownOptions(program))) {
      if (source(s.attr) === 'cli') continue;
      program.setOptionValueWithSource(s.attr, s.value, 'config');
      labels.set(s.attr, `${file}: ${s.key}`);
    }
  const o = program.opts() as RawOptions;
  const label = (attr: string): string => labels.get(attr) ?? flagOf(attr);

  const sweepLabel = labels.get('sweep') ?? '--sweep';
  const axes = parseSweeps(sweepLabel, o.sweep as string[]).filter((a) => {
    const given = source(a.key);
    if (given === source('sweep') && (given === 'cli' || given === 'config'))
      throw new UsageError(
        `${sweepLabel} ${axisName(a.key)}: also set by ${label(a.key)}; give one or the other`,
      );
    return given !== 'cli';
  });
  const swept = new Set<string>(axes.map((a) => a.key));
  const config = withCalibration(toConfig(o, { label, swept }), (key) => {
    const from = source(key);
    return from === 'cli' || from === 'config' || swept.has(key);
  });
  const repeat = parseCount(label('repeat'), String(o.repeat), 1, MAX_REPEAT);
  const sweep = axes.length > 0 ? axes : null;

  const points = sweepPoints(config, sweep);
  if (config.calibration !== null && !points.some((p) => p.cfg.engine === 'virtual'))
    throw new UsageError(
      `${label('calibration')} is for --engine virtual: the threads engine measures this host and has no model parameters to calibrate`,
    );
  const shard = shardOf(o, label, points.length);
  const runs = points.length * config.strategies.length * repeat;
  if (runs > MAX_RUNS)
    throw new UsageError(
      `${sweep ? sweepLabel : label('repeat')}: ${runs} runs (${points.length} points x ` +
        `${config.strategies.length} strategies x ${repeat} repetitions) is more than ${MAX_RUNS}`,
    );
  for (const p of points) {
    checkPoint(p.cfg, p.params, (key) =>
      key in p.params
        ? `${sweepLabel} ${axisName(key as AxisKey)}=${String(p.cfg[key])}`
        : `${label(key)} ${String(p.cfg[key])}`,
    );
    try {
      checkCombinations(p.cfg);
    } catch (e) {
      if (e instanceof UsageError && sweep)
        throw new UsageError(`${e.message} (at ${sweepLabel} point ${paramsLabel(p.params)})`);
      throw e;
    }
  }

  const csv = outPath(label('csv'), o.csv);
  const report = outPath(label('report'), o.report);
  const outputs: [string, string | null][] = [
    ['json', config.json],
    ['trace', config.trace],
    ['csv', csv],
    ['report', report],
  ];
  for (const [i, [a, pa]] of outputs.entries())
    for (const [b, pb] of outputs.slice(i + 1))
      if (pa !== null && pb !== null && resolve(pa) === resolve(pb))
        throw new UsageError(
          `${label(b)}: ${pb} is also the ${label(a)} file; give each output its own file`,
        );
  return { config, plan: { sweep, repeat, csv, report, shard } };
}

/**
 * --calibration: the file read and checked now, its values applied to the settings of the tool's
 * own model (--tlbi-ns, --sync-ns, ...) that `given` says no flag, job file or sweep set.
 */
function withCalibration(config: Config, given: (key: keyof Config) => boolean): Config {
  if (config.calibration === null) return config;
  try {
    return calibratedConfig(config, readCalibration(config.calibration), given);
  } catch (e) {
    if (e instanceof CalibrationError) throw new UsageError(e.message);
    throw e;
  }
}

/** --shard / --shards -> the slice this invocation runs, checked against the sweep's points. */
function shardOf(o: RawOptions, label: (attr: string) => string, points: number): Shard | null {
  const shards = o.shards === undefined ? null : parseCount(label('shards'), String(o.shards), 1, MAX_RUNS);
  if (o.shard === undefined) {
    if (shards !== null) throw new UsageError(`${label('shards')} needs --shard auto`);
    return null;
  }
  const shard = parseShard(label('shard'), String(o.shard), process.env, shards);
  if (points < 2 && shard.count > 1)
    throw new UsageError(`${label('shard')} ${shardLabel(shard)}: there is nothing to split without --sweep`);
  if (shard.count > points)
    throw new UsageError(
      `${label('shard')} ${shardLabel(shard)}: the sweep has ${points} points, fewer than ${shard.count} shards`,
    );
  return shard;
}

export type ParseOutcome =
  { kind: 'run'; config: Config; plan: Plan } | { kind: 'exit'; code: number; output: string };

/** Commander's error as one line, without its "error: " prefix. */
export function commanderMessage(e: CommanderError): string {
  return e.message.replace(/^error: /, '').split('\n')[0];
}

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
      return { kind: 'exit', code: 2, output: `tlbsync-emu: ${commanderMessage(e)} (see --help)\n` };
    }
    throw e;
  }
  try {
    return { kind: 'run', ...resolveOptions(program) };
  } catch (e) {
    if (e instanceof UsageError) return { kind: 'exit', code: 2, output: `tlbsync-emu: ${e.message}\n` };
    throw e;
  }
}
