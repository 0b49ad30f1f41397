// What each emulated CPU runs: the DMA life cycle of the seed's "standard processing flow" —
// alloc iova, map, process data (the device reads every page through the IOTLB), unmap (with the
// strategy's invalidations and sync), free iova — until the orchestrator says stop.
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import { IommuDomain } from '../driver/iommu.js';
import { IovaDomain } from '../driver/iova.js';
import { getStrategy } from '../driver/strategies/index.js';
import { FAULT, Iotlb } from '../hardware/iotlb.js';
import {
  cmdqLockOff,
  computeLayout,
  cpuStateIdx,
  cpuStatsBase,
  CpuState,
  Ctl,
  ctlIdx,
  iovaLockOff,
  Phase,
  viewsOf,
} from '../hardware/layout.js';
import { nowNs } from '../sync/clock.js';
import { Cpu, CpuStats } from '../sync/counters.js';
import { InstrumentedLock } from '../sync/lockstat.js';
import { getLockAlgorithm } from '../sync/locks/index.js';
import { waitForChange } from '../sync/wait.js';
import { CLS_CMDQ, CLS_IOVA, domainOf, type CpuResult, type CpuTask } from './task.js';

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

/** Physical pages are per-CPU and recycled; only their identity matters (the oracle reports it). */
const PPN_PER_CPU = 1 << 20;

export function runCpu(task: CpuTask): CpuResult {
  const { cpu, cfg } = task;
  const pages = cfg.pages;
  const views = viewsOf(task.sab);
  const { i32, f64 } = views;
  const layout = computeLayout(task.layout);
  const measured = new CpuStats(f64, cpuStatsBase(layout, cpu, false));
  const scratch = new CpuStats(f64, cpuStatsBase(layout, cpu, true));
  const timed = cfg.stats === 'full';
  const lockAlgo = getLockAlgorithm(cfg.lock);
  const domain = domainOf(cfg.domains, cpu);
  const lock = (off: number, cls: number): InstrumentedLock =>
    new InstrumentedLock(lockAlgo.create(i32, off, layout.cpus, task.policy), i32, cpu, cls, scratch, timed);
  const cmdqLock = lock(cmdqLockOff(layout), CLS_CMDQ);
  const iovaLock = lock(iovaLockOff(layout, domain), CLS_IOVA);
  const def = getStrategy(task.strategy);
  const cmdq = CMDQ_DESIGNS[def.cmdq].create({
    views,
    layout,
    cpu,
    policy: task.policy,
    lockAlgo,
    cmdqLock,
    syncMode: cfg.syncMode,
    pollCs: task.pollCs,
    syncCoalesce: cfg.syncCoalesce,
    timed,
    stats: scratch,
  });
  const iova = new IovaDomain(i32, layout, domain, iovaLock);
  let current = scratch;
  const strategy = def.create({
    cpu,
    cmdq,
    freeIova: (vaPage) => iova.free(vaPage),
    cfg,
    stats: () => current,
  });
  const iommu = new IommuDomain(i32, layout, domain, strategy);
  const iotlb = new Iotlb(i32, layout, task.policy);
  const asid = iommu.asid;
  const phaseIdx = ctlIdx(layout, Ctl.PHASE);
  const activity = cpuStateIdx(layout, cpu, CpuState.ACTIVITY);
  const progress = cpuStateIdx(layout, cpu, CpuState.UNMAPS);

  Atomics.add(i32, ctlIdx(layout, Ctl.READY), 1);
  let phase = Atomics.load(i32, phaseIdx);
  while (phase < Phase.WARMUP) phase = waitForChange(i32, phaseIdx, phase, task.policy);

  let iterations = 0;
  let ppnNext = 0;
  for (;;) {
    phase = Atomics.load(i32, phaseIdx);
    if (phase === Phase.STOP) break;
    const stats = phase === Phase.MEASURE ? measured : scratch;
    if (stats !== current) {
      current = stats;
      cmdqLock.stats = stats;
      iovaLock.stats = stats;
      cmdq.stats = stats;
    }
    strategy.tick?.();

    Atomics.store(i32, activity, Activity.IOVA_ALLOC);
    const vaPage = iova.alloc();
    if (vaPage < 0) throw new Error(`cpu ${cpu}: IOVA space of domain ${domain} exhausted`);

    Atomics.store(i32, activity, Activity.MAP);
    const ppn = cpu * PPN_PER_CPU + ppnNext;
    ppnNext = (ppnNext + pages) % (PPN_PER_CPU - pages);
    iommu.map(vaPage, pages, ppn);
    stats.add(Cpu.MAPS, 1);
    stats.add(Cpu.PAGES_MAPPED, pages);

    Atomics.store(i32, activity, Activity.DMA);
    let hits = 0;
    let faults = 0;
    for (let i = 0; i < pages; i++) {
      if (iotlb.translate(asid, vaPage + i) === FAULT) faults++;
      else if (iotlb.lastHit) hits++;
    }
    stats.add(Cpu.TRANSLATIONS, pages);
    stats.add(Cpu.IOTLB_HITS, hits);
    stats.add(Cpu.IOTLB_MISSES, pages - hits - faults);
    stats.add(Cpu.TRANSLATION_FAULTS, faults);

    Atomics.store(i32, activity, Activity.UNMAP);
    const t0 = timed ? nowNs() : 0;
    iommu.unmap(vaPage, pages);
    const t1 = timed ? nowNs() : 0;
    stats.unmapLatency(t1 - t0);
    stats.add(Cpu.UNMAPS, 1);
    stats.add(Cpu.PAGES_UNMAPPED, pages);
    if (stats === measured && f64[measured.base + Cpu.FIRST_UNMAP_NS] === 0)
      f64[measured.base + Cpu.FIRST_UNMAP_NS] = timed ? t1 : nowNs();

    Atomics.store(i32, activity, Activity.IOVA_FREE);
    strategy.releaseIova(asid, vaPage);
    Atomics.store(i32, progress, ++iterations);
  }
  // Deferred work (lazy flush queues) is completed outside the measured window.
  current = scratch;
  cmdqLock.stats = scratch;
  iovaLock.stats = scratch;
  cmdq.stats = scratch;
  strategy.drain?.();
  Atomics.store(i32, activity, Activity.DONE);
  return { cpu, iterations };
}
