// One emulated CPU of the virtual engine: map (fixed CPU work), DMA time, unmap (CPU work, then the
// strategy's commands through the command-queue design), until the run's end. The commands per
// unmap are the threads engine's (driver/strategies/gather.ts): per-page issues TLBI_NH_VA +
// CMD_SYNC for every page; batched on the locked queue issues one command per lock round trip and
// one CMD_SYNC; batched on the lock-free queue gathers cmdlists of 64, the last with the CMD_SYNC.
import { CmdBatch } from '../driver/cmd-batch.js';
import { VA_BASE_PAGE } from '../hardware/layout.js';
import type { VCpuStats } from './cpu-stats.js';
import type { Machine } from './machine.js';
import { delay, type Proc } from './requests.js';

/** The ASID of the shared domain (driver/iommu.ts asidOf(0)). */
const ASID = 1;

export interface CmdqProcs {
  issue(batch: CmdBatch, sync: boolean): Proc;
}

export type VirtualStrategy = 'per-page' | 'batched';

export interface CpuWork {
  readonly mapNs: number;
  readonly unmapNs: number;
  readonly dmaNs: number;
  readonly pages: number;
  readonly strategy: VirtualStrategy;
  /** CPU work per command built and written (params.cmdNs); absent: 0. */
  readonly cmdNs?: number;
  /** CPU work per trip through the issue path: per command without `gather`, per cmdlist with
   *  it (params.lockedIssueNs / lockfreeIssueNs); absent: 0. */
  readonly issueNs?: number;
  /** Gather cmdlists of 64 (the lock-free queue) rather than one command per issue (2017). */
  readonly gather: boolean;
  /** Counting starts here (end of warm-up), virtual ns. */
  readonly measureFrom: number;
}

export function* cpuProcess(m: Machine, cpu: number, w: CpuWork, cmdq: CmdqProcs, st: VCpuStats): Proc {
  const batch = new CmdBatch();
  // Every CPU reuses one IOVA, as the rcache hands a 1-CPU run the buffer it just freed; CPUs'
  // buffers differ (the IOVA changes no cost here, only what the command stream shows).
  const vaPage = VA_BASE_PAGE + cpu * w.pages;
  for (;;) {
    yield delay(w.mapNs);
    const measuring = m.now >= w.measureFrom;
    if (measuring) st.maps++;
    if (w.dmaNs > 0) yield delay(w.dmaNs);
    const t0 = m.now;
    const tlbi0 = st.issuedTlbi;
    const sync0 = st.issuedSync;
    if (w.unmapNs > 0) yield delay(w.unmapNs);
    let issueNs = 0;
    const issue = function* (sync: boolean): Proc {
      const t = m.now;
      const k = batch.num + (sync ? 1 : 0);
      const build = (w.cmdNs ?? 0) * k + (w.issueNs ?? 0) * (w.gather ? 1 : k);
      if (build > 0) yield delay(build);
      yield* cmdq.issue(batch, sync);
      issueNs += m.now - t;
      batch.reset();
    };
    for (let i = 0; i < w.pages; i++) {
      if (w.strategy === 'per-page' || !w.gather) batch.reset();
      else if (batch.full()) yield* issue(false);
      batch.tlbiNhVa(ASID, vaPage + i, true, 0, 0, 0, 0);
      if (w.strategy === 'per-page') yield* issue(true);
      else if (!w.gather) yield* issue(false);
    }
    if (w.strategy === 'batched') yield* issue(true);
    if (measuring) {
      st.unmaps++;
      st.tlbiNhVa += st.issuedTlbi - tlbi0;
      st.cmdSync += st.issuedSync - sync0;
      st.unmapNs += m.now - t0;
      st.issueNs += issueNs;
    }
  }
}
