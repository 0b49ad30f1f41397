// Runs one strategy: builds the run's shared memory, powers on the SMMU worker, brings the queue up
// like a driver, starts one piscina task per CPU, and walks the phases (warm-up, measured window,
// stop). What was measured stays in the SharedArrayBuffer for reporting, even if a worker failed.
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, HostInfo } from '../config/config.js';
import { probeSmmu, type ProbeResult } from '../driver/probe.js';
import { initIovaDomain } from '../driver/iova.js';
import {
  allocate,
  computeLayout,
  cpuStatsBase,
  Ctl,
  ctlIdx,
  Phase,
  regIdx,
  type Layout,
  type SharedViews,
} from '../hardware/layout.js';
import { RegisterFile } from '../hardware/regfile.js';
import { resetSmmu } from '../hardware/smmu-reset.js';
import { nowNs } from '../sync/clock.js';
import { initCpuStats } from '../sync/counters.js';
import { SPIN, storeAndWake, type WaitPolicy } from '../sync/wait.js';
import type { SmmuMessage, SmmuWorkerData } from '../../workers/smmu-worker.js';
import { layoutParamsFor } from './params.js';
import { getStrategy } from '../driver/strategies/index.js';
import { workerFile } from './paths.js';
import type { CpuPool } from './pool.js';
import type { CpuResult, CpuTask } from './task.js';

/** How long CPUs may take to finish their last iteration after STOP before the run is declared hung. */
const STOP_GRACE_MS = 2000;
const READY_TIMEOUT_MS = 10_000;

export interface StrategyRun {
  readonly strategy: string;
  readonly layout: Layout;
  readonly views: SharedViews;
  readonly probe: ProbeResult | null;
  /** Length of the measured window, ns. */
  readonly measuredNs: number;
  /** Clock (nowNs) when the measured window opened. */
  readonly measureStartNs: number;
  readonly complete: boolean;
  readonly errors: readonly string[];
  /** Consumed commands of the measured window, in order (only when a log was asked for). */
  readonly cmdLog: readonly Uint8Array[] | null;
  readonly cpuResults: readonly (CpuResult | null)[];
  /** The CPU pool had to be destroyed (a task never returned); the caller needs a new one. */
  readonly poolBroken: boolean;
}

export function waitPolicyFor(cfg: Config, host: HostInfo): WaitPolicy {
  return host.waitPolicy === 'spin' ? SPIN : { park: true, spinNs: cfg.spinNs };
}

export async function runStrategy(
  cfg: Config,
  host: HostInfo,
  strategy: string,
  pool: CpuPool,
  wantLog: boolean,
): Promise<StrategyRun> {
  const layoutParams = layoutParamsFor(cfg, strategy);
  const layout = computeLayout(layoutParams);
  const views = allocate(layout);
  const { i32, f64 } = views;
  for (let cpu = 0; cpu < cfg.cpus; cpu++) {
    initCpuStats(f64, cpuStatsBase(layout, cpu, false), layout.lockClasses.length);
    initCpuStats(f64, cpuStatsBase(layout, cpu, true), layout.lockClasses.length);
  }
  for (let d = 0; d < layout.domains; d++) initIovaDomain(i32, layout, d);

  const policy = waitPolicyFor(cfg, host);
  const regs = new RegisterFile(i32, layout);
  resetSmmu(regs, { msi: cfg.syncMode === 'msi', sev: policy.park, ril: getStrategy(strategy).ril === true });

  const errors: string[] = [];
  let failed!: (e: Error) => void;
  const failure = new Promise<never>((_, reject) => (failed = reject));
  failure.catch(() => {});

  // The SMMU never burns a core while idle on a host without one to spare.
  const idlePolicy = policy.park || host.oversubscribed ? { park: true, spinNs: cfg.spinNs } : SPIN;
  const workerData: SmmuWorkerData = {
    sab: views.sab,
    layout: layoutParams,
    timing: { tlbiNs: cfg.tlbiNs, syncNs: cfg.syncNs },
    idlePolicy,
    log: wantLog,
  };
  const cmdLog: Uint8Array[] | null = wantLog ? [] : null;
  const smmu = new Worker(workerFile('smmu-worker'), { workerData });
  const smmuDone = new Promise<void>((resolve) => {
    smmu.on('message', (m: SmmuMessage) => {
      if (m.type === 'log') cmdLog?.push(m.chunk);
      else if (m.type === 'done') resolve();
    });
    smmu.on('error', (e) => {
      errors.push(`SMMU worker: ${e.message}`);
      failed(e);
      resolve();
    });
    smmu.on('exit', () => resolve());
  });

  const cpuResults: (CpuResult | null)[] = new Array(cfg.cpus).fill(null);
  let probe: ProbeResult | null = null;
  let measureStartNs = 0;
  let measuredNs = 0;
  let poolBroken = false;
  const phaseIdx = ctlIdx(layout, Ctl.PHASE);
  const tasks: Promise<unknown>[] = [];
  try {
    probe = await Promise.race([probeSmmu(views, layout), failure]);
    for (let cpu = 0; cpu < cfg.cpus; cpu++) {
      const task: CpuTask = {
        sab: views.sab,
        layout: layoutParams,
        cpu,
        strategy,
        cfg,
        policy,
        pollCs: probe.pollCs,
      };
      tasks.push(
        pool.run(task).then(
          (r) => (cpuResults[cpu] = r),
          (e: Error) => {
            errors.push(`cpu ${cpu}: ${e.message}`);
            failed(e);
          },
        ),
      );
    }
    const readyIdx = ctlIdx(layout, Ctl.READY);
    const readyBy = Date.now() + READY_TIMEOUT_MS;
    while (Atomics.load(i32, readyIdx) < cfg.cpus) {
      if (Date.now() > readyBy) throw new Error(`CPU workers did not start within ${READY_TIMEOUT_MS} ms`);
      await Promise.race([sleep(1), failure]);
    }
    storeAndWake(i32, phaseIdx, Phase.WARMUP);
    await Promise.race([sleep(cfg.warmupMs), failure]);
    storeAndWake(i32, phaseIdx, Phase.MEASURE);
    measureStartNs = nowNs();
    await Promise.race([sleep(cfg.durationMs), failure]);
  } catch (e) {
    if (errors.length === 0) errors.push((e as Error).message);
  } finally {
    const stopNs = nowNs();
    storeAndWake(i32, phaseIdx, Phase.STOP);
    if (measureStartNs > 0) measuredNs = stopNs - measureStartNs;
  }

  const settled = await Promise.race([
    Promise.allSettled(tasks).then(() => true),
    sleep(STOP_GRACE_MS).then(() => false),
  ]);
  if (!settled) {
    errors.push(`CPU workers did not stop within ${STOP_GRACE_MS} ms of the end of the run`);
    poolBroken = true;
    await pool.destroy();
  }

  // Driver shutdown: disable the queue and ring the doorbell so a parked SMMU sees it.
  regs.write32('CR0', 0);
  Atomics.notify(i32, regIdx(layout, 'CMDQ_PROD'));
  const smmuStopped = await Promise.race([smmuDone.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
  if (!smmuStopped) errors.push(`SMMU worker did not stop within ${STOP_GRACE_MS} ms`);
  await smmu.terminate();

  return {
    strategy,
    layout,
    views,
    probe,
    measuredNs,
    measureStartNs,
    complete: errors.length === 0,
    errors,
    cmdLog,
    cpuResults,
    poolBroken,
  };
}
