// Worker threads for the bench's machine measurements (bench/run-bench.ts starts them):
//   calibrate  iterations of busy() that take ~100 ns, as the critical section calls it
//   lock       one of two threads taking a JS lock (src/sync/locks) around that critical section
//   ping/pong  the two ends of a bare Atomics ping-pong
// The C counterparts of all three are in bench/locks.c; the critical section is the same there.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { LOCKS } from '../../src/sync/locks/index.js';
import type { LockName } from '../../src/sync/lock.js';
import { SPIN } from '../../src/sync/wait.js';

/** Int32 indexes into the shared buffer; the lock itself lives at byte 0 (up to LOCK_BYTES). */
export const LOCK_BYTES = 1024;
export const W = {
  COUNTER: 256, // protected data: a counter and the last owner, on their own line
  OWNER: 257,
  START: 272,
  STOP: 288,
  COUNTS: 304, // + 16 * thread: acquisitions, hand-offs (each thread's own line)
  BALL: 352, // ping-pong word, on its own line
} as const;
export const SAB_BYTES = (W.BALL + 16) * 4;

export type WorkerJob =
  | { kind: 'calibrate'; targetNs: number }
  | { kind: 'lock'; sab: SharedArrayBuffer; lock: LockName; threads: number; me: number; iters: number }
  | PingJob;
export interface PingJob {
  kind: 'ping' | 'pong';
  sab: SharedArrayBuffer;
  roundTrips: number;
  warmup: number;
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
  }
}
