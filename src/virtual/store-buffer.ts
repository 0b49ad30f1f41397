// Posted stores (smmuFetch 2 only, the threads engine's SMMU worker on a CPU of its own): the
// threads engine writes a queue entry with plain stores (driver/cmdq-locked.ts, cmdq-lockfree.ts),
// which leave through the CPU's store buffer, and rings the doorbell after mmio.ts's busy-wait with
// storeSeqCst, a full fence (a threads run where nobody parks skips it: concurrency/wait.ts
// handOff; this model keeps it, as calibrate's rigs measure it). When the SMMU worker holds a
// shared copy of the entry's line, the store's transfer therefore overlaps the CPU's following
// work and is waited for only at the next fence: an atomic, a lock word, the doorbell (after its
// busy-wait). Everything else stays sequentially consistent, as the model is by default.
import type { Coherence } from './coherence.js';
import type { Req } from './requests.js';

export class StoreBuffer {
  /** Posted stores still transferring, by agent. */
  private readonly pending: number[];
  /** Who waits for an agent's posted stores to drain (its next fence). */
  private readonly waiters: (() => void)[][];

  constructor(
    agents: number,
    private readonly mem: Coherence,
    /** Which addresses take plain, posted stores (the queue entries). */
    readonly posts: (addr: number) => boolean,
  ) {
    this.pending = new Array<number>(agents).fill(0);
    this.waiters = Array.from({ length: agents }, () => []);
  }

  /** Posts `req` (a WRITE): it goes through the coherence model while `agent` goes on. */
  post(agent: number, req: Req): void {
    this.pending[agent]++;
    this.mem.access(agent, req, () => {
      if (--this.pending[agent] > 0) return;
      const ws = this.waiters[agent];
      this.waiters[agent] = [];
      for (const w of ws) w();
    });
  }

  /** fn() once `agent`'s posted stores have all completed (at once if none is pending). */
  drained(agent: number, fn: () => void): void {
    if (this.pending[agent] === 0) fn();
    else this.waiters[agent].push(fn);
  }

  empty(agent: number): boolean {
    return this.pending[agent] === 0;
  }
}
