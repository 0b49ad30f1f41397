// Experiment 1, the seed (Zhen Lei's 2017 patch, "add a new member unmap_tlb_sync"): on the 2017
// locked queue, per-page issues a TLBI_NH_VA and a CMD_SYNC for every page of an unmap, batched
// every TLBI and one CMD_SYNC after the loop. Published shape: syncs per unmap fall from P to 1,
// and batched's advantage over per-page grows with CPUs (the patch's reason: the sync takes a lock
// shared by every CPU, and a device outside the CPU takes long to answer). No numbers were
// published; the goal per row is the shape.
import type { SyncMode } from '../../config/config.js';
import type { VirtualResult } from '../run.js';
import { factorOff, fixed, int, measure, verdict, type ValidationTable, type Workload } from './common.js';

/** 16 pages per unmap (a 64 KiB buffer, the tool's default; the patch's case is unmap_sg of a
 *  range), no time between map and unmap (a map/unmap loop, as dma_map_benchmark and Garry ran). */
export const SEED_WORKLOAD: Workload = { pages: 16, dmaNs: 0 };

/** arm64's spinlock in 2017 (v4.12): a ticket lock (queued spinlocks came in v4.19). */
export const SEED_LOCK = 'ticket';

export const SEED_CPUS = [1, 2, 4, 8, 16, 32, 64] as const;

export interface SeedPoint {
  readonly cpus: number;
  readonly perPage: VirtualResult;
  readonly batched: VirtualResult;
  /** batched unmaps/s over per-page unmaps/s. */
  readonly ratio: number;
}

export interface SeedOptions {
  /** Measured window at up to 8 CPUs, ms; it grows with CPUs beyond (one per-page unmap takes
   *  ~14 ms at 64 CPUs on this queue), so every point counts several unmaps per CPU. */
  readonly ms: number;
  readonly cpus?: readonly number[];
  readonly syncMode?: SyncMode;
}

export function seedPoints(o: SeedOptions): SeedPoint[] {
  return (o.cpus ?? SEED_CPUS).map((cpus) => {
    const durationNs = o.ms * 1e6 * Math.max(1, cpus / 8);
    const workload: Workload = { ...SEED_WORKLOAD, ...(o.syncMode ? { syncMode: o.syncMode } : {}) };
    const at = (strategy: 'per-page' | 'batched'): VirtualResult =>
      measure({
        cpus,
        design: 'locked',
        strategy,
        durationNs,
        warmupNs: durationNs / 10,
        workload,
        lock: SEED_LOCK,
      });
    const perPage = at('per-page');
    const batched = at('batched');
    return { cpus, perPage, batched, ratio: batched.unmapsPerSec / perPage.unmapsPerSec };
  });
}

export function seedTable(points: readonly SeedPoint[], syncMode: SyncMode): ValidationTable {
  const base = points[0];
  let pass = true;
  const rows = points.map((p) => {
    const pages = p.perPage.params.pages;
    const syncsPp = p.perPage.commands.cmdSync / p.perPage.unmaps;
    const syncsB = p.batched.commands.cmdSync / p.batched.unmaps;
    const syncsOk = syncsPp === pages && syncsB === 1;
    // "Grows with CPUs": the advantage at N CPUs exceeds the uncontended one (1 CPU).
    const grows = p === base ? null : p.ratio > base.ratio;
    pass &&= syncsOk && grows !== false;
    return [
      String(p.cpus),
      int(p.perPage.unmapsPerSec),
      int(p.batched.unmapsPerSec),
      fixed(p.ratio),
      `${fixed(syncsPp, 0)} -> ${fixed(syncsB, 0)}`,
      verdict(syncsOk),
      grows === null ? 'baseline' : verdict(grows, `${fixed(factorOff(p.ratio, base.ratio))}x below 1 CPU`),
    ];
  });
  return {
    id: `seed-${syncMode}`,
    title: `The seed: per-page vs batched on the 2017 locked queue (${syncMode} CMD_SYNC, P = ${points[0].perPage.params.pages})`,
    headers: [
      'CPUs',
      'per-page unmaps/s (all CPUs)',
      'batched unmaps/s (all CPUs)',
      'batched / per-page',
      'syncs per unmap (published P -> 1)',
      'syncs goal',
      'advantage grows (published)',
    ],
    rows,
    pass,
  };
}
