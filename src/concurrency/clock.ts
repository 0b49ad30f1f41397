// One clock for every thread. performance.now() is the cheapest high-resolution clock in Node
// (no BigInt allocation) but each worker has its own timeOrigin; process.hrtime is the same
// monotonic clock in every thread of the process. We calibrate once per thread so that
// nowNs() = performance.now() in ns + offset gives CLOCK_MONOTONIC nanoseconds everywhere,
// which lets spans from different threads be placed on one timeline.
import { performance } from 'node:perf_hooks';

function calibrate(): number {
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 16; i++) {
    const a = performance.now();
    const h = Number(process.hrtime.bigint());
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      offset = h - ((a + b) / 2) * 1e6;
    }
  }
  return offset;
}

const OFFSET_NS = calibrate();

/** Monotonic nanoseconds, comparable across threads of this process. Costs one performance.now(). */
export function nowNs(): number {
  return performance.now() * 1e6 + OFFSET_NS;
}

/** Busy-waits until nowNs() >= deadline; returns the time it observed. Used to model latencies. */
export function spinUntil(deadlineNs: number): number {
  let t = nowNs();
  while (t < deadlineNs) t = nowNs();
  return t;
}
