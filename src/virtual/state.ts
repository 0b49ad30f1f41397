// The driver's state on the virtual machine: the run's real layout and views (the threads engine's
// own data structures, built exactly as workload/orchestrator.ts builds them for the same Config),
// the IOVA allocator (iova.ts), the page tables, the IOTLB and device reads (device.ts), the safety
// oracle and lazy's flush queue (flush-queue.ts), all single-threaded on those views, with the time
// charged by the virtual model. VirtualState is the run's; VCpuState is one CPU's hooks into its
// loop (cpu.ts), in the order workload/cpu-loop.ts runs them: tick, alloc + map, DMA reads, unmap
// (PTE clears between the strategy's commands), release (free, or queue for a lazy flush).
import { DEFAULTS, type Config, type IovaMode } from '../config/config.js';
import { CmdBatch } from '../driver/cmd-batch.js';
import type { CmdqDesign } from '../driver/cmdq.js';
import { asidOf, IommuDomain } from '../driver/iommu.js';
import { IovaDomain, initIovaDomain } from '../driver/iova.js';
import { initIovaRcache, rcacheCachedCount, IOVA_RCACHE_REGION } from '../driver/iova-rcache.js';
import { iovaOf } from '../driver/strategies/index.js';
import { Iotlb } from '../hardware/iotlb.js';
import {
  allocate,
  computeLayout,
  cpuStatsBase,
  LINE,
  pteIdx,
  VA_BASE_PAGE,
  type Layout,
  type SharedViews,
} from '../hardware/layout.js';
import { initCpuStats } from '../concurrency/counters.js';
import { SPIN } from '../concurrency/wait.js';
import { readSafety, type SafetySummary } from '../safety/oracle.js';
import { layoutParamsFor } from '../workload/params.js';
import { LAYOUT_BASE } from './address-map.js';
import type { IovaLockClass, VCpuStats } from './cpu-stats.js';
import { iotlbEffect, VDevices } from './device.js';
import { VFlushQueue } from './flush-queue.js';
import { VIovaAllocator } from './iova.js';
import type { VirtualParams } from './params.js';
import { makeVLock, VInstrumentedLock, VLockStats, type VLockParams, type VLockSink } from './locks.js';
import type { Machine } from './machine.js';
import { delay, type Proc, type Req } from './requests.js';

/** Physical pages are per-CPU and recycled (workload/cpu-loop.ts PPN_PER_CPU). */
const PPN_PER_CPU = 1 << 20;

/** The strategies the virtual engine runs with the driver state, by their threads-engine names. */
export type StateStrategy = 'per-page' | 'batched' | 'range' | 'lazy' | 'unsafe-free-before-sync';

/** What the state takes of the threads Config (the rest follows the virtual run's own options). */
const STATE_KEYS = ['iova', 'fqSize', 'fqTimeoutMs', 'iotlbEntries', 'devices', 'lock'] as const;
export type StateConfig = Partial<Pick<Config, (typeof STATE_KEYS)[number]>>;

interface IssueProcs {
  issue(batch: CmdBatch, sync: boolean): Proc;
}

/** The threads Config the layout is built for: the virtual run's settings on the defaults. */
export function stateConfig(
  cpus: number,
  strategy: StateStrategy,
  design: CmdqDesign,
  p: VirtualParams,
  over: StateConfig,
): Config {
  return {
    ...DEFAULTS,
    cpus,
    strategies: [strategy],
    cmdq: design,
    pages: p.pages,
    queueEntries: 1 << p.queueShift,
    tlbiNs: p.tlbiNs,
    syncNs: p.syncNs,
    syncMode: p.syncMode,
    dmaNs: p.dmaNs,
    domains: 'shared',
    // Only these keys: a whole threads Config may be passed without overriding the run's own.
    ...Object.fromEntries(STATE_KEYS.filter((k) => over[k] !== undefined).map((k) => [k, over[k]])),
  };
}

export interface VirtualEndState {
  /** Valid IOTLB entries left (the threads report's endState.iotlbEntries). */
  readonly iotlbEntries: number;
  /** Of those, entries of a page whose PTE is clear (must be 0 once every unmap was invalidated). */
  readonly iotlbEntriesUnmapped: number;
  /** IOVAs neither in the rbtree nor in an rcache (the report's endState.iovasOutstanding). */
  readonly iovasOutstanding: number;
}

/** The run's state: layout, views, the SMMU's IOTLB, the machine's locks. */
export class VirtualState {
  readonly layout: Layout;
  readonly views: SharedViews;
  readonly iova: IovaMode;
  /** The SMMU's view of the IOTLB (its TLBIs remove entries). */
  readonly iotlb: Iotlb;
  /** Entries the SMMU's TLBIs removed: over the whole run, and in the measured window (the
   *  threads engine's Smmu.IOTLB_INVALIDATIONS). */
  iotlbInvalidations = 0;
  iotlbInvalidationsMeasured = 0;
  /** The measured window [from, to), virtual ns (set by runVirtual). */
  window: readonly [number, number] = [0, Infinity];
  /** Lock statistics of the flush queues' fq->lock (no report class in the threads engine). */
  readonly fqLocks = new VLockStats();
  /** Set at the end of the measured window: CPUs finish their iteration, drain and stop. */
  stopping = false;
  /** CPUs that have stopped, and when the last one did. */
  stopped = 0;
  lastStopNs = 0;
  /** Loop iterations (alloc ... release) completed over the whole run. */
  iterations = 0;
  private readonly locks = new Map<number, { lock: VInstrumentedLock; cls: string }>();
  /** Each CPU's statistics object of the moment (the run swaps them at the end of warm-up). */
  private readonly cpuStats: (() => VCpuStats)[] = [];
  /** The report's lockstat writer of a CPU and IOVA lock class (its block and --trace ring), as
   *  the cmdq lock's (instrument.ts VLockStat); set by the run before the CPUs start. */
  lockSink: ((cpu: number, cls: IovaLockClass) => VLockSink) | null = null;
  private readonly clock: { readonly now: number };

  constructor(
    readonly cfg: Config,
    readonly strategy: StateStrategy,
    private readonly m: Machine,
    /** relaxNs, lockSpinNs of the --lock algorithm (the cmdq lock's, locks.ts). */
    private readonly lockParams: VLockParams,
    /** The run's layout and views, already initialised (the CLI's run builds them for its Config). */
    world?: { readonly layout: Layout; readonly views: SharedViews },
  ) {
    this.clock = m.clock;
    if (cfg.domains !== 'shared') throw new Error('virtual engine: only --domains shared has driver state');
    this.iova = iovaOf(cfg, strategy);
    if (world !== undefined) {
      this.layout = world.layout;
      this.views = world.views;
    } else {
      this.layout = computeLayout(layoutParamsFor(cfg, strategy));
      this.views = allocate(this.layout);
      const { i32, f64 } = this.views;
      for (let cpu = 0; cpu < cfg.cpus; cpu++) {
        initCpuStats(f64, cpuStatsBase(this.layout, cpu, false), this.layout.lockClasses.length);
        initCpuStats(f64, cpuStatsBase(this.layout, cpu, true), this.layout.lockClasses.length);
      }
      for (let d = 0; d < this.layout.domains; d++) {
        initIovaDomain(i32, this.layout, d);
        if (this.iova === 'rcache') initIovaRcache(i32, this.layout, d);
      }
    }
    this.iotlb = new Iotlb(this.views.i32, this.layout, SPIN);
  }

  /** CPU `cpu`'s statistics of the moment, for the locks' lockstat counts (VCpuState registers). */
  registerCpu(cpu: number, stats: () => VCpuStats): void {
    this.cpuStats[cpu] = stats;
  }

  /**
   * The lock at a layout byte offset, one instance per lock, shared by the CPUs: the run's --lock
   * algorithm (cfg.lock, as the threads engine builds every IOVA and fq lock with it: cpu-loop.ts,
   * driver/flush-queue.ts) on its own words at LAYOUT_BASE + offset, the MCS nodes on the lines
   * after it (concurrency/locks/mcs.ts: node c at offset + 64 (1 + c); the layout's lockBytes are
   * the algorithm's). cls: its lockstat class (iova, rcache, depot: VCpuStats.iovaLocks; fq: the
   * run's fqLocks, which the threads engine does not report).
   */
  lockAt(byteOffset: number, cls: IovaLockClass | 'fq'): VInstrumentedLock {
    let l = this.locks.get(byteOffset);
    if (l === undefined) {
      const addr = LAYOUT_BASE + byteOffset;
      const algo = makeVLock(this.cfg.lock, this.m, addr, addr + LINE, this.cfg.cpus, this.lockParams);
      const statsOf =
        cls === 'fq' ? () => this.fqLocks : (cpu: number) => this.cpuStats[cpu]().iovaLocks[cls];
      const sink = this.lockSink;
      const sinkOf = cls === 'fq' || sink === null ? null : (cpu: number) => sink(cpu, cls);
      l = { lock: new VInstrumentedLock(this.cfg.lock, algo, this.m, statsOf, sinkOf), cls };
      this.locks.set(byteOffset, l);
    }
    return l.lock;
  }

  /** Acquisitions and releases over the whole run (warm-up and drain included), by class. */
  lockTotals(): Record<string, number> {
    const t: Record<string, number> = {};
    for (const { lock, cls } of this.locks.values()) t[cls] = (t[cls] ?? 0) + lock.acquired;
    return t;
  }

  /** Locks whose acquisitions and releases differ, or that are held now (none after a drained run). */
  unpairedLocks(): string[] {
    const bad: string[] = [];
    for (const [off, { lock, cls }] of this.locks)
      if (lock.acquired !== lock.released || lock.heldBy !== -1)
        bad.push(`${cls}@${off}: ${lock.acquired} acquired, ${lock.released} released`);
    return bad;
  }

  /** The SMMU executed a command (after its time): its effect on the IOTLB. */
  execute(w: Int32Array): void {
    const removed = iotlbEffect(this.iotlb, w);
    this.iotlbInvalidations += removed;
    const t = this.clock.now;
    if (t >= this.window[0] && t < this.window[1]) this.iotlbInvalidationsMeasured += removed;
  }

  safety(): SafetySummary {
    const l = this.layout;
    return readSafety(this.views.i32, this.views.f64, l.safetyOff, {
      cpus: l.cpus,
      domains: l.domains,
      slotsPerDomain: l.iovaSlotsPerDomain,
    });
  }

  endState(): VirtualEndState {
    const { i32 } = this.views;
    const l = this.layout;
    const rcache = l.regionOffs[IOVA_RCACHE_REGION] !== undefined;
    let iovasOutstanding = 0;
    for (let d = 0; d < l.domains; d++)
      iovasOutstanding +=
        l.iovaSlotsPerDomain - IovaDomain.freeCount(i32, l, d) - (rcache ? rcacheCachedCount(i32, l, d) : 0);
    const entries = this.iotlb.entries();
    const unmapped = entries.filter((e) => i32[pteIdx(l, e.asid - 1, e.page - VA_BASE_PAGE)] === 0);
    return { iotlbEntries: entries.length, iotlbEntriesUnmapped: unmapped.length, iovasOutstanding };
  }
}

/** One CPU's driver state and its hooks into the CPU loop (cpu.ts). */
export class VCpuState {
  /** The buffer of the current iteration (first VA page). */
  vaPage = 0;
  private readonly domain = 0;
  readonly asid = asidOf(0);
  private readonly allocator: VIovaAllocator;
  private readonly iommu: IommuDomain;
  private readonly devices: VDevices;
  private readonly fq: VFlushQueue | null;
  private ppnNext = 0;
  private unmappedAt = 0;

  constructor(
    private readonly s: VirtualState,
    private readonly cpu: number,
    private readonly p: VirtualParams,
    private readonly clock: { readonly now: number },
    cmdq: IssueProcs,
    private readonly stats: () => VCpuStats,
    /** Seeds the peer devices' choice (from the run's PRNG). */
    seed: number,
  ) {
    s.registerCpu(cpu, stats);
    const { i32, f64 } = s.views;
    const layout = s.layout;
    this.allocator = new VIovaAllocator(
      s.iova,
      i32,
      layout,
      cpu,
      this.domain,
      (off, cls) => s.lockAt(off, cls),
      p,
    );
    // The page-table writes of iommu_map (no strategy hook is called by map()).
    this.iommu = new IommuDomain(i32, layout, this.domain, {
      tlbAddPage() {},
      iotlbSync() {},
      releaseIova() {},
    });
    this.devices = new VDevices(s.views, layout, s.cfg, cpu, clock, seed);
    this.fq =
      s.strategy === 'lazy'
        ? new VFlushQueue({
            i32,
            f64,
            layout,
            cpu,
            domain: this.domain,
            domainCpus: Array.from({ length: layout.cpus }, (_, c) => c),
            asid: this.asid,
            timeoutNs: s.cfg.fqTimeoutMs * 1e6,
            fqEntryNs: p.fqEntryNs,
            clock,
            cmdq,
            stats,
            freeIova: (va) => this.allocator.free(va),
            vlock: (off) => s.lockAt(off, 'fq'),
          })
        : null;
  }

  get stopping(): boolean {
    return this.s.stopping;
  }

  /** Top of an iteration: deferred work (lazy's domain timer). */
  *tick(): Proc {
    if (this.fq !== null) yield* this.fq.tick();
  }

  /** alloc_iova_fast / alloc_iova, then the map's CPU work, then the PTEs; the buffer goes live. */
  *map(): Proc {
    const va = yield* this.allocator.alloc();
    if (va < 0) throw new Error(`cpu ${this.cpu}: IOVA space of domain ${this.domain} exhausted`);
    this.vaPage = va;
    if (this.p.mapNs > 0) yield delay(this.p.mapNs);
    const pages = this.p.pages;
    this.iommu.map(va, pages, this.cpu * PPN_PER_CPU + this.ppnNext);
    this.ppnNext = (this.ppnNext + pages) % (PPN_PER_CPU - pages);
    this.devices.oracle.setLive(va, this.asid);
  }

  /**
   * The DMA: the device reads page i of the buffer at the start of the i-th of `pages` equal
   * slices of dmaNs (all at once when dmaNs is 0, as workload/cpu-loop.ts reads before its wait),
   * the peer devices after the last own read.
   */
  *dma(): Proc {
    const pages = this.p.pages;
    const slice = this.p.dmaNs / pages;
    const st = this.stats();
    for (let i = 0; i < pages; i++) {
      if (i > 0 && slice > 0) yield delay(slice);
      this.devices.readOwn(this.asid, this.vaPage + i, st);
    }
    this.devices.peerReads();
    if (slice > 0) yield delay(slice);
  }

  /** iommu_unmap begins (the oracle's clock of the slot's last unmap). */
  unmapBegin(): void {
    this.unmappedAt = this.clock.now;
    this.devices.oracle.unmapped(this.domain, this.vaPage, this.clock.now);
  }

  /** Page i's PTE is cleared (before the strategy's tlb_add_page for it), after pteClearNs of
   *  page-table walk and store (inside the unmap window, as iommu.ts unmap is in the threads one). */
  *clearPte(i: number): Proc {
    if (this.p.pteClearNs > 0) yield delay(this.p.pteClearNs);
    const t = this.vaPage - VA_BASE_PAGE + i;
    Atomics.store(this.s.views.i32, pteIdx(this.s.layout, this.domain, t), 0);
  }

  /** unsafe-free-before-sync: the IOVA goes back before the CMD_SYNC is issued. */
  *freeEarly(): Proc {
    yield* this.allocator.free(this.vaPage);
  }

  /** After iommu_unmap returned: the buffer is no longer live; free it, or queue it (lazy). */
  *release(): Proc {
    this.devices.oracle.setLive(0, 0);
    if (this.s.strategy === 'lazy') yield* this.fq!.queue(this.vaPage, this.unmappedAt);
    else if (this.s.strategy !== 'unsafe-free-before-sync') yield* this.allocator.free(this.vaPage);
    this.s.iterations++;
  }

  /** The run is stopping: complete deferred work (lazy: flush until the ring is empty). */
  *drain(): Generator<Req, void, number> {
    if (this.fq !== null) yield* this.fq.drain();
    this.s.stopped++;
    this.s.lastStopNs = this.clock.now;
  }
}
