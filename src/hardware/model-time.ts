// The SMMU command processor's modelled time (docs/timing-model.md, "Virtual completion time"):
// each command completes its modelled latency after the previous one, carried forward from one
// command to the next without a clock read, and the SMMU's work is made to wait for that time only
// where something depends on it:
//
// - Before a command's effect (the IOTLB invalidation of a TLBI, the MSI write of a CMD_SYNC, a
//   CERROR_ILL), the clock must show its completion time `due`, as before. `seen`, the latest
//   reading, is a lower bound of the clock: if it already shows `due` the clock is not read. An
//   engine slower than its model (real work per command above --tlbi-ns) lags its modelled time,
//   so after a reading or two in a run of commands, none is needed until CONS is published.
// - Where CONS is published (the CPUs see the SMMU's progress there: a CMD_SYNC completed, the
//   commands seen drained, 1/8 of the queue), the catch-up rule: if the clock is more than the
//   command's latency past `due`, `due` becomes the clock. It used to be evaluated after every
//   command, which made a lagging engine pay its excess over the model command by command (16
//   TLBIs at 150 ns of real work and 100 modelled, then a 1000 ns CMD_SYNC: 16 x 150 + 1000 ns).
//   Evaluated where CONS is published, the run of commands costs what the model says, or the
//   engine's real work if that is longer (max(16 x 100 + 1000, 16 x 150 + the sync's own work)),
//   and a preempted or lagging engine still restarts from the clock at the next publication:
//   lateness carried forward never outlives a run of commands between two CONS updates.
//
// Every reading goes through `seen`, so a reading taken before the effect serves the catch-up
// rule of the same command. Counting: at most one clock read per command when the engine keeps up
// with its model (as before), far fewer when it lags behind it, none with latencies 0.
import { nowNs } from '../concurrency/clock.js';

// Allocation: a double passed to or returned from a call the optimiser leaves in place is boxed in
// a new HeapNumber. The engine's loop is large enough that not every call in it is inlined, so the
// times never cross a call here: each reading goes into `seen` (a double field, updated in place)
// by sample(), which takes and returns nothing.
export class ModelTime {
  /** Modelled completion time of the last command started, ns; -1 after idling (restart at now). */
  due = -1;
  /** The clock's latest reading (now >= seen). */
  seen = -1;
  /** Did the current command read the clock (seen is fresh)? */
  private read = false;

  /** The queue ran dry (or the SMMU stalled): the next command starts at the clock. */
  idle(): void {
    this.due = -1;
  }

  /**
   * A command of latency `lat` starts: it completes `lat` after the previous one (or after now
   * when idle). Returns once the clock shows that completion time, so that its effect can be
   * applied; spins only if `seen` does not already show it. Latency 0: no time, no clock read.
   */
  advance(lat: number): void {
    this.read = false;
    if (lat <= 0) return;
    if (this.due < 0) {
      this.sample();
      this.due = this.seen;
    }
    this.due += lat;
    if (this.due > this.seen) {
      do this.sample();
      while (this.seen < this.due);
      this.read = true;
    }
  }

  /**
   * The command just advanced (latency `lat`) is about to be published in CONS: the catch-up
   * rule. Uses the reading advance() took for it, if any, else reads the clock once. More than
   * the command's latency late: the next command starts at the clock.
   */
  publish(lat: number): void {
    if (lat <= 0) return;
    if (!this.read) this.sample();
    if (this.seen > this.due + lat) this.due = this.seen;
  }

  private sample(): void {
    this.seen = nowNs();
  }
}
