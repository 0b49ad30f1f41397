// One run of the virtual engine: N CPUs and the SMMU on a virtual clock, from the queue as
// bring-up leaves it (PROD = CONS = 3, as driver/probe.ts does) through a warm-up and a measured
// window. The result holds only simulated quantities (no host or wall-clock field), so one seed
// gives a byte-identical result.
import { OP } from '../hardware/commands.js';
import { getStrategy } from '../driver/strategies/index.js';
import { LINE_SHIFT } from './coherence.js';
import { DEFAULTS } from '../config/config.js';
import { LLQ, LOCK_NODES, OWNER_PROD, SPINLOCK } from './address-map.js';
import { VLockedCmdq, initLocked } from './cmdq-locked.js';
import { VLockfreeCmdq, initLockfree, SHARED_QUEUE } from './cmdq-lockfree.js';
import { ecmdqAddrs, initEcmdqs, VEcmdqCmdq } from './cmdq-ecmdq.js';
import type { ConsPollOptions } from './cons-poll.js';
import { makeVLock, VInstrumentedLock, type LockName } from './locks.js';
import { ECMDQ_CONS_FLAGS, smmuQueuesProcess } from './smmu-queues.js';
import { cpuProcess, type VirtualStrategy } from './cpu.js';
import { VCpuStats } from './cpu-stats.js';
import { Machine, type MachineProgress } from './machine.js';
import { DEFAULT_VIRTUAL_PARAMS, SMMU_FETCH_THREAD, type VirtualParams } from './params.js';
import { smmuProcess, threadSmmuMachine, type SmmuRecord } from './smmu.js';
import type { Proc } from './requests.js';
import { stateResult, type VirtualStateResult } from './state-result.js';
import { stateConfig, VCpuState, VirtualState, type StateConfig } from './state.js';
import type { Layout, SharedViews } from '../hardware/layout.js';
import { Cpu, initCpuStats } from '../concurrency/counters.js';
import { SMMU_STATS_SLOTS } from '../hardware/smmu-stats.js';
import type { TraceRing } from '../trace/ring.js';
import { IOVA_LOCK_CLASSES, VCLS_CMDQ, VCPU_LOCK_CLASSES, type IovaLockClass } from './cpu-stats.js';
import { VLockStat, type VProbe } from './instrument.js';

/** Where bring-up leaves PROD and CONS: CFGI_ALL + CMD_SYNC, TLBI_NSNH_ALL (driver/probe.ts). */
export const BRINGUP_PROD = 3;

export type VirtualDesign = 'locked' | 'lockfree' | 'ecmdq';

export interface VirtualRunOptions {
  readonly cpus: number;
  readonly strategy: VirtualStrategy;
  readonly design: VirtualDesign;
  readonly seed: number;
  readonly durationNs: number;
  readonly warmupNs: number;
  readonly params?: Partial<VirtualParams>;
  /** Keep every consumed command's words (result.commandWords). */
  readonly recordCommands?: boolean;
  /** Every lock's algorithm (--lock; default the threads engine's): the cmdq lock's on the locked
   *  design, and with `state` the IOVA allocator's and the flush queues' locks. */
  readonly lock?: LockName;
  /**
   * After the window, let every CPU finish the unmap it is in and stop, and run until nothing is
   * left to do (result.drained): for the invariants. The unmaps finished after the window count.
   */
  readonly drain?: boolean;
  /**
   * Run the driver's state (state.ts): IOVA allocator, page tables, IOTLB, device reads and the
   * safety oracle on the run's real layout; true, or the threads Config settings it takes (--iova,
   * --fq-size, --fq-timeout, --iotlb-entries, --devices, --lock for the layout's lock size).
   * Required by lazy and unsafe-free-before-sync. The result then has `state`, and `layout`,
   * `views` and `cpuStats` (not enumerable: JSON.stringify leaves them out).
   */
  readonly state?: boolean | StateConfig;
  /** With `state`: the run's layout and views, initialised (hardware/layout.ts allocate and the
   *  IOVA domains), for the driver state to run on instead of its own. */
  readonly world?: { readonly layout: Layout; readonly views: SharedViews };
  /** Called with the virtual time reached (and the events run) every PROGRESS_EVENTS events. */
  readonly progress?: MachineProgress;
  /**
   * Checked between slices of the measured window (runVirtualAsync gives the event loop a turn
   * there): once aborted, the window closes at the virtual time reached, the run ends as at the
   * end of its window (drain included) and the result says `interrupted`.
   */
  readonly signal?: AbortSignal;
  /** Called once, between slices, when an unmap begun in the measured window has completed. */
  readonly measuring?: () => void;
  /** --trace: one ring per CPU, then the SMMU's; events carry virtual timestamps. */
  readonly traceRings?: readonly TraceRing[];
  /** Called once at the end with the counts in the threads engine's formats (collect.ts). */
  readonly onEnd?: (end: VirtualEnd) => void;
}

/** What a run counted in the threads engine's formats, for src/virtual/collect.ts. */
export interface VirtualEnd {
  readonly stats: readonly VCpuStats[];
  /** The SMMU's counters of the measured window (hardware/smmu-stats.ts slots). */
  readonly smmu: Float64Array;
  /** Words of result.commandWords consumed before the measured window opened (recordCommands). */
  readonly logStart: number;
  /** ... and when it closed (the drain after it consumes more). */
  readonly logEnd: number;
  /** The virtual time the window closed at: its end, or sooner when interrupted or failed. */
  readonly closedAt: number;
  /** The measured window's length (ns): the duration, or what was run of it. */
  readonly windowNs: number;
  /** Events run until the window closed. */
  readonly events: number;
}

/** The state a drained run ends in, for the invariants. */
export interface VirtualDrained {
  /** Nothing was left to run (false: still busy 10 s of virtual time after the window). */
  readonly idle: boolean;
  /** CPUs that finished their last unmap and stopped (all, unless one waits forever). */
  readonly stopped: number;
  /** Every queue's PROD and CONS registers (index and wrap bits). */
  readonly queues: readonly { readonly prod: number; readonly cons: number }[];
}

export interface VirtualResult {
  readonly engine: 'virtual';
  readonly cpus: number;
  readonly strategy: VirtualStrategy;
  readonly design: VirtualDesign;
  readonly seed: number;
  readonly params: VirtualParams;
  readonly virtualNs: number;
  readonly events: number;
  readonly unmaps: number;
  readonly maps: number;
  /** map+unmap pairs per CPU per second of virtual time (Garry's metric). */
  readonly perCpuOpsPerSec: number;
  readonly unmapsPerSec: number;
  readonly meanUnmapNs: number;
  /** Share of CPU time spent in the command-queue issue path. */
  readonly issueFraction: number;
  /** Issued by completed unmaps. */
  readonly commands: { readonly tlbiNhVa: number; readonly cmdSync: number };
  /** Issued over the whole run (warm-up and unmaps still in flight at the end included). */
  readonly issued: { readonly tlbiNhVa: number; readonly cmdSync: number };
  /** Consumed by the SMMU in the whole run (warm-up included), by opcode name. */
  readonly consumed: Record<string, number>;
  readonly lockfree: {
    readonly cmpxchgAttempts: number;
    readonly cmpxchgSuccesses: number;
    /** Successes per attempt (Linux at 64 CPUs: about 1 in 12). */
    readonly cmpxchgSuccessRate: number;
    readonly ownerElections: number;
    readonly commandsPerOwner: number;
    readonly consRefreshes: number;
    readonly lastReaderConsUpdates: number;
  } | null;
  readonly queueFullWaits: number;
  /** Line transfers of the hot words' lines over the whole run. */
  readonly lineTransfers: Record<string, number>;
  readonly perCpuUnmaps: readonly number[];
  /** Every consumed entry's four int32 words (recordCommands). */
  readonly commandWords?: readonly number[];
  /** The cmdq lock (locked design): its algorithm and whole-run acquisitions and releases. */
  readonly cmdqLock: {
    readonly name: LockName;
    readonly acquired: number;
    readonly released: number;
    readonly heldBy: number;
  } | null;
  /** Every CPU's counts (the measured window; lock stats in cmdqLock). */
  readonly perCpu: readonly VCpuStats[];
  readonly drained?: VirtualDrained;
  /** Present (true) when `signal` closed the window early; virtualNs is then where it closed. */
  readonly interrupted?: true;
  /** With `state`: the oracle, end state, IOTLB and IOVA lock counts (state-result.ts). */
  readonly state: VirtualStateResult | null;
  /** With `state` (not enumerable): the run's layout and views, the CPUs' counts at the end of the
   *  measured window (what a collector writes into the views' Cpu/Lk slots). */
  readonly layout?: Layout;
  readonly views?: SharedViews;
  readonly cpuStats?: readonly VCpuStats[];
}

/** Virtual ns a drained run may take after its window before it is declared hung. */
const DRAIN_LIMIT_NS = 10e9;
/** Virtual time the CPUs get after the window to finish their iteration and drain (driver state). */
const STATE_DRAIN_LIMIT_NS = 1e9;

/** One run, synchronously (every slice at once). */
export function runVirtual(o: VirtualRunOptions): VirtualResult {
  const run = virtualRun(o);
  for (;;) {
    const r = run.next();
    if (r.done === true) return r.value;
  }
}

/**
 * One run, giving the event loop a turn between slices (Ctrl-C, progress timers): the same
 * events in the same order as runVirtual, so the same result.
 */
export async function runVirtualAsync(o: VirtualRunOptions): Promise<VirtualResult> {
  const run = virtualRun(o);
  for (;;) {
    const r = run.next();
    if (r.done === true) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The run, a slice at a time (it yields between slices). */
function* virtualRun(o: VirtualRunOptions): Generator<void, VirtualResult, void> {
  const p: VirtualParams = { ...DEFAULT_VIRTUAL_PARAMS, ...o.params };
  const smmuAgent = o.cpus;
  let stats = Array.from({ length: o.cpus }, () => new VCpuStats());
  const live = stats;
  const m = new Machine({
    ...p,
    agents: o.cpus + 1,
    seed: o.seed,
    freeMmioAgents: new Set([smmuAgent]),
    ...(p.smmuFetch === SMMU_FETCH_THREAD ? threadSmmuMachine(p.queueShift) : {}),
    onMmio: (agent, write) => live[agent].counters.add(write ? Cpu.MMIO_WRITES : Cpu.MMIO_READS, 1),
  });
  const lastHolder: number[] = [];
  const rings = o.traceRings ?? null;
  const cmdqLockStats: VLockStat[] = [];
  const iovaLockStats: Record<IovaLockClass, VLockStat>[] = [];
  const probes: VProbe[] = [];
  const needsState = o.strategy === 'lazy' || o.strategy === 'unsafe-free-before-sync';
  if (needsState && (o.state === undefined || o.state === false))
    throw new Error(`virtual engine: ${o.strategy} needs the driver state (option state)`);
  const over = o.state === undefined || o.state === false || o.state === true ? {} : o.state;
  if (o.lock !== undefined && over.lock !== undefined && o.lock !== over.lock)
    throw new Error(`virtual engine: lock ${o.lock} contradicts the driver state's lock ${over.lock}`);
  // --lock is every lock's algorithm, as in the threads engine: the cmdq lock's and the state's.
  const lockName = o.lock ?? over.lock ?? DEFAULTS.lock;
  const state =
    o.state === undefined || o.state === false
      ? null
      : new VirtualState(
          stateConfig(o.cpus, o.strategy, o.design, p, { ...over, lock: lockName }),
          o.strategy,
          m,
          p,
          o.world,
        );
  if (state !== null) {
    state.window = [o.warmupNs, o.warmupNs + o.durationNs];
    state.lockSink = (cpu, cls) => iovaLockStats[cpu][cls];
  }
  const end = o.warmupNs + o.durationNs;
  if (o.design === 'locked') initLocked(m, BRINGUP_PROD);
  else initLockfree(m, p.queueShift, BRINGUP_PROD);
  const rec: SmmuRecord = {
    byOpcode: new Map(),
    log: o.recordCommands === true ? [] : null,
    window: new Float64Array(SMMU_STATS_SLOTS),
    ring: rings?.[o.cpus] ?? null,
    ...(state !== null ? { execute: (w: Int32Array) => state.execute(w) } : {}),
  };
  const queues = [{ addrs: SHARED_QUEUE, consFlags: 0 }];
  if (o.design === 'ecmdq') {
    initEcmdqs(m, o.cpus, p.queueShift);
    for (let c = 0; c < o.cpus; c++)
      queues.push({ addrs: ecmdqAddrs(c, p.queueShift), consFlags: ECMDQ_CONS_FLAGS });
    m.spawn(smmuAgent, smmuQueuesProcess(m, smmuAgent, p, rec, queues));
  } else m.spawn(smmuAgent, smmuProcess(m, smmuAgent, p, rec));
  const cmdqLock =
    o.design === 'locked'
      ? new VInstrumentedLock(
          lockName,
          makeVLock(lockName, m, SPINLOCK, LOCK_NODES, o.cpus, p),
          m,
          (c) => stats[c].cmdqLock,
          (c) => cmdqLockStats[c],
        )
      : null;
  let stopped = 0;
  const counted = function* (proc: Proc): Proc {
    yield* proc;
    stopped++;
  };
  const poll: ConsPollOptions = { mode: p.consPoll, sev: p.sev, costlyReads: p.mmioReadNs > 0 };
  const work = {
    mapNs: p.mapNs,
    unmapNs: p.unmapNs,
    dmaNs: p.dmaNs,
    pages: p.pages,
    cmdNs: p.cmdNs,
    issueNs: o.design === 'lockfree' ? p.lockfreeIssueNs : p.lockedIssueNs,
    strategy: o.strategy,
    gather: o.design !== 'locked',
    measureFrom: o.warmupNs,
    ...(o.drain === true ? { stopAt: end } : {}),
  };
  // The design's histogram only where the strategy keeps none (workload/cpu-loop.ts designHistogram).
  const designHistogram = getStrategy(o.strategy).histogram === undefined;
  for (let c = 0; c < o.cpus; c++) {
    const probe: VProbe = { clock: m.clock, cpu: c, lastHolder, ring: rings?.[c] ?? null };
    probes.push(probe);
    stats[c].counters.ring = probe.ring;
    cmdqLockStats[c] = new VLockStat(probe, stats[c], VCLS_CMDQ);
    // The IOVA locks' classes follow cmdq in the block (cpu-stats.ts VCPU_LOCK_CLASSES).
    iovaLockStats[c] = Object.fromEntries(
      IOVA_LOCK_CLASSES.map((k, i) => [k, new VLockStat(probe, stats[c], VCLS_CMDQ + 1 + i)]),
    ) as Record<IovaLockClass, VLockStat>;
    const cmdq =
      o.design === 'lockfree'
        ? new VLockfreeCmdq(p.queueShift, p.syncMode, stats[c], poll, SHARED_QUEUE, probe, designHistogram)
        : o.design === 'ecmdq'
          ? new VEcmdqCmdq(c, p.queueShift, p.syncMode, stats[c], poll, probe, designHistogram)
          : new VLockedCmdq(p.queueShift, p.syncMode, stats[c], c, cmdqLock!, poll, probe);
    // A random start within one cycle outside the queue (map, then the buffer's time mapped), so
    // that CPUs do not march in lockstep: with a long dmaNs, starts within one map time would
    // bring every CPU to the queue at the same instant, cycle after cycle.
    const cycle = Math.max(1, p.mapNs + p.dmaNs);
    const st = stats[c];
    const cs = state !== null ? new VCpuState(state, c, p, m.clock, cmdq, () => st, m.rng.u32()) : undefined;
    m.spawn(c, counted(cpuProcess(m, c, work, cmdq, st, cs)), o.cpus > 1 ? m.rng.below(cycle) : 0);
  }
  // The measured window starts with fresh protocol counters (maps and unmaps count from there too).
  let logStart = 0;
  let windowOpen = false;
  m.at(o.warmupNs, () => {
    windowOpen = true;
    rec.window!.fill(0);
    logStart = rec.log?.length ?? 0;
    for (const s of stats) {
      const { maps, unmaps, tlbiNhVa, cmdSync, unmapNs, issueNs, issuedTlbi, issuedSync, block, counters } =
        s;
      // The block is zeroed in place: the queue code and the trace hold on to its writer.
      block.fill(0);
      initCpuStats(block, 0, VCPU_LOCK_CLASSES);
      Object.assign(s, new VCpuStats(), {
        block,
        counters,
        issuedTlbiAtMeasure: issuedTlbi,
        issuedSyncAtMeasure: issuedSync,
        maps,
        unmaps,
        tlbiNhVa,
        cmdSync,
        unmapNs,
        issueNs,
        issuedTlbi,
        issuedSync,
      });
    }
  });
  // The window closes at its end, or where the run was interrupted or failed.
  let closedAt = end;
  let interrupted = false;
  let measuring = o.measuring;
  const closeWindow = (): void => {
    // The trace covers the measured window, as the threads engine's does; the window's counts are
    // kept apart, as the drain below goes on counting into the live blocks.
    for (const pr of probes) pr.ring = null;
    for (const s of live) s.counters.ring = null;
    rec.ring = null;
    // Closed before it opened: nothing was measured (the blocks still hold the warm-up's counts).
    if (!windowOpen) stats = live.map(() => new VCpuStats());
    else if (state !== null) stats = live.map(snapshot);
    if (state !== null && closedAt < end) state.window = [o.warmupNs, closedAt];
    o.onEnd?.({
      stats,
      smmu: windowOpen ? rec.window!.slice() : new Float64Array(SMMU_STATS_SLOTS),
      logStart,
      logEnd: windowOpen ? (rec.log?.length ?? 0) : logStart,
      closedAt,
      windowNs: Math.max(0, closedAt - o.warmupNs),
      events: m.events,
    });
  };
  try {
    const window = m.slices(end, o.progress);
    while (window.next().done !== true) {
      if (measuring !== undefined && windowOpen && live.some((s) => s.unmaps > 0)) {
        measuring();
        measuring = undefined;
      }
      if (o.signal?.aborted === true) {
        interrupted = true;
        closedAt = m.now;
        break;
      }
      yield;
    }
    // Nothing left to run while no CPU has finished: every CPU waits for what never comes (the
    // threads engine's watchdog would end this run as hung; here it is certain at once).
    if (!interrupted && m.heap.peekTime() === Infinity && stopped === 0)
      throw new Error(`deadlock: every CPU waits forever (nothing left to run in the measured window)`);
  } catch (e) {
    // What the window measured until the engine failed still reaches the caller.
    closedAt = m.now;
    closeWindow();
    throw e;
  }
  closeWindow();
  let drainNs = 0;
  if (state !== null) {
    // The window's counts; then every CPU finishes its iteration and drains, as after STOP.
    state.stopping = true;
    while (state.stopped < o.cpus) {
      if (m.heap.peekTime() === Infinity || m.now - closedAt > STATE_DRAIN_LIMIT_NS)
        throw new Error(`virtual engine: ${o.cpus - state.stopped} CPU(s) did not stop after the run`);
      yield* m.slices(Math.min(m.heap.peekTime() + 1e5, closedAt + STATE_DRAIN_LIMIT_NS + 1));
    }
    drainNs = state.lastStopNs - closedAt;
  }
  let drained: VirtualDrained | undefined;
  if (o.drain === true) {
    yield* m.slices(m.now + DRAIN_LIMIT_NS);
    drained = {
      idle: m.heap.size === 0,
      stopped,
      queues: queues
        .slice(o.design === 'ecmdq' ? 1 : 0)
        .map((q) => ({ prod: m.reg(q.addrs.prodReg), cons: m.reg(q.addrs.consReg) })),
    };
  }

  const sum = (f: (s: VCpuStats) => number): number => stats.reduce((a, s) => a + f(s), 0);
  const unmaps = sum((s) => s.unmaps);
  // The window as measured (an interrupted run's is shorter than asked).
  const windowNs = interrupted ? Math.max(0, closedAt - o.warmupNs) : o.durationNs;
  const seconds = windowNs / 1e9;
  const attempts = sum((s) => s.cmpxchgAttempts);
  const successes = sum((s) => s.cmpxchgSuccesses);
  const elections = sum((s) => s.ownerElections);
  const consumed: Record<string, number> = {};
  for (const [op, n] of [...rec.byOpcode].sort((a, b) => a[0] - b[0]))
    consumed[Object.keys(OP).find((k) => OP[k as keyof typeof OP] === op) ?? `0x${op.toString(16)}`] = n;
  const lineOf = (a: number): number => (a >> LINE_SHIFT) << LINE_SHIFT;
  const hot: Record<string, number> =
    o.design === 'locked' ? { 'cmdq.lock': SPINLOCK } : { llq: LLQ, 'owner_prod+lock': OWNER_PROD };
  const lineTransfers: Record<string, number> = {};
  for (const [name, a] of Object.entries(hot))
    lineTransfers[name] = m.mem.lineStats.get(lineOf(a))?.transfers ?? 0;
  const result: VirtualResult = {
    engine: 'virtual',
    cpus: o.cpus,
    strategy: o.strategy,
    design: o.design,
    seed: o.seed,
    params: p,
    virtualNs: closedAt,
    events: m.events,
    unmaps,
    maps: sum((s) => s.maps),
    perCpuOpsPerSec: seconds > 0 ? unmaps / seconds / o.cpus : 0,
    unmapsPerSec: seconds > 0 ? unmaps / seconds : 0,
    meanUnmapNs: unmaps > 0 ? sum((s) => s.unmapNs) / unmaps : 0,
    issueFraction: windowNs > 0 ? sum((s) => s.issueNs) / (o.cpus * windowNs) : 0,
    commands: { tlbiNhVa: sum((s) => s.tlbiNhVa), cmdSync: sum((s) => s.cmdSync) },
    issued: { tlbiNhVa: sum((s) => s.issuedTlbi), cmdSync: sum((s) => s.issuedSync) },
    consumed,
    lockfree:
      o.design !== 'locked'
        ? {
            cmpxchgAttempts: attempts,
            cmpxchgSuccesses: successes,
            cmpxchgSuccessRate: attempts > 0 ? successes / attempts : 0,
            ownerElections: elections,
            commandsPerOwner: elections > 0 ? sum((s) => s.ownerPublishedCmds) / elections : 0,
            consRefreshes: sum((s) => s.consRefreshes),
            lastReaderConsUpdates: sum((s) => s.lastReaderConsUpdates),
          }
        : null,
    queueFullWaits: sum((s) => s.queueFullWaits),
    lineTransfers,
    perCpuUnmaps: stats.map((s) => s.unmaps),
    ...(rec.log !== null ? { commandWords: rec.log } : {}),
    cmdqLock:
      cmdqLock !== null
        ? {
            name: cmdqLock.name,
            acquired: cmdqLock.acquired,
            released: cmdqLock.released,
            heldBy: cmdqLock.heldBy,
          }
        : null,
    perCpu: stats,
    ...(drained !== undefined ? { drained } : {}),
    ...(interrupted ? { interrupted: true as const } : {}),
    state: state !== null ? stateResult(state, stats, drainNs) : null,
  };
  if (state !== null)
    Object.defineProperties(result, {
      layout: { value: state.layout, enumerable: false },
      views: { value: state.views, enumerable: false },
      cpuStats: { value: stats, enumerable: false },
    });
  return result;
}

/** A CPU's counts as they are now (a copy the drain after the window does not touch). */
function snapshot(s: VCpuStats): VCpuStats {
  const { counters, ...rest } = s;
  return Object.assign(Object.create(VCpuStats.prototype) as VCpuStats, structuredClone(rest), { counters });
}
