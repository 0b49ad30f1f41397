// The emulator's own round trip for a CMD_SYNC, nothing else in the queue: the calling thread is
// the CPU and issues CMD_SYNCs one after another through the real locked command queue (the cmdq
// lock, the entry, the CMDQ_PROD doorbell, polling CMDQ_CONS), and the real SMMU engine runs in its
// own worker with every latency 0. This is the "CPU writes PROD, SMMU sees it, SMMU writes CONS,
// CPU sees it" round trip of the issue that the bare ping-pong is the machine's floor for, without
// what a strategy adds around it (per-page's run includes the TLBI just before each CMD_SYNC).
//
// The bench imports this from its snapshot of dist/ (bench/run-bench.ts), so the SMMU worker it
// starts is the snapshot's too.
import { Worker } from 'node:worker_threads';
import { DEFAULTS } from '../../src/config/config.js';
import { CmdBatch } from '../../src/driver/cmd-batch.js';
import { probeSmmu } from '../../src/driver/probe.js';
import { allocate, computeLayout, layoutFingerprint, cpuStatsBase } from '../../src/hardware/layout.js';
import { RegisterFile } from '../../src/hardware/regfile.js';
import { resetSmmu } from '../../src/hardware/smmu-reset.js';
import { Cpu, CpuStats, initCpuStats, SYNC_HIST } from '../../src/concurrency/counters.js';
import { quantile } from '../../src/concurrency/histogram.js';
import { SPIN } from '../../src/concurrency/wait.js';
import { layoutParamsFor } from '../../src/workload/params.js';
import { workerFile } from '../../src/workload/paths.js';
import type { SmmuWorkerData } from '../../src/workload/smmu-messages.js';
import { bareLockedCmdq } from './hotpath-rig.js';

export interface SyncRoundTrip {
  /** Mean and median `syncWaitNs` (from right after the doorbell write until CONS is seen). */
  waitMeanNs: number;
  waitP50Ns: number;
  /** Wall time per CMD_SYNC of the whole loop (lock, entry, doorbell, wait, unlock). */
  cycleNs: number;
  syncs: number;
}

/** Runs `warmup` then `syncs` CMD_SYNCs; the measured ones only are reported. */
export async function measureSyncRoundTrip(syncs: number, warmup: number): Promise<SyncRoundTrip> {
  const cfg = { ...DEFAULTS, cpus: 1 };
  const params = layoutParamsFor(cfg, 'batched');
  const layout = computeLayout(params);
  const views = allocate(layout);
  const { i32, f64 } = views;
  const regs = new RegisterFile(i32, layout);
  resetSmmu(regs, { msi: false, sev: false, ril: false });
  const workerData: SmmuWorkerData = {
    sab: views.sab,
    layout: params,
    fingerprint: layoutFingerprint(layout),
    timing: { tlbiNs: 0, syncNs: 0 },
    idlePolicy: SPIN,
    log: false,
    trace: false,
  };
  const smmu = new Worker(workerFile('smmu-worker'), { workerData });
  const stopped = new Promise<void>((res) => smmu.once('exit', () => res()));
  try {
    await probeSmmu(views, layout);
    const lockClasses = layout.lockClasses.length;
    const scratch = new CpuStats(f64, cpuStatsBase(layout, 0, true));
    const measured = new CpuStats(f64, cpuStatsBase(layout, 0, false));
    initCpuStats(f64, scratch.base, lockClasses);
    initCpuStats(f64, measured.base, lockClasses);
    // The emulator's own floor: free registers, CONS re-read until it changes.
    const { cmdq, lock } = bareLockedCmdq(
      i32,
      layout,
      scratch,
      DEFAULTS.lock,
      true,
      0,
      DEFAULTS.syncTimeoutMs * 1e6,
    );
    const empty = new CmdBatch();
    for (let i = 0; i < warmup; i++) cmdq.issue(empty, true);
    cmdq.stats = measured;
    lock.stats = measured;
    const t0 = performance.now();
    for (let i = 0; i < syncs; i++) cmdq.issue(empty, true);
    const cycleNs = ((performance.now() - t0) * 1e6) / syncs;
    const b = measured.base;
    const n = f64[b + Cpu.SYNCS_WAITED];
    return {
      waitMeanNs: f64[b + Cpu.SYNC_WAIT_TOTAL] / n,
      waitP50Ns: quantile(f64, b + SYNC_HIST, 0.5, f64[b + Cpu.SYNC_WAIT_MIN], f64[b + Cpu.SYNC_WAIT_MAX]),
      cycleNs,
      syncs: n,
    };
  } finally {
    regs.write32('CR0', 0);
    await Promise.race([stopped, new Promise((res) => setTimeout(res, 2000))]);
    await smmu.terminate();
  }
}
