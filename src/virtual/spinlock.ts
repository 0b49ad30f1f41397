// PLACEHOLDER lock of the virtual engine's IOVA allocator and flush queues, until the virtual
// versions of every --lock algorithm exist (the "vprot" work): a test-and-test-and-set spinlock,
// the threads engine's default (--lock ttas, concurrency/locks/ttas.ts), on the coherence model.
// A taker reads the word, spins on its line while it is held (free until the holder's release
// invalidates the copy), then tries a cmpxchg 0 -> cpu + 1; the release is a plain store of 0.
// Swap `VSpinlock` for the chosen algorithm's virtual lock: its users call only acquire/release.
//
// Every acquisition is counted in lockstat's terms (concurrency/counters.ts Lk): acquisitions,
// contentions (had to wait), bounces (last held on another CPU), wait and hold times in virtual ns
// (every hold is timed: the virtual clock costs nothing to read).
import { record } from '../concurrency/histogram.js';
import { VLockStats } from './locks.js';
import { cmpxchg, load, store, waitUntil, type Req } from './requests.js';

/** The same statistics as the cmdq lock's (locks.ts), so collect.ts writes both alike. */
export { VLockStats };

export class VSpinlock {
  /** cpu + 1 of the last holder (0: never held), for bounces. */
  private last = 0;
  private heldSince = 0;
  /** Acquisitions over the whole run (warm-up and drain included; never reset). */
  acquisitions = 0;

  constructor(
    /** The lock word's address in the machine's coherent memory. */
    readonly addr: number,
    private readonly clock: { readonly now: number },
  ) {}

  *acquire(cpu: number, st: VLockStats): Generator<Req, void, number> {
    const t0 = this.clock.now;
    let contended = false;
    for (;;) {
      if ((yield load(this.addr)) !== 0) {
        contended = true;
        yield waitUntil(this.addr, (v) => v === 0);
      }
      if ((yield cmpxchg(this.addr, 0, cpu + 1)) === 0) break;
      contended = true;
    }
    const bounced = this.last !== 0 && this.last !== cpu + 1;
    this.last = cpu + 1;
    this.acquisitions++;
    this.heldSince = this.clock.now;
    st.acquisitions++;
    if (bounced) st.acqBounces++;
    if (contended) {
      const w = this.clock.now - t0;
      st.contentions++;
      if (bounced) st.conBounces++;
      st.waitTotal += w;
      if (w < st.waitMin) st.waitMin = w;
      if (w > st.waitMax) st.waitMax = w;
      record(st.waitHist, 0, w);
    }
  }

  *release(st: VLockStats): Generator<Req, void, number> {
    const h = this.clock.now - this.heldSince;
    st.holdSamples++;
    st.holdTotal += h;
    if (h < st.holdMin) st.holdMin = h;
    if (h > st.holdMax) st.holdMax = h;
    record(st.holdHist, 0, h);
    yield store(this.addr, 0);
  }
}
