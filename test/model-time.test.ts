// The SMMU's modelled time (src/hardware/model-time.ts): completion times carried forward without
// clock reads, the clock read only when its last reading does not show a command's completion,
// and the catch-up rule applied where CONS is published. Assertions are on the carried values and
// on whether the clock was read (`seen` changes only on a reading): never on elapsed wall time.
import { describe, expect, it } from 'vitest';
import { nowNs } from '../src/concurrency/clock.js';
import { ModelTime } from '../src/hardware/model-time.js';

describe('ModelTime', () => {
  it('starts an idle SMMU at the clock, and returns only once the clock shows the completion', () => {
    const before = nowNs();
    const m = new ModelTime();
    m.advance(50_000);
    expect(m.due).toBeGreaterThanOrEqual(before + 50_000);
    expect(m.seen).toBeGreaterThanOrEqual(m.due);
    expect(nowNs()).toBeGreaterThanOrEqual(m.due);
  });

  it('carries completion times forward without reading the clock while its last reading shows them', () => {
    const m = new ModelTime();
    m.advance(1);
    // An engine 1 ms behind its model (it spent longer than the modelled latencies): 100
    // commands of 100 ns complete at the carried times, and none of them reads the clock.
    const seen = m.seen;
    m.due = seen - 1e6;
    for (let i = 0; i < 100; i++) m.advance(100);
    expect(m.due).toBe(seen - 1e6 + 100 * 100);
    expect(m.seen).toBe(seen);
  });

  it('reads the clock when the carried time is ahead of the last reading', () => {
    const m = new ModelTime();
    m.advance(1);
    const seen = m.seen;
    m.due = seen; // the next command completes after the last reading: it must wait for the clock
    m.advance(1000);
    expect(m.due).toBe(seen + 1000);
    expect(m.seen).toBeGreaterThanOrEqual(seen + 1000);
  });

  it('applies the catch-up rule where CONS is published, reading the clock once', () => {
    const m = new ModelTime();
    m.advance(1);
    m.due = m.seen - 1e6; // lagging by 1 ms (a preemption, or real work above the model)
    m.advance(100); // shown by the last reading: no read
    const seen = m.seen;
    m.publish(100); // reads the clock, which is more than a command past due: restart there
    expect(m.seen).toBeGreaterThanOrEqual(seen);
    expect(m.due).toBe(m.seen);
  });

  it('keeps the carried time up to one command late where CONS is published', () => {
    const m = new ModelTime();
    m.advance(1_000_000); // spins 1 ms: the reading it took serves publish(), which reads nothing
    const seen = m.seen;
    const due = m.due;
    m.publish(1_000_000);
    expect(m.seen).toBe(seen);
    // The spin stopped at the first reading past due: unless this thread lost the CPU for a
    // whole millisecond right then, that is within a latency of due, which stays.
    expect(m.due).toBe(seen > due + 1_000_000 ? seen : due);
  });

  it('latency 0 neither moves time nor reads the clock', () => {
    const m = new ModelTime();
    m.advance(0);
    m.publish(0);
    expect(m.due).toBe(-1);
    expect(m.seen).toBe(-1);
  });

  it('idle() restarts the next command at the clock', () => {
    const m = new ModelTime();
    m.advance(1);
    m.due = m.seen - 1e6;
    m.idle();
    const before = nowNs();
    m.advance(10);
    expect(m.due).toBeGreaterThanOrEqual(before + 10);
  });
});
