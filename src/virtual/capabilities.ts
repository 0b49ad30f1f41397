// What --engine virtual can run today: the one place to change when the engine learns a strategy,
// a command-queue design, a lock algorithm or an option. Everything else is refused before any
// run starts, with one line naming what is not modelled (run/combinations.ts asks, per sweep
// point). Settings that only tune the host's threads (--wait, --spin-ns, --hold-sample,
// --sync-timeout, --watchdog) have nothing to act on in one thread and are ignored, not refused.
import type { CmdqDesign, Config } from '../config/config.js';

export interface VirtualCapabilities {
  /** --strategy values, by name. */
  readonly strategies: readonly string[];
  /** Command-queue designs (--cmdq, or each strategy's own). */
  readonly designs: readonly CmdqDesign[];
  /** --lock algorithms the engine models ... */
  readonly locks: readonly string[];
  /** ... for the runs that take a lock of that algorithm: those on these designs. */
  readonly lockDesigns: readonly CmdqDesign[];
  /**
   * Lock classes (workload/task.ts LOCK_CLASSES) whose statistics the engine keeps: a virtual
   * run reports only these (the others' zeros would read as measured).
   */
  readonly lockClasses: readonly string[];
  /**
   * Options, each as the flag and value to name when the Config asks for what is not modelled
   * (null: nothing unsupported asked for).
   */
  readonly options: readonly ((cfg: Config) => string | null)[];
}

export const VIRTUAL_CAPABILITIES: VirtualCapabilities = {
  strategies: ['per-page', 'batched', 'range', 'lazy', 'unsafe-free-before-sync', 'lockfree', 'ecmdq'],
  designs: ['locked', 'lockfree', 'ecmdq'],
  locks: ['tas', 'ttas', 'ticket', 'mcs', 'spin-park'],
  // Every design: the IOVA allocator's and the flush queues' locks run --lock too (state.ts lockAt).
  lockDesigns: ['locked', 'lockfree', 'ecmdq'],
  lockClasses: ['cmdq', 'iova', 'rcache', 'depot'],
  options: [
    (c) => (c.syncCoalesce !== 'off' ? `--sync-coalesce ${c.syncCoalesce}` : null),
    // The driver state (state.ts) keeps one shared domain.
    (c) => (c.domains !== 'shared' ? `--domains ${c.domains}` : null),
    (c) => (c.inject.length > 0 ? '--inject' : null),
  ],
};

/**
 * Why --engine virtual cannot run `strategy` on `design` under `cfg`, as the one-line message,
 * or null if it can.
 */
export function virtualUnsupported(cfg: Config, strategy: string, design: CmdqDesign): string | null {
  const cap = VIRTUAL_CAPABILITIES;
  const not = (what: string): string => `--engine virtual does not model ${what} yet`;
  if (!cap.strategies.includes(strategy))
    return `${not(`--strategy ${strategy}`)} (modelled: ${cap.strategies.join(', ')})`;
  if (!cap.designs.includes(design))
    return `${not(`--cmdq ${design}`)} (modelled: ${cap.designs.join(', ')})`;
  if (cap.lockDesigns.includes(design) && !cap.locks.includes(cfg.lock))
    return `${not(`--lock ${cfg.lock}`)} for --strategy ${strategy} on --cmdq ${design} (modelled: ${cap.locks.join(', ')})`;
  for (const check of cap.options) {
    const what = check(cfg);
    if (what !== null) return not(what);
  }
  return null;
}
