// What every validation experiment shares: one seed, the validation parameter set with only the
// experiment's stated workload on top, and a table of published value against the engine's value
// with a verdict per row. The experiments never set a cost parameter (docs/validation.md).
import type { LockName } from '../../concurrency/lock.js';
import { DEFAULTS } from '../../config/config.js';
import type { VirtualStrategy } from '../cpu.js';
import { VALIDATION_PARAMS, type VirtualParams } from '../params.js';
import { runVirtual, type VirtualDesign, type VirtualResult } from '../run.js';

/** Every point of every table runs from this seed. */
export const VALIDATION_SEED = 1;

/** What an experiment may set on top of VALIDATION_PARAMS: its workload, never a cost. */
export type Workload = Partial<Pick<VirtualParams, 'pages' | 'dmaNs' | 'syncMode' | 'service'>>;

export interface Point {
  readonly cpus: number;
  readonly design: VirtualDesign;
  readonly strategy: VirtualStrategy;
  readonly durationNs: number;
  readonly warmupNs: number;
  readonly workload: Workload;
  /** The locked queue's spinlock, as the experiment's era had it (--lock; default the tool's). */
  readonly lock?: LockName;
}

/**
 * One point, run as `node dist/run.js --engine virtual --calibration docs/validation-params.json`
 * runs it (src/run/virtual-run.ts): always with the driver state (IOVA allocator, page tables,
 * IOTLB, devices, oracle), whose layout is sized for the run's --lock, so that every number of
 * docs/validation.md is also what the CLI prints for the same settings.
 */
export function measure(p: Point): VirtualResult {
  const lock = p.lock ?? DEFAULTS.lock;
  return runVirtual({
    cpus: p.cpus,
    design: p.design,
    strategy: p.strategy,
    seed: VALIDATION_SEED,
    durationNs: p.durationNs,
    warmupNs: p.warmupNs,
    params: { ...VALIDATION_PARAMS, ...p.workload },
    lock,
    state: { lock },
  });
}

/** CPU time in the issue path per completed unmap, ns (issueFraction is over the measured window). */
export function issueNsPerUnmap(r: VirtualResult, durationNs: number): number {
  return r.unmaps > 0 ? (r.issueFraction * r.cpus * durationNs) / r.unmaps : 0;
}

export interface ValidationTable {
  readonly id: string;
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Every judged row met its goal; null when nothing could be judged (pending rows only). */
  readonly pass: boolean | null;
  /** Rows the engine cannot produce yet. */
  readonly pending?: number;
}

/** A row's verdict: pass, or how far it missed. */
export function verdict(ok: boolean, miss = ''): string {
  return ok ? 'pass' : miss === '' ? 'MISS' : `MISS (${miss})`;
}

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
export const fixed = (n: number, d = 2): string => n.toFixed(d);
export const pct = (f: number): string => `${(100 * f).toFixed(2)}%`;
export const oneIn = (rate: number): string => (rate > 0 ? `1 in ${(1 / rate).toFixed(1)}` : '-');

/** The factor by which a is off b (>= 1), for "missed by x". */
export const factorOff = (a: number, b: number): number => (a > b ? a / b : b / a);
