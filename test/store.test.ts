// concurrency/store.ts: storeSeqCst, the emulator's store to a word another thread polls.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { STORE_SEQ_CST_SOURCE, storeSeqCst } from '../src/concurrency/store.js';
import {
  elideHandOffFences,
  handOff,
  handOffPhase,
  handOffStore,
  waitForChange,
  WAITERS,
} from '../src/concurrency/wait.js';
import { nowNs } from '../src/concurrency/clock.js';

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

// concurrency/wait.ts handOff: a hand-off skips the fence and the waiter-count look only while the
// phase the thread last reported (handOffPhase) lies in the window elideHandOffFences() names;
// everywhere else it is storeAndWake.
describe('handOff (fence elision where nobody parks)', () => {
  const WORD = 16; // its waiter count at 17, as every waitable word's
  const setup = (): Int32Array => new Int32Array(new SharedArrayBuffer(128));
  const elision = { from: 1, until: 3 };

  it('without elision, stores and reports a parked waiter (the caller then notifies)', () => {
    const i32 = setup();
    elideHandOffFences(null);
    i32[WORD + WAITERS] = 1;
    expect(handOffStore(i32, WORD, 7)).toBe(true);
    expect(i32[WORD]).toBe(7);
    i32[WORD + WAITERS] = 0;
    expect(handOffStore(i32, WORD, 8)).toBe(false);
    expect(i32[WORD]).toBe(8);
  });

  it('elided only while from <= phase < until: before it (bring-up) and from the drain on, it looks for waiters', () => {
    const i32 = setup();
    i32[WORD + WAITERS] = 1; // somebody is parked (or about to be)
    try {
      elideHandOffFences(elision);
      // A new window is fenced until the thread has looked at the phase.
      expect(handOffStore(i32, WORD, 99)).toBe(true);
      const looked = [0, 1, 2, 3, 4].map((phase) => {
        handOffPhase(phase);
        const r = handOffStore(i32, WORD, 100 + phase);
        expect(i32[WORD]).toBe(100 + phase); // stored, whatever the phase
        return r;
      });
      expect(looked).toEqual([true, false, false, true, true]);
      // Elided in the window, until the run is over: a new run (a pooled worker) starts fenced.
      handOffPhase(2);
      expect(handOffStore(i32, WORD, 5)).toBe(false);
      elideHandOffFences(null);
      handOffPhase(2);
      expect(handOffStore(i32, WORD, 6)).toBe(true);
    } finally {
      elideHandOffFences(null);
    }
  });

  it("a thread's own hand-offs are fenced again once one of its waits sees the drain", () => {
    const i32 = new Int32Array(new SharedArrayBuffer(256));
    const DRAIN = 32; // the phase word the wait's policy watches
    const WAITED = 48; // a word nobody changes: the wait ends at its deadline
    i32[WORD + WAITERS] = 1;
    try {
      elideHandOffFences(elision);
      handOffPhase(2);
      expect(handOffStore(i32, WORD, 1)).toBe(false);
      i32[DRAIN] = 3; // the run drains while this thread is still in its window
      const policy = { park: false, spinNs: Infinity, drainIdx: DRAIN, drainAt: 3 };
      waitForChange(i32, WAITED, 0, policy, nowNs() + 1e6);
      expect(handOffStore(i32, WORD, 2)).toBe(true);
    } finally {
      elideHandOffFences(null);
    }
  });

  it('handOff wakes a parked waiter in a phase that is not elided, and the waiter sees the value', async () => {
    const i32 = setup();
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const i32 = new Int32Array(workerData.sab);
       Atomics.add(i32, ${WORD + WAITERS}, 1);
       parentPort.postMessage('parking');
       const r = Atomics.wait(i32, ${WORD}, 0, 4000);
       parentPort.postMessage(r + ' ' + Atomics.load(i32, ${WORD}));`,
      { eval: true, workerData: { sab: i32.buffer } },
    );
    const woke = new Promise<string>((res) =>
      worker.on('message', (m: string) => {
        if (m !== 'parking') res(m);
      }),
    );
    await new Promise<void>((res) => worker.once('message', () => res()));
    try {
      elideHandOffFences(elision);
      handOffPhase(3); // draining
      // Parked: notified ('ok'); not parked yet: Atomics.wait sees the value ('not-equal'). Missing
      // the wake would leave it 'timed-out'.
      handOff(i32, WORD, 5);
    } finally {
      elideHandOffFences(null);
    }
    const r = await woke;
    await worker.terminate();
    expect(r === 'ok 5' || r === 'not-equal 5').toBe(true);
  });
});
