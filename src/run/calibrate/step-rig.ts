// The CPU's own work per DMA cycle outside the command queue, on the threads engine's real objects
// in the calling thread (no SMMU, no second thread, so the host's scheduling does not enter):
// - map side: IOVA alloc (the rcache, as a 1-CPU run uses it), the PTE writes of iommu_map, the
//   oracle's live-buffer word, the device reading every page through the IOTLB (a miss and a page
//   walk each, as after a real unmap's TLBIs), the IOVA free;
// - unmap side: iommu_unmap's PTE clears with a strategy that issues nothing (the commands are
//   the issue path's, measured by rigs.ts).
// The IOTLB entries the reads filled are removed between cycles, untimed, as the SMMU's TLBIs
// would, so every cycle sees what a cycle of a real run sees.
import { DEFAULTS, devicesOf, type Config } from '../../config/config.js';
import { asidOf, IommuDomain } from '../../driver/iommu.js';
import { buildIovaAllocator } from '../../driver/iova-alloc.js';
import { initIovaDomain } from '../../driver/iova.js';
import { initIovaRcache } from '../../driver/iova-rcache.js';
import type { InvalidationStrategy } from '../../driver/strategies/strategy.js';
import { iovaOf } from '../../driver/strategies/index.js';
import { Iotlb } from '../../hardware/iotlb.js';
import {
  allocate,
  cpuStateIdx,
  cpuStatsBase,
  CpuState,
  computeLayout,
  type Layout,
} from '../../hardware/layout.js';
import { nowNs } from '../../concurrency/clock.js';
import { CmdBatch } from '../../driver/cmd-batch.js';
import { bareLockedCmdq } from './rigs.js';
import type { SmmuPeer } from './smmu-peer.js';
import { CpuStats, initCpuStats } from '../../concurrency/counters.js';
import { InstrumentedLock } from '../../concurrency/lockstat.js';
import { getLockAlgorithm } from '../../concurrency/locks/index.js';
import { SPIN } from '../../concurrency/wait.js';
import { DeviceAgents, OWN_DMA } from '../../safety/devices.js';
import { Oracle } from '../../safety/oracle.js';
import { layoutParamsFor } from '../../workload/params.js';
import { CLS_DEPOT, CLS_IOVA, CLS_RCACHE } from '../../workload/task.js';

export interface StepTimes {
  /** Per cycle: IOVA alloc + map + device reads + IOVA free, ns. */
  mapNs: number;
  /** Per cycle: the PTE clears of iommu_unmap, ns. */
  unmapNs: number;
}

const NOTHING: InvalidationStrategy = { tlbAddPage() {}, iotlbSync() {}, releaseIova() {} };

/**
 * Returns a function running `cycles` DMA cycles of `pages` pages and timing their two sides.
 * Without `peer` the rig removes the IOTLB entries itself; with it (smmu-peer.ts, a layout of
 * `pages`-page buffers) each cycle ends, untimed, with the unmap's TLBI_NH_VA per page + CMD_SYNC
 * through the real locked queue to the SMMU worker, which applies them on its own thread as in a
 * run: the next cycle's device reads find their IOTLB sets last written by the other core.
 */
export function stepRig(pages: number, peer?: SmmuPeer): (cycles: number) => StepTimes {
  if (peer !== undefined && peer.cfg.pages !== pages)
    throw new Error(`stepRig: the SMMU peer's layout has ${peer.cfg.pages}-page buffers, not ${pages}`);
  const cfg: Config = peer?.cfg ?? ({ ...DEFAULTS, cpus: 1, pages } as Config);
  const strategy = 'batched';
  const layout = peer?.layout ?? computeLayout(layoutParamsFor(cfg, strategy));
  const { i32, f64 } = peer?.views ?? allocate(layout);
  const stats = new CpuStats(f64, cpuStatsBase(layout, 0, false));
  initCpuStats(f64, stats.base, layout.lockClasses.length);
  // As the orchestrator prepares a run's allocator.
  initIovaDomain(i32, layout, 0);
  if (iovaOf(cfg, strategy) === 'rcache') initIovaRcache(i32, layout, 0);
  const algo = getLockAlgorithm(cfg.lock);
  const waiting = cpuStateIdx(layout, 0, CpuState.WAITING);
  const { allocator: iova } = buildIovaAllocator(
    iovaOf(cfg, strategy),
    i32,
    layout,
    0,
    0,
    (off, kind) =>
      new InstrumentedLock(
        algo.create(i32, off, 1, SPIN),
        i32,
        0,
        { rbtree: CLS_IOVA, rcache: CLS_RCACHE, depot: CLS_DEPOT }[kind],
        stats,
        true,
        waiting,
        cfg.holdSample,
      ),
  );
  const domain = new IommuDomain(i32, layout, 0, NOTHING);
  const iotlb = new Iotlb(i32, layout, SPIN);
  const g = { cpus: 1, domains: layout.domains, slotsPerDomain: layout.iovaSlotsPerDomain };
  const oracle = new Oracle(i32, f64, layout.safetyOff, g, layout.slotPages, 0);
  const devices = new DeviceAgents(oracle, iotlb, 0, 1, devicesOf(cfg), pages);
  const asid = asidOf(0);
  const invalidate = peer === undefined ? null : smmuInvalidate(i32, layout, stats);
  let ppn = 0;
  return (cycles) => {
    let mapNs = 0;
    let unmapNs = 0;
    for (let c = 0; c < cycles; c++) {
      const t0 = nowNs();
      const va = iova.alloc();
      domain.map(va, pages, (ppn = (ppn + pages) & 0xfffff) + 1);
      oracle.setLive(va, asid);
      for (let i = 0; i < pages; i++) devices.read(asid, va + i, OWN_DMA);
      devices.peerReads();
      const t1 = nowNs();
      oracle.unmapped(0, va, t1);
      domain.unmap(va, pages);
      const t2 = nowNs();
      oracle.setLive(0, 0);
      iova.free(va);
      const t3 = nowNs();
      if (invalidate !== null) invalidate(asid, va, pages);
      else iotlb.invalidateRange(asid, va, pages);
      mapNs += t1 - t0 + (t3 - t2);
      unmapNs += t2 - t1;
    }
    return { mapNs: mapNs / cycles, unmapNs: unmapNs / cycles };
  };
}

/** The unmap's commands through CPU 0's locked queue to the SMMU peer: one TLBI per page, a
 *  CMD_SYNC, its completion awaited. */
function smmuInvalidate(
  i32: Int32Array,
  layout: Layout,
  stats: CpuStats,
): (asid: number, vaPage: number, pages: number) => void {
  const { cmdq } = bareLockedCmdq(i32, layout, stats, DEFAULTS.lock, false, 0, DEFAULTS.syncTimeoutMs * 1e6);
  const batch = new CmdBatch();
  return (asid, vaPage, pages) => {
    batch.reset();
    for (let p = 0; p < pages; p++) {
      if (batch.full()) {
        cmdq.issue(batch, false);
        batch.reset();
      }
      batch.tlbiNhVa(asid, vaPage + p, true, 0, 0, 0, 0);
    }
    cmdq.issue(batch, true);
  };
}
