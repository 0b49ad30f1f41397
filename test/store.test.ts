// concurrency/store.ts: storeSeqCst, the emulator's store to a word another thread polls.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { STORE_SEQ_CST_SOURCE, storeSeqCst } from '../src/concurrency/store.js';

describe('storeSeqCst', () => {
  it('stores the value as Atomics.store would, in this thread and in the source handed to eval workers', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    storeSeqCst(i32, 3, -5);
    expect(Array.from(i32.subarray(0, 5))).toEqual([0, 0, 0, -5, 0]);
    const evaluated = new Function(`${STORE_SEQ_CST_SOURCE}; return storeSeqCst;`)() as typeof storeSeqCst;
    evaluated(i32, 4, 0x7fffffff);
    expect(i32[4]).toBe(0x7fffffff);
  });

  it('hands a word back and forth with a worker 200 times, each side seeing every store', async () => {
    const sab = new SharedArrayBuffer(64);
    const w = new Int32Array(sab);
    const N = 200; // few: under a loaded suite each hand-off may wait for a time slice
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       ${STORE_SEQ_CST_SOURCE}
       const w = new Int32Array(workerData.sab);
       for (let v = 1; v < ${2 * N}; v += 2) {
         while (Atomics.load(w, 0) !== v) {}
         storeSeqCst(w, 0, v + 1);
       }`,
      { eval: true, workerData: { sab } },
    );
    const exited = new Promise((res, rej) => {
      worker.once('exit', res);
      worker.once('error', rej);
    });
    for (let v = 1; v < 2 * N; v += 2) {
      storeSeqCst(w, 0, v);
      while (Atomics.load(w, 0) !== v + 1);
    }
    await exited;
    expect(w[0]).toBe(2 * N);
  });
});
