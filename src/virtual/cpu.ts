// One emulated CPU of the virtual engine: map (fixed CPU work), DMA time, unmap (CPU work, then the
// strategy's commands through the command-queue design), until the run's end. The commands per
// unmap are the threads engine's (driver/strategies/gather.ts): per-page issues TLBI_NH_VA +
// CMD_SYNC for every page; batched on the locked queue issues one command per lock round trip and
// one CMD_SYNC; batched on the lock-free queue and ECMDQs gathers cmdlists of 64, the last with the
// CMD_SYNC; range issues its planned range TLBIs and the CMD_SYNC as one batch (range.ts).
// With the driver state (state.ts, VCpuState) the loop allocates and maps a real IOVA, the device
// reads it, PTEs are cleared page by page, and the IOVA is freed (or queued: lazy, which issues
// nothing at unmap; or freed before the CMD_SYNC: unsafe-free-before-sync, one command per issue
// on every design as driver/strategies/gather.ts onePerIssue); the run's end lets it drain.
import { CmdBatch } from '../driver/cmd-batch.js';
import { VA_BASE_PAGE } from '../hardware/layout.js';
import { Cpu } from '../concurrency/counters.js';
import { Ev } from '../trace/ring.js';
import type { VCpuStats } from './cpu-stats.js';
import type { Machine } from './machine.js';
import { RangePlanner } from './range.js';
import { delay, type Proc } from './requests.js';
import type { VCpuState } from './state.js';

/** The ASID of the shared domain (driver/iommu.ts asidOf(0)). */
const ASID = 1;

export interface CmdqProcs {
  issue(batch: CmdBatch, sync: boolean): Proc;
}

export type VirtualStrategy = 'per-page' | 'batched' | 'range' | 'lazy' | 'unsafe-free-before-sync';

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
  /** If set, the CPU stops before a map that would start at or after this time (a drained run). */
  readonly stopAt?: number;
}

export function* cpuProcess(
  m: Machine,
  cpu: number,
  w: CpuWork,
  cmdq: CmdqProcs,
  st: VCpuStats,
  state?: VCpuState,
): Proc {
  const batch = new CmdBatch();
  const perPage = w.strategy === 'per-page';
  const lazy = w.strategy === 'lazy';
  const unsafe = w.strategy === 'unsafe-free-before-sync';
  const gather = w.gather && !unsafe;
  // Without the driver state every CPU reuses one IOVA, as the rcache hands a 1-CPU run the buffer
  // it just freed; CPUs' buffers differ (the IOVA changes no cost here, only the command stream).
  const fixedPage = VA_BASE_PAGE + cpu * w.pages;
  const ranges = w.strategy === 'range' ? new RangePlanner() : null;
  for (;;) {
    if (state !== undefined) {
      if (state.stopping) return yield* state.drain();
      yield* state.tick();
      yield* state.map();
    } else {
      if (w.stopAt !== undefined && m.now >= w.stopAt) return;
      yield delay(w.mapNs);
    }
    const measuring = m.now >= w.measureFrom;
    if (measuring) {
      st.maps++;
      st.counters.add(Cpu.MAPS, 1);
      st.counters.add(Cpu.PAGES_MAPPED, w.pages);
    }
    if (state !== undefined) yield* state.dma();
    else if (w.dmaNs > 0) yield delay(w.dmaNs);
    const vaPage = state !== undefined ? state.vaPage : fixedPage;
    const t0 = m.now;
    state?.unmapBegin();
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
    if (ranges !== null) {
      for (let i = 0; state !== undefined && i < w.pages; i++) yield* state.clearPte(i);
      yield* ranges.fill(batch, ASID, vaPage, w.pages, () => issue(false));
    }
    for (let i = 0; ranges === null && i < w.pages; i++) {
      if (state !== undefined) yield* state.clearPte(i);
      if (lazy) continue;
      if (perPage || !gather) batch.reset();
      else if (batch.full()) yield* issue(false);
      batch.tlbiNhVa(ASID, vaPage + i, true, 0, 0, 0, 0);
      if (perPage) yield* issue(true);
      else if (!gather) yield* issue(false);
    }
    if (unsafe) yield* state!.freeEarly();
    if (!perPage && !lazy) yield* issue(true);
    st.counters.ring?.record(Ev.UNMAP, t0, m.now - t0, w.pages);
    if (measuring) {
      st.unmaps++;
      st.tlbiNhVa += st.issuedTlbi - tlbi0;
      st.cmdSync += st.issuedSync - sync0;
      st.unmapNs += m.now - t0;
      st.issueNs += issueNs;
      st.counters.add(Cpu.UNMAPS, 1);
      st.counters.add(Cpu.PAGES_UNMAPPED, w.pages);
      st.counters.unmapLatency(m.now - t0);
    }
    if (state !== undefined) yield* state.release();
  }
}
