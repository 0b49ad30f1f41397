// The `range` strategy's commands in the virtual engine (SMMUv3.2 RIL, Linux v5.8), as the threads
// engine's driver/strategies/range.ts builds them: the unmap's pages gathered as one range, then at
// iotlb_sync the fewest TLBI_NH_VA whose TG/NUM/SCALE/TTL cover exactly those pages
// (driver/tlbi-range.ts tlbiRangePlan, the real planner), in one command batch with the CMD_SYNC;
// a full batch (64, unreachable with SCALE <= 31) would go out first without a sync.
import type { CmdBatch } from '../driver/cmd-batch.js';
import { tlbiRangePlan, type TlbiRange } from '../driver/tlbi-range.js';

export class RangePlanner {
  private planPages = -1;
  private plan: TlbiRange[] = [];

  /**
   * Fills `batch` with the range TLBIs of [vaPage, vaPage + pages) of `asid`; `flush` issues a full
   * batch without a sync (and resets it). The caller issues the rest with the CMD_SYNC.
   */
  *fill<R>(
    batch: CmdBatch,
    asid: number,
    vaPage: number,
    pages: number,
    flush: () => Generator<R, void, number>,
  ): Generator<R, void, number> {
    // The split depends only on the page count: planned once per size, relative to page 0.
    if (pages !== this.planPages) {
      this.plan = tlbiRangePlan(0, pages);
      this.planPages = pages;
    }
    batch.reset();
    for (const c of this.plan) {
      if (batch.full()) yield* flush();
      batch.tlbiNhVa(asid, vaPage + c.addrPage, true, c.num, c.scale, c.tg, c.ttl);
    }
  }
}
