// The emulator's per-command work, each side alone in the calling thread, so that its cost can be
// measured (bench/hotpath.ts) and its allocations checked (test/hotpath.test.ts) without two
// threads sharing the host's cores:
// - cpu: the 2017 locked issue path as the batched strategy drives it (a CmdBatch per page, the
//   cmdq lock through InstrumentedLock, the entry copy, the CMDQ_PROD doorbell, the counts). No
//   SMMU: after each unmap's 16 commands CMDQ_CONS is set to PROD, as a consumer would;
// - smmu: the engine's run() over a queue already holding rounds of 16 TLBI_NH_VA + CMD_SYNC,
//   every latency 0, in the measured phase (every statistic counted). The IOTLB holds the 16 pages
//   when each pass starts (the first round's TLBIs remove entries, the rest find none).
import { DEFAULTS, type Config } from '../../config/config.js';
import { LockedCmdq } from '../../driver/cmdq-locked.js';
import { ConsPoller } from '../../driver/cons-poll.js';
import { Mmio, MMIO_FREE, type MmioCosts } from '../../driver/mmio.js';
import { CMDQ_DESIGNS } from '../../driver/cmdq-designs.js';
import { CmdBatch } from '../../driver/cmd-batch.js';
import { onePerIssue } from '../../driver/strategies/gather.js';
import { CS_SEV, writeCmdSync, writeTlbiNhVaPage } from '../../hardware/commands.js';
import { Iotlb } from '../../hardware/iotlb.js';
import {
  allocate,
  cmdqEntryIdx,
  cmdqLockOff,
  computeLayout,
  cpuStateIdx,
  cpuStatsBase,
  CpuState,
  Ctl,
  ctlIdx,
  Phase,
  pteIdx,
  type Layout,
  type LayoutParams,
  regIdx,
  type SharedViews,
  VA_BASE_PAGE,
} from '../../hardware/layout.js';
import { RegisterFile } from '../../hardware/regfile.js';
import { CR0_CMDQEN } from '../../hardware/registers.js';
import { SmmuEngine } from '../../hardware/smmu-engine.js';
import { resetSmmu } from '../../hardware/smmu-reset.js';
import { Cpu, CpuStats, initCpuStats } from '../../concurrency/counters.js';
import { InstrumentedLock } from '../../concurrency/lockstat.js';
import { getLockAlgorithm } from '../../concurrency/locks/index.js';
import { SPIN } from '../../concurrency/wait.js';
import { nowNs } from '../../concurrency/clock.js';
import { layoutParamsFor } from '../../workload/params.js';

export const RIG_PAGES = 16;

export interface CpuRig {
  /** Issues `unmaps` x 16 TLBI_NH_VA; returns the commands issued. */
  issue(unmaps: number): number;
  /** The CPU's counters so far. */
  readonly count: (f: Cpu) => number;
}

/**
 * CPU 0's 2017 locked command queue over free registers, CONS re-read until it changes: the
 * emulator's own issue path with nothing modelled around it (also sync-rtt.ts's).
 */
export function bareLockedCmdq(
  i32: Int32Array,
  layout: Layout,
  stats: CpuStats,
  lockName: string,
  timed: boolean,
  pollCs: number,
  syncTimeoutNs: number,
  /** The registers' costs, or the Mmio itself (bench/lib/sync-rig.ts: an SMMU that consumes at once). */
  mmioCosts: MmioCosts | Mmio = MMIO_FREE,
): { cmdq: LockedCmdq; lock: InstrumentedLock } {
  const lock = new InstrumentedLock(
    getLockAlgorithm(lockName).create(i32, cmdqLockOff(layout), 1, SPIN),
    i32,
    0,
    0,
    stats,
    timed,
    cpuStateIdx(layout, 0, CpuState.WAITING),
    DEFAULTS.holdSample,
  );
  const mmio = mmioCosts instanceof Mmio ? mmioCosts : new Mmio(i32, mmioCosts);
  const opts = {
    mmio,
    poll: new ConsPoller(i32, mmio, SPIN, 'spin', false, false),
    cpu: 0,
    syncMode: 'poll' as const,
    syncTimeoutNs,
    pollCs,
    syncCoalesce: false,
    timed,
  };
  return { cmdq: new LockedCmdq(i32, layout, lock, SPIN, opts, stats), lock };
}

/** `mmio`: the doorbell's modelled cost (calibrate: 1 ns, so that its clock reads are counted). */
export function cpuRig(timed: boolean, mmio: MmioCosts = MMIO_FREE): CpuRig {
  const cfg: Config = { ...DEFAULTS, cpus: 1 } as Config;
  const layout = computeLayout(layoutParamsFor(cfg, 'batched'));
  const { i32, f64 } = allocate(layout);
  const stats = new CpuStats(f64, cpuStatsBase(layout, 0, false));
  initCpuStats(f64, stats.base, layout.lockClasses.length);
  const { cmdq } = bareLockedCmdq(i32, layout, stats, 'ttas', timed, CS_SEV, 1e9, mmio);
  const strategy = onePerIssue({ cpu: 0, cmdq, freeIova: () => {}, cfg, stats: () => stats }, false);
  const prod = regIdx(layout, 'CMDQ_PROD');
  const cons = regIdx(layout, 'CMDQ_CONS');
  return {
    issue(unmaps) {
      for (let u = 0; u < unmaps; u++) {
        for (let p = 0; p < RIG_PAGES; p++) strategy.tlbAddPage(1, VA_BASE_PAGE + p);
        Atomics.store(i32, cons, Atomics.load(i32, prod));
      }
      return unmaps * RIG_PAGES;
    },
    count: (f) => f64[stats.base + f],
  };
}

/**
 * CPU 0's v5.4 lock-free issue path alone: cmdlists of `perList` TLBI_NH_VA (no CMD_SYNC: nothing
 * would complete it) through the real LockfreeCmdq (reservation, entries, valid bits, owner
 * hand-off, one CMDQ_PROD doorbell per cmdlist); CONS is set to PROD after each, as a consumer would.
 * issue(lists) returns the commands issued.
 */
export function lockfreeRig(timed: boolean, perList: number, mmio: MmioCosts = MMIO_FREE): CpuRig {
  const cfg: Config = { ...DEFAULTS, cpus: 1 } as Config;
  const layout = computeLayout(layoutParamsFor(cfg, 'lockfree'));
  const views = allocate(layout);
  const { i32, f64 } = views;
  const stats = new CpuStats(f64, cpuStatsBase(layout, 0, false));
  initCpuStats(f64, stats.base, layout.lockClasses.length);
  const { lock } = bareLockedCmdq(i32, layout, stats, 'ttas', timed, CS_SEV, 1e9, mmio);
  const cmdq = CMDQ_DESIGNS.lockfree.create({
    views,
    layout,
    cpu: 0,
    policy: SPIN,
    lockAlgo: getLockAlgorithm('ttas'),
    cmdqLock: lock,
    syncMode: 'poll',
    pollCs: CS_SEV,
    sev: false,
    consPoll: 'spin',
    mmio,
    syncCoalesce: 'off',
    syncTimeoutNs: 1e9,
    timed,
    designHistogram: true,
    stats,
  });
  const batch = new CmdBatch();
  const prod = regIdx(layout, 'CMDQ_PROD');
  const cons = regIdx(layout, 'CMDQ_CONS');
  return {
    issue(lists) {
      for (let l = 0; l < lists; l++) {
        batch.reset();
        for (let p = 0; p < perList; p++) batch.tlbiNhVa(1, VA_BASE_PAGE + p, true, 0, 0, 0, 0);
        cmdq.issue(batch, false);
        Atomics.store(i32, cons, Atomics.load(i32, prod));
      }
      return lists * perList;
    },
    count: (f) => f64[stats.base + f],
  };
}

export interface SmmuRig {
  /** Consumes the whole queue once; returns the commands consumed. */
  consume(): number;
  /**
   * Consumes the queue one round (16 TLBI_NH_VA + CMD_SYNC) at a time, `fill()` before each
   * round, untimed, filling the IOTLB with the round's 16 pages (the device's reads of a run:
   * iotlb-peer.ts does them on another thread); returns ns per command of the consuming alone.
   */
  consumeRounds(fill: () => void): number;
  readonly engine: () => SmmuEngine;
  /** The rig's memory and layout (for a peer thread filling its IOTLB). */
  readonly views: SharedViews;
  readonly layoutParams: LayoutParams;
}

/** `latencyNs`: every command's modelled latency (calibrate: 1 ns, so that the clock reads of its
 *  busy-wait are counted). */
export function smmuRig(rounds: number, latencyNs = 0): SmmuRig {
  const cfg: Config = { ...DEFAULTS, cpus: 1, queueEntries: 1 << 16 } as Config;
  const layoutParams = layoutParamsFor(cfg, 'batched');
  const layout = computeLayout(layoutParams);
  const views = allocate(layout);
  const { i32 } = views;
  const regs = new RegisterFile(i32, layout);
  resetSmmu(regs, { msi: false, sev: true, ril: false }, layout.domains);
  Atomics.store(i32, regs.index('CMDQ_BASE'), layout.cmdqOff + layout.queueShift);
  Atomics.store(i32, ctlIdx(layout, Ctl.PHASE), Phase.MEASURE);
  const per = RIG_PAGES + 1;
  const n = Math.min(rounds, ((1 << layout.queueShift) / per) | 0) * per;
  for (let c = 0; c < n; c++) {
    const w = cmdqEntryIdx(layout, c);
    const p = c % per;
    if (p === RIG_PAGES) writeCmdSync(i32, w, CS_SEV, 0, 0);
    else writeTlbiNhVaPage(i32, w, 1, 0, VA_BASE_PAGE + p, true, 0, 0, 0, 0);
  }
  const iotlb = new Iotlb(i32, layout, SPIN);
  for (let p = 0; p < RIG_PAGES; p++) Atomics.store(i32, pteIdx(layout, 0, p), 100 + p);
  let engine: SmmuEngine | null = null;
  /** A fresh engine over the queue from its start; it leaves once the queue is drained. */
  const start = (prod: number): SmmuEngine => {
    regs.write32('CMDQ_CONS', 0);
    regs.write32('CMDQ_PROD', prod);
    regs.write32('CR0', CR0_CMDQEN);
    engine = new SmmuEngine(views, layout, { tlbiNs: latencyNs, syncNs: latencyNs }, SPIN);
    engine.bringUp();
    regs.write32('CR0', 0);
    return engine;
  };
  return {
    consume() {
      for (let p = 0; p < RIG_PAGES; p++) iotlb.translate(1, VA_BASE_PAGE + p);
      start(n).run();
      return n;
    },
    consumeRounds(fill) {
      const e = start(0);
      let ns = 0;
      for (let prod = per; prod <= n; prod += per) {
        fill();
        const t0 = nowNs();
        regs.write32('CMDQ_PROD', prod);
        e.run();
        ns += nowNs() - t0;
      }
      return ns / n;
    },
    engine: () => engine!,
    views,
    layoutParams,
  };
}
