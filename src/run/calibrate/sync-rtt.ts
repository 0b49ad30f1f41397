// The emulator's own round trip for a CMD_SYNC, nothing else in the queue: the calling thread is
// the CPU and issues CMD_SYNCs one after another through the real locked command queue (the cmdq
// lock, the entry, the CMDQ_PROD doorbell, polling CMDQ_CONS), and the real SMMU engine runs in its
// own worker with every latency 0. This is the "CPU writes PROD, SMMU sees it, SMMU writes CONS,
// CPU sees it" round trip of the issue that the bare ping-pong is the machine's floor for, without
// what a strategy adds around it (per-page's run includes the TLBI just before each CMD_SYNC).
//
// The bench imports this from its snapshot of dist/ (bench/run-bench.ts), so the SMMU worker it
// starts is the snapshot's too.
import { DEFAULTS } from '../../config/config.js';
import { CmdBatch } from '../../driver/cmd-batch.js';
import { cpuStatsBase } from '../../hardware/layout.js';
import { Cpu, CpuStats, initCpuStats, SYNC_HIST } from '../../concurrency/counters.js';
import { quantile } from '../../concurrency/histogram.js';
import { bareLockedCmdq } from './rigs.js';
import { startSmmuPeer } from './smmu-peer.js';

export interface SyncRoundTrip {
  /** Mean and median `syncWaitNs` (from right after the doorbell write until CONS is seen). */
  waitMeanNs: number;
  waitP50Ns: number;
  /** Wall time per CMD_SYNC of the whole loop (lock, entry, doorbell, wait, unlock). */
  cycleNs: number;
  syncs: number;
}

/**
 * Runs `warmup` then `syncs` CMD_SYNCs; the measured ones only are reported. With `budgetMs`, each
 * of the two loops also ends once it has run that long (calibrate on a loaded host).
 */
export async function measureSyncRoundTrip(
  syncs: number,
  warmup: number,
  budgetMs = Infinity,
): Promise<SyncRoundTrip> {
  const peer = await startSmmuPeer({ tlbiNs: 0, syncNs: 0 });
  const { layout, views } = peer;
  const { f64 } = views;
  try {
    const lockClasses = layout.lockClasses.length;
    const scratch = new CpuStats(f64, cpuStatsBase(layout, 0, true));
    const measured = new CpuStats(f64, cpuStatsBase(layout, 0, false));
    initCpuStats(f64, scratch.base, lockClasses);
    initCpuStats(f64, measured.base, lockClasses);
    // The emulator's own floor: free registers, CONS re-read until it changes.
    const { cmdq, lock } = bareLockedCmdq(
      views.i32,
      layout,
      scratch,
      DEFAULTS.lock,
      true,
      0,
      DEFAULTS.syncTimeoutMs * 1e6,
    );
    const empty = new CmdBatch();
    const loop = (n: number): number => {
      const end = performance.now() + budgetMs;
      let i = 0;
      while (i < n && ((i & 63) !== 0 || performance.now() < end)) {
        cmdq.issue(empty, true);
        i++;
      }
      return i;
    };
    loop(warmup);
    cmdq.stats = measured;
    lock.stats = measured;
    const t0 = performance.now();
    const done = loop(syncs);
    const cycleNs = ((performance.now() - t0) * 1e6) / done;
    const b = measured.base;
    const n = f64[b + Cpu.SYNCS_WAITED];
    return {
      waitMeanNs: f64[b + Cpu.SYNC_WAIT_TOTAL] / n,
      waitP50Ns: quantile(f64, b + SYNC_HIST, 0.5, f64[b + Cpu.SYNC_WAIT_MIN], f64[b + Cpu.SYNC_WAIT_MAX]),
      cycleNs,
      syncs: n,
    };
  } finally {
    await peer.stop();
  }
}
