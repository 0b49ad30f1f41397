// A 64-byte line handed back and forth between two threads: the calling thread and a worker take
// turns incrementing one Int32 word (storeSeqCst, the engine's store to a polled word), each spinning
// on Atomics.load until the other's write shows. One round trip moves the line twice, so half of it is the host's one-way line
// transfer as JavaScript sees it (the virtual engine's lineTransferNs). The worker is evaluated
// from the string below, so this needs no build step and no worker script of its own.
import { Worker } from 'node:worker_threads';
import { nowNs } from '../../concurrency/clock.js';
import { sharedBuffer } from '../../hardware/shared-memory.js';
import { STORE_SEQ_CST_SOURCE, storeSeqCst } from '../../concurrency/store.js';

/** Written instead of the next odd value: the worker leaves. */
const STOP = -1;

const PONG = `
const { workerData, parentPort } = require('node:worker_threads');
${STORE_SEQ_CST_SOURCE}
const w = new Int32Array(workerData.sab);
parentPort.postMessage('ready');
for (let v = 1; ; v += 2) {
  let x;
  while ((x = Atomics.load(w, 0)) !== v && x !== ${STOP}) {}
  if (x === ${STOP}) break;
  storeSeqCst(w, 0, v + 1);
}
`;

/**
 * One-way transfer per trial, ns: `trials` runs of up to `roundTrips` round trips each, a trial
 * ending early after `budgetMs` (on a loaded host a descheduled partner makes a round trip a time
 * slice; the caller keeps the quietest trial).
 */
export async function pingPongNs(roundTrips: number, trials: number, budgetMs: number): Promise<number[]> {
  const sab = sharedBuffer(64);
  const w = new Int32Array(sab);
  const worker = new Worker(PONG, { eval: true, workerData: { sab } });
  const failed = new Promise<never>((_, rej) => worker.once('error', rej));
  failed.catch(() => {});
  const exited = new Promise<void>((res) => worker.once('exit', () => res()));
  await Promise.race([new Promise((res) => worker.once('message', res)), failed]);
  let v = 0;
  const trial = (n: number): number => {
    const t0 = nowNs();
    const end = t0 + budgetMs * 1e6;
    let i = 0;
    while (i < n) {
      storeSeqCst(w, 0, ++v);
      while (Atomics.load(w, 0) !== v + 1);
      v++;
      if ((++i & 255) === 0 && nowNs() > end) break;
    }
    return (nowNs() - t0) / i / 2;
  };
  try {
    trial(roundTrips >> 2); // warm-up: both sides' loops compiled
    return Array.from({ length: trials }, () => trial(roundTrips));
  } finally {
    Atomics.store(w, 0, STOP);
    await exited;
  }
}

/**
 * A word's costs in one thread, its line already held: Atomics.load and Atomics.compareExchange per
 * operation (the virtual engine's hitNs and, beyond it, atomicNs), ns.
 */
export function localAtomicNs(ops: number): { loadNs: number; rmwNs: number } {
  const w = new Int32Array(sharedBuffer(64));
  let sink = 0;
  const t0 = nowNs();
  for (let i = 0; i < ops; i++) sink += Atomics.load(w, i & 15);
  const t1 = nowNs();
  for (let i = 0; i < ops; i++) sink += Atomics.compareExchange(w, i & 15, 0, 0);
  const t2 = nowNs();
  // Keeps the loops from being optimised away.
  if (sink === 0.5) w[0] = sink;
  return { loadNs: (t1 - t0) / ops, rmwNs: (t2 - t1) / ops };
}
