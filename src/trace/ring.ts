// Per-thread trace rings in shared memory: bounded, so tracing cannot eat the machine. Each thread
// (every CPU, and the SMMU) owns one ring and is its only writer; the orchestrator reads them all
// after the run and keeps the last --trace-window of events. An event is four float64 slots:
// kind, start (nowNs, the clock every thread shares), duration (ns), argument. Writing one is four
// plain stores and an increment: no allocation, no atomics, no clock read of its own (callers
// pass the times they already measured).
//
// Ring format (float64 slots): [0] events written so far (monotonic), then capacity x 4 slots.
import { alignUp, checkRegion, LINE, type RegionDecl } from '../hardware/region.js';

export const enum Ev {
  LOCK_WAIT = 1, // arg: lock class
  LOCK_HOLD = 2, // arg: lock class
  SYNC_WAIT = 3, // arg: the CMD_SYNC's queue index or sequence number
  UNMAP = 4, // arg: pages
  SMMU_CMD = 5, // arg: opcode
  QUEUE_DEPTH = 6, // counter sample: arg = queueDepthArg(queue, entries between CONS and PROD)
}

/** QUEUE_DEPTH's argument: the queue (0: the command queue, 1 + n: ECMDQ n) above the depth. */
const DEPTH_RADIX = 2 ** 20; // a queue holds at most 2^19 entries (Q_MAX_SHIFT)
export const queueDepthArg = (queue: number, depth: number): number => queue * DEPTH_RADIX + depth;
export const depthQueueOf = (arg: number): number => Math.floor(arg / DEPTH_RADIX);
export const depthOf = (arg: number): number => arg % DEPTH_RADIX;

export const EVENT_SLOTS = 4;
const HEADER_SLOTS = 8; // one 64-byte line

/** Bytes one ring of `capacity` events needs (a multiple of 64). */
export function ringBytes(capacity: number): number {
  return alignUp((HEADER_SLOTS + capacity * EVENT_SLOTS) * 8);
}

export class TraceRing {
  private readonly data: number;
  private readonly mask: number;
  private n = 0;

  /** `byteOffset` 64-byte aligned; `capacity` a power of two. */
  constructor(
    private readonly f64: Float64Array,
    private readonly byteOffset: number,
    capacity: number,
  ) {
    checkRegion(f64.buffer, TRACE_REGION, byteOffset, ringBytes(capacity));
    this.data = (byteOffset >> 3) + HEADER_SLOTS;
    this.mask = capacity - 1;
  }

  record(kind: Ev, startNs: number, durNs: number, arg: number): void {
    const f = this.f64;
    const o = this.data + (this.n & this.mask) * EVENT_SLOTS;
    f[o] = kind;
    f[o + 1] = startNs;
    f[o + 2] = durNs;
    f[o + 3] = arg;
    this.n++;
    f[this.byteOffset >> 3] = this.n;
  }
}

export interface TraceEvent {
  kind: Ev;
  startNs: number;
  durNs: number;
  arg: number;
}

/** The events still in a ring, oldest first (orchestrator side, after the writer stopped). */
export function readRing(f64: Float64Array, byteOffset: number, capacity: number): TraceEvent[] {
  const written = f64[byteOffset >> 3];
  const first = Math.max(0, written - capacity);
  const data = (byteOffset >> 3) + HEADER_SLOTS;
  const out: TraceEvent[] = [];
  for (let i = first; i < written; i++) {
    const o = data + (i & (capacity - 1)) * EVENT_SLOTS;
    out.push({ kind: f64[o], startNs: f64[o + 1], durNs: f64[o + 2], arg: f64[o + 3] });
  }
  return out;
}

/** All rings together may take at most this much memory. */
const TRACE_BUDGET_BYTES = 256 * 1024 * 1024;
const MAX_EVENTS_PER_THREAD = 1 << 18;

/** Events per ring for `threads` rings: a power of two within the memory budget. */
export function traceCapacity(threads: number): number {
  const fit = Math.floor(TRACE_BUDGET_BYTES / (threads * EVENT_SLOTS * 8));
  return Math.min(MAX_EVENTS_PER_THREAD, 2 ** Math.floor(Math.log2(Math.max(1024, fit))));
}

/** The "trace" layout region: one ring per CPU, then the SMMU's. */
export const TRACE_REGION = 'trace';

/** One ring per CPU, then the SMMU's. */
export const TRACE_DECL: RegionDecl<{ readonly cpus: number }> = {
  name: TRACE_REGION,
  bytes: (g) => (g.cpus + 1) * ringBytes(traceCapacity(g.cpus + 1)),
  align: LINE,
};

export function traceRingOff(regionOff: number, thread: number, capacity: number): number {
  return regionOff + thread * ringBytes(capacity);
}
