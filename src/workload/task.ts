// What the orchestrator hands each CPU worker (structured-cloned; the SharedArrayBuffer is shared).
import type { Config } from '../config/config.js';
import type { LayoutParams } from '../hardware/layout.js';
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
  readonly cfg: Config;
  /** The resolved wait policy (--wait after oversubscription detection). */
  readonly policy: WaitPolicy;
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
