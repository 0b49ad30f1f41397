// Runs a plan: every point of the sweep (one point without --sweep), each repetition, each strategy,
// strictly one run at a time. The CPU pool is sized exactly to the point's --cpus: one pool per
// distinct cpus value (points are ordered so that cpus varies slowest), destroyed before the next.
import { Mutex } from 'async-mutex';
import { hostInfo, type Config, type HostInfo } from '../config/config.js';
import { collectRun } from '../report/collect.js';
import type { RunReport } from '../report/types.js';
import { runStrategy, type RunOutcome, type StrategyRun } from '../workload/orchestrator.js';
import type { VirtualRunReport } from '../report/types.js';
import { runVirtualStrategy } from './virtual-run.js';
import { VIRTUAL_CAPABILITIES } from '../virtual/capabilities.js';
import { CpuPool } from '../workload/pool.js';
import { shardPoints } from '../config/shard.js';
import { sweepPoints, type Params, type Plan, type Point } from '../config/sweep.js';

/**
 * One measurement at a time in this process. Every run needs every core the host has for its CPU
 * and SMMU threads: two sweeps measuring at once (two runConfig() calls from a test, a benchmark
 * or an embedding program that does not await the first) would preempt each other's lock holders
 * and both would report nonsense. Callers that overlap are queued here instead, in call order.
 */
const measurement = new Mutex();

export interface RunInfo {
  /** 1-based position of this run among all runs of the plan. */
  readonly index: number;
  readonly total: number;
  /** 1-based position of its point in run order, and the number of points. */
  readonly point: number;
  readonly points: number;
  readonly params: Params;
  readonly strategy: string;
  /** 0-based repetition, and the number of repetitions. */
  readonly repetition: number;
  readonly repeat: number;
  /** The point's configuration (what this run used). */
  readonly cfg: Config;
  readonly host: HostInfo;
}

export interface RunHooks {
  /** Before a run starts (progress). */
  readonly runStart?: (info: RunInfo) => void;
  /** Once a run's measured window holds an unmap (progress; see RunControl.measuring). */
  readonly measureStart?: (info: RunInfo) => void;
  /**
   * After a run, with what it measured still in its shared memory (command logs, traces), before
   * the next starts. Exceptions propagate and end the plan.
   */
  readonly runEnd?: (info: RunInfo, run: StrategyRun, report: RunReport) => void;
  /** Diagnostics from the orchestrator (watchdog, CMDQ errors) for stderr. */
  readonly warn: (line: string) => void;
  /**
   * --engine virtual: the virtual time reached (ns) and the events the engine has run so far in
   * this run, every few ten thousand events.
   */
  readonly virtualProgress?: (info: RunInfo, virtualNs: number, events: number) => void;
}

export interface PlanDeps {
  /** Creates the CPU pool of a point (tests count and size them). */
  readonly createPool: (cpus: number) => CpuPool;
}

const DEFAULT_DEPS: PlanDeps = { createPool: (cpus) => new CpuPool(cpus) };

export interface PlanResult {
  readonly runs: RunReport[];
  /** 'complete', or the outcome of the run that ended the plan early. */
  readonly outcome: RunOutcome;
  /** Runs the plan would have made had nothing ended it early. */
  readonly expected: number;
  readonly points: readonly Point[];
  readonly startedAt: Date;
}

export function runPlan(
  base: Config,
  plan: Pick<Plan, 'sweep' | 'repeat' | 'shard'>,
  hooks: RunHooks,
  signal?: AbortSignal,
  deps: PlanDeps = DEFAULT_DEPS,
): Promise<PlanResult> {
  return measurement.runExclusive(() => runPlanNow(base, plan, hooks, signal, deps));
}

async function runPlanNow(
  base: Config,
  plan: Pick<Plan, 'sweep' | 'repeat' | 'shard'>,
  hooks: RunHooks,
  signal: AbortSignal | undefined,
  deps: PlanDeps,
): Promise<PlanResult> {
  const startedAt = new Date();
  const points = shardPoints(sweepPoints(base, plan.sweep), plan.shard);
  const expected = points.length * plan.repeat * base.strategies.length;
  const runs: RunReport[] = [];
  let outcome: RunOutcome = 'complete';
  let pool: CpuPool | null = null;
  let index = 0;
  try {
    outer: for (const [pi, point] of points.entries()) {
      const cfg = point.cfg;
      // The virtual engine runs in this thread: no CPU workers.
      const virtual = cfg.engine === 'virtual';
      if (!virtual && (pool === null || pool.cpus !== cfg.cpus)) {
        if (pool !== null) await pool.destroy();
        pool = null; // a failed constructor must not leave the old pool to be destroyed twice
        pool = deps.createPool(cfg.cpus);
      }
      const host = hostInfo(cfg);
      for (let repetition = 0; repetition < plan.repeat; repetition++)
        for (const strategy of cfg.strategies) {
          const info: RunInfo = {
            index: ++index,
            total: expected,
            point: pi + 1,
            points: points.length,
            params: point.params,
            strategy,
            repetition,
            repeat: plan.repeat,
            cfg,
            host,
          };
          hooks.runStart?.(info);
          const ran = virtual
            ? await runVirtualPoint(cfg, strategy, info, hooks, signal)
            : {
                run: await runStrategy(cfg, host, strategy, pool!, cfg.cmdLog !== null, {
                  signal,
                  warn: hooks.warn,
                  measuring: () => hooks.measureStart?.(info),
                }),
                virtual: undefined,
              };
          const run = ran.run;
          const report = collectRun(run, {
            virtual: ran.virtual,
            timed: cfg.stats === 'full',
            tlbiNs: cfg.tlbiNs,
            syncNs: cfg.syncNs,
            oversubscribed: host.oversubscribed,
            params: point.params,
            repetition,
          });
          // Lock classes the virtual engine does not model are left out, not reported as zeros.
          if (ran.virtual)
            report.locks = report.locks.filter((l) => VIRTUAL_CAPABILITIES.lockClasses.includes(l.name));
          runs.push(report);
          hooks.runEnd?.(info, run, report);
          if (run.outcome !== 'complete') {
            outcome = run.outcome;
            break outer;
          }
          if (run.poolBroken) {
            // Not reached today (a broken pool means the run did not complete), but never reuse one.
            pool = deps.createPool(cfg.cpus);
          }
        }
    }
  } finally {
    if (pool !== null) await pool.destroy();
  }
  return { runs, outcome, expected, points, startedAt };
}

/**
 * A virtual run, with the progress hooks fed from the engine: measureStart once the measured
 * window holds an unmap, as for a threads run (or at the end of a run too short to hold one),
 * virtualProgress as it goes. Ctrl-C (signal) is seen between the engine's slices.
 */
async function runVirtualPoint(
  cfg: Config,
  strategy: string,
  info: RunInfo,
  hooks: RunHooks,
  signal: AbortSignal | undefined,
): Promise<{ run: StrategyRun; virtual: VirtualRunReport }> {
  let measuring = false;
  const ran = await runVirtualStrategy(cfg, strategy, cfg.cmdLog !== null, {
    progress: (ns, events) => hooks.virtualProgress?.(info, ns, events),
    signal,
    measuring: () => {
      measuring = true;
      hooks.measureStart?.(info);
    },
  });
  if (!measuring) hooks.measureStart?.(info);
  return ran;
}

/** The host as the document reports it: at the point that wants the most threads (largest cpus). */
export function planHost(base: Config, points: readonly Point[]): HostInfo {
  const hosts = points.map((p) => hostInfo({ ...base, ...p.cfg }));
  return hosts.reduce((a, h) => (h.threads > a.threads ? h : a), hosts[0] ?? hostInfo(base));
}
