// The discrete-event kernel: a virtual clock, the event heap, the seeded PRNG, the coherent
// memory and the SMMU's registers, and the driver that runs processes (generators yielding
// requests/requests.ts) on them. Single-threaded and deterministic: the same seed and parameters
// give the same sequence of events on any host.
import { Coherence, type CoherenceCosts } from './coherence.js';
import { EventHeap } from './event-heap.js';
import { Prng } from './prng.js';
import { Op, type Proc, type Req } from './requests.js';
import { StoreBuffer } from './store-buffer.js';

export interface MachineParams extends CoherenceCosts {
  /** Agents 0..agents-1 (the CPUs, then the SMMU). */
  readonly agents: number;
  readonly seed: number;
  readonly mmioReadNs: number;
  readonly mmioWriteNs: number;
  /** Added to a register access that costs anything (params.mmioExtraNs); absent: 0. */
  readonly mmioExtraNs?: number;
  /** Agents whose register accesses cost nothing (the SMMU reading its own registers). */
  readonly freeMmioAgents: ReadonlySet<number>;
  /** Told of every costed register access as it is issued (the driver's MMIO counts). */
  readonly onMmio?: (agent: number, write: boolean) => void;
  /** A parked agent runs again this long after FUTEX_WAKE (futex wake-up and reschedule). */
  readonly futexWakeNs?: number;
  /** smmuFetch 2 (absent otherwise, and everything below with it): registers that are also a
   *  coherent line (register -> its line's address), whose costed write claims the line
   *  (Coherence.claimNs) as a store to the threads engine's shared-memory register word does. */
  readonly coherentRegs?: ReadonlyMap<number, number>;
  /** smmuFetch 2: addresses stored to through a store buffer (store-buffer.ts). */
  readonly postedStores?: (addr: number) => boolean;
}

interface Parker {
  readonly done: (v: number) => void;
  woken: boolean;
}

/** Machine.run's progress report: every this many events (a power of two), cheap to test. */
export const PROGRESS_EVENTS = 1 << 16;
/** Machine.slices' slice: a few ms of wall time, so that Ctrl-C is seen promptly. */
export const SLICE_EVENTS = 1 << 15;

/** Machine.run's progress report: the virtual time reached and the events run so far. */
export type MachineProgress = (now: number, events: number) => void;

interface RegWatch {
  readonly agent: number;
  readonly pred: (v: number) => boolean;
  readonly done: (v: number) => void;
  /**
   * A waitRegs watch (WFE, the SMMU's idle wait): the write itself is the wake-up, so the agent
   * resumes at once and reads the register (an MMIO read) only if it wants the value. Else a
   * pollReg watch: the next read happens now and is charged.
   */
  readonly wake?: boolean;
}

export class Machine {
  readonly clock = { now: 0 };
  readonly heap = new EventHeap();
  readonly rng: Prng;
  readonly mem: Coherence;
  private readonly regs = new Map<number, number>();
  private readonly regWatchers = new Map<number, RegWatch[]>();
  /** Agents parked by FUTEX_WAIT, by address, in arrival order (futex_wake takes the oldest). */
  private readonly futexQueues = new Map<number, Parker[]>();
  /** smmuFetch 2: the CPUs' posted stores, else null. */
  private readonly sb: StoreBuffer | null;
  /** Events executed so far (the engine's speed is reported in events per second). */
  events = 0;

  constructor(private readonly p: MachineParams) {
    this.rng = new Prng(p.seed);
    this.mem = new Coherence(p.agents, p, this.heap, this.clock, this.rng);
    this.sb = p.postedStores === undefined ? null : new StoreBuffer(p.agents, this.mem, p.postedStores);
  }

  get now(): number {
    return this.clock.now;
  }

  at(t: number, fn: () => void): void {
    this.heap.push(t, fn);
  }

  /** Starts a process at virtual time t. */
  spawn(agent: number, proc: Proc, t = this.now): void {
    this.at(t, () => this.resume(agent, proc, 0));
  }

  /**
   * Runs events until none is left or the next one lies beyond `until`; the clock ends at `until`.
   * `progress` is called with the virtual time reached (and the events run so far) every
   * PROGRESS_EVENTS events.
   */
  run(until: number, progress?: MachineProgress): void {
    this.runSome(until, Infinity, progress);
  }

  /**
   * Machine.run in slices of at most SLICE_EVENTS events, yielding between them: the caller may
   * give the host's event loop a turn (Ctrl-C) or stop there. Nothing happens between slices, so
   * the events run in the same order as under Machine.run.
   */
  *slices(until: number, progress?: MachineProgress): Generator<void, void, void> {
    while (!this.runSome(until, SLICE_EVENTS, progress)) yield;
  }

  /**
   * Runs at most `budget` events of those up to `until`. True when none is left up to `until`
   * (the clock is then at `until`); false when the budget ran out first (the clock stays at the
   * last event's time).
   */
  private runSome(until: number, budget: number, progress?: MachineProgress): boolean {
    const heap = this.heap;
    const clock = this.clock;
    let n = 0;
    while (heap.peekTime() <= until) {
      if (n++ === budget) return false;
      clock.now = heap.peekTime();
      heap.pop()!();
      if ((++this.events & (PROGRESS_EVENTS - 1)) === 0 && progress !== undefined)
        progress(clock.now, this.events);
    }
    clock.now = until;
    return true;
  }

  /** A register's value, without cost (the SMMU model, tests). */
  reg(addr: number): number {
    return this.regs.get(addr) ?? 0;
  }

  /** Sets a register and lets its pollers re-read it. */
  setReg(addr: number, v: number): void {
    this.regs.set(addr, v);
    const ws = this.regWatchers.get(addr);
    if (ws === undefined || ws.length === 0) return;
    this.regWatchers.set(addr, []);
    for (const w of ws) {
      if (w.wake === true) this.at(this.now, () => w.done(v));
      else this.pollReg(w.agent, addr, w.pred, w.done);
    }
  }

  private resume(agent: number, proc: Proc, value: number): void {
    const r = proc.next(value);
    if (r.done !== true) this.dispatch(agent, proc, r.value);
  }

  private dispatch(agent: number, proc: Proc, req: Req): void {
    const done = (v: number): void => this.resume(agent, proc, v);
    if (this.sb !== null && this.viaStoreBuffer(this.sb, agent, proc, req, done)) return;
    switch (req.op) {
      case Op.DELAY:
        this.at(this.now + req.v, () => done(0));
        return;
      case Op.LOAD:
      case Op.WRITE:
      case Op.RMW:
        this.mem.access(agent, req, done);
        return;
      case Op.WAIT:
        this.mem.waitUntil(agent, req.addr, req.pred!, done, req.t);
        return;
      case Op.WAIT_LOST:
        this.mem.waitLost(agent, req.addr, () => done(0));
        return;
      case Op.FUTEX_WAIT:
        this.futexWait(req.addr, req.v, req.t ?? Infinity, done);
        return;
      case Op.FUTEX_WAKE:
        done(this.futexWake(req.addr, req.v));
        return;
      case Op.WAIT_REGS:
        this.waitRegs(agent, req.words!, done);
        return;
      case Op.MMIO_READ:
        // The value is the one the register holds when the read completes.
        this.at(this.now + this.mmioCost(agent, this.p.mmioReadNs), () => done(this.reg(req.addr)));
        return;
      case Op.MMIO_WRITE:
        // Posted: the writer pays its cost; the SMMU sees the value once it has crossed.
        this.at(this.now + this.mmioCost(agent, this.p.mmioWriteNs, true), () => {
          this.setReg(req.addr, req.v);
          done(0);
        });
        return;
      case Op.WAIT_REG:
        this.pollReg(agent, req.addr, req.pred!, done);
        return;
    }
  }

  /**
   * smmuFetch 2: a plain store to a posted address goes through the store buffer (the agent goes
   * on after a hit); a fence (anything but a delay, a load, a plain store or a register write)
   * waits for the agent's posted stores; a register write (the doorbell: mmio.ts's busy-wait,
   * then Atomics.store) overlaps its cost with them and then claims the register's line. True
   * when the request was handled here.
   */
  private viaStoreBuffer(
    sb: StoreBuffer,
    agent: number,
    proc: Proc,
    req: Req,
    done: (v: number) => void,
  ): boolean {
    switch (req.op) {
      case Op.DELAY:
      case Op.LOAD:
        return false;
      case Op.WRITE:
        if (!sb.posts(req.addr)) return false;
        sb.post(agent, req);
        this.at(this.now + this.p.hitNs, () => done(0));
        return true;
      case Op.MMIO_WRITE:
        // The doorbell is a plain store then a fence (concurrency/store.ts storeSeqCst; a threads
        // run where nobody parks skips the fence, concurrency/wait.ts handOff, not modelled here):
        // its line's claim is in flight together with the entries' posted transfers, and the fence
        // waits for all of them; in store order, PROD shows once both the claim and the drain are
        // done.
        this.at(this.now + this.mmioCost(agent, this.p.mmioWriteNs, true), () => {
          const claimed = this.now + this.regLine(agent, req.addr);
          sb.drained(agent, () =>
            this.at(Math.max(this.now, claimed), () => {
              this.setReg(req.addr, req.v);
              done(0);
            }),
          );
        });
        return true;
      default:
        if (sb.empty(agent)) return false;
        sb.drained(agent, () => this.dispatch(agent, proc, req));
        return true;
    }
  }

  /** A costed register write's claim of the register's line, when it has one (coherentRegs). */
  private regLine(agent: number, addr: number): number {
    const line = this.p.coherentRegs?.get(addr);
    if (line === undefined || this.p.freeMmioAgents.has(agent)) return 0;
    return this.mem.claimNs(agent, line);
  }

  /** Atomics.wait: the value check is free (the waiter has just written the word itself). */
  private futexWait(addr: number, expected: number, timeoutNs: number, done: (v: number) => void): void {
    if (this.mem.peek(addr) !== expected) {
      this.at(this.now, () => done(0));
      return;
    }
    const p: Parker = { done, woken: false };
    let q = this.futexQueues.get(addr);
    if (q === undefined) this.futexQueues.set(addr, (q = []));
    q.push(p);
    if (timeoutNs < Infinity)
      this.at(this.now + timeoutNs, () => {
        if (p.woken) return;
        p.woken = true;
        const list = this.futexQueues.get(addr)!;
        list.splice(list.indexOf(p), 1);
        done(0);
      });
  }

  /** Atomics.notify: returns the number woken. */
  private futexWake(addr: number, count: number): number {
    const q = this.futexQueues.get(addr);
    let n = 0;
    while (q !== undefined && q.length > 0 && n < count) {
      const p = q.shift()!;
      p.woken = true;
      n++;
      this.at(this.now + (this.p.futexWakeNs ?? 0), () => p.done(1));
    }
    return n;
  }

  /**
   * Until any of `addrs` is set; resumes with its index, at no cost (a WFE's event, the SMMU's
   * doorbell): a CPU then reads the register itself, once, as Linux's poll loop does.
   */
  private waitRegs(agent: number, addrs: ArrayLike<number>, done: (v: number) => void): void {
    const mine: RegWatch[] = [];
    let fired = false;
    for (let i = 0; i < addrs.length; i++) {
      const w: RegWatch = {
        agent,
        wake: true,
        pred: () => true,
        done: () => {
          // The first register set wins; the others' watches go.
          if (fired) return;
          fired = true;
          for (let k = 0; k < addrs.length; k++) {
            const ws = this.regWatchers.get(addrs[k]);
            const at = ws === undefined ? -1 : ws.indexOf(mine[k]);
            if (at >= 0) ws!.splice(at, 1);
          }
          done(i);
        },
      };
      mine.push(w);
      let ws = this.regWatchers.get(addrs[i]);
      if (ws === undefined) this.regWatchers.set(addrs[i], (ws = []));
      ws.push(w);
    }
  }

  /** One MMIO read; if pred fails, the next read happens when the register next changes. */
  private pollReg(
    agent: number,
    addr: number,
    pred: (v: number) => boolean,
    done: (v: number) => void,
  ): void {
    this.at(this.now + this.mmioCost(agent, this.p.mmioReadNs), () => {
      const v = this.reg(addr);
      if (pred(v)) return done(v);
      let ws = this.regWatchers.get(addr);
      if (ws === undefined) this.regWatchers.set(addr, (ws = []));
      ws.push({ agent, pred, done });
    });
  }

  private mmioCost(agent: number, ns: number, write = false): number {
    if (this.p.freeMmioAgents.has(agent)) return 0;
    this.p.onMmio?.(agent, write);
    return ns <= 0 ? 0 : ns + (this.p.mmioExtraNs ?? 0);
  }
}
