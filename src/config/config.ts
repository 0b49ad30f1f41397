// The effective configuration of an invocation: every setting, with its default, in one object.
// The CLI builds it from flags (cli/args.ts); everything downstream reads only this.
import os from 'node:os';
import type { LockName } from '../concurrency/lock.js';
import type { Injection } from './inject.js';

export type WaitMode = 'spin' | 'park' | 'auto';
/** How a CMD_SYNC's completion is seen: polling CMDQ_CONS, or an MSI write to memory. */
export type SyncMode = 'poll' | 'msi';
/** shared: one ASID (one domain) for all CPUs; per-cpu: ASID = cpu + 1. */
export type DomainsMode = 'shared' | 'per-cpu';
/** The command-queue designs (src/driver/cmdq-designs.ts), in Linux's order of history. */
export const CMDQ_DESIGN_NAMES = ['locked', 'lockfree', 'ecmdq'] as const;
export type CmdqDesign = (typeof CMDQ_DESIGN_NAMES)[number];
export type StatsMode = 'full' | 'counters';
/** IOVA allocation: dma-iommu's alloc_iova_fast/free_iova_fast (rcache), or alloc_iova/free_iova. */
export const IOVA_MODES = ['rcache', 'rbtree'] as const;
export type IovaMode = (typeof IOVA_MODES)[number];
/** How a waiter polls CONS: linux (queue_poll: spin, then udelay or WFE) or spin (a tight loop). */
export type ConsPollMode = 'linux' | 'spin';
export const CONS_POLL_MODES: readonly ConsPollMode[] = ['linux', 'spin'];
/** off; msi: MSI-mode CMD_SYNCs piggy-back (Linux 2018); ext-poll: poll mode too (this tool's extension). */
export type SyncCoalesce = 'off' | 'msi' | 'ext-poll';
export const SYNC_COALESCE_MODES: readonly SyncCoalesce[] = ['off', 'msi', 'ext-poll'];
/** threads: worker threads on the host's cores (real time); virtual: one thread, a virtual clock (src/virtual). */
export const ENGINE_NAMES = ['threads', 'virtual'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
/** --seed: the virtual engine's PRNG seed, a uint32. */
export const MAX_SEED = 0xffffffff;

export interface Config {
  /** What runs the CPUs and the SMMU (docs/virtual-time.md for virtual). */
  readonly engine: EngineName;
  /** The virtual engine's PRNG seed (the threads engine has no randomness to seed). */
  readonly seed: number;
  /** --calibration: a parameter file for the virtual engine (src/virtual/calibration.ts), or null. */
  readonly calibration: string | null;
  readonly cpus: number;
  readonly strategies: readonly string[];
  /** Command-queue design for every strategy; null: each strategy's own default. */
  readonly cmdq: CmdqDesign | null;
  readonly pages: number;
  readonly queueEntries: number;
  readonly tlbiNs: number;
  readonly syncNs: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly lock: LockName;
  readonly wait: WaitMode;
  readonly spinNs: number;
  readonly syncMode: SyncMode;
  /** Piggy-back a CMD_SYNC on one that already follows this CPU's commands (Linux, 2018). */
  readonly syncCoalesce: SyncCoalesce;
  /** The SMMU advertises IDR0.SEV (CMD_SYNC completion wakes WFE). */
  readonly sev: boolean;
  /** How the driver polls CONS: Linux's loop (WFE, or spin + udelay back-off) or a plain spin. */
  readonly consPoll: ConsPollMode;
  /** Modelled cost of the driver's uncached register reads (CONS) and writes (PROD), in ns. */
  readonly mmioReadNs: number;
  readonly mmioWriteNs: number;
  readonly domains: DomainsMode;
  /** null: each strategy's own (rcache; rbtree for unsafe-free-before-sync). */
  readonly iova: IovaMode | null;
  /** lazy: per-CPU flush queue entries and timeout (Linux's IOVA_FQ_SIZE, IOVA_FQ_TIMEOUT). */
  readonly fqSize: number;
  readonly fqTimeoutMs: number;
  /** Time the CPU spends between map and unmap besides the device reads (dma_map_benchmark -x). */
  readonly dmaNs: number;
  readonly iotlbEntries: number;
  readonly stats: StatsMode;
  /** --stats full times the hold of one lock acquisition in this many (power of two; 1: all). */
  readonly holdSample: number;
  /** DMA agents probing live buffers for the safety oracle; null = one per CPU. */
  readonly devices: number | null;
  readonly inject: readonly Injection[];
  /** How long a CMD_SYNC waiter waits before reporting "CMD_SYNC timeout" (Infinity: never). */
  readonly syncTimeoutMs: number;
  /** A run in which no CPU completes an unmap for this long is declared hung (exit 4). */
  readonly watchdogMs: number;
  readonly json: string | null;
  readonly cmdLog: string | null;
  /** Chrome Trace Event Format output (Perfetto), and how much of the end of each run it keeps. */
  readonly trace: string | null;
  readonly traceWindowMs: number;
  readonly quiet: boolean;
}

/**
 * The settings --sweep can vary, by Config key (the order of the CSV's setting columns). The
 * sweep's parsers are in src/config/sweep.ts (AXES, which must cover exactly these).
 */
export const SWEEP_KEYS = [
  'cpus',
  'pages',
  'queueEntries',
  'tlbiNs',
  'syncNs',
  'mmioReadNs',
  'mmioWriteNs',
  'lock',
  'syncMode',
  'wait',
  'domains',
  'iova',
  'cmdq',
  'dmaNs',
  'engine',
  'seed',
] as const satisfies readonly (keyof Config)[];
export type SweepKey = (typeof SWEEP_KEYS)[number];

export const MAX_CPUS = 256;
export const MAX_PAGES = 4096;

export const DEFAULTS: Config = {
  engine: 'threads',
  seed: 1,
  calibration: null,
  cpus: 8,
  strategies: ['per-page', 'batched'],
  cmdq: null,
  pages: 16,
  queueEntries: 256,
  tlbiNs: 100,
  syncNs: 1000,
  durationMs: 2000,
  warmupMs: 200,
  lock: 'ttas',
  wait: 'auto',
  // Longer than a park/unpark round trip (docs/locks.md has the measurement): spinning for less
  // makes FIFO locks hand over to sleeping threads.
  spinNs: 20_000,
  syncMode: 'poll',
  syncCoalesce: 'off',
  // An MMU-600 with its evento wired (sup_sev strap) signals CMD_SYNC completion to WFE; QEMU's model does not.
  sev: true,
  consPoll: 'linux',
  // Published uncached-read and posted-write costs (docs/timing-model.md#mmio-costs).
  mmioReadNs: 500,
  mmioWriteNs: 100,
  domains: 'shared',
  iova: null,
  fqSize: 256,
  fqTimeoutMs: 10,
  dmaNs: 0,
  iotlbEntries: 256,
  stats: 'full',
  holdSample: 16,
  devices: null,
  inject: [],
  syncTimeoutMs: 1000,
  watchdogMs: 5000,
  json: null,
  cmdLog: null,
  trace: null,
  traceWindowMs: 200,
  quiet: false,
};

/**
 * What --engine virtual uses where no flag says otherwise: a short window of virtual time (a
 * virtual millisecond of 64 CPUs is about a second of host time, and one seed gives one result,
 * so there is no noise to average away). Every other default, --lock included, is the threads
 * engine's.
 */
export const VIRTUAL_DEFAULTS = {
  durationMs: 20,
  warmupMs: 1,
} as const satisfies Partial<Config>;

export function devicesOf(cfg: Config): number {
  return cfg.devices ?? cfg.cpus;
}

/** What the host can give us, and what the wait policy resolves to on it. */
export interface HostInfo {
  readonly cores: number;
  readonly nodeVersion: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpuModel: string;
  /** Threads that want a core at once: the emulated CPUs plus the SMMU (1 under --engine virtual). */
  readonly threads: number;
  readonly oversubscribed: boolean;
  /** The policy that ran: 'spin' or 'spin-then-park'. */
  readonly waitPolicy: 'spin' | 'spin-then-park';
}

export function hostInfo(cfg: Config, cores = os.availableParallelism()): HostInfo {
  // The virtual engine runs every CPU and the SMMU in this one thread, on a virtual clock: nothing
  // waits for a core, so nothing is oversubscribed.
  const threads = cfg.engine === 'virtual' ? 1 : cfg.cpus + 1;
  const oversubscribed = threads > cores;
  const park = cfg.wait === 'park' || (cfg.wait === 'auto' && oversubscribed);
  return {
    cores,
    nodeVersion: process.version,
    platform: process.platform,
    arch: process.arch,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    threads,
    oversubscribed,
    waitPolicy: park ? 'spin-then-park' : 'spin',
  };
}
