// The cost model of shared memory: 64-byte lines, each with an owner (the one agent allowed to
// write it without asking) and sharers (agents holding a readable copy). An access an agent's copy
// cannot serve is a transaction on the line: a read of a line another agent wrote, or a write or
// atomic read-modify-write of a line others hold. A line serves one transaction at a time; the
// others wait, and when one ends the next is chosen by the service policy (random among the
// waiters by default: interconnects do not promise FIFO service of a line, and FIFO turns every
// change of a hot word into a full round of N transfers; docs/virtual-time.md). A transaction
// takes its copies away when it STARTS (a write invalidates every other copy, a read downgrades
// the owner) and applies its effect (value read, compare, write) when it ENDS: otherwise the
// current owner keeps hitting for the whole transfer and no contention appears. A failed cmpxchg
// still takes the line exclusively. Spinning is a wait on a line: free until the spinner's copy is
// invalidated, then one re-read (itself a transaction) and a re-check.
import type { EventHeap } from './event-heap.js';
import type { Prng } from './prng.js';
import { Op, type Req } from './requests.js';

export const LINE_SHIFT = 6; // 64-byte lines

export type ServicePolicy = 'random' | 'fifo';

export interface CoherenceCosts {
  /** A line moving between agents' caches (or from memory), ns. */
  readonly lineTransferNs: number;
  /** A store or RMW by an agent that holds a shared copy: an invalidation, no data (0: a transfer). */
  readonly upgradeNs?: number;
  /** An atomic read-modify-write on top of having the line, ns. */
  readonly atomicNs: number;
  /** An access the agent's own copy serves, ns (> 0: every access advances time). */
  readonly hitNs: number;
  readonly service: ServicePolicy;
}

type Done = (v: number) => void;

interface Txn {
  readonly agent: number;
  readonly req: Req;
  readonly done: Done;
}

interface Watch {
  readonly agent: number;
  readonly retry: () => void;
}

class Line {
  /** Agents holding a valid copy (the owner included), and the same as a membership mask. */
  holders: number[] = [];
  readonly has: Uint8Array;
  /** The agent that may write without a transaction, or -1 (shared or uncached). */
  owner = -1;
  /** Writes applied so far (an I/O read's snapshot of the line stays valid until the next). */
  version = 0;
  busy = false;
  readonly queue: Txn[] = [];
  watchers: Watch[] = [];

  constructor(agents: number) {
    this.has = new Uint8Array(agents);
  }
}

/** Line statistics for the report: how hard each hot word was fought over. */
export interface LineStats {
  transfers: number;
  maxWaiters: number;
}

export class Coherence {
  /** Word values by byte address (a 64-bit word, e.g. Linux's llq, is one cell). */
  private readonly mem = new Map<number, number>();
  private readonly lines = new Map<number, Line>();
  readonly lineStats = new Map<number, LineStats>();
  /** By agent: the version of each line it last read as an I/O master (snoopReadNs). */
  private readonly snooped: Map<Line, number>[] = [];

  constructor(
    private readonly agents: number,
    private readonly costs: CoherenceCosts,
    private readonly heap: EventHeap,
    private readonly clock: { now: number },
    private readonly rng: Prng,
  ) {}

  /** The value at addr, without any cost (initialisation, the SMMU's command fetch, tests). */
  peek(addr: number): number {
    return this.mem.get(addr) ?? 0;
  }

  /** Sets a value without any cost (initial state before the run). */
  poke(addr: number, v: number): void {
    this.mem.set(addr, v);
  }

  /**
   * What an I/O-coherent read (the SMMU fetching a queue entry: AMBA ReadOnce) costs `agent`: a
   * line transfer unless it holds a copy. It takes no copy and leaves the owner its ownership, so
   * the writer's next store into the line hits, as on an ACE-Lite/CHI I/O master; nor does it
   * wait for a transaction already under way on the line (a simplification). The reader keeps
   * the 64 bytes it read: a second read of the line before anyone writes it costs a hit (the
   * SMMU consumes the four entries of a line from one fetch).
   */
  snoopReadNs(agent: number, addr: number): number {
    const line = this.line(addr);
    if (line.has[agent] === 1) return this.costs.hitNs;
    let seen = this.snooped[agent];
    if (seen === undefined) seen = this.snooped[agent] = new Map<Line, number>();
    if (seen.get(line) === line.version) return this.costs.hitNs;
    seen.set(line, line.version);
    this.stats(addr).transfers++;
    return this.costs.lineTransferNs;
  }

  /**
   * What a CPU's plain load of the line costs `agent`, charged at once (smmuFetch 2: the threads
   * engine's SMMU worker is a CPU thread): a transfer unless it holds a copy; it then holds a
   * shared copy and the owner loses write ownership, so the writer's next store into the line is a
   * transaction (a transfer). Like snoopReadNs it does not wait for a transaction under way.
   */
  sharedReadNs(agent: number, addr: number): number {
    const line = this.line(addr);
    if (line.has[agent] === 1) return this.costs.hitNs;
    line.has[agent] = 1;
    line.holders.push(agent);
    line.owner = -1;
    this.stats(addr).transfers++;
    return this.costs.lineTransferNs;
  }

  /**
   * What a CPU's store to a word nobody else stores to costs `agent`, charged at once (a register
   * word the threads engine keeps in shared memory, machine.ts coherentRegs): a transfer when
   * another agent holds a copy (they lose it), else a hit; `agent` then owns the line.
   */
  claimNs(agent: number, addr: number): number {
    const line = this.line(addr);
    line.version++;
    const held = line.has[agent] === 1;
    const others = line.holders.length - line.has[agent];
    this.take(line, agent);
    if (others === 0) return this.costs.hitNs;
    this.stats(addr).transfers++;
    return this.moveNs(held);
  }

  /** A transaction's cost: an upgrade when the requester already holds a copy (costs.upgradeNs). */
  private moveNs(held: boolean): number {
    const up = this.costs.upgradeNs ?? 0;
    return held && up > 0 ? up : this.costs.lineTransferNs;
  }

  /** LOAD, WRITE or RMW by `agent`; done(result) runs once its virtual time has passed. */
  access(agent: number, req: Req, done: Done): void {
    const line = this.line(req.addr);
    const c = this.costs;
    if (req.op === Op.LOAD) {
      if (line.has[agent] === 1) {
        const v = this.peek(req.addr);
        this.after(c.hitNs, () => done(v));
        return;
      }
    } else if (this.writable(line, agent)) {
      const v = this.apply(req);
      this.take(line, agent);
      this.after(req.op === Op.RMW ? c.atomicNs : c.hitNs, () => done(v));
      return;
    }
    line.queue.push({ agent, req, done });
    const s = this.stats(req.addr);
    if (line.queue.length > s.maxWaiters) s.maxWaiters = line.queue.length;
    if (!line.busy) this.startNext(line);
  }

  /**
   * Spins until pred holds for the word at addr; done(value that satisfied it). With timeoutNs the
   * spin gives up once that much time has passed: done(the last value seen, failing pred). A
   * re-read already under way then completes unseen (the spinner had issued it).
   */
  waitUntil(
    agent: number,
    addr: number,
    pred: (v: number) => boolean,
    done: Done,
    timeoutNs = Infinity,
  ): void {
    const loadReq: Req = { op: Op.LOAD, addr, v: 0 };
    let over = false;
    let last = 0;
    if (timeoutNs < Infinity)
      this.after(timeoutNs, () => {
        if (over) return;
        over = true;
        done(last);
      });
    const check = (v: number): void => {
      if (over) return;
      last = v;
      if (pred(v)) {
        over = true;
        return done(v);
      }
      const line = this.line(addr);
      // Our copy is still valid: spin in our cache until someone's write takes it away.
      if (line.has[agent] === 1)
        line.watchers.push({ agent, retry: () => this.access(agent, loadReq, check) });
      else this.access(agent, loadReq, check);
    };
    this.access(agent, loadReq, check);
  }

  /**
   * done() once `agent` no longer owns addr's line exclusively: at once if it does not, else when
   * another agent's write or RMW invalidates its copy. (A read by another agent only downgrades
   * it and is not noticed: no lock algorithm here reads the line a TAS spinner exchanges.)
   */
  waitLost(agent: number, addr: number, done: () => void): void {
    const line = this.line(addr);
    if (line.owner !== agent || line.has[agent] !== 1) return done();
    line.watchers.push({ agent, retry: done });
  }

  /** May `agent` write the line without a transaction (it holds the only copy, or nobody does)? */
  private writable(line: Line, agent: number): boolean {
    if (line.busy) return false;
    const n = line.holders.length;
    return (n === 1 && line.has[agent] === 1) || (n === 0 && line.queue.length === 0);
  }

  private startNext(line: Line): void {
    const q = line.queue;
    let txn: Txn;
    if (this.costs.service === 'fifo' || q.length === 1) txn = q.shift()!;
    else {
      const i = this.rng.below(q.length);
      txn = q[i];
      q[i] = q[q.length - 1];
      q.pop();
    }
    line.busy = true;
    const agent = txn.agent;
    const held = txn.req.op !== Op.LOAD && line.has[agent] === 1;
    if (txn.req.op === Op.LOAD) {
      // The owner keeps a readable copy but may no longer write without asking.
      line.owner = -1;
    } else {
      this.invalidateOthers(line, agent);
    }
    this.stats(txn.req.addr).transfers++;
    const cost = this.moveNs(held) + (txn.req.op === Op.RMW ? this.costs.atomicNs : 0);
    this.after(cost, () => this.finish(line, txn));
  }

  private finish(line: Line, txn: Txn): void {
    const agent = txn.agent;
    let v: number;
    if (txn.req.op === Op.LOAD) {
      v = this.peek(txn.req.addr);
      if (line.has[agent] === 0) {
        line.has[agent] = 1;
        line.holders.push(agent);
      }
    } else {
      v = this.apply(txn.req);
      this.take(line, agent);
    }
    line.busy = false;
    // The next transaction starts (and takes copies away) before the requester runs on: a CPU
    // that just got the line cannot slip in another access ahead of the waiters.
    if (line.queue.length > 0) this.startNext(line);
    txn.done(v);
  }

  /** Performs a WRITE or RMW on memory; returns what the requester sees (RMW: the old value). */
  private apply(req: Req): number {
    this.line(req.addr).version++;
    if (req.op === Op.RMW) {
      const old = this.peek(req.addr);
      this.mem.set(req.addr, req.f!(old));
      return old;
    }
    const w = req.words!;
    for (let i = 0; i < w.length; i++) this.mem.set(req.addr + 4 * i, w[i]);
    if (w.length > 1) this.line(req.addr + 4 * (w.length - 1)).version++;
    return 0;
  }

  /** `agent` now holds the only copy, as owner. */
  private take(line: Line, agent: number): void {
    if (line.holders.length !== 1 || line.has[agent] !== 1) this.invalidateOthers(line, agent);
    if (line.has[agent] === 0) {
      line.has[agent] = 1;
      line.holders.push(agent);
    }
    line.owner = agent;
  }

  private invalidateOthers(line: Line, agent: number): void {
    const keep = line.has[agent] === 1;
    for (const h of line.holders) line.has[h] = 0;
    line.holders.length = 0;
    if (keep) {
      line.has[agent] = 1;
      line.holders.push(agent);
    }
    line.owner = -1;
    if (line.watchers.length === 0) return;
    const woken = line.watchers;
    line.watchers = [];
    for (const w of woken) {
      if (w.agent === agent) line.watchers.push(w);
      else w.retry();
    }
  }

  private line(addr: number): Line {
    const k = addr >> LINE_SHIFT;
    let l = this.lines.get(k);
    if (l === undefined) {
      l = new Line(this.agents);
      this.lines.set(k, l);
    }
    return l;
  }

  private stats(addr: number): LineStats {
    const k = (addr >> LINE_SHIFT) << LINE_SHIFT;
    let s = this.lineStats.get(k);
    if (s === undefined) {
      s = { transfers: 0, maxWaiters: 0 };
      this.lineStats.set(k, s);
    }
    return s;
  }

  private after(ns: number, fn: () => void): void {
    this.heap.push(this.clock.now + ns, fn);
  }
}
