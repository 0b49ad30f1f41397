// Experiment 2, John Garry 2020 (facts file): DMA map+unmap per CPU per second on an arm64 server
// with the v5.4 lock-free queue, 8 CPUs 282K, 16: 115K, 32: 36K, 64: 11K; the cmpxchg on
// {prod, cons} succeeded about 1 time in 12 at 64 CPUs. Goal: every ratio to 8 CPUs within a
// factor of 2 of Garry's, and the success rate at 64 CPUs between 1 in 24 and 1 in 6.
import type { ServicePolicy } from '../coherence.js';
import type { VirtualResult } from '../run.js';
import {
  factorOff,
  fixed,
  int,
  measure,
  oneIn,
  verdict,
  type ValidationTable,
  type Workload,
} from './common.js';

/** Garry's per-CPU map+unmap/s, by CPU count. */
export const GARRY_2020: Readonly<Record<number, number>> = { 8: 282e3, 16: 115e3, 32: 36e3, 64: 11e3 };

/** One page per map (dma_map_benchmark's default granule), map/unmap back to back (notes, lesson 4). */
export const GARRY_WORKLOAD: Workload = { pages: 1, dmaNs: 0 };

export interface GarryOptions {
  readonly ms: number;
  readonly cpus?: readonly number[];
  /** The other service policy of a contended line (virtual-time.md), to show it, not to pass. */
  readonly service?: ServicePolicy;
}

export interface GarryPoint {
  readonly cpus: number;
  readonly result: VirtualResult;
  /** Per-CPU rate relative to the first point (8 CPUs). */
  readonly ratio: number;
}

export function garryPoints(o: GarryOptions): GarryPoint[] {
  const results = (o.cpus ?? [8, 16, 32, 64]).map((cpus) =>
    measure({
      cpus,
      design: 'lockfree',
      strategy: 'batched',
      durationNs: o.ms * 1e6,
      warmupNs: 1e6,
      workload: { ...GARRY_WORKLOAD, ...(o.service ? { service: o.service } : {}) },
    }),
  );
  const base = results[0].perCpuOpsPerSec;
  return results.map((result) => ({ cpus: result.cpus, result, ratio: result.perCpuOpsPerSec / base }));
}

/** cmpxchg success goal at 64 CPUs (Linux: about 1 in 12). */
export const cmpxchgInRange = (rate: number): boolean => rate > 1 / 24 && rate < 1 / 6;

export function garryTable(points: readonly GarryPoint[]): ValidationTable {
  const base = points[0].cpus;
  let pass = true;
  const rows = points.map((p) => {
    const published = GARRY_2020[p.cpus] / GARRY_2020[base];
    const off = factorOff(p.ratio, published);
    const rate = p.result.lockfree!.cmpxchgSuccessRate;
    const rateOk = p.cpus === 64 ? cmpxchgInRange(rate) : null;
    pass &&= off <= 2 && rateOk !== false;
    return [
      String(p.cpus),
      int(GARRY_2020[p.cpus]),
      int(p.result.perCpuOpsPerSec),
      fixed(published, 3),
      fixed(p.ratio, 3),
      fixed(p.ratio / published),
      verdict(off <= 2, `${fixed(off)}x off`),
      oneIn(rate),
      rateOk === null ? '-' : verdict(rateOk),
    ];
  });
  return {
    id: `garry-${points[0].result.params.service}`,
    title: `Garry 2020, v5.4 lock-free queue (${points[0].result.params.service} service of a contended line)`,
    headers: [
      'CPUs',
      'Garry per-CPU/s',
      'virtual per-CPU/s',
      'Garry ratio to 8',
      'virtual ratio to 8',
      'virtual / Garry',
      'within 2x',
      'cmpxchg success (Linux ~1 in 12 at 64)',
      '1 in 24 .. 1 in 6',
    ],
    rows,
    pass,
  };
}
