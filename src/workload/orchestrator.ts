// Runs one strategy: builds the run's shared memory, powers on the SMMU worker, brings the queue up
// like a driver, starts one piscina task per CPU, and walks the phases (warm-up, measured window,
// stop) while a monitor plays the parts no CPU plays: the GERROR interrupt handler, the watchdog,
// fault injection that is timed from outside (SMMU stalls) and Ctrl-C. What was measured stays in
// the SharedArrayBuffer for reporting, whatever happened to the workers.
import { BroadcastChannel, threadId, Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, HostInfo, IovaMode } from '../config/config.js';
import { probeSmmu, type ProbeResult } from '../driver/probe.js';
import { initIovaDomain } from '../driver/iova.js';
import { initIovaRcache } from '../driver/iova-rcache.js';
import { designOf, getStrategy, iovaOf } from '../driver/strategies/index.js';
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import type { CmdqDesign } from '../driver/cmdq.js';
import { skipCmdqErr } from '../driver/cmdq-skip-err.js';
import { formatCommand } from '../hardware/commands.js';
import {
  allocate,
  computeLayout,
  layoutFingerprint,
  cpuStatsBase,
  Ctl,
  ctlIdx,
  measureStartF64,
  Phase,
  regIdx,
  type Layout,
  type SharedViews,
} from '../hardware/layout.js';
import { RegisterFile } from '../hardware/regfile.js';
import { resetSmmu } from '../hardware/smmu-reset.js';
import { nowNs } from '../concurrency/clock.js';
import { initCpuStats } from '../concurrency/counters.js';
import { SPIN, storeAndWake, type HandOffElision, type WaitPolicy } from '../concurrency/wait.js';
import type { SmmuMessage, SmmuWorkerData } from './smmu-messages.js';
import { describeCpu, describeState } from './diagnostics.js';
import { Monitor } from './monitor.js';
import { layoutParamsFor } from './params.js';
import { workerFile } from './paths.js';
import type { CpuPool } from './pool.js';
import type { CpuResult, CpuTask } from './task.js';

/** How long CPUs may take to finish their last iteration after STOP before the run is declared hung. */
const STOP_GRACE_MS = 2000;
/** After a crash or a hang, the others are likely stuck behind the dead CPU: give them less. */
const FAILED_GRACE_MS = 300;
const READY_TIMEOUT_MS = 10_000;

export type RunOutcome = 'complete' | 'crashed' | 'hung' | 'interrupted' | 'failed';

export interface StrategyRun {
  readonly strategy: string;
  /** The command-queue design it ran on (--cmdq, or the strategy's default). */
  readonly cmdq: CmdqDesign;
  /** The IOVA allocator it ran with (--iova, or the strategy's default). */
  readonly iova: IovaMode;
  readonly layout: Layout;
  readonly views: SharedViews;
  readonly probe: ProbeResult | null;
  /** Length of the measured window, ns. */
  readonly measuredNs: number;
  /** Clock (nowNs) when the measured window opened. */
  readonly measureStartNs: number;
  readonly outcome: RunOutcome;
  readonly complete: boolean;
  readonly errors: readonly string[];
  readonly diagnostics: readonly string[];
  /** CMDQ errors the GERROR handler acknowledged (each also counted by the SMMU). */
  readonly cmdqErrorsHandled: number;
  /** Consumed commands of the measured window, in order (only when a log was asked for). */
  readonly cmdLog: readonly Uint8Array[] | null;
  readonly cpuResults: readonly (CpuResult | null)[];
  /** The CPU pool had to be destroyed (a task never returned); the caller needs a new one. */
  readonly poolBroken: boolean;
}

export interface RunControl {
  /** Aborted on Ctrl-C: the run stops early and reports what it measured. */
  readonly signal?: AbortSignal;
  /** Diagnostics for the user (stderr). */
  readonly warn: (line: string) => void;
  /**
   * The measured window is open and holds an unmap (the CLI's "measuring" marker): one begun in
   * it has completed, so an interrupt from now on leaves something measured.
   */
  readonly measuring?: () => void;
}

/**
 * --wait as resolved for this host. drainIdx: the phase word, so that once the run stops even
 * spinning waits park (see WaitPolicy); the measured window is over by then.
 */
export function waitPolicyFor(cfg: Config, host: HostInfo, drainIdx = -1): WaitPolicy {
  return host.waitPolicy === 'spin'
    ? { ...SPIN, drainIdx, drainAt: Phase.STOP }
    : { park: true, spinNs: cfg.spinNs, drainIdx, drainAt: Phase.STOP };
}

/** Numbers this thread's runs, for their diagnostics channels. */
let runSeq = 0;

class RunEnded extends Error {
  constructor(readonly outcome: RunOutcome) {
    super(outcome);
  }
}

export async function runStrategy(
  cfg: Config,
  host: HostInfo,
  strategy: string,
  pool: CpuPool,
  wantLog: boolean,
  control: RunControl,
): Promise<StrategyRun> {
  const layoutParams = layoutParamsFor(cfg, strategy);
  const layout = computeLayout(layoutParams);
  const fingerprint = layoutFingerprint(layout);
  const views = allocate(layout);
  const { i32, f64 } = views;
  for (let cpu = 0; cpu < cfg.cpus; cpu++) {
    initCpuStats(f64, cpuStatsBase(layout, cpu, false), layout.lockClasses.length);
    initCpuStats(f64, cpuStatsBase(layout, cpu, true), layout.lockClasses.length);
  }
  for (let d = 0; d < layout.domains; d++) {
    initIovaDomain(i32, layout, d);
    if (iovaOf(cfg, strategy) === 'rcache') initIovaRcache(i32, layout, d);
  }

  const policy = waitPolicyFor(cfg, host, ctlIdx(layout, Ctl.PHASE));
  const regs = new RegisterFile(i32, layout);
  resetSmmu(
    regs,
    { msi: cfg.syncMode === 'msi', sev: cfg.sev, ril: getStrategy(strategy).ril === true },
    layout.domains,
  );

  const errors: string[] = [];
  /** The machine state when the run went wrong (watchdog), one line per CPU, lock and the SMMU. */
  const diagnostics: string[] = [];
  let outcome: RunOutcome = 'complete';
  let ended: RunEnded | null = null;
  let endRun!: (e: RunEnded) => void;
  const endPromise = new Promise<never>((_, reject) => (endRun = reject));
  endPromise.catch(() => {});
  const end = (o: RunOutcome, message?: string): void => {
    if (message) errors.push(message);
    if (ended) return;
    ended = new RunEnded(o);
    outcome = o;
    endRun(ended);
  };
  // The CPUs' driver diagnostics (CMD_SYNC timeouts, skipped commands) arrive here, one channel
  // per run so that runs in other threads of this process do not hear them.
  const printkName = `tlbsync-emu:printk:${process.pid}:${threadId}:${++runSeq}`;
  const printkChannel = new BroadcastChannel(printkName);
  printkChannel.onmessage = (e) => control.warn(String((e as MessageEvent).data));
  printkChannel.unref(); // closed below; never the reason the process stays up
  const onAbort = (): void => end('interrupted', 'interrupted (SIGINT)');
  control.signal?.addEventListener('abort', onAbort);
  if (control.signal?.aborted) onAbort();

  // The SMMU never burns a core while idle on a host without one to spare.
  // Every wait spins, the SMMU's idle one included: nobody parks on a hand-off's word between the
  // warm-up and the drain, and the hot hand-offs then need no fence (concurrency/wait.ts handOff).
  const allSpin = !policy.park && !host.oversubscribed;
  const idlePolicy: WaitPolicy = allSpin
    ? SPIN
    : { park: true, spinNs: cfg.spinNs, drainIdx: -1, drainAt: 0 };
  const handOffElision: HandOffElision | null = allSpin
    ? { from: Phase.WARMUP, until: policy.drainAt }
    : null;
  const workerData: SmmuWorkerData = {
    sab: views.sab,
    layout: layoutParams,
    fingerprint,
    timing: { tlbiNs: cfg.tlbiNs, syncNs: cfg.syncNs },
    idlePolicy,
    handOffElision,
    log: wantLog,
    trace: cfg.trace !== null,
  };
  const cmdLog: Uint8Array[] | null = wantLog ? [] : null;
  const smmu = new Worker(workerFile('smmu-worker'), { workerData });
  const smmuDone = new Promise<void>((resolve) => {
    smmu.on('message', (m: SmmuMessage) => {
      if (m.type === 'log') cmdLog?.push(m.chunk);
      else if (m.type === 'done') resolve();
    });
    smmu.on('error', (e) => {
      end('failed', `SMMU worker crashed: ${e.message}`);
      resolve();
    });
    smmu.on('exit', () => resolve());
  });

  const cpuResults: (CpuResult | null)[] = new Array(cfg.cpus).fill(null);
  let probe: ProbeResult | null = null;
  let measureStartNs = 0;
  let measuredNs = 0;
  let poolBroken = false;
  let cmdqErrorsHandled = 0;
  const phaseIdx = ctlIdx(layout, Ctl.PHASE);
  const tasks: Promise<unknown>[] = [];
  let terminating = false;
  const failedCpus = new Set<number>();

  // ---- The monitor: GERROR interrupt handler, watchdog, timed injections (monitor.ts). ----
  const stallIdx = ctlIdx(layout, Ctl.SMMU_STALL);
  // Linux's arm_smmu_cmdq_skip_err(): log the bad command, overwrite it with a CMD_SYNC, ack.
  const handleCmdqError = (gerror: number): void => {
    const { cons, err, command } = skipCmdqErr(regs, i32, layout, gerror, probe?.pollCs ?? 0);
    cmdqErrorsHandled++;
    control.warn(
      `tlbsync-emu: CMDQ error ${err === 1 ? 'ILL' : err} at CMDQ_CONS 0x${(cons >>> 0).toString(16)}: ${formatCommand(command)}; ` +
        `replaced with CMD_SYNC and acknowledged`,
    );
  };
  const watchdog = (): void => {
    const lines = describeState(i32, layout, cfg);
    diagnostics.push(...lines);
    end(
      'hung',
      `watchdog: no CPU completed an unmap for ${(cfg.watchdogMs / 1000).toFixed(1)} s during ${strategy}`,
    );
    control.warn(`tlbsync-emu: watchdog: no CPU completed an unmap for ${cfg.watchdogMs} ms (${strategy}):`);
    for (const l of lines) control.warn(`  ${l}`);
  };
  const monitor = new Monitor(i32, layout, cfg, regs, {
    cmdqError: handleCmdqError,
    hung: watchdog,
    measuring: control.measuring,
  });

  try {
    probe = await Promise.race([probeSmmu(views, layout), endPromise]);
    // The design's own shared state starts from the queue as bring-up left it.
    CMDQ_DESIGNS[designOf(cfg, strategy)].init?.(views, layout);
    for (let cpu = 0; cpu < cfg.cpus; cpu++) {
      const task: CpuTask = {
        sab: views.sab,
        layout: layoutParams,
        fingerprint,
        cpu,
        strategy,
        cfg,
        policy,
        handOffElision,
        pollCs: probe.pollCs,
        sev: probe.sev,
        printk: printkName,
      };
      tasks.push(
        pool.run(task).then(
          (r) => (cpuResults[cpu] = r),
          (e: Error) => {
            if (terminating) return; // the pool is being torn down after an earlier failure
            // The error's class does not survive the thread boundary; its message does.
            const injected = /injected crash/.test(e.message);
            failedCpus.add(cpu);
            end(
              injected ? 'crashed' : 'failed',
              `cpu ${cpu} ${injected ? 'crashed' : 'failed'}: ${e.message}; it was in ${describeCpu(i32, layout, cfg, cpu)}`,
            );
          },
        ),
      );
    }
    const readyIdx = ctlIdx(layout, Ctl.READY);
    const readyBy = Date.now() + READY_TIMEOUT_MS;
    while (Atomics.load(i32, readyIdx) < cfg.cpus) {
      if (Date.now() > readyBy) throw new Error(`CPU workers did not start within ${READY_TIMEOUT_MS} ms`);
      await Promise.race([sleep(1), endPromise]);
    }
    storeAndWake(i32, phaseIdx, Phase.WARMUP);
    monitor.startWatchdog();
    await monitor.watch(cfg.warmupMs, null, endPromise);
    f64[measureStartF64(layout)] = nowNs();
    measureStartNs = f64[measureStartF64(layout)];
    storeAndWake(i32, phaseIdx, Phase.MEASURE);
    await monitor.watch(cfg.durationMs, Date.now(), endPromise);
  } catch (e) {
    if (!(e instanceof RunEnded)) end('failed', (e as Error).message);
  } finally {
    const stopNs = nowNs();
    storeAndWake(i32, phaseIdx, Phase.STOP);
    storeAndWake(i32, stallIdx, 0);
    if (measureStartNs > 0) measuredNs = stopNs - measureStartNs;
  }

  // Let the CPUs finish their last iteration; keep handling GERROR meanwhile.
  const grace = outcome === 'complete' || outcome === 'interrupted' ? STOP_GRACE_MS : FAILED_GRACE_MS;
  const settled = await monitor.serviceErrors(Promise.allSettled(tasks), grace);
  monitor.close();
  if (!settled) {
    const stuck = cpuResults.flatMap((r, c) => (r === null && !failedCpus.has(c) ? [c] : []));
    if (outcome === 'complete' || outcome === 'interrupted') {
      diagnostics.push(...describeState(i32, layout, cfg));
      end('hung', `CPU workers did not stop within ${grace} ms of the end of the run`);
    } else {
      errors.push(
        `${stuck.length === 1 ? 'cpu' : 'cpus'} ${stuck.join(', ')} could not finish after the failure and ` +
          `${stuck.length === 1 ? 'was' : 'were'} terminated`,
      );
    }
    poolBroken = true;
    terminating = true;
    await pool.destroy();
  }
  control.signal?.removeEventListener('abort', onAbort);

  // Driver shutdown: disable the queue and ring the doorbell so a parked SMMU sees it.
  regs.write32('CR0', 0);
  Atomics.notify(i32, regIdx(layout, 'CMDQ_PROD'));
  const smmuStopped = await Promise.race([
    smmuDone.then(() => true),
    // Unreferenced: a pending timer must not keep the process alive after the run.
    sleep(STOP_GRACE_MS, undefined, { ref: false }).then(() => false),
  ]);
  if (!smmuStopped) errors.push(`SMMU worker did not stop within ${STOP_GRACE_MS} ms; terminated`);
  await smmu.terminate();
  // A line posted just before a worker returned may still be in flight: one turn of the loop.
  await new Promise((res) => setImmediate(res));
  printkChannel.close();

  return {
    strategy,
    cmdq: designOf(cfg, strategy),
    iova: iovaOf(cfg, strategy),
    layout,
    views,
    probe,
    measuredNs,
    measureStartNs,
    outcome,
    complete: outcome === 'complete',
    errors,
    diagnostics,
    cmdqErrorsHandled,
    cmdLog,
    cpuResults,
    poolBroken,
  };
}
