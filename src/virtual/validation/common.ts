// What every validation experiment shares: one seed, the validation parameter set with only the
// experiment's stated workload on top, and a table of published value against the engine's value
// with a verdict per row. The experiments never set a cost parameter (docs/validation.md).
import type { LockName } from '../../concurrency/lock.js';
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
  /** Run the driver's state (IOVA allocator, IOTLB, oracle), which lazy's flush queue needs: the
   *  engine's `state` option, spread in so that an engine without it ignores it. */
  readonly driverState?: boolean;
  /** The locked queue's spinlock, as the experiment's era had it (the engine's `lock` option, spread
   *  in like driverState: an engine with only the ticket lock ignores it). */
  readonly lock?: LockName;
}

export function measure(p: Point): VirtualResult {
  return runVirtual({
    cpus: p.cpus,
    design: p.design,
    strategy: p.strategy,
    seed: VALIDATION_SEED,
    durationNs: p.durationNs,
    warmupNs: p.warmupNs,
    params: { ...VALIDATION_PARAMS, ...p.workload },
    ...(p.driverState === true ? { state: true } : {}),
    ...(p.lock !== undefined ? { lock: p.lock } : {}),
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
