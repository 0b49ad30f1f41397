// The five --lock algorithms (concurrency/locks/*.ts) as processes of the virtual engine, step for
// step as the threads engine runs them under its spinning wait policy (a virtual CPU always has a
// core of its own), with the same words on the same lines. Every wait is a wait on a line
// (coherence.ts): free until the line is written, then a re-read; so contention, hand-off order and
// fairness come out of the coherence model, never from a parameter.
//
// - tas: every attempt an exchange; a spinner that owns the line re-exchanging changes nothing,
//   so it waits until another agent takes the line and then exchanges again (WAIT_LOST).
// - ttas: read until free, one cmpxchg, a loser backs off 1, 2, 4 ... 1,024 units of relax()
//   (relaxNs each: the threads engine's unit, ~ an x86 PAUSE; docs/locks.md).
// - ticket: fetch-add on `next` (its own line), wait until `serving` equals the ticket.
// - mcs: exchange into the tail, link behind the predecessor, wait on the own node's flag.
// - spin-park: Drepper's futex mutex; spins lockSpinNs (the threads engine's 10 us under a
//   spinning policy), then parks (FUTEX_WAIT) and is woken by a release's FUTEX_WAKE after
//   futexWakeNs (a host futex wake-up and reschedule; docs/virtual-time.md).
//
// Instrumentation is lockstat's (concurrency/lockstat.ts), kept in VLockStats per CPU: the wait of
// a contended acquisition from the failed fast path to the acquisition, every hold (the virtual
// engine times every one), bounces against the last holder. The threads engine keeps its holder
// words on the lock's first line; here they are the model's own bookkeeping and cost nothing.
import { HIST_BUCKETS, record } from '../concurrency/histogram.js';
import type { LockName } from '../concurrency/lock.js';
import type { Machine } from './machine.js';
import {
  cmpxchg,
  delay,
  futexWait,
  futexWake,
  load,
  rmw,
  store,
  waitLost,
  waitUntil,
  waitUntilFor,
  writeWords,
  type Proc,
  type Req,
} from './requests.js';

export { LOCK_NAMES, type LockName } from '../concurrency/lock.js';

/** One lock class's counts on one CPU, named after concurrency/counters.ts Lk. */
export class VLockStats {
  acquisitions = 0;
  contentions = 0;
  /** Contended acquisitions whose previous holder was another CPU. */
  conBounces = 0;
  /** Acquisitions whose previous holder was another CPU. */
  acqBounces = 0;
  /** Over contended acquisitions only, as lockstat (ns). */
  waitTotal = 0;
  waitMin = Infinity;
  waitMax = 0;
  /** concurrency/histogram.ts buckets of the contended waits. */
  readonly waitHist = new Float64Array(HIST_BUCKETS);
  /** Every hold is a sample in the virtual engine (no clock cost to avoid). */
  holdTotal = 0;
  holdMin = Infinity;
  holdMax = 0;
  holdSamples = 0;
  readonly holdHist = new Float64Array(HIST_BUCKETS);
}

/** Where a lock's acquisitions and holds are reported as they happen (instrument.ts VLockStat). */
export interface VLockSink {
  /** The lock is held now; the acquisition began at t0 and had to wait if `contended`. */
  acquired(t0: number, contended: boolean): void;
  /** The holder is releasing it now. */
  released(): void;
}

/** The lock algorithm's steps; `cpu` is the agent. */
export interface VLockAlgo {
  /** true: taken without waiting. false: acquireSlow() must complete it. */
  acquireFast(cpu: number): Generator<Req, boolean, number>;
  acquireSlow(cpu: number): Proc;
  release(cpu: number): Proc;
}

export interface VLockParams {
  /** One relax() unit of ttas's backoff, ns. */
  readonly relaxNs: number;
  /** spin-park's spin phase before it parks, ns. */
  readonly lockSpinNs: number;
}

/** The threads engine's bound on one park (concurrency/locks/spin-park.ts MAX_PARK_MS). */
const MAX_PARK_NS = 20e6;
/** ttas's longest backoff, in relax() units (concurrency/locks/ttas.ts). */
const MAX_BACKOFF_UNITS = 1024;
const LINE = 64;

class Tas implements VLockAlgo {
  constructor(private readonly s: number) {}
  *acquireFast(): Generator<Req, boolean, number> {
    return (yield rmw(this.s, () => 1)) === 0;
  }
  *acquireSlow(): Proc {
    for (;;) {
      yield waitLost(this.s);
      if ((yield rmw(this.s, () => 1)) === 0) return;
    }
  }
  *release(): Proc {
    yield store(this.s, 0);
  }
}

class Ttas implements VLockAlgo {
  constructor(
    private readonly s: number,
    private readonly relaxNs: number,
  ) {}
  *acquireFast(): Generator<Req, boolean, number> {
    if ((yield load(this.s)) !== 0) return false;
    return (yield cmpxchg(this.s, 0, 1)) === 0;
  }
  *acquireSlow(): Proc {
    let backoff = 1;
    for (;;) {
      yield waitUntil(this.s, (v) => v !== 1);
      if ((yield cmpxchg(this.s, 0, 1)) === 0) return;
      yield delay(backoff * this.relaxNs);
      if (backoff < MAX_BACKOFF_UNITS) backoff <<= 1;
    }
  }
  *release(): Proc {
    yield store(this.s, 0);
  }
}

/** `serving` at s, `next` on the following line (concurrency/locks/ticket.ts). */
class Ticket implements VLockAlgo {
  private readonly tickets: Int32Array;
  constructor(
    private readonly s: number,
    cpus: number,
  ) {
    this.tickets = new Int32Array(cpus);
  }
  *acquireFast(cpu: number): Generator<Req, boolean, number> {
    const t = yield rmw(this.s + LINE, (v) => (v + 1) | 0);
    this.tickets[cpu] = t;
    return (yield load(this.s)) === t;
  }
  *acquireSlow(cpu: number): Proc {
    const t = this.tickets[cpu];
    yield waitUntil(this.s, (v) => v === t);
  }
  *release(): Proc {
    const v = yield load(this.s);
    yield store(this.s, (v + 1) | 0);
  }
}

/** Tail at s; CPU c's node {locked, waiters, next} on its own line at nodes + 64 c. */
class Mcs implements VLockAlgo {
  constructor(
    private readonly s: number,
    private readonly nodes: number,
  ) {}
  private node(cpu: number): number {
    return this.nodes + LINE * cpu;
  }
  *acquireFast(cpu: number): Generator<Req, boolean, number> {
    // next = 0, locked = 1 before the node is published in the tail (one line, one access).
    yield writeWords(this.node(cpu), [1, 0, 0]);
    const prev = yield rmw(this.s, () => cpu + 1);
    if (prev === 0) return true;
    yield store(this.node(prev - 1) + 8, cpu + 1);
    return false;
  }
  *acquireSlow(cpu: number): Proc {
    yield waitUntil(this.node(cpu), (v) => v === 0);
  }
  *release(cpu: number): Proc {
    const me = this.node(cpu);
    let next = yield load(me + 8);
    if (next === 0) {
      if ((yield cmpxchg(this.s, cpu + 1, 0)) === cpu + 1) return;
      // A successor swapped the tail and is about to link itself.
      next = yield waitUntil(me + 8, (v) => v !== 0);
    }
    yield store(this.node(next - 1), 0);
  }
}

/** State 0 free, 1 held, 2 held with possible parkers (concurrency/locks/spin-park.ts). */
class SpinPark implements VLockAlgo {
  constructor(
    private readonly m: Machine,
    private readonly s: number,
    private readonly spinNs: number,
  ) {}
  *acquireFast(): Generator<Req, boolean, number> {
    return (yield cmpxchg(this.s, 0, 1)) === 0;
  }
  *acquireSlow(): Proc {
    const s = this.s;
    const end = this.m.now + this.spinNs;
    for (;;) {
      const v = yield waitUntilFor(s, (x) => x === 0, Math.max(0, end - this.m.now));
      if (v === 0 && (yield cmpxchg(s, 0, 1)) === 0) return;
      if (this.m.now >= end) break;
    }
    while ((yield rmw(s, () => 2)) !== 0) yield futexWait(s, 2, MAX_PARK_NS);
  }
  *release(): Proc {
    if ((yield rmw(this.s, (v) => v - 1)) !== 1) {
      yield store(this.s, 0);
      yield futexWake(this.s, 1);
    }
  }
}

/** Builds lock `name` at byte address `addr` (its first line); `nodes`: MCS's per-CPU lines. */
export function makeVLock(
  name: LockName,
  m: Machine,
  addr: number,
  nodes: number,
  cpus: number,
  p: VLockParams,
): VLockAlgo {
  switch (name) {
    case 'tas':
      return new Tas(addr);
    case 'ttas':
      return new Ttas(addr, p.relaxNs);
    case 'ticket':
      return new Ticket(addr, cpus);
    case 'mcs':
      return new Mcs(addr, nodes);
    case 'spin-park':
      return new SpinPark(m, addr, p.lockSpinNs);
  }
}

/**
 * One lock shared by every CPU, with lockstat's counts (into the stats object `statsOf(cpu)`
 * returns at that moment: the run swaps them at the end of warm-up) and the run's own checks:
 * never two holders, every acquisition released.
 */
export class VInstrumentedLock {
  private holder = -1;
  private lastHolder = -1;
  private holdStart = 0;
  /** Over the whole run (warm-up included), for the pairing invariant. */
  acquired = 0;
  released = 0;

  constructor(
    readonly name: LockName,
    private readonly algo: VLockAlgo,
    private readonly m: Machine,
    private readonly statsOf: (cpu: number) => VLockStats,
    /** The report's lockstat writer for the CPU (instrument.ts: the threads engine's block, trace). */
    private readonly sinkOf: ((cpu: number) => VLockSink) | null = null,
  ) {}

  /** The CPU holding the lock, or -1. */
  get heldBy(): number {
    return this.holder;
  }

  *acquire(cpu: number): Proc {
    let waitNs = 0;
    const t0 = this.m.now;
    const contended = !(yield* this.algo.acquireFast(cpu));
    if (contended) {
      yield* this.algo.acquireSlow(cpu);
      waitNs = this.m.now - t0;
    }
    if (this.holder !== -1)
      throw new Error(`virtual ${this.name} lock: cpu ${cpu} acquired it while cpu ${this.holder} holds it`);
    this.holder = cpu;
    this.acquired++;
    const bounced = this.lastHolder !== -1 && this.lastHolder !== cpu;
    this.lastHolder = cpu;
    this.holdStart = this.m.now;
    const st = this.statsOf(cpu);
    st.acquisitions++;
    if (bounced) st.acqBounces++;
    if (contended) {
      st.contentions++;
      if (bounced) st.conBounces++;
      st.waitTotal += waitNs;
      if (waitNs < st.waitMin) st.waitMin = waitNs;
      if (waitNs > st.waitMax) st.waitMax = waitNs;
      record(st.waitHist, 0, waitNs);
    }
    this.sinkOf?.(cpu).acquired(t0, contended);
  }

  *release(cpu: number): Proc {
    if (this.holder !== cpu)
      throw new Error(`virtual ${this.name} lock: cpu ${cpu} released it while cpu ${this.holder} holds it`);
    const held = this.m.now - this.holdStart;
    const st = this.statsOf(cpu);
    st.holdSamples++;
    st.holdTotal += held;
    if (held < st.holdMin) st.holdMin = held;
    if (held > st.holdMax) st.holdMax = held;
    record(st.holdHist, 0, held);
    this.sinkOf?.(cpu).released();
    this.holder = -1;
    this.released++;
    yield* this.algo.release(cpu);
  }
}
