// Worker threads for the bench's machine measurements (bench/run-bench.ts starts them):
//   calibrate  iterations of busy() that take ~100 ns, as the critical section calls it
//   lock       one of two threads taking a JS lock (src/concurrency/locks) around that critical section
//   ping/pong  the two ends of a bare Atomics ping-pong
//   handoff-cpu/handoff-smmu  the two ends of a command hand-off: 16-byte commands through a ring
//              with PROD/CONS words and an (uncontended) cmdq lock, without the emulator
// The C counterparts of all four are in bench/locks.c; the critical section is the same there.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { LOCKS } from '../../src/concurrency/locks/index.js';
import type { LockName } from '../../src/concurrency/lock.js';
import { SPIN } from '../../src/concurrency/wait.js';

/** Int32 indexes into the shared buffer; the lock itself lives at byte 0 (up to LOCK_BYTES). */
export const LOCK_BYTES = 1024;
export const W = {
  COUNTER: 256, // protected data: a counter and the last owner, on their own line
  OWNER: 257,
  START: 272,
  STOP: 288,
  COUNTS: 304, // + 16 * thread: acquisitions, hand-offs (each thread's own line)
  BALL: 352, // ping-pong word, on its own line
  // Command hand-off: each word on its own line, then the ring (byte 1728, 64-byte aligned).
  H_LOCK: 368, // test-and-test-and-set cmdq lock: 0 free, 1 held
  H_PROD: 384,
  H_CONS: 400,
  H_STOP: 416, // set by handoff-cpu after its last command; handoff-smmu drains and returns
  RING: 432, // HANDOFF.ENTRIES entries x HANDOFF.WORDS words
} as const;
/** The hand-off ring and its commands (the same constants as HANDOFF_* in bench/locks.c). */
export const HANDOFF = {
  ENTRIES: 256, // a power of two
  WORDS: 4, // 16 bytes per command: word 0 is its index, words 1..3 the constants below
  BATCH: 32, // the SMMU publishes CONS at least every BATCH commands
  W1: 0x12,
  W2: 0x1000,
  W3: 0x20,
} as const;
export const SAB_BYTES = (W.RING + HANDOFF.ENTRIES * HANDOFF.WORDS) * 4;

export type WorkerJob =
  | { kind: 'calibrate'; targetNs: number }
  | { kind: 'lock'; sab: SharedArrayBuffer; lock: LockName; threads: number; me: number; iters: number }
  | PingJob
  | HandoffCpuJob
  | { kind: 'handoff-smmu'; sab: SharedArrayBuffer };
export interface PingJob {
  kind: 'ping' | 'pong';
  sab: SharedArrayBuffer;
  roundTrips: number;
  warmup: number;
}
export interface HandoffCpuJob {
  kind: 'handoff-cpu';
  sab: SharedArrayBuffer;
  commands: number;
  /** Commands issued before the timing starts. */
  warmup: number;
  /** sync: after each command, wait until CONS reaches its PROD (a CMD_SYNC polled for). */
  mode: 'stream' | 'sync';
}
/** What handoff-smmu posts: commands consumed, the (int32) sum of all their words, CONS stores. */
export interface HandoffSmmuResult {
  consumed: number;
  sink: number;
  publishes: number;
}

/** The sink handoff-smmu must report after consuming commands 0..n-1 once each (int32). */
export function handoffSink(n: number): number {
  let s = Math.imul(n, HANDOFF.W1 + HANDOFF.W2 + HANDOFF.W3);
  for (let i = 0; i < n; i++) s = (s + i) | 0;
  return s;
}

/** The critical section's work: n dependent multiply-adds (the C version is the same chain). */
export function busy(n: number, x: number): number {
  for (let i = 0; i < n; i++) x = (Math.imul(x, 31) + i) | 0;
  return x;
}

let sink = 0;

/** Mean ns of one busy(iters) call, called back to back: the best of 25 samples of about 2 ms. */
function callNs(iters: number): number {
  const calls = Math.floor(2_000_000 / (iters + 10));
  let best = Infinity;
  let x = 1;
  for (let r = 0; r < 25; r++) {
    const t0 = performance.now();
    for (let c = 0; c < calls; c++) x = busy(iters, x);
    const per = ((performance.now() - t0) * 1e6) / calls;
    if (per < best) best = per;
  }
  sink ^= x;
  return best;
}

function calibrate(targetNs: number): { nsPerIter: number; iters: number; csNs: number } {
  // Let the JIT optimize busy() before timing it.
  let x = 0;
  const until = performance.now() + 50;
  while (performance.now() < until) x = busy(1000, x);
  sink ^= x;
  const nsPerIter = callNs(1000) / 1000;
  const iters = Math.max(1, Math.round(targetNs / nsPerIter));
  return { nsPerIter, iters, csNs: callNs(iters) };
}

function lockLoop(job: Extract<WorkerJob, { kind: 'lock' }>): void {
  const i32 = new Int32Array(job.sab);
  const lock = LOCKS[job.lock].create(i32, 0, job.threads, SPIN);
  const me = job.me;
  const mine = W.COUNTS + 16 * me;
  const iters = job.iters;
  while (Atomics.load(i32, W.START) === 0) Atomics.wait(i32, W.START, 0, 10);
  let n = 0;
  let h = 0;
  let x = me;
  while (Atomics.load(i32, W.STOP) === 0) {
    if (!lock.acquireFast(me)) lock.acquireSlow(me);
    i32[W.COUNTER] = i32[W.COUNTER] + 1;
    if (i32[W.OWNER] !== me + 1) {
      i32[W.OWNER] = me + 1;
      h++;
    }
    x = busy(iters, x);
    lock.release(me);
    n++;
    // Plain stores to this thread's own line: the main thread samples them twice per window.
    i32[mine] = n;
    i32[mine + 1] = h;
  }
  sink ^= x;
  Atomics.store(i32, mine, n);
  Atomics.store(i32, mine + 1, h);
}

/** The ping side: stores 2i+1, waits for 2i+2. Returns ns per round trip after the warm-up ones. */
function ping(job: PingJob): number {
  const i32 = new Int32Array(job.sab);
  const b = W.BALL;
  let t0 = 0;
  for (let i = 0; i < job.roundTrips; i++) {
    if (i === job.warmup) t0 = performance.now();
    const v = 2 * i + 1;
    Atomics.store(i32, b, v);
    while (Atomics.load(i32, b) !== v + 1);
  }
  return ((performance.now() - t0) * 1e6) / (job.roundTrips - job.warmup);
}

function pong(job: PingJob): void {
  const i32 = new Int32Array(job.sab);
  const b = W.BALL;
  for (let i = 0; i < job.roundTrips; i++) {
    const v = 2 * i + 1;
    while (Atomics.load(i32, b) !== v);
    Atomics.store(i32, b, v + 1);
  }
}

/**
 * The CPU side of the hand-off, per command: take the cmdq lock, wait while the ring is full, write
 * the entry with plain stores, publish PROD, release the lock, and in sync mode wait for CONS to
 * reach PROD. Sets H_STOP when done. Returns ns per command after the warm-up ones.
 */
function handoffCpu(job: HandoffCpuJob): number {
  const i32 = new Int32Array(job.sab);
  const sync = job.mode === 'sync';
  const mask = HANDOFF.ENTRIES - 1;
  let prod = 0;
  let t0 = 0;
  for (let i = 0; i < job.commands; i++) {
    if (i === job.warmup) t0 = performance.now();
    for (;;) {
      while (Atomics.load(i32, W.H_LOCK) !== 0);
      if (Atomics.compareExchange(i32, W.H_LOCK, 0, 1) === 0) break;
    }
    while (((prod - Atomics.load(i32, W.H_CONS)) | 0) >= HANDOFF.ENTRIES);
    const e = W.RING + (prod & mask) * HANDOFF.WORDS;
    i32[e] = i;
    i32[e + 1] = HANDOFF.W1;
    i32[e + 2] = HANDOFF.W2;
    i32[e + 3] = HANDOFF.W3;
    prod = (prod + 1) | 0;
    Atomics.store(i32, W.H_PROD, prod);
    Atomics.store(i32, W.H_LOCK, 0);
    if (sync) while (Atomics.load(i32, W.H_CONS) !== prod);
  }
  const ns = ((performance.now() - t0) * 1e6) / (job.commands - job.warmup);
  Atomics.store(i32, W.H_STOP, 1);
  return ns;
}

/**
 * The SMMU side: re-reads PROD only when it has caught up with the one it saw, reads each pending
 * entry and publishes CONS when caught up again or every HANDOFF.BATCH commands. Returns once
 * H_STOP is set and the ring is drained.
 */
function handoffSmmu(sab: SharedArrayBuffer): HandoffSmmuResult {
  const i32 = new Int32Array(sab);
  const mask = HANDOFF.ENTRIES - 1;
  let cons = 0;
  let seen = 0;
  let published = 0;
  let publishes = 0;
  let s = 0;
  for (;;) {
    if (cons === seen) {
      // H_STOP is read before PROD: a stop seen here means the CPU's last PROD is seen too.
      for (;;) {
        const stopping = Atomics.load(i32, W.H_STOP);
        seen = Atomics.load(i32, W.H_PROD);
        if (seen !== cons || stopping !== 0) break;
      }
      if (seen === cons) break;
    }
    const e = W.RING + (cons & mask) * HANDOFF.WORDS;
    s = (s + i32[e] + i32[e + 1] + i32[e + 2] + i32[e + 3]) | 0;
    cons = (cons + 1) | 0;
    if (cons === seen || ((cons - published) | 0) >= HANDOFF.BATCH) {
      Atomics.store(i32, W.H_CONS, cons);
      published = cons;
      publishes++;
    }
  }
  return { consumed: cons, sink: s, publishes };
}

if (parentPort) {
  const job = workerData as WorkerJob;
  switch (job.kind) {
    case 'calibrate':
      parentPort.postMessage(calibrate(job.targetNs));
      break;
    case 'lock':
      lockLoop(job);
      parentPort.postMessage({ done: true, sink });
      break;
    case 'ping':
      parentPort.postMessage({ rtNs: ping(job) });
      break;
    case 'pong':
      pong(job);
      parentPort.postMessage({ done: true });
      break;
    case 'handoff-cpu':
      parentPort.postMessage({ nsPerCmd: handoffCpu(job) });
      break;
    case 'handoff-smmu':
      parentPort.postMessage(handoffSmmu(job.sab));
      break;
  }
}
