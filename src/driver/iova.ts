// IOVA allocator of one domain, shared by every CPU attached to it and serialised by the domain's
// `iova` lock, as Linux's alloc_iova()/free_iova() are by iova_rbtree_lock (the rbtree itself is
// not modelled: only its lock and the reuse order). With --iova rcache, dma-iommu's per-CPU
// caches (iova-rcache.ts) sit in front of it and come here only on a miss. All buffers of a run
// have the same size, so the space is cut into size-aligned slots (Linux aligns an IOVA to its
// size rounded up to a power of two) kept on a LIFO free list: the most recently freed IOVA is
// handed out next, like the per-CPU rcache magazines do, which is also what makes reuse of a
// just-freed IOVA (and so any stale IOTLB entry for it) as likely as possible.
//
// Shared memory (iovaAllocIdx): word 0 = number of free slots, then the free-slot stack.
import { iovaAllocIdx, VA_BASE_PAGE, type Layout, type LayoutGeometry } from '../hardware/layout.js';
import { alignUp, checkRegion, LINE, REGION, type RegionDecl } from '../hardware/region.js';

/** One allocator per domain, each on lines of its own (layout.ts finds domain d's by division). */
export const IOVA_DECL: RegionDecl<LayoutGeometry> = {
  name: REGION.IOVA,
  bytes: (g) => g.domains * alignUp(4 * (1 + g.iovaSlotsPerDomain)),
  align: LINE,
};

/** Fills domain d's free list with every slot (orchestrator, before the CPUs start). */
export function initIovaDomain(i32: Int32Array, layout: Layout, domain: number): void {
  const base = iovaAllocIdx(layout, domain);
  const n = layout.iovaSlotsPerDomain;
  i32[base] = n;
  // Pushed so that slot 0 is on top: the first allocations get the lowest IOVAs.
  for (let k = 0; k < n; k++) i32[base + 1 + k] = n - 1 - k;
}

/** What the allocator needs of a lock: concurrency/lockstat.ts InstrumentedLock in the threads
 *  engine; the virtual engine passes one that records the acquisitions (src/virtual/iova.ts). */
export interface IovaLock {
  acquire(): void;
  release(): void;
}

/** What the CPU loop allocates through: alloc_iova_fast/free_iova_fast or alloc_iova/free_iova. */
export interface IovaAllocator {
  /** The first VA page of a free IOVA, or -1 if the domain's IOVA space is exhausted. */
  alloc(): number;
  free(vaPage: number): void;
}

export class IovaDomain implements IovaAllocator {
  private readonly base: number;

  constructor(
    private readonly i32: Int32Array,
    private readonly layout: Layout,
    domain: number,
    private readonly lock: IovaLock,
  ) {
    checkRegion(i32.buffer, REGION.IOVA, layout.iovaOff, layout.domains * layout.iovaBytesPerDomain);
    this.base = iovaAllocIdx(layout, domain);
  }

  /** Returns the first VA page of a free slot, or -1 if the domain's IOVA space is exhausted. */
  alloc(): number {
    this.lock.acquire();
    const top = this.i32[this.base];
    let page = -1;
    if (top > 0) {
      this.i32[this.base] = top - 1;
      page = VA_BASE_PAGE + this.i32[this.base + top] * this.layout.slotPages;
    }
    this.lock.release();
    return page;
  }

  free(vaPage: number): void {
    const slot = (vaPage - VA_BASE_PAGE) / this.layout.slotPages;
    this.lock.acquire();
    const top = this.i32[this.base] + 1;
    this.i32[this.base + top] = slot;
    this.i32[this.base] = top;
    this.lock.release();
  }

  /** Frees the n pfns at i32[from..] under one acquisition (a magazine going back to the rbtree). */
  freeMany(from: number, n: number): void {
    const i32 = this.i32;
    this.lock.acquire();
    let top = i32[this.base];
    for (let i = 0; i < n; i++)
      i32[this.base + ++top] = (i32[from + i] - VA_BASE_PAGE) / this.layout.slotPages;
    i32[this.base] = top;
    this.lock.release();
  }

  /** Free slots now (orchestrator, after the run). */
  static freeCount(i32: Int32Array, layout: Layout, domain: number): number {
    return i32[iovaAllocIdx(layout, domain)];
  }
}
