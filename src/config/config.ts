// The effective configuration of an invocation: every setting, with its default, in one object.
// The CLI builds it from flags (cli/args.ts); everything downstream reads only this.
import os from 'node:os';
import type { SyncMode } from '../driver/cmdq.js';
import type { ConsPollMode } from '../driver/cons-poll.js';
import type { LockName } from '../sync/lock.js';
import type { DomainsMode } from '../workload/task.js';
import type { Injection } from './inject.js';

export type WaitMode = 'spin' | 'park' | 'auto';
export type StatsMode = 'full' | 'counters';
/** off; msi: MSI-mode CMD_SYNCs piggy-back (Linux 2018); ext-poll: poll mode too (this tool's extension). */
export type SyncCoalesce = 'off' | 'msi' | 'ext-poll';
export const SYNC_COALESCE_MODES: readonly SyncCoalesce[] = ['off', 'msi', 'ext-poll'];

export interface Config {
  readonly cpus: number;
  readonly strategies: readonly string[];
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
  /** lazy: per-CPU flush queue entries and timeout (Linux's IOVA_FQ_SIZE, IOVA_FQ_TIMEOUT). */
  readonly fqSize: number;
  readonly fqTimeoutMs: number;
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
 * sweep's parsers are in src/cli/sweep-spec.ts (AXES, which must cover exactly these).
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
] as const satisfies readonly (keyof Config)[];
export type SweepKey = (typeof SWEEP_KEYS)[number];

export const MAX_CPUS = 256;
export const MAX_PAGES = 4096;

export const DEFAULTS: Config = {
  cpus: 8,
  strategies: ['per-page', 'batched'],
  pages: 16,
  queueEntries: 256,
  tlbiNs: 100,
  syncNs: 1000,
  durationMs: 2000,
  warmupMs: 200,
  lock: 'ttas',
  wait: 'auto',
  // A park/unpark round trip measured 25-60 us on the 2-core dev VM (docs/locks.md): spinning
  // for less makes FIFO locks hand over to sleeping threads.
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
  fqSize: 256,
  fqTimeoutMs: 10,
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
  /** Threads that want a core at once: the emulated CPUs plus the SMMU. */
  readonly threads: number;
  readonly oversubscribed: boolean;
  /** The policy that ran: 'spin' or 'spin-then-park'. */
  readonly waitPolicy: 'spin' | 'spin-then-park';
}

export function hostInfo(cfg: Config, cores = os.availableParallelism()): HostInfo {
  const threads = cfg.cpus + 1;
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
