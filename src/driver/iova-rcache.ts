// dma-iommu's IOVA fast path (alloc_iova_fast/free_iova_fast, iova.c, Linux 4.7 on): per-CPU
// range caches in front of the rbtree allocator, after Bonwick and Adams' magazines. Per size class
// (order_base_2 of the page count), each CPU has a `loaded` and a `prev` magazine of IOVA_MAG_SIZE
// pfns under its own lock, and the class has a depot of up to MAX_GLOBAL_MAGS full magazines under
// the rcache lock. iova_rbtree_lock is taken only when both magazines and the depot are empty (one
// IOVA from alloc_iova) or when a full magazine finds the depot full (all its pfns freed under one
// acquisition). Constants as in Linux 4.7-5.18 (later kernels: IOVA_MAG_SIZE 127, a depot list).
//
// IOVAs move between CPUs through the depot, so the magazines live in shared memory and
// "pointers" are magazine numbers. Linux kmallocs a magazine when a full one goes to the depot and
// kfrees the empty one a CPU swaps for a depot magazine; here the depot array always holds a
// magazine in every slot — full below depot_size, empty spares above — and those swaps exchange
// numbers, so the pool is fixed and nothing is allocated on the hot path. Each CPU owns one more
// empty magazine that stands in for the new one when a full magazine leaves for the rbtree.
//
// Only the run's size class is laid out (every buffer of a run has the same size); a size of 64
// pages or more has no rcache in Linux (order >= IOVA_RANGE_CACHE_MAX_SIZE) and goes to the rbtree.
//
// Region format, per domain (cpusPerDomain = cpus with --domains shared, 1 with per-cpu):
//   locks: the rcache (depot) lock, then one cpu_rcache lock per CPU of the domain (lockBytes each)
//   depot: word 0 depot_size, words 1..MAX_GLOBAL_MAGS magazine numbers
//   one line per CPU of the domain: LOADED, PREV, SPARE magazine numbers
//   magazines: word 0 size, then IOVA_MAG_SIZE pfns (first VA page of the IOVA)
import { regionOff, type Layout, type LayoutGeometry } from '../hardware/layout.js';
import { alignUp, checkRegion, LINE, type RegionDecl } from '../hardware/region.js';
import type { IovaDomain, IovaLock } from './iova.js';

export const IOVA_MAG_SIZE = 128;
export const MAX_GLOBAL_MAGS = 32;
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;
export const IOVA_RCACHE_REGION = 'iova-rcache';

const DEPOT_BYTES = alignUp(4 * (1 + MAX_GLOBAL_MAGS));
const MAG_BYTES = alignUp(4 * (1 + IOVA_MAG_SIZE));
const enum CpuLine {
  LOADED = 0,
  PREV = 1,
  SPARE = 2,
}

interface RcacheShape {
  readonly cpus: number;
  readonly domains: number;
  readonly lockBytes: number;
}

const cpusPerDomain = (s: RcacheShape): number => s.cpus / s.domains;
const magazines = (c: number): number => 3 * c + MAX_GLOBAL_MAGS;

function domainBytes(s: RcacheShape): number {
  const c = cpusPerDomain(s);
  return (1 + c) * s.lockBytes + DEPOT_BYTES + c * LINE + magazines(c) * MAG_BYTES;
}

/** Bytes of the region for every domain. */
export function rcacheRegionBytes(s: RcacheShape): number {
  return s.domains * domainBytes(s);
}

export const IOVA_RCACHE_DECL: RegionDecl<LayoutGeometry> = {
  name: IOVA_RCACHE_REGION,
  bytes: rcacheRegionBytes,
  align: LINE,
};

/** Does the rcache serve buffers of this many pages (order_base_2 < IOVA_RANGE_CACHE_MAX_SIZE)? */
export const rcacheServes = (slotPages: number): boolean => Math.log2(slotPages) < IOVA_RANGE_CACHE_MAX_SIZE;

/** Byte offsets of one domain's parts. */
function parts(l: Layout, domain: number) {
  const c = cpusPerDomain(l);
  const base = regionOff(l, IOVA_RCACHE_REGION) + domain * domainBytes(l);
  const depot = base + (1 + c) * l.lockBytes;
  const cpuLines = depot + DEPOT_BYTES;
  return { c, base, depot, cpuLines, mags: cpuLines + c * LINE };
}

/** Byte offset of the depot lock (k = -1) or of CPU slot k's cpu_rcache lock in a domain. */
export function rcacheLockOff(l: Layout, domain: number, k: number): number {
  return parts(l, domain).base + (1 + k) * l.lockBytes;
}

/** A CPU's slot in its domain's per-CPU caches: itself when shared, 0 in its own domain. */
export const rcacheSlotOf = (l: Layout, cpu: number): number => cpu % cpusPerDomain(l);

/** CPUs of a domain that have a cpu_rcache (orchestrator's and CPUs' view of the same count). */
export const rcacheCpus = (l: Layout): number => cpusPerDomain(l);

/** Hands out the magazines: CPU k loads 2k and 2k+1, the depot's slots hold the next 32 (empty), and
 *  the rest are the CPUs' spares. */
export function initIovaRcache(i32: Int32Array, l: Layout, domain: number): void {
  const p = parts(l, domain);
  for (let k = 0; k < p.c; k++) {
    const line = (p.cpuLines + k * LINE) >> 2;
    i32[line + CpuLine.LOADED] = 2 * k;
    i32[line + CpuLine.PREV] = 2 * k + 1;
    i32[line + CpuLine.SPARE] = 2 * p.c + MAX_GLOBAL_MAGS + k;
  }
  for (let j = 0; j < MAX_GLOBAL_MAGS; j++) i32[(p.depot >> 2) + 1 + j] = 2 * p.c + j;
}

/** IOVAs held by a domain's CPU magazines and depot (collector, after the run): free in Linux's
 *  sense, though not in the rbtree. */
export function rcacheCachedCount(i32: Int32Array, l: Layout, domain: number): number {
  return rcacheCachedPfns(i32, l, domain).length;
}

/** Every pfn a domain's rcaches hold (collector and tests). */
export function rcacheCachedPfns(i32: Int32Array, l: Layout, domain: number): number[] {
  const p = parts(l, domain);
  const magIdx = (m: number): number => (p.mags + m * MAG_BYTES) >> 2;
  const out: number[] = [];
  const take = (m: number): void => {
    const at = magIdx(m);
    for (let i = 0; i < i32[at]; i++) out.push(i32[at + 1 + i]);
  };
  for (let k = 0; k < p.c; k++) {
    const line = (p.cpuLines + k * LINE) >> 2;
    take(i32[line + CpuLine.LOADED]);
    take(i32[line + CpuLine.PREV]);
    take(i32[line + CpuLine.SPARE]);
  }
  const d = p.depot >> 2;
  for (let j = 0; j < i32[d]; j++) take(i32[d + 1 + j]);
  return out;
}

export interface RcacheLocks {
  /** rcache->lock, which guards the depot. */
  readonly depot: IovaLock;
  /** Every CPU's cpu_rcache->lock of the domain, by slot: a CPU takes its own, and all of them
   *  when an allocation fails and it flushes the caches. */
  readonly cpu: readonly IovaLock[];
}

/** One CPU's alloc_iova_fast / free_iova_fast over a domain's rcache and rbtree. */
export class IovaRcache {
  private readonly line: number;
  private readonly depot: number;
  private readonly mags: number;
  private readonly lines: number;
  private readonly cpuLock: IovaLock;
  private readonly serves: boolean;

  constructor(
    private readonly i32: Int32Array,
    layout: Layout,
    domain: number,
    slot: number,
    private readonly rbtree: IovaDomain,
    private readonly locks: RcacheLocks,
  ) {
    checkRegion(
      i32.buffer,
      IOVA_RCACHE_REGION,
      regionOff(layout, IOVA_RCACHE_REGION),
      rcacheRegionBytes(layout),
    );
    const p = parts(layout, domain);
    this.lines = p.cpuLines >> 2;
    this.line = this.lines + slot * (LINE >> 2);
    this.depot = p.depot >> 2;
    this.mags = p.mags >> 2;
    this.cpuLock = locks.cpu[slot];
    this.serves = rcacheServes(layout.slotPages);
  }

  private mag(m: number): number {
    return this.mags + m * (MAG_BYTES >> 2);
  }

  /** alloc_iova_fast: the first VA page of an IOVA, or -1 when the domain's space is exhausted
   *  even after flushing every cache back to the rbtree. */
  alloc(): number {
    if (this.serves) {
      const pfn = this.rcacheGet();
      if (pfn >= 0) return pfn;
    }
    const pfn = this.rbtree.alloc();
    if (pfn >= 0) return pfn;
    this.flushAll();
    return this.rbtree.alloc();
  }

  /** free_iova_fast. */
  free(pfn: number): void {
    if (!this.serves) return this.rbtree.free(pfn);
    const i32 = this.i32;
    const line = this.line;
    let toFree = -1;
    this.cpuLock.acquire();
    let loaded = i32[line + CpuLine.LOADED];
    if (i32[this.mag(loaded)] === IOVA_MAG_SIZE) {
      const prev = i32[line + CpuLine.PREV];
      if (i32[this.mag(prev)] < IOVA_MAG_SIZE) {
        i32[line + CpuLine.PREV] = loaded;
        loaded = prev;
      } else {
        this.locks.depot.acquire();
        const d = this.depot;
        const size = i32[d];
        if (size < MAX_GLOBAL_MAGS) {
          // The full magazine takes the depot slot; the slot's empty spare becomes `loaded`.
          const spare = i32[d + 1 + size];
          i32[d + 1 + size] = loaded;
          i32[d] = size + 1;
          loaded = spare;
        } else {
          toFree = loaded;
          loaded = i32[line + CpuLine.SPARE];
          i32[line + CpuLine.SPARE] = toFree;
        }
        this.locks.depot.release();
      }
      i32[line + CpuLine.LOADED] = loaded;
    }
    const m = this.mag(loaded);
    i32[m + 1 + i32[m]] = pfn;
    i32[m]++;
    this.cpuLock.release();
    // As Linux, the overflowing magazine goes back to the rbtree after the CPU's lock is dropped.
    if (toFree >= 0) this.freePfns(toFree);
  }

  /** __iova_rcache_get: a pfn from this CPU's magazines or a depot magazine, or -1. */
  private rcacheGet(): number {
    const i32 = this.i32;
    const line = this.line;
    let pfn = -1;
    this.cpuLock.acquire();
    let loaded = i32[line + CpuLine.LOADED];
    let has = i32[this.mag(loaded)] > 0;
    if (!has) {
      const prev = i32[line + CpuLine.PREV];
      if (i32[this.mag(prev)] > 0) {
        i32[line + CpuLine.PREV] = loaded;
        loaded = prev;
        has = true;
      } else {
        this.locks.depot.acquire();
        const d = this.depot;
        const size = i32[d];
        if (size > 0) {
          // The empty `loaded` becomes the spare above the depot's top.
          const full = i32[d + size];
          i32[d + size] = loaded;
          i32[d] = size - 1;
          loaded = full;
          has = true;
        }
        this.locks.depot.release();
      }
      i32[line + CpuLine.LOADED] = loaded;
    }
    if (has) {
      const m = this.mag(loaded);
      const n = i32[m] - 1;
      pfn = i32[m + 1 + n];
      i32[m] = n;
    }
    this.cpuLock.release();
    return pfn;
  }

  /** iova_magazine_free_pfns: every pfn of magazine m back to the rbtree under one acquisition
   *  (taken even for an empty magazine, as Linux does). */
  private freePfns(m: number): void {
    const at = this.mag(m);
    this.rbtree.freeMany(at + 1, this.i32[at]);
    this.i32[at] = 0;
  }

  /** alloc_iova_fast's retry after alloc_iova failed: free_cpu_cached_iovas for every CPU of the
   *  domain, then free_global_cached_iovas (the depot; Linux 5.11 on). */
  private flushAll(): void {
    const i32 = this.i32;
    for (let k = 0; k < this.locks.cpu.length; k++) {
      const line = this.lines + k * (LINE >> 2);
      this.locks.cpu[k].acquire();
      this.freePfns(i32[line + CpuLine.LOADED]);
      this.freePfns(i32[line + CpuLine.PREV]);
      this.locks.cpu[k].release();
    }
    this.locks.depot.acquire();
    const d = this.depot;
    for (let j = 0; j < i32[d]; j++) this.freePfns(i32[d + 1 + j]);
    i32[d] = 0;
    this.locks.depot.release();
  }
}
