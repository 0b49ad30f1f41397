// What the virtual engine's protocols do under contention, as outcomes of the coherence model
// (docs/virtual-time.md, Locks and ECMDQ): FIFO locks are fair and barging ones are not, MCS hands
// over in one transfer where the ticket lock's hand-off grows with its waiters, per-CPU ECMDQs
// beat the shared lock-free queue, and the CONS poll loop waits as Linux's does.
import { describe, expect, it } from 'vitest';
import { jain } from '../src/virtual/protocols.js';
import { VALIDATION_PARAMS, type VirtualParams } from '../src/virtual/params.js';
import { runVirtual, type VirtualDesign, type VirtualResult } from '../src/virtual/run.js';
import type { VirtualStrategy } from '../src/virtual/cpu.js';
import type { LockName } from '../src/virtual/locks.js';

function run(
  cpus: number,
  design: VirtualDesign,
  lock: LockName,
  params: Partial<VirtualParams> = VALIDATION_PARAMS,
  strategy: VirtualStrategy = 'batched',
): VirtualResult {
  return runVirtual({ cpus, design, strategy, lock, seed: 1, durationNs: 1e6, warmupNs: 2e5, params });
}

describe('the cmdq lock at 32 CPUs', () => {
  const at = new Map<LockName, VirtualResult>();
  const r = (lock: LockName): VirtualResult => {
    if (!at.has(lock)) at.set(lock, run(32, 'locked', lock));
    return at.get(lock)!;
  };

  it('FIFO locks (ticket, mcs) share the lock evenly; test-and-set does not', () => {
    for (const lock of ['ticket', 'mcs'] as const) {
      // Every CPU gets its turn in order: unmap counts differ by at most the one in progress.
      const u = r(lock).perCpuUnmaps;
      expect(Math.max(...u) - Math.min(...u), lock).toBeLessThanOrEqual(1);
      const waits = r(lock).perCpu.map((c) => c.cmdqLock);
      // Every acquisition waited behind the others: a FIFO lock under this load is always taken.
      expect(
        waits.every((w) => w.contentions / w.acquisitions > 0.9),
        lock,
      ).toBe(true);
    }
    const tas = r('tas').perCpuUnmaps;
    expect(Math.max(...tas) - Math.min(...tas)).toBeGreaterThan(1);
    expect(jain(tas)).toBeLessThan(jain(r('ticket').perCpuUnmaps));
  });

  it("MCS hands over through one line; the ticket lock's hand-off grows with its waiters", () => {
    expect(r('mcs').perCpuOpsPerSec).toBeGreaterThan(2 * r('ticket').perCpuOpsPerSec);
    const meanWait = (x: VirtualResult): number =>
      x.perCpu.reduce((a, c) => a + c.cmdqLock.waitTotal, 0) /
      x.perCpu.reduce((a, c) => a + c.cmdqLock.contentions, 0);
    expect(meanWait(r('mcs'))).toBeLessThan(meanWait(r('ticket')) / 2);
  });

  it('spin-park parks: some contended waits last longer than its spin phase and a wake-up', () => {
    const p = r('spin-park').params;
    const longest = Math.max(...r('spin-park').perCpu.map((c) => c.cmdqLock.waitMax));
    expect(longest).toBeGreaterThan(p.lockSpinNs + p.futexWakeNs);
    // Holds and acquisitions are counted alike (every hold is a sample in virtual time).
    for (const c of r('spin-park').perCpu)
      expect(Math.abs(c.cmdqLock.holdSamples - c.cmdqLock.acquisitions)).toBeLessThanOrEqual(1);
  });
});

describe('ECMDQ', () => {
  it('per-CPU queues: every cmpxchg succeeds and every CPU owns its batches; faster than one shared queue', () => {
    const e = run(32, 'ecmdq', 'ttas');
    const l = run(32, 'lockfree', 'ttas');
    expect(e.lockfree!.cmpxchgSuccessRate).toBe(1);
    // (Counted in the window: an issue that straddles its start counts one and not the other.)
    expect(Math.abs(e.lockfree!.ownerElections - e.lockfree!.cmpxchgSuccesses)).toBeLessThanOrEqual(e.cpus);
    expect(e.perCpuOpsPerSec).toBeGreaterThan(2 * l.perCpuOpsPerSec);
  });

  it('one seed gives a byte-identical result', () => {
    const a = run(16, 'ecmdq', 'ttas', { ...VALIDATION_PARAMS, syncMode: 'poll' });
    const b = run(16, 'ecmdq', 'ttas', { ...VALIDATION_PARAMS, syncMode: 'poll' });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });
});

describe('the CONS poll loop (poll-mode CMD_SYNC, 1 CPU, per-page)', () => {
  // A CMD_SYNC long enough for the loop to reach its udelays: 20 us.
  const base: Partial<VirtualParams> = { syncMode: 'poll', syncNs: 20_000, pages: 2 };
  const one = (over: Partial<VirtualParams>): VirtualResult =>
    runVirtual({
      cpus: 1,
      design: 'locked',
      strategy: 'per-page',
      seed: 1,
      durationNs: 1e6,
      warmupNs: 0,
      params: { ...base, ...over },
    });

  // The SMMU completes the TLBI (100 ns) during the wait's first read (500 ns) and writes CONS
  // again 20 us later with the CMD_SYNC: every wait is the same, the run's last one may be cut off.
  it('with SEV: one WFE per CMD_SYNC (CONS is written once more before it completes), no udelay', () => {
    const r = one({ sev: true });
    const s = r.perCpu[0];
    expect(s.consPollUdelays).toBe(0);
    expect(s.consPollWfes).toBeGreaterThanOrEqual(r.issued.cmdSync - 1);
    expect(s.consPollWfes).toBeLessThanOrEqual(r.issued.cmdSync);
    // A read before and after each WFE; one CMDQ_PROD write per command (the 2017 driver).
    expect(s.mmioReads).toBeGreaterThanOrEqual(2 * (r.issued.cmdSync - 1));
    expect(s.mmioReads).toBeLessThanOrEqual(2 * r.issued.cmdSync);
    expect(s.mmioWrites).toBe(r.issued.tlbiNhVa + r.issued.cmdSync);
  });

  it('without SEV: 10 reads of 500 ns, udelay 1 us, 10 reads, 2 us, 10 reads, 4 us: three per 20 us CMD_SYNC', () => {
    const r = one({ sev: false });
    const s = r.perCpu[0];
    expect(s.consPollWfes).toBe(0);
    expect(s.consPollUdelays).toBeGreaterThanOrEqual(3 * (r.issued.cmdSync - 1));
    expect(s.consPollUdelays).toBeLessThanOrEqual(3 * r.issued.cmdSync);
    // The quantised wait ends later than the WFE's.
    expect(r.meanUnmapNs).toBeGreaterThan(one({ sev: true }).meanUnmapNs);
  });

  it('spin: reads back to back, no WFE and no udelay', () => {
    const s = one({ consPoll: 'spin' }).perCpu[0];
    expect(s.consPollWfes + s.consPollUdelays).toBe(0);
  });
});
