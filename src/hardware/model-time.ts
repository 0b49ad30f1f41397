// The SMMU command processor's modelled time (docs/timing-model.md, "Virtual completion time").
// The model is a single server: command k, arriving at a_k, completes at
// c_k = max(a_k, c_(k-1)) + lat_k, and its effect (a TLBI's IOTLB invalidation, a CMD_SYNC's MSI
// and CONS update, a CERROR_ILL) must not be seen before c_k. The engine cannot see a_k, only the
// PROD read that revealed command k, which came after it; it keeps
//
//   arrive():     due = max(due, now)   at each PROD read that reveals commands (one clock read)
//   advance(lat): due += lat            per command, carried forward without a clock read,
//                 then wait until the clock shows due, before the command's effect.
//
// so that due >= c_k always (by induction; tight to the PROD poll when the engine keeps up): no
// command completes earlier than the model says. A command revealed together with others behind
// it in the queue (the engine was busy when they arrived) completes its latency after the one
// before it, not after the clock: the engine's own work on a run of commands is hidden inside
// their modelled latencies, up to their sum. A preempted engine restarts from the clock at its
// next PROD read; the commands it had already seen arrived before the preemption.
//
// Until session 5 the engine read the clock before every command (and reset due to it when more
// than a latency late), which made a lagging engine pay its excess over the model command by
// command, and let a command arriving a little after the previous completion start in the past.
//
// `seen`, the latest reading, bounds the clock from below: advance() reads the clock only when
// `seen` does not already show due. An engine that lags its model (real work per command above
// --tlbi-ns) then reads it once per PROD read; one that keeps up spins as it always did.
//
// A PROD read made after the commands seen (once the last one's latency is spent, before its
// effect: session 7; before a catch-up CONS update: session 8) is dated by sampleRevealed(), a
// reading taken right after it; arriveRevealed() applies it later, when the engine turns to the
// commands it revealed, so that the engine's work in between does not delay their start.
import { nowNs } from '../concurrency/clock.js';

// Allocation: a double passed to or returned from a call the optimiser leaves in place is boxed in
// a new HeapNumber. The engine's loop is large enough that not every call in it is inlined, so the
// times never cross a call here: each reading goes into `seen` (a double field, updated in place)
// by sample(), which takes and returns nothing.
export class ModelTime {
  /** Modelled completion time of the last command started, ns (-1 before the first). */
  due = -1;
  /** The clock's latest reading (now >= seen); -1 before the first. */
  seen = -1;
  /** A reading taken right after a PROD read that revealed commands (sampleRevealed()). */
  revealedAt = -1;

  /** `timed`: some latency is non-zero (else no clock is ever read). */
  constructor(private readonly timed: boolean) {}

  /** A PROD read revealed commands: they arrived no later than now, so none starts earlier. */
  arrive(): void {
    if (!this.timed) return;
    this.sample();
    if (this.seen > this.due) this.due = this.seen;
  }

  /**
   * The next command, of latency `lat`, completes `lat` after the previous one (or after its
   * arrival). Returns once the clock shows that completion time, so that its effect can be
   * applied; reads the clock only if `seen` does not already show it. Latency 0: no time.
   */
  advance(lat: number): void {
    if (lat <= 0) return;
    this.due += lat;
    while (this.seen < this.due) this.sample();
  }

  /** A PROD read just revealed commands that the engine will turn to later: date the read. */
  sampleRevealed(): void {
    if (!this.timed) return;
    this.sample();
    this.revealedAt = this.seen;
  }

  /** arrive() for the commands of the read dated by sampleRevealed(). */
  arriveRevealed(): void {
    if (this.revealedAt > this.due) this.due = this.revealedAt;
  }

  private sample(): void {
    this.seen = nowNs();
  }
}
