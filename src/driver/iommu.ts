// iommu_map() / iommu_unmap() on one domain: page-table updates plus the invalidation strategy's
// hooks, in Linux's order (clear a PTE, tell the strategy, ..., then iotlb_sync once at the end).
// The IOVA is not freed here: the caller does that only after iommu_unmap returns, i.e. after the
// strategy's sync has completed.
import { pteGenIdx, pteIdx, VA_BASE_PAGE, type Layout, type LayoutGeometry } from '../hardware/layout.js';
import { checkRegion, LINE, REGION, type RegionDecl } from '../hardware/region.js';
import type { InvalidationStrategy } from './strategies/strategy.js';

/** The ASID of a domain's context descriptor: 0 is left unused, as Linux's ASID allocator does. */
export const asidOf = (domain: number): number => domain + 1;

const tableBytes = (g: LayoutGeometry): number => g.domains * g.iovaSlotsPerDomain * g.slotPages * 4;

/** Each domain's page table (ppn + 1 per VA page, 0 = invalid) and the pages' mapping generations. */
export const PTE_DECLS: readonly RegionDecl<LayoutGeometry>[] = [
  { name: REGION.PTE, bytes: tableBytes, align: LINE },
  { name: REGION.PTE_GEN, bytes: tableBytes, align: LINE },
];

export class IommuDomain {
  readonly asid: number;

  constructor(
    private readonly i32: Int32Array,
    private readonly layout: Layout,
    private readonly domain: number,
    private readonly strategy: InvalidationStrategy,
  ) {
    checkRegion(i32.buffer, REGION.PTE, layout.pteOff, tableBytes(layout));
    checkRegion(i32.buffer, REGION.PTE_GEN, layout.pteGenOff, tableBytes(layout));
    this.asid = asidOf(domain);
  }

  /** Maps VA pages [vaPage, vaPage + pages) to physical pages [ppn, ppn + pages). */
  map(vaPage: number, pages: number, ppn: number): void {
    const i32 = this.i32;
    const t = vaPage - VA_BASE_PAGE;
    for (let i = 0; i < pages; i++) {
      // The generation is bumped before the PTE is published, so a walker that sees the new PTE
      // stamps its IOTLB entry with the new generation (the oracle relies on it).
      const g = pteGenIdx(this.layout, this.domain, t + i);
      Atomics.store(i32, g, i32[g] + 1);
      Atomics.store(i32, pteIdx(this.layout, this.domain, t + i), ppn + i + 1);
    }
  }

  unmap(vaPage: number, pages: number): void {
    const i32 = this.i32;
    const t = vaPage - VA_BASE_PAGE;
    for (let i = 0; i < pages; i++) {
      // A plain store, as io-pgtable-arm's __arm_lpae_clear_pte (WRITE_ONCE, no barrier of its
      // own): what orders it before the SMMU's invalidation is the barrier in front of the
      // command that follows (here the CMDQ_PROD doorbell's Atomics.store, sequentially
      // consistent, or the flush queue's lock for lazy). An Atomics.store per page would be a
      // locked exchange on x86 that Linux does not pay.
      i32[pteIdx(this.layout, this.domain, t + i)] = 0;
      this.strategy.tlbAddPage(this.asid, vaPage + i);
    }
    this.strategy.iotlbSync(this.asid, vaPage, pages);
  }
}
