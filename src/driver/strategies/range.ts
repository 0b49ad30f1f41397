// SMMUv3.2 range invalidation (Rob Herring, "iommu/arm-smmu-v3: Add support for TLB range
// invalidations", Linux v5.8): with IDR3.RIL an unmap no longer costs one TLBI_NH_VA per page. The
// gather only remembers the range its pages span (iommu_iotlb_gather_add_page), and iotlb_sync turns
// that range into the fewest TLBI_NH_VA commands whose TG/NUM/SCALE/TTL cover exactly its pages
// (__arm_smmu_tlb_inv_range: one command per 5-bit group of the page count, from its lowest set
// bit), then one CMD_SYNC, all in one command batch.
import type { TlbiRange } from '../tlbi-range.js';
import { tlbiRangePlan } from '../tlbi-range.js';
import { CmdBatch } from '../cmd-batch.js';
import { freeAtOnce, type StrategyDef } from './strategy.js';

export const range: StrategyDef = {
  name: 'range',
  summary:
    'SMMUv3.2 range TLBI_NH_VA (TG/NUM/SCALE): fewest commands per unmap + one CMD_SYNC (Rob Herring, Linux v5.8)',
  cmdq: 'locked',
  ril: true,
  create: (ctx) => {
    const batch = new CmdBatch();
    // The gathered range [start, end) of ASID gAsid; empty when end === start.
    let gAsid = 0;
    let start = 0;
    let end = 0;
    // The split depends only on the page count (commands are laid out from the range's first page),
    // and every unmap of a run has the same size: plan once per size, relative to page 0, so the hot
    // path allocates nothing.
    let planPages = -1;
    let plan: TlbiRange[] = [];

    const issueGathered = (sync: boolean): void => {
      const pages = end - start;
      if (pages !== planPages) {
        plan = tlbiRangePlan(0, pages);
        planPages = pages;
      }
      batch.reset();
      for (let i = 0; i < plan.length; i++) {
        // A command list holds 64 commands: a full one goes out without a sync, as in
        // arm_smmu_cmdq_batch_add. Unreachable today (SCALE <= 31 caps a plan at 8 commands).
        if (batch.full()) {
          ctx.cmdq.issue(batch, false);
          batch.reset();
        }
        const c = plan[i];
        batch.tlbiNhVa(gAsid, start + c.addrPage, true, c.num, c.scale, c.tg, c.ttl);
      }
      ctx.cmdq.issue(batch, sync);
      end = start;
    };

    return {
      tlbAddPage(asid, vaPage) {
        if (end !== start) {
          if (asid === gAsid && vaPage === end) {
            end++;
            return;
          }
          // A page that does not extend the gathered range: Linux syncs what it has gathered before
          // starting a new range (iommu_iotlb_gather_add_page). iommu_unmap never gets here: its
          // pages are contiguous and ascending.
          issueGathered(true);
        }
        gAsid = asid;
        start = vaPage;
        end = vaPage + 1;
      },
      iotlbSync() {
        if (end !== start) issueGathered(true);
      },
      releaseIova: freeAtOnce(ctx),
    };
  },
};
