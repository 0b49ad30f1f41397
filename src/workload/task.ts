// What the orchestrator hands each CPU worker (structured-cloned; the SharedArrayBuffer is shared).
import type { SyncMode } from '../driver/cmdq-locked.js';
import type { LayoutParams } from '../hardware/layout.js';
import type { LockName } from '../sync/lock.js';
import type { WaitPolicy } from '../sync/wait.js';

/** Lock classes the statistics are kept for, by index (lockstat "class name"). */
export const LOCK_CLASSES = ['cmdq', 'iova'] as const;
export const CLS_CMDQ = 0;
export const CLS_IOVA = 1;

export type DomainsMode = 'shared' | 'per-cpu';

export interface CpuTask {
  readonly sab: SharedArrayBuffer;
  readonly layout: LayoutParams;
  readonly cpu: number;
  readonly strategy: string;
  readonly pages: number;
  readonly lock: LockName;
  readonly policy: WaitPolicy;
  readonly syncMode: SyncMode;
  /** CMD_SYNC CS field in poll mode (SEV when the SMMU advertises IDR0.SEV). */
  readonly pollCs: number;
  readonly domains: DomainsMode;
  /** false under --stats counters: count, but read no clock. */
  readonly timed: boolean;
}

export interface CpuResult {
  readonly cpu: number;
  /** Loop iterations in any phase (warm-up included). */
  readonly iterations: number;
}

export function domainOf(mode: DomainsMode, cpu: number): number {
  return mode === 'shared' ? 0 : cpu;
}
