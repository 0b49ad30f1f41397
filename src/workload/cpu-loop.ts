// What each emulated CPU runs: the DMA life cycle of the seed's "standard processing flow" —
// alloc iova, map, process data (the device reads every page through the IOTLB), unmap (with the
// strategy's invalidations and sync), free iova — until the orchestrator says stop.
import { CmdBatch } from '../driver/cmd-batch.js';
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import { asidOf, IommuDomain } from '../driver/iommu.js';
import { buildIovaAllocator } from '../driver/iova-alloc.js';
import { printkTo } from '../driver/printk.js';
import { designOf, getStrategy, iovaOf } from '../driver/strategies/index.js';
import { FAULT, Iotlb } from '../hardware/iotlb.js';
import {
  cmdqLockOff,
  cpuStateIdx,
  cpuStatsBase,
  CpuState,
  Ctl,
  ctlIdx,
  measureStartF64,
  Phase,
  regionOff,
  viewsOf,
} from '../hardware/layout.js';
import { Ev, TraceRing, traceCapacity, traceRingOff, TRACE_REGION } from '../trace/ring.js';
import { DeviceAgents, OWN_DMA } from '../safety/devices.js';
import { Oracle } from '../safety/oracle.js';
import { nowNs, spinUntil } from '../concurrency/clock.js';
import { Span } from '../concurrency/span.js';
import { Cpu, CpuStats } from '../concurrency/counters.js';
import { InstrumentedLock } from '../concurrency/lockstat.js';
import { getLockAlgorithm } from '../concurrency/locks/index.js';
import { elideHandOffFences, handOffPhase, PARK_AT_ONCE, waitForChange } from '../concurrency/wait.js';
import { storeRelease } from '../concurrency/store.js';
import { devicesOf } from '../config/config.js';
import { workerLayout } from './regions.js';
import { CLS_CMDQ, CLS_DEPOT, CLS_IOVA, CLS_RCACHE, domainOf, type CpuResult, type CpuTask } from './task.js';

/** What a CPU is doing, in its ACTIVITY word (read by the watchdog and crash reports). */
export const enum Activity {
  STARTING = 0,
  IOVA_ALLOC = 1,
  MAP = 2,
  DMA = 3,
  UNMAP = 4,
  IOVA_FREE = 5,
  DONE = 6,
}
export const ACTIVITY_NAMES = ['starting', 'iova alloc', 'map', 'dma', 'unmap', 'iova free', 'done'];

/** Physical pages are per-CPU and recycled; only their identity matters (the oracle reports it). */
const PPN_PER_CPU = 1 << 20;

/** --inject illegal-cmd: an opcode the SMMUv3 spec leaves undefined. */
export const ILLEGAL_OPCODE = 0x7f;

export class InjectedCrash extends Error {
  override readonly name = 'InjectedCrash';
}

export function runCpu(task: CpuTask): CpuResult {
  const { cpu, cfg } = task;
  printkTo(task.printk);
  const pages = cfg.pages;
  const dmaNs = cfg.dmaNs;
  const views = viewsOf(task.sab);
  const { i32, f64 } = views;
  elideHandOffFences(task.handOffElision ?? null);
  const layout = workerLayout(task.layout, task.fingerprint);
  const measured = new CpuStats(f64, cpuStatsBase(layout, cpu, false));
  const scratch = new CpuStats(f64, cpuStatsBase(layout, cpu, true));
  const timed = cfg.stats === 'full';
  const lockAlgo = getLockAlgorithm(cfg.lock);
  const domain = domainOf(cfg.domains, cpu);
  const waitingIdx = cpuStateIdx(layout, cpu, CpuState.WAITING);
  const lock = (off: number, cls: number): InstrumentedLock =>
    new InstrumentedLock(
      lockAlgo.create(i32, off, layout.cpus, task.policy),
      i32,
      cpu,
      cls,
      scratch,
      timed,
      waitingIdx,
      // Holds are sampled (see concurrency/lockstat.ts); a trace adds every contended hold.
      cfg.holdSample,
    );
  const cmdqLock = lock(cmdqLockOff(layout), CLS_CMDQ);
  const def = getStrategy(task.strategy);
  const design = designOf(cfg, task.strategy);
  const cmdq = CMDQ_DESIGNS[design].create({
    views,
    layout,
    cpu,
    policy: task.policy,
    lockAlgo,
    cmdqLock,
    syncMode: cfg.syncMode,
    pollCs: task.pollCs,
    sev: task.sev,
    consPoll: cfg.consPoll,
    mmio: { readNs: cfg.mmioReadNs, writeNs: cfg.mmioWriteNs },
    syncCoalesce: cfg.syncCoalesce,
    syncTimeoutNs: cfg.syncTimeoutMs * 1e6,
    timed,
    designHistogram: def.histogram === undefined,
    stats: scratch,
  });
  const IOVA_CLASS = { rbtree: CLS_IOVA, rcache: CLS_RCACHE, depot: CLS_DEPOT } as const;
  const { allocator: iova, locks: iovaLocks } = buildIovaAllocator(
    iovaOf(cfg, task.strategy),
    i32,
    layout,
    cpu,
    domain,
    (off, kind) => lock(off, IOVA_CLASS[kind]),
  );
  let current = scratch;
  const strategy = def.create({
    cpu,
    cmdq,
    design,
    freeIova: (vaPage) => iova.free(vaPage),
    cfg,
    stats: () => current,
    mem: {
      views,
      layout,
      domain,
      asid: asidOf(domain),
      domainCpus: Array.from({ length: layout.cpus }, (_, c) => c).filter(
        (c) => domainOf(cfg.domains, c) === domain,
      ),
      lockAlgo,
      policy: task.policy,
    },
  });
  const iommu = new IommuDomain(i32, layout, domain, strategy);
  const iotlb = new Iotlb(i32, layout, task.policy);
  const oracle = new Oracle(
    i32,
    f64,
    layout.safetyOff,
    { cpus: layout.cpus, domains: layout.domains, slotsPerDomain: layout.iovaSlotsPerDomain },
    layout.slotPages,
    cpu,
  );
  const devices = new DeviceAgents(oracle, iotlb, cpu, layout.cpus, devicesOf(cfg), pages);
  const asid = iommu.asid;
  let ring: TraceRing | null = null;
  if (cfg.trace !== null) {
    const cap = traceCapacity(layout.cpus + 1);
    ring = new TraceRing(f64, traceRingOff(regionOff(layout, TRACE_REGION), cpu, cap), cap);
    cmdqLock.ring = ring;
    for (const l of iovaLocks) l.ring = ring;
    measured.ring = ring;
    scratch.ring = ring;
  }
  const phaseIdx = ctlIdx(layout, Ctl.PHASE);
  const activity = cpuStateIdx(layout, cpu, CpuState.ACTIVITY);
  const progress = cpuStateIdx(layout, cpu, CpuState.UNMAPS);

  // Fault injection, armed once the measured window's start time is known.
  const crash = cfg.inject.find((f) => f.kind === 'crash' && f.cpu === cpu);
  const illegal = cfg.inject.find((f) => f.kind === 'illegal-cmd' && f.cpu === cpu);
  let crashAt = Infinity;
  let illegalAt = Infinity;
  const armed = crash !== undefined || illegal !== undefined;
  let injectTimed = false; // crashAt and illegalAt are set (once, when the window opens)

  Atomics.add(i32, ctlIdx(layout, Ctl.READY), 1);
  let phase = Atomics.load(i32, phaseIdx);
  // Parked, whatever --wait says: spinning here would take cores from the workers still starting.
  while (phase < Phase.WARMUP) phase = waitForChange(i32, phaseIdx, phase, PARK_AT_ONCE);

  let iterations = 0;
  let ppnNext = 0;
  const unmapSpan = new Span();
  // Every turn points the counter holders at its phase's block, and the loop's first turn switches
  // back from the measured one: the switch's code then has type feedback, and the stats fields are
  // no longer constants the JIT folded into the lock and queue code. Made first at the window's
  // start, the switch deoptimised this loop and that code there (tens of ms of the window
  // interpreted, and a compiler thread taking a spinning worker's core). Making it once, on the
  // warm-up's first turn only, would not do: V8 gives a function that runs once (this loop) its
  // feedback only after a budget of work, so that turn leaves none. Nothing is counted before the
  // first turn.
  useStats(measured);
  for (;;) {
    phase = Atomics.load(i32, phaseIdx);
    handOffPhase(phase);
    if (phase === Phase.STOP) break;
    const stats = phase === Phase.MEASURE ? measured : scratch;
    // Fault injection only (armed): its times count from the window's start, known once it opens
    // (with --warmup 0 at the first turn, where `current` is already the measured block).
    if (armed && !injectTimed && stats === measured) {
      injectTimed = true;
      const start = f64[measureStartF64(layout)];
      if (crash) crashAt = start + crash.atMs * 1e6;
      if (illegal) illegalAt = start + illegal.atMs * 1e6;
    }
    useStats(stats);
    if (armed) injectFaults();
    strategy.tick?.();

    storeRelease(i32, activity, Activity.IOVA_ALLOC);
    const vaPage = iova.alloc();
    if (vaPage < 0) throw new Error(`cpu ${cpu}: IOVA space of domain ${domain} exhausted`);

    storeRelease(i32, activity, Activity.MAP);
    const ppn = cpu * PPN_PER_CPU + ppnNext;
    ppnNext = (ppnNext + pages) % (PPN_PER_CPU - pages);
    iommu.map(vaPage, pages, ppn);
    oracle.setLive(vaPage, asid);
    stats.add(Cpu.MAPS, 1);
    stats.add(Cpu.PAGES_MAPPED, pages);

    storeRelease(i32, activity, Activity.DMA);
    let hits = 0;
    let faults = 0;
    for (let i = 0; i < pages; i++) {
      if (devices.read(asid, vaPage + i, OWN_DMA) === FAULT) faults++;
      else if (iotlb.lastHit) hits++;
    }
    devices.peerReads();
    // dma_map_benchmark's ndelay(dma_trans_ns): the buffer stays mapped while the device works.
    if (dmaNs > 0) spinUntil(nowNs() + dmaNs);
    stats.add(Cpu.TRANSLATIONS, pages);
    stats.add(Cpu.IOTLB_HITS, hits);
    stats.add(Cpu.IOTLB_MISSES, pages - hits - faults);
    stats.add(Cpu.TRANSLATION_FAULTS, faults);

    // The buffer stays in the live table through its unmap, so that peer devices' reads race
    // with the invalidation (they hit inside the unmap window, or fault once the PTE is clear).
    storeRelease(i32, activity, Activity.UNMAP);
    // Timed in a span's fields: no reading crosses a call (concurrency/span.ts). Untimed, 0..0.
    if (timed) unmapSpan.begin();
    oracle.unmappedLive(unmapSpan.start);
    iommu.unmap(vaPage, pages);
    if (timed) unmapSpan.stop();
    stats.unmapSpan(unmapSpan);
    if (ring !== null) ring.record(Ev.UNMAP, unmapSpan.start, unmapSpan.end - unmapSpan.start, pages);
    stats.add(Cpu.UNMAPS, 1);
    stats.add(Cpu.PAGES_UNMAPPED, pages);
    // The scratch block's at every turn, so that the code has type feedback when the window's first
    // unmap comes (only the measured block's is read).
    const firstUnmap = stats.base + Cpu.FIRST_UNMAP_NS;
    if (f64[firstUnmap] === 0 || stats === scratch) f64[firstUnmap] = timed ? unmapSpan.end : nowNs();

    oracle.setLive(0, 0);
    storeRelease(i32, activity, Activity.IOVA_FREE);
    strategy.releaseIova(asid, vaPage);
    storeRelease(i32, progress, ++iterations);
  }
  // Deferred work (lazy flush queues) is completed outside the measured window.
  useStats(scratch);
  strategy.drain?.();
  storeRelease(i32, activity, Activity.DONE);
  // A pooled worker runs other tasks: this run's hand-off window does not outlive it.
  elideHandOffFences(null);
  return { cpu, iterations };

  /** Points every counter holder (the strategy reads `current`) at `s`. */
  function useStats(s: CpuStats): void {
    current = s;
    cmdqLock.stats = s;
    for (const l of iovaLocks) l.stats = s;
    cmdq.stats = s;
  }

  function injectFaults(): void {
    const now = nowNs();
    if (now >= illegalAt) {
      illegalAt = Infinity;
      const batch = new CmdBatch();
      batch.raw(ILLEGAL_OPCODE, 0, 0, 0);
      cmdq.issue(batch, false);
    }
    if (now >= crashAt) {
      crashAt = Infinity;
      const what = `cpu ${cpu}: injected crash (--inject crash:cpu=${cpu},at=${crash!.atMs}ms)`;
      // With a cmdq spinlock, die holding it: the nastiest place for a CPU to stop.
      if (design === 'locked')
        cmdqLock.trap = () => {
          throw new InjectedCrash(`${what} while holding cmdq`);
        };
      else throw new InjectedCrash(what);
    }
  }
}
