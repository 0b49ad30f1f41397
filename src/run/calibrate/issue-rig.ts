// The 2017 locked issue path as batched drives it in a run: CPU 0 issues 16 TLBI_NH_VA, one lock
// round trip and CMDQ_PROD doorbell each (driver/strategies/gather.ts onePerIssue, MMIO free), to
// the real SMMU worker consuming on the other core (smmu-peer.ts), then a CMD_SYNC, untimed, that
// waits for the SMMU to drain, as the unmap's does. Only the 16 issues are timed: what the CPU's
// issue costs per command when the lines it writes (the entries, PROD) were last read by the SMMU
// worker's core, which the one-thread rig (rigs.ts cpuRig, CONS set to PROD by hand) keeps local.
import { CmdBatch } from '../../driver/cmd-batch.js';
import { onePerIssue } from '../../driver/strategies/gather.js';
import { cpuStatsBase, VA_BASE_PAGE } from '../../hardware/layout.js';
import { nowNs } from '../../concurrency/clock.js';
import { CpuStats, initCpuStats } from '../../concurrency/counters.js';
import { DEFAULTS } from '../../config/config.js';
import { bareLockedCmdq, RIG_PAGES } from './rigs.js';
import type { SmmuPeer } from './smmu-peer.js';

/** Returns a function issuing `unmaps` x (16 TLBI_NH_VA + CMD_SYNC); it returns ns per TLBI issued. */
export function lockedBesideSmmu(peer: SmmuPeer): (unmaps: number) => number {
  const { layout, views, cfg } = peer;
  const stats = new CpuStats(views.f64, cpuStatsBase(layout, 0, false));
  initCpuStats(views.f64, stats.base, layout.lockClasses.length);
  const timed = DEFAULTS.stats === 'full';
  const { cmdq } = bareLockedCmdq(views.i32, layout, stats, 'ttas', timed, 0, DEFAULTS.syncTimeoutMs * 1e6);
  const strategy = onePerIssue({ cpu: 0, cmdq, freeIova: () => {}, cfg, stats: () => stats }, false);
  const sync = new CmdBatch();
  return (unmaps) => {
    let ns = 0;
    for (let u = 0; u < unmaps; u++) {
      const t0 = nowNs();
      for (let p = 0; p < RIG_PAGES; p++) strategy.tlbAddPage(1, VA_BASE_PAGE + p);
      ns += nowNs() - t0;
      cmdq.issue(sync, true);
    }
    return ns / (unmaps * RIG_PAGES);
  };
}
