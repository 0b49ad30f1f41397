// The driver's register accesses and its CONS poll loop, as Linux's: every CMDQ_PROD / ECMDQ_PROD
// write and CMDQ_CONS / ECMDQ_CONS read is counted and costs --mmio-write-ns / --mmio-read-ns on the
// accessing CPU; CONS is polled with WFE when the SMMU advertises IDR0.SEV, else with 10 reads
// then udelay(1 us, 2 us, 4 us, ...). One CPU, so the protocol fixes the counts exactly.
import { describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import { ARM_SMMU_POLL_SPIN_COUNT, ConsPoller } from '../src/driver/cons-poll.js';
import type { Mmio } from '../src/driver/mmio.js';
import { SyncWaiter } from '../src/driver/sync-waiter.js';
import { Span } from '../src/concurrency/span.js';
import { Cpu, CpuStats, cpuStatsSlots, initCpuStats, SYNC_HIST } from '../src/concurrency/counters.js';
import { quantile } from '../src/concurrency/histogram.js';
import { SPIN } from '../src/concurrency/wait.js';
import type { RunReport } from '../src/report/types.js';
import { config } from './helpers/runs.js';

const PAGES = 8;
/** PROD writes per unmap, by strategy: the 2017 lock writes PROD per command, the others per batch. */
const PROD_WRITES: Record<string, number> = {
  'per-page': 2 * PAGES, // TLBI_NH_VA + CMD_SYNC per page
  batched: PAGES + 1,
  lockfree: 1, // the owner's one write for the whole gathered batch
  ecmdq: 1,
};

/** One CPU; parking waits, so that a loaded test host still completes unmaps in the window. */
const LOADED_HOST = { cpus: 1, wait: 'park', durationMs: 500 } as const;

function complete(r: RunReport): void {
  expect(r.complete, r.errors.join('; ')).toBe(true);
  expect(r.totals.unmaps).toBeGreaterThan(0);
}

describe('register accesses per unmap (1 CPU)', () => {
  for (const syncMode of ['poll', 'msi'] as const) {
    it(`${syncMode} mode: exact PROD writes per design; CONS reads once per wait and once per WFE (poll)`, async () => {
      const { doc } = await runConfig(
        config({ ...LOADED_HOST, pages: PAGES, strategies: Object.keys(PROD_WRITES), syncMode, sev: true }),
        () => {},
      );
      for (const r of doc.runs) {
        complete(r);
        const d = r.driver;
        expect(d.mmioWrites, r.strategy).toBe(PROD_WRITES[r.strategy] * r.totals.unmaps);
        expect(d.consPollUdelays, r.strategy).toBe(0);
        if (syncMode === 'msi') {
          // Completion is a memory word: CONS is read only when the shadow copy says the queue
          // is full, about once per lap of the 256-entry queue.
          const laps = d.commandsIssued.total / (256 - 2 * PAGES);
          expect(d.mmioReads, r.strategy).toBeLessThanOrEqual(Math.ceil(laps) + 1);
        } else {
          // One read to start each wait, one after each WFE (woken by a CONS change).
          expect(d.mmioReads, r.strategy).toBe(d.commandsIssued.byOpcode.CMD_SYNC + d.consPollWfes);
        }
      }
    }, 120_000);
  }
});

describe('CONS poll loop without IDR0.SEV (--sev off)', () => {
  it('backs off with udelay 1, 2, 4 ... us after every 10 failed reads: waits land on the steps', async () => {
    // A 50 us CMD_SYNC: 1+2+4+8+16 = 31 us of udelay is not enough, the 6th step ends at 63 us.
    const { doc } = await runConfig(
      config({
        ...LOADED_HOST,
        strategies: ['batched'],
        syncMode: 'poll',
        sev: false,
        consPoll: 'linux',
        syncNs: 50_000,
        mmioReadNs: 0,
        mmioWriteNs: 0,
      }),
      () => {},
    );
    const r = doc.runs[0];
    complete(r);
    const d = r.driver;
    const syncs = d.commandsIssued.byOpcode.CMD_SYNC;
    expect(d.consPollWfes).toBe(0);
    // Every udelay follows ARM_SMMU_POLL_SPIN_COUNT failed reads; a wait ends at its first
    // successful read, fewer than ARM_SMMU_POLL_SPIN_COUNT failed reads after its last udelay.
    const failed = d.mmioReads - syncs;
    expect(failed).toBeGreaterThanOrEqual(ARM_SMMU_POLL_SPIN_COUNT * d.consPollUdelays);
    expect(failed).toBeLessThan(
      ARM_SMMU_POLL_SPIN_COUNT * d.consPollUdelays + ARM_SMMU_POLL_SPIN_COUNT * syncs,
    );
    // A wait whose first read fails takes at least 6 udelays (it cannot end before 50 us).
    // (A CPU descheduled between its doorbell and its first read finds the sync done: hence 0.5.)
    expect(d.consPollUdelays).toBeGreaterThanOrEqual(6 * syncs * 0.5);
  }, 60_000);

  it('puts a 50 us completion at the end of the 6th udelay (63 us) in the sync-wait histogram', () => {
    // The poll loop alone, on this thread, against a CONS that turns at a set time (a loaded host
    // cannot delay an SMMU thread here). The first waits warm the JIT up; the median of the rest
    // is immune to a rare preemption.
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    const f64 = new Float64Array(new SharedArrayBuffer(cpuStatsSlots(0) * 8));
    initCpuStats(f64, 0, 0);
    const stats = new CpuStats(f64, 0);
    // CONS as the SMMU would show it: turned once the CMD_SYNC has completed, 50 us after the
    // doorbell. The SMMU's clock is the poll loop's own: after u udelays the waiter has spent
    // 1 + 2 + ... + 2^(u-1) = 2^u - 1 us in them (the reads between take no modelled time), so the
    // outcome does not depend on how fast this host runs the loop or whether it is descheduled.
    const COMPLETES_AFTER_NS = 50_000;
    let udelaysAtStart = 0;
    const cons = {
      read: (_idx: number, st: CpuStats): number => {
        st.add(Cpu.MMIO_READS, 1);
        const u = f64[Cpu.CONS_POLL_UDELAYS] - udelaysAtStart;
        return (2 ** u - 1) * 1000 >= COMPLETES_AFTER_NS ? 1 : 0;
      },
    } as unknown as Mmio;
    const poller = new ConsPoller(i32, cons, SPIN, 'linux', false, false);
    const waiter = new SyncWaiter(i32, SPIN, Infinity, 0, 8, () => '', poller);
    const span = new Span();
    const udelays: number[] = [];
    const reads: number[] = [];
    const waits: number[] = [];
    for (let i = 0; i < 200; i++) {
      if (i === 100) {
        f64.fill(0);
        initCpuStats(f64, 0, 0);
        udelays.length = reads.length = waits.length = 0;
      }
      const u0 = f64[Cpu.CONS_POLL_UDELAYS];
      const r0 = f64[Cpu.MMIO_READS];
      span.begin();
      udelaysAtStart = u0;
      waiter.untilCons(0, 0, (v) => v === 1, stats, span);
      span.stop();
      const ns = span.end - span.start;
      stats.syncWaitSpan(span, 0);
      waits.push(ns);
      udelays.push(f64[Cpu.CONS_POLL_UDELAYS] - u0);
      reads.push(f64[Cpu.MMIO_READS] - r0);
    }
    const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];
    expect(median(udelays)).toBe(6); // 1+2+4+8+16 = 31 us < 50 us <= 63 us
    expect(median(reads)).toBe(6 * ARM_SMMU_POLL_SPIN_COUNT + 1);
    // The histogram: the median wait lies just past the 6th step's end, well past the SMMU's 50 us.
    const p50 = quantile(f64, SYNC_HIST, 0.5, f64[Cpu.SYNC_WAIT_MIN], f64[Cpu.SYNC_WAIT_MAX]);
    expect(p50).toBeGreaterThanOrEqual(63_000 * (15 / 16)); // a bucket midpoint: 1/16 resolution
    expect(p50).toBeLessThan(127_000); // the 7th step's end: the quantisation lands on the 6th
    // Spin polling would end the waits at 50 us: every wait here lasts the six udelays, 63 us.
    expect(waits.filter((w) => w < 63_000)).toEqual([]);
  });

  it('with IDR0.SEV waits in WFE instead, and --cons-poll spin neither backs off nor WFEs', async () => {
    const base = { ...LOADED_HOST, strategies: ['batched'], syncMode: 'poll', syncNs: 50_000 } as const;
    const { doc: wfe } = await runConfig(config({ ...base, sev: true, consPoll: 'linux' }), () => {});
    const { doc: spin } = await runConfig(config({ ...base, sev: false, consPoll: 'spin' }), () => {});
    const w = wfe.runs[0];
    const s = spin.runs[0];
    complete(w);
    complete(s);
    expect(w.driver.consPollUdelays).toBe(0);
    expect(w.driver.consPollWfes).toBeGreaterThan(0);
    expect(s.driver.consPollUdelays).toBe(0);
    expect(s.driver.consPollWfes).toBe(0);
  }, 60_000);
});

describe('MMIO costs', () => {
  it('are spent by the accessing CPU on every PROD write and CONS read', async () => {
    const cost = 100_000; // 100 us: far above anything else in a 1-CPU unmap
    const { doc } = await runConfig(
      config({
        ...LOADED_HOST,
        strategies: ['batched'],
        syncMode: 'poll',
        mmioReadNs: cost,
        mmioWriteNs: cost,
      }),
      () => {},
    );
    const r = doc.runs[0];
    complete(r);
    // Each unmap writes PROD 9 times (8 TLBI_NH_VA + CMD_SYNC) and reads CONS at least once.
    expect(r.driver.mmioWrites).toBe(9 * r.totals.unmaps);
    expect(r.unmapLatencyNs.mean ?? 0).toBeGreaterThanOrEqual(10 * cost);
    // The sync wait starts after the doorbell and ends with a read of CONS.
    expect(r.syncWaitNs.min ?? 0).toBeGreaterThanOrEqual(cost);
    expect(doc.config).toMatchObject({ mmioReadNs: cost, mmioWriteNs: cost });
  }, 60_000);
});
