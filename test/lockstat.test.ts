// Lockstat's hold sampling (src/concurrency/lockstat.ts): every acquisition counted, one hold in
// `holdSample` timed, at pseudo-random acquisitions (a geometric countdown).
import { describe, expect, it } from 'vitest';
import { CpuStats, cpuStatsSlots, initCpuStats, lockBase, Lk } from '../src/concurrency/counters.js';
import { InstrumentedLock } from '../src/concurrency/lockstat.js';
import { getLockAlgorithm } from '../src/concurrency/locks/index.js';
import { SPIN } from '../src/concurrency/wait.js';

/** A ttas lock on its own line, two counter blocks (one per kind of acquisition), one lock class. */
function rig(holdSample: number) {
  const i32 = new Int32Array(new SharedArrayBuffer(1024));
  const slots = cpuStatsSlots(1);
  const f64 = new Float64Array(new SharedArrayBuffer(2 * slots * 8));
  const blocks = [0, slots].map((base) => {
    initCpuStats(f64, base, 1);
    return new CpuStats(f64, base);
  });
  const lock = new InstrumentedLock(
    getLockAlgorithm('ttas').create(i32, 0, 1, SPIN),
    i32,
    0,
    0,
    blocks[0],
    true,
    64,
    holdSample,
  );
  const count = (k: number, f: Lk) => f64[blocks[k].base + lockBase(0) + f];
  return { lock, blocks, count };
}

describe('lockstat hold sampling', () => {
  it('counts every acquisition and times every hold at --hold-sample 1', () => {
    const { lock, count } = rig(1);
    for (let i = 0; i < 10_000; i++) {
      lock.acquire();
      lock.release();
    }
    expect(count(0, Lk.ACQUISITIONS)).toBe(10_000);
    expect(count(0, Lk.HOLD_SAMPLES)).toBe(10_000);
  });

  it('times one hold in 16 on average, whatever the pattern of acquisitions', () => {
    // Acquisitions alternate between two kinds (as per-page alternates a TLBI's and a CMD_SYNC's),
    // each counted in its own block: a sampler with an even period would time only one kind.
    const { lock, blocks, count } = rig(16);
    const n = 320_000;
    for (let i = 0; i < n; i++) {
      lock.stats = blocks[i & 1];
      lock.acquire();
      lock.release();
    }
    for (const k of [0, 1]) {
      expect(count(k, Lk.ACQUISITIONS)).toBe(n / 2);
      const samples = count(k, Lk.HOLD_SAMPLES);
      expect(samples).toBeGreaterThan((n / 2 / 16) * 0.95);
      expect(samples).toBeLessThan((n / 2 / 16) * 1.05);
    }
  });

  it('times each acquisition independently of the last: the gaps are geometric', () => {
    // After a timed hold, the next acquisition is timed with probability 1/16 again: 0.0625 (a
    // fixed period gives 0, gaps uniform in 1-31 with the same mean 1/31).
    const { lock, count } = rig(16);
    let prev = false;
    let sampled = 0;
    let both = 0;
    for (let i = 0; i < 320_000; i++) {
      const before = count(0, Lk.HOLD_SAMPLES);
      lock.acquire();
      lock.release();
      const now = count(0, Lk.HOLD_SAMPLES) > before;
      if (prev) {
        sampled++;
        if (now) both++;
      }
      prev = now;
    }
    expect(both / sampled).toBeGreaterThan(0.05);
    expect(both / sampled).toBeLessThan(0.075);
  });
});
