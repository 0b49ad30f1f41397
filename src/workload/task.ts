// What the orchestrator hands each CPU worker (structured-cloned; the SharedArrayBuffer is shared).
import type { Config } from '../config/config.js';
import type { LayoutParams } from '../hardware/layout.js';
import type { HandOffElision, WaitPolicy } from '../concurrency/wait.js';

/**
 * Lock classes the statistics are kept for, by index (lockstat "class name"): `iova` is the
 * domain's iova_rbtree_lock; `rcache` (every CPU's cpu_rcache->lock, one class as lockstat keys
 * by class) and `depot` (rcache->lock) exist with --iova rcache only, so they come last.
 */
export const LOCK_CLASSES = ['cmdq', 'iova', 'rcache', 'depot'] as const;
export const CLS_CMDQ = 0;
export const CLS_IOVA = 1;
export const CLS_RCACHE = 2;
export const CLS_DEPOT = 3;
/** The classes a run has: without the rcache, the first two. */
export const lockClassesFor = (iova: string): readonly string[] =>
  iova === 'rcache' ? LOCK_CLASSES : LOCK_CLASSES.slice(0, CLS_RCACHE);

import type { DomainsMode } from '../config/config.js';
export type { DomainsMode };

export interface CpuTask {
  readonly sab: SharedArrayBuffer;
  readonly layout: LayoutParams;
  /** layoutFingerprint() of the orchestrator's layout (see SmmuWorkerData.fingerprint). */
  readonly fingerprint: string;
  readonly cpu: number;
  readonly strategy: string;
  readonly cfg: Config;
  /** The resolved wait policy (--wait after oversubscription detection). */
  readonly policy: WaitPolicy;
  /** When this run's hand-offs skip the fence (concurrency/wait.ts handOff); absent: never. */
  readonly handOffElision?: HandOffElision | null;
  /** CMD_SYNC CS field in poll mode (SEV when the SMMU advertises IDR0.SEV). */
  readonly pollCs: number;
  /** IDR0.SEV as the driver probed it: its CONS polls may WFE. */
  readonly sev: boolean;
  /** The run's BroadcastChannel for driver diagnostics (src/driver/printk.ts). */
  readonly printk: string;
}

export interface CpuResult {
  readonly cpu: number;
  /** Loop iterations in any phase (warm-up included). */
  readonly iterations: number;
}

export function domainOf(mode: DomainsMode, cpu: number): number {
  return mode === 'shared' ? 0 : cpu;
}
