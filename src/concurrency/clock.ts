// One clock for every thread: process.hrtime(), CLOCK_MONOTONIC in nanoseconds, the same clock in
// every thread and process, so spans from different threads (and the bench's child processes) go
// on one timeline without calibration.
//
// Why process.hrtime() and not performance.now() or hrtime.bigint(): the engine reads the clock
// on its hot paths, and the other two allocate on every call (performance.now() returns its double
// from native code as a new HeapNumber, bigint() a BigInt; 2e7 calls cost ~620 and ~1,090
// scavenges here), so two spinning workers each scavenged every few tens of milliseconds, pauses
// that land inside measured unmaps. hrtime() fills a shared buffer and builds a [s, ns] pair from
// it: when the caller is optimised and only reads the two elements, escape analysis removes the
// pair (2e7 calls: 2 scavenges), and it is also the cheaper call (~41 ns against ~48 on
// kvm-clock). Seconds * 1e9 + ns is exact in a double for 104 days of uptime (to 2 ns after that).

/** Monotonic nanoseconds, comparable across threads and processes. One clock read; allocates
 *  nothing once its caller is optimised. */
export function nowNs(): number {
  const t = process.hrtime();
  return t[0] * 1e9 + t[1];
}

/** Busy-waits until nowNs() >= deadline; returns the time it observed. Used to model latencies. */
export function spinUntil(deadlineNs: number): number {
  let t = nowNs();
  while (t < deadlineNs) t = nowNs();
  return t;
}
