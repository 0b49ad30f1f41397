// A stretch of time on the clock (concurrency/clock.ts), held in two double fields.
//
// Why not plain numbers: a double passed to or returned from a call that V8 leaves in place (does
// not inline) is boxed into a new HeapNumber, and the CPU worker's issue path is too large for V8
// to inline every call in it. Before session 5 each CMD_SYNC's timing (its two readings, the wait
// handed to the statistics) cost two or three such boxes: the CPU worker scavenged dozens of times
// a second, pauses that landed inside measured unmaps. Here each reading goes into a field, updated
// in place, by begin()/stop(), which take and return nothing; the recorders (CpuStats, lockstat)
// read the fields themselves. hardware/model-time.ts does the same on the SMMU side.
import { nowNs } from './clock.js';

export class Span {
  /** Clock at the start, ns (0: not read, as an untimed span reports). */
  start = 0;
  /** Clock at the end, ns. */
  end = 0;

  begin(): void {
    this.start = nowNs();
  }

  stop(): void {
    this.end = nowNs();
  }
}
