// Worker for test/locks.test.ts: one emulated CPU hammering a lock from the compiled build.
// mode 'hammer': `iters` times acquire / non-atomic read-modify-write of a shared counter /
//   release, with the holder instrumentation the orchestrator uses; reports violations.
// mode 'fifo': one acquisition, reporting when it has taken its place in line and the order in
//   which it got the lock.
// lock 'none' runs the hammer without a lock: the control that shows the harness sees races.
import { workerData } from 'node:worker_threads';
import { getLockAlgorithm } from '../../dist/src/concurrency/locks/index.js';
import { PARK_AT_ONCE, waitForChange } from '../../dist/src/concurrency/wait.js';

// C: control word offsets (relative to ctl), declared in the test next to their meaning.
const { sab, lockName, policy, lockOff, cpus, cpu, iters, ctl, C, mode } = workerData;
const i32 = new Int32Array(sab);
const lock = lockName === 'none' ? null : getLockAlgorithm(lockName).create(i32, lockOff, cpus, policy);

if (mode === 'fifo') {
  const fast = lock.acquireFast(cpu);
  Atomics.store(i32, ctl + C.QUEUED + cpu, fast ? 2 : 1);
  if (!fast) lock.acquireSlow(cpu);
  const k = Atomics.add(i32, ctl + C.ORDER_N, 1);
  Atomics.store(i32, ctl + C.ORDER + k, cpu);
  lock.release(cpu);
} else {
  // Start together, parked (waiting workers must not steal the cores the others need to start).
  Atomics.add(i32, ctl + C.READY, 1);
  while (Atomics.load(i32, ctl + C.START) === 0) waitForChange(i32, ctl + C.START, 0, PARK_AT_ONCE);

  const h = lock ? lock.holderIdx : ctl + C.NOLOCK_HOLDER;
  const counter = ctl + C.COUNTER;
  const me = cpu + 1;
  let violations = 0;
  for (let n = 0; n < iters; n++) {
    if (lock && !lock.acquireFast(cpu)) lock.acquireSlow(cpu);
    if (i32[h] !== 0) violations++;
    i32[h] = me;
    i32[h + 1] = me;
    // Non-atomic read-modify-write with some dependent work in between, so a second thread
    // inside the critical section would lose an update.
    const v = i32[counter];
    let x = v;
    for (let k = 0; k < 8; k++) x = ((x * 33) ^ (x >>> 7)) + k;
    i32[ctl + C.SCRATCH] = x;
    i32[counter] = v + 1;
    if (i32[h] !== me) violations++;
    i32[h] = 0;
    if (lock) lock.release(cpu);
  }
  Atomics.add(i32, ctl + C.VIOLATIONS, violations);
}
