// The SMMU's modelled time (src/hardware/model-time.ts): a run of commands starts no earlier than
// the PROD read that revealed it, completion times are carried forward without clock reads, and
// the clock is read only when its last reading does not show a command's completion. Assertions
// are on the carried values and on whether the clock was read (`seen` changes only on a reading),
// never on elapsed wall time.
import { describe, expect, it } from 'vitest';
import { nowNs } from '../src/concurrency/clock.js';
import { ModelTime } from '../src/hardware/model-time.js';

describe('ModelTime', () => {
  it('starts revealed commands at the clock, and returns only once the clock shows the completion', () => {
    const before = nowNs();
    const m = new ModelTime(true);
    m.arrive();
    expect(m.due).toBe(m.seen);
    expect(m.seen).toBeGreaterThanOrEqual(before);
    const arrived = m.due;
    m.advance(50_000);
    expect(m.due).toBe(arrived + 50_000);
    expect(m.seen).toBeGreaterThanOrEqual(m.due);
    expect(nowNs()).toBeGreaterThanOrEqual(m.due);
  });

  it('carries completion times forward without reading the clock while its last reading shows them', () => {
    const m = new ModelTime(true);
    m.arrive();
    // An engine 1 ms behind its model (its real work took longer than the modelled latencies):
    // 100 commands of 100 ns complete at the carried times, and none of them reads the clock.
    const seen = m.seen;
    m.due = seen - 1e6;
    for (let i = 0; i < 100; i++) m.advance(100);
    expect(m.due).toBe(seen - 1e6 + 100 * 100);
    expect(m.seen).toBe(seen);
  });

  it('a PROD read restarts a lagging model at the clock: nothing starts before it was seen', () => {
    const m = new ModelTime(true);
    m.arrive();
    m.due = m.seen - 1e6; // lagging by 1 ms (a preemption, or real work above the model)
    m.arrive();
    expect(m.due).toBe(m.seen);
  });

  it('a PROD read keeps a model that is ahead of the clock: queued commands wait their turn', () => {
    const m = new ModelTime(true);
    m.arrive();
    const ahead = m.seen + 1e9;
    m.due = ahead;
    m.arrive();
    expect(m.due).toBe(ahead);
  });

  it('untimed (every latency 0): no time and no clock read', () => {
    const m = new ModelTime(false);
    m.arrive();
    m.advance(0);
    expect(m.due).toBe(-1);
    expect(m.seen).toBe(-1);
  });
});

describe('ModelTime: a PROD read dated before an effect (sampleRevealed)', () => {
  it('the commands it revealed start at that read, not at the later arrive() of their turn', () => {
    const m = new ModelTime(true);
    m.arrive();
    m.advance(1000); // the last command seen: its latency is spent
    m.sampleRevealed(); // a read right after it revealed more
    const dated = m.revealedAt;
    expect(dated).toBeGreaterThanOrEqual(m.due);
    // ... the effect's own work takes a while; then the engine turns to the revealed commands.
    m.arriveRevealed();
    expect(m.due).toBe(dated);
    m.advance(100);
    expect(m.due).toBe(dated + 100);
  });

  it('a model ahead of the dated read keeps its own time', () => {
    const m = new ModelTime(true);
    m.arrive();
    m.sampleRevealed();
    m.due = m.revealedAt + 1e9;
    m.arriveRevealed();
    expect(m.due).toBe(m.revealedAt + 1e9);
  });

  it('untimed: dates nothing', () => {
    const m = new ModelTime(false);
    m.sampleRevealed();
    m.arriveRevealed();
    expect(m.revealedAt).toBe(-1);
    expect(m.due).toBe(-1);
  });
});
