// An invalidation strategy decides which commands iommu_unmap() issues and when it waits, through
// the two hooks Linux grew for exactly this (struct iommu_iotlb_gather, 2019; the seed's
// unmap_tlb_sync, 2017): one call per page as its PTE is cleared, one call at the end of the unmap.
import type { CmdqIssuer } from '../cmdq-locked.js';

export interface InvalidationStrategy {
  /** Linux ->tlb_add_page: the PTE of vaPage has just been cleared. */
  tlbAddPage(asid: number, vaPage: number): void;
  /** Linux ->iotlb_sync / the seed's unmap_tlb_sync: end of iommu_unmap of [vaPage, vaPage + pages). */
  iotlbSync(asid: number, vaPage: number, pages: number): void;
}

export interface StrategyDef {
  readonly name: string;
  /** One line for --help and the report. */
  readonly summary: string;
  create(cmdq: CmdqIssuer): InvalidationStrategy;
}
