// The published shapes of docs/validation.md at reduced size (seed 1, so every number is fixed):
// the seed's syncs per unmap and batched's advantage, ThunderX2's ordering of the issue-path
// share, lazy over strict and ECMDQ over the single lock-free queue. Every point runs as the CLI
// runs it (with the driver state) and with its era's lock, which the engine honours.
import { describe, expect, it } from 'vitest';
import {
  ecmdqAvailable,
  lazyAvailable,
  lazyEcmdqPoints,
  lazyEcmdqTable,
} from '../src/virtual/validation/lazy-ecmdq.js';
import { seedPoints, seedTable } from '../src/virtual/validation/seed.js';
import { measure } from '../src/virtual/validation/common.js';
import { THUNDERX2_LOCK, THUNDERX2_WORKLOAD, workFor } from '../src/virtual/validation/thunderx2.js';
import { VALIDATION_PARAMS } from '../src/virtual/params.js';

describe('the seed: per-page vs batched on the locked queue', () => {
  const points = seedPoints({ ms: 2, cpus: [1, 2, 8] });

  it('syncs per unmap fall from P to 1 at every CPU count, exactly', () => {
    for (const p of points) {
      // The 2017 lock (SEED_LOCK) is the one that ran, and the driver state ran with it.
      expect([p.perPage.cmdqLock?.name, p.batched.cmdqLock?.name]).toEqual(['ticket', 'ticket']);
      expect(p.perPage.state?.safety.staleTranslationUses).toBe(0);
      expect(p.perPage.state?.safety.checkedTranslations).toBeGreaterThan(0);
      expect(p.perPage.params.pages).toBe(16);
      expect(p.perPage.unmaps).toBeGreaterThan(0);
      expect(p.perPage.commands.cmdSync).toBe(16 * p.perPage.unmaps);
      expect(p.batched.commands.cmdSync).toBe(p.batched.unmaps);
      expect(p.batched.commands.tlbiNhVa).toBe(16 * p.batched.unmaps);
    }
    expect(seedTable(points, 'msi').rows.every((r) => r[5] === 'pass')).toBe(true);
  });

  it('batched wins at every CPU count, by at least the lock round trips it saves under contention', () => {
    // Under contention both are bound by lock hand-offs: 2P per per-page unmap, P + 1 per batched.
    for (const p of points) expect(p.ratio, `${p.cpus} CPUs`).toBeGreaterThan((0.95 * 32) / 17);
    // That it does not grow beyond the uncontended advantage is docs/validation.md's documented miss.
  });
});

describe('ThunderX2, 64 CPUs: the locked queue spends far more CPU time issuing than the lock-free one', () => {
  it('at W = 85 us per unmap (a lock-free share near 2%), poll-mode CMD_SYNC: locked > 5x lock-free', () => {
    // The experiment's era lock (MCS) where the engine has lock algorithms, its ticket lock where not.
    const at = (design: 'locked' | 'lockfree') =>
      measure({
        cpus: 64,
        design,
        strategy: 'batched',
        durationNs: 10e6,
        warmupNs: 1e6,
        workload: { ...THUNDERX2_WORKLOAD, dmaNs: 85e3, syncMode: 'poll' },
        lock: THUNDERX2_LOCK,
      });
    const lockedRun = at('locked');
    // v5.3's queued spinlock (MCS), not the tool's default lock.
    expect(lockedRun.cmdqLock?.name).toBe('mcs');
    const locked = lockedRun.issueFraction;
    const lockfree = at('lockfree').issueFraction;
    expect(lockfree).toBeGreaterThan(0.01);
    expect(lockfree).toBeLessThan(0.04);
    expect(locked).toBeGreaterThan(5 * lockfree);
  });

  it('W is fitted to the lock-free share alone: share f of a cycle of W + map + issue', () => {
    const w = workFor(0.02, 1800);
    expect(w).toBe(Math.round(1800 * 49 - VALIDATION_PARAMS.mapNs));
    expect(1800 / (w + VALIDATION_PARAMS.mapNs + 1800)).toBeCloseTo(0.02, 6);
  });
});

describe('lazy and ECMDQ', () => {
  it('the engine runs both: a lazy unmap issues no TLBI_NH_VA; ECMDQs never move the shared {prod, cons}', () => {
    expect(lazyAvailable()).toBe(true);
    expect(ecmdqAvailable()).toBe(true);
  });

  it('lazy beats strict at 8 CPUs', () => {
    // 8 CPUs only: at 64 it misses (docs/validation.md), the table's question, not a fixed test.
    const t = lazyEcmdqTable(lazyEcmdqPoints({ ms: 2, cpus: [8] }));
    expect(t.pending).toBe(0);
    const lazy = t.rows.filter((row) => row[0].startsWith('lazy'));
    expect(lazy).toHaveLength(1);
    expect(lazy[0][6]).toBe('pass');
  });

  it('ECMDQ beats the single lock-free queue at 32 CPUs', () => {
    const t = lazyEcmdqTable(lazyEcmdqPoints({ ms: 2, cpus: [32] }));
    const ecmdq = t.rows.filter((row) => row[0].startsWith('ECMDQ'));
    expect(ecmdq).toHaveLength(1);
    expect(ecmdq[0][6]).toBe('pass');
  });
});
