import { describe, expect, it } from 'vitest';
import {
  Cpu,
  CpuStats,
  cpuStatsSlots,
  initCpuStats,
  Lk,
  lockBase,
  SYNC_HIST,
  UNMAP_HIST,
} from '../src/concurrency/counters.js';
import { HIST_BUCKETS } from '../src/concurrency/histogram.js';
import { Span } from '../src/concurrency/span.js';

// The hot path times CMD_SYNC waits, unmaps and lock holds in Span fields (no double crosses a
// call); the statistics must be exactly those of the same times passed as numbers.
function block(): CpuStats {
  const f64 = new Float64Array(new SharedArrayBuffer(cpuStatsSlots(1) * 8));
  initCpuStats(f64, 0, 1);
  return new CpuStats(f64, 0);
}

function span(start: number, end: number): Span {
  const s = new Span();
  s.start = start;
  s.end = end;
  return s;
}

describe('Span recorders', () => {
  it('record exactly what the number-taking recorders record', () => {
    const a = block();
    const b = block();
    const times: [number, number][] = [
      [1_000_000_123, 1_000_001_123],
      [2_000_000_000, 2_000_000_017],
      [5e12, 5e12 + 3.5e9], // a wait past 2^31 ns: the histogram's out-of-line bucket
    ];
    for (const [t0, t1] of times) {
      a.syncWait(t1 - t0, t1, 7);
      b.syncWaitSpan(span(t0, t1), 7);
      a.unmapLatency(t1 - t0);
      b.unmapSpan(span(t0, t1));
      a.lockAcquired(0, t1 - t0, true, true);
      b.lockAcquired(0, 0, true, true, false);
      b.lockWaitSpan(0, span(t0, t1));
      a.lockHeld(0, t1 - t0);
      b.lockHeldSpan(0, span(t0, t1));
    }
    expect(Array.from(b.f64)).toEqual(Array.from(a.f64));
    expect(b.f64[Cpu.SYNCS_WAITED]).toBe(3);
    expect(b.f64[Cpu.SYNC_WAIT_MAX]).toBe(3.5e9);
    expect(b.f64[lockBase(0) + Lk.CONTENTIONS]).toBe(3);
    expect(b.f64[lockBase(0) + Lk.WAIT_MIN]).toBe(17);
    let n = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) n += b.f64[SYNC_HIST + i] + b.f64[UNMAP_HIST + i];
    expect(n).toBe(6);
  });

  it('an untimed span reports a wait of 0, as the untimed path always did', () => {
    const a = block();
    a.syncWaitSpan(new Span(), 3);
    expect(a.f64[Cpu.SYNCS_WAITED]).toBe(1);
    expect(a.f64[Cpu.SYNC_WAIT_TOTAL]).toBe(0);
    expect(a.f64[Cpu.SYNC_WAIT_MAX]).toBe(0);
  });

  it('begin() and stop() read the clock in order', () => {
    const s = new Span();
    s.begin();
    s.stop();
    expect(s.start).toBeGreaterThan(0);
    expect(s.end).toBeGreaterThanOrEqual(s.start);
  });
});
