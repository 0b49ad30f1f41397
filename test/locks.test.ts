// Lock algorithms (src/concurrency/locks): single-thread contract checks, then mutual exclusion under
// real contention (8 worker threads on whatever cores the host has) and FIFO order of the queue
// locks. The threaded tests run test/workers/lock-hammer.mjs against the build in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOCK_NAMES, type LockName } from '../src/concurrency/lock.js';
import { LOCKS, getLockAlgorithm } from '../src/concurrency/locks/index.js';
import { SPIN, type WaitPolicy } from '../src/concurrency/wait.js';

const PARK: WaitPolicy = { park: true, spinNs: 2000, drainIdx: -1, drainAt: 0 };
const POLICIES: Record<string, WaitPolicy> = { spin: SPIN, park: PARK };

/** The policies each lock is tested under: spin-park always parks, so SPIN would test nothing new. */
function policiesOf(name: LockName): string[] {
  return name === 'spin-park' ? ['park'] : ['spin', 'park'];
}

const THREADS = 8;
/**
 * Iterations per thread, sized so the file runs in well under 40 s on a 2-core host. The FIFO
 * locks hand the lock to one specific thread; with 8 threads on 2 cores that thread is often
 * descheduled, so under SPIN they manage only about 100-350 acquisitions/s (everyone spins out
 * its time slice), and with parking every hand-off is a futex wake-up.
 */
function itersOf(name: LockName, policy: string): number {
  if (name === 'ticket' || name === 'mcs') return policy === 'spin' ? 100 : 4000;
  return 20_000;
}

/** Control words of the hammer (int32 index relative to ctl); each group on its own line. */
const C = {
  START: 0, // 0 until the test starts the hammer; waiters at +1
  READY: 16, // workers waiting at the start line
  COUNTER: 32, // the plain counter the critical section increments
  SCRATCH: 33, // the critical section's busy work goes here, so it isn't optimised away
  VIOLATIONS: 48, // holder word found non-zero on entry, or changed under the holder
  NOLOCK_HOLDER: 49, // stands in for holderIdx when the lock is 'none'
  ORDER_N: 64, // fifo: acquisitions so far
  ORDER: 65, // fifo: cpu of the k-th acquisition at ORDER + k
  QUEUED: 80, // fifo: QUEUED + cpu is 1 once that cpu's acquireFast returned false, 2 if true
  WORDS: 96,
} as const;

const HAMMER = new URL('./workers/lock-hammer.mjs', import.meta.url);
const DIST_LOCKS = fileURLToPath(new URL('../dist/src/concurrency/locks/index.js', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

function exited(w: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
  });
}

interface Shared {
  sab: SharedArrayBuffer;
  i32: Int32Array;
  lockOff: number;
  ctl: number;
}

/** A buffer with the lock at byte offset 64 (not 0, to catch layouts that ignore byteOffset). */
function shared(lockBytes: number): Shared {
  const lockOff = 64;
  const sab = new SharedArrayBuffer(lockOff + lockBytes + C.WORDS * 4);
  return { sab, i32: new Int32Array(sab), lockOff, ctl: (lockOff + lockBytes) >> 2 };
}

beforeAll(() => {
  if (!existsSync(DIST_LOCKS)) throw new Error(`${DIST_LOCKS} is missing: run \`npm run build\` first`);
});

describe('lock registry', () => {
  it('has every LOCK_NAME and nothing else', () => {
    expect(Object.keys(LOCKS).sort()).toEqual([...LOCK_NAMES].sort());
    for (const name of LOCK_NAMES) expect(getLockAlgorithm(name).name).toBe(name);
  });

  it('rejects unknown names, listing the allowed ones', () => {
    expect(() => getLockAlgorithm('qspinlock')).toThrow(/tas, ttas, ticket, mcs, spin-park/);
    expect(() => getLockAlgorithm('toString')).toThrow(/unknown lock/);
  });
});

describe.each(LOCK_NAMES)('%s (one thread)', (name) => {
  const alg = LOCKS[name];

  it('needs whole 64-byte lines', () => {
    for (const cpus of [1, 2, 3, 8, 64]) {
      const b = alg.bytes(cpus);
      expect(b % 64).toBe(0);
      expect(b).toBeGreaterThanOrEqual(64);
    }
  });

  it.each(Object.keys(POLICIES))('fast path takes a free lock, fails on a held one (%s)', (pol) => {
    const cpus = 2;
    const bytes = alg.bytes(cpus);
    // Guard lines around the lock catch writes outside its region.
    const sab = new SharedArrayBuffer(64 + bytes + 64);
    const i32 = new Int32Array(sab);
    const GUARD = 0x5a5a5a5a;
    i32.fill(GUARD, 0, 16);
    i32.fill(GUARD, (64 + bytes) >> 2);
    // Two views as two threads would build them; one thread can drive both since every step
    // below completes without waiting.
    const a = alg.create(i32, 64, cpus, POLICIES[pol]);
    const b = alg.create(i32, 64, cpus, POLICIES[pol]);
    const h = a.holderIdx;
    expect(b.holderIdx).toBe(h);
    expect(h).toBeGreaterThanOrEqual(16);
    expect(h + 1).toBeLessThan(32); // both instrumentation words on the lock's first line
    i32[h] = 1234567;
    i32[h + 1] = 7654321;

    expect(a.acquireFast(0)).toBe(true);
    expect(b.acquireFast(1)).toBe(false); // queue locks: now in line behind cpu 0
    a.release(0);
    b.acquireSlow(1); // handed over (queue locks) or free: returns without waiting
    b.release(1);
    expect(a.acquireFast(0)).toBe(true);
    a.release(0);
    expect(b.acquireFast(1)).toBe(true);
    b.release(1);

    expect(i32[h]).toBe(1234567);
    expect(i32[h + 1]).toBe(7654321);
    expect(Array.from(i32.subarray(0, 16)).every((v) => v === GUARD)).toBe(true);
    expect(Array.from(i32.subarray((64 + bytes) >> 2)).every((v) => v === GUARD)).toBe(true);
  });

  it('works for cpu 0 alone, before any workers exist', () => {
    for (const cpus of [1, 8]) {
      const i32 = new Int32Array(new SharedArrayBuffer(alg.bytes(cpus)));
      const lock = alg.create(i32, 0, cpus, SPIN);
      for (let n = 0; n < 1000; n++) {
        expect(lock.acquireFast(0)).toBe(true);
        lock.release(0);
      }
    }
  });
});

describe('mcs', () => {
  it('rejects a cpu it has no node for', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(LOCKS.mcs.bytes(2)));
    const lock = LOCKS.mcs.create(i32, 0, 2, SPIN);
    expect(() => lock.acquireFast(2)).toThrow(RangeError);
    expect(() => lock.acquireFast(-1)).toThrow(RangeError);
  });
});

async function hammer(lockName: LockName | 'none', policy: WaitPolicy, iters: number) {
  const { sab, i32, lockOff, ctl } = shared(lockName === 'none' ? 64 : LOCKS[lockName].bytes(THREADS));
  const workers: Worker[] = [];
  try {
    for (let cpu = 0; cpu < THREADS; cpu++) {
      const workerData = {
        sab,
        lockName,
        policy,
        lockOff,
        cpus: THREADS,
        cpu,
        iters,
        ctl,
        C,
        mode: 'hammer',
      };
      workers.push(new Worker(HAMMER, { workerData }));
    }
    const done = Promise.all(workers.map(exited));
    await until(() => Atomics.load(i32, ctl + C.READY) === THREADS, 'workers to start');
    Atomics.store(i32, ctl + C.START, 1);
    Atomics.notify(i32, ctl + C.START);
    await done;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return { i32, lockOff, counter: i32[ctl + C.COUNTER], violations: i32[ctl + C.VIOLATIONS] };
}

describe('mutual exclusion, 8 threads', () => {
  it('the harness sees lost updates without a lock', async () => {
    // Enough iterations that, even if the threads share one core, many preemptions land inside
    // the critical section.
    const iters = 200_000;
    const r = await hammer('none', PARK, iters);
    expect(r.counter < THREADS * iters || r.violations > 0).toBe(true);
  });

  const cases = LOCK_NAMES.flatMap((name) => policiesOf(name).map((pol) => [name, pol] as const));
  it.each(cases)('%s, %s', async (name, pol) => {
    const iters = itersOf(name, pol);
    const { i32, lockOff, counter, violations } = await hammer(name, POLICIES[pol], iters);
    expect(violations).toBe(0);
    expect(counter).toBe(THREADS * iters);
    const lock = LOCKS[name].create(i32, lockOff, THREADS, POLICIES[pol]);
    expect(i32[lock.holderIdx]).toBe(0);
    expect(i32[lock.holderIdx + 1]).toBeGreaterThanOrEqual(1);
    expect(i32[lock.holderIdx + 1]).toBeLessThanOrEqual(THREADS);
    // Left free: this thread, as cpu 0, takes it without waiting.
    expect(lock.acquireFast(0)).toBe(true);
    lock.release(0);
  });
});

describe.each(['ticket', 'mcs'] as const)('%s is FIFO', (name) => {
  it.each(Object.keys(POLICIES))('3 waiters get it in the order they queued (%s)', async (pol) => {
    const cpus = 4;
    const { sab, i32, lockOff, ctl } = shared(LOCKS[name].bytes(cpus));
    const policy = POLICIES[pol];
    const holder = LOCKS[name].create(i32, lockOff, cpus, policy);
    expect(holder.acquireFast(0)).toBe(true);
    const workers: Worker[] = [];
    try {
      const done: Promise<void>[] = [];
      // Start the waiters one at a time, each once the previous one has taken its place in line.
      for (const cpu of [1, 2, 3]) {
        const workerData = {
          sab,
          lockName: name,
          policy,
          lockOff,
          cpus,
          cpu,
          iters: 1,
          ctl,
          C,
          mode: 'fifo',
        };
        const w = new Worker(HAMMER, { workerData });
        workers.push(w);
        done.push(exited(w));
        await until(() => Atomics.load(i32, ctl + C.QUEUED + cpu) !== 0, `cpu ${cpu} to queue`);
        expect(Atomics.load(i32, ctl + C.QUEUED + cpu)).toBe(1);
      }
      expect(Atomics.load(i32, ctl + C.ORDER_N)).toBe(0);
      holder.release(0);
      await Promise.all(done);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    expect(Array.from(i32.subarray(ctl + C.ORDER, ctl + C.ORDER + 3))).toEqual([1, 2, 3]);
  });
});

describe('waits once the run drains', () => {
  const DIST_WAIT = fileURLToPath(new URL('../dist/src/concurrency/wait.js', import.meta.url));
  // A worker spins on word 0 under SPIN-with-drain (drain word 16, drainAt 3), then reports.
  const spinner = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.wait).then(({ waitForChange }) => {
      const i32 = new Int32Array(workerData.sab);
      const policy = { park: false, spinNs: Infinity, drainIdx: 16, drainAt: 3 };
      Atomics.store(i32, 8, 1); // about to wait
      parentPort.postMessage(waitForChange(i32, 0, 0, policy));
    });`;

  it('a spinning wait keeps spinning before the drain and parks (waiter count 1) after it', async () => {
    const sab = new SharedArrayBuffer(128);
    const i32 = new Int32Array(sab);
    const w = new Worker(spinner, { eval: true, workerData: { sab, wait: DIST_WAIT } });
    const got = new Promise<number>((resolve) => w.once('message', resolve));
    await until(() => Atomics.load(i32, 8) === 1, 'the spinner to start waiting', 10_000);
    await sleep(150);
    expect(Atomics.load(i32, 1)).toBe(0); // spinning: never registered as a parker
    Atomics.store(i32, 16, 3); // the run stops
    await until(() => Atomics.load(i32, 1) === 1, 'the spinner to park', 5_000);
    Atomics.store(i32, 0, 7);
    Atomics.notify(i32, 0);
    expect(await got).toBe(7);
    expect(Atomics.load(i32, 1)).toBe(0);
    await exited(w);
  });
});
