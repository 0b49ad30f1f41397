// Lock throughput on an oversubscribed host: for each lock algorithm and wait policy, worker
// threads acquire / increment a plain counter / release for a fixed window, and we report
// acquisitions per second with 1, 2 and 8 threads, the CPU the process burnt doing it, and the
// share of the slowest of 8 threads (fairness).
// On a 2-core host, 2 threads fit and 8 do not: the gap between those columns is what
// descheduled holders and waiters cost each algorithm.
//
//   npm run build && node bench/lock-oversub.mjs [--ms=1000] [--runs=3]
//
// The file is its own worker (isMainThread tells the two apart). Prints a markdown table.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { LOCKS } from '../dist/src/concurrency/locks/index.js';
import { SPIN, waitForChange } from '../dist/src/concurrency/wait.js';

const POLICIES = { spin: SPIN, park: { park: true, spinNs: 2000 } };
const THREAD_COUNTS = [1, 2, 8];
const WARMUP_MS = 200;
/** A sample during which other processes kept more than this many cores busy is retried. */
const MAX_OTHERS = 0.15;
const MAX_ATTEMPTS = 4;

/** Control words (int32 index relative to ctl); each group on its own line. */
const C = { START: 0, STOP: 16, COUNTER: 32, COUNTS: 48 }; // COUNTS + 16 * cpu: that cpu's acquisitions

function work({ sab, lockName, policy, cpus, cpu, ctl }) {
  const i32 = new Int32Array(sab);
  const lock = LOCKS[lockName].create(i32, 0, cpus, policy);
  const mine = ctl + C.COUNTS + 16 * cpu;
  const counter = ctl + C.COUNTER;
  while (Atomics.load(i32, ctl + C.START) === 0)
    waitForChange(i32, ctl + C.START, 0, { park: true, spinNs: 0 });
  let n = 0;
  while (Atomics.load(i32, ctl + C.STOP) === 0) {
    if (!lock.acquireFast(cpu)) lock.acquireSlow(cpu);
    i32[counter] = i32[counter] + 1; // the critical section: a plain read-modify-write
    lock.release(cpu);
    Atomics.store(i32, mine, ++n); // own line: lets the main thread sample without stopping us
  }
}

/** Busy CPU seconds of the whole machine so far (Linux /proc/stat), or NaN elsewhere. */
function machineBusySeconds() {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Runs one configuration; returns acquisitions/s over the window and per-thread counts. */
async function run(lockName, policy, threads, windowMs) {
  const lockBytes = LOCKS[lockName].bytes(threads);
  const sab = new SharedArrayBuffer(lockBytes + (C.COUNTS + 16 * threads) * 4);
  const i32 = new Int32Array(sab);
  const ctl = lockBytes >> 2;
  const counts = () => Array.from({ length: threads }, (_, c) => Atomics.load(i32, ctl + C.COUNTS + 16 * c));
  const workers = [];
  for (let cpu = 0; cpu < threads; cpu++) {
    const data = { sab, lockName, policy, cpus: threads, cpu, ctl };
    workers.push(new Worker(new URL(import.meta.url), { workerData: data }));
  }
  const exited = workers.map(
    (w) => new Promise((resolve, reject) => w.once('exit', resolve).once('error', reject)),
  );
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
  Atomics.store(i32, ctl + C.START, 1);
  Atomics.notify(i32, ctl + C.START);
  await sleep(WARMUP_MS);
  const c0 = counts();
  const u0 = process.cpuUsage();
  const m0 = machineBusySeconds();
  const t0 = performance.now();
  await sleep(windowMs);
  const c1 = counts();
  const u1 = process.cpuUsage(u0);
  const m1 = machineBusySeconds();
  const t1 = performance.now();
  Atomics.store(i32, ctl + C.STOP, 1);
  await Promise.all(exited);
  // Every acquisition incremented the plain counter once: a lost update means a broken lock.
  const all = counts().reduce((a, b) => a + b, 0);
  if (i32[ctl + C.COUNTER] !== all) throw new Error(`${lockName}: counter ${i32[ctl + C.COUNTER]} != ${all}`);
  const per = c1.map((v, c) => v - c0[c]);
  const total = per.reduce((a, b) => a + b, 0);
  // CPU time the process used per wall second: 2 spinning threads on 2 cores should show 2.0.
  const cores = (u1.user + u1.system) / 1000 / (t1 - t0);
  // Cores other processes kept busy meanwhile (on a shared machine): such a sample measures them too.
  const others = Math.max(0, ((m1 - m0) * 1000) / (t1 - t0) - cores) || 0;
  return { rate: (total / (t1 - t0)) * 1000, per, total, cores, others };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1];
}

async function main() {
  const opt = (name, dflt) => {
    const a = process.argv.find((x) => x.startsWith(`--${name}=`));
    return a ? Number(a.slice(name.length + 3)) : dflt;
  };
  const windowMs = opt('ms', 1000);
  const runs = opt('runs', 3);
  const configs = Object.keys(LOCKS).flatMap((lockName) =>
    Object.keys(POLICIES).flatMap((polName) =>
      THREAD_COUNTS.map((threads) => ({ lockName, polName, threads })),
    ),
  );
  // Whole passes over every configuration rather than back-to-back repeats, so that a slow spell
  // of the host (a VM's vCPUs are not always both there) hits one sample of each, not all of one.
  const samples = new Map(configs.map((c) => [c, []]));
  for (let pass = 0; pass < runs; pass++) {
    for (const c of configs) {
      // Retry a sample taken while other processes used the CPU; keep the quietest attempt.
      let best = null;
      for (let attempt = 0; attempt < MAX_ATTEMPTS && !(best && best.others <= MAX_OTHERS); attempt++) {
        const r = await run(c.lockName, POLICIES[c.polName], c.threads, windowMs);
        if (!best || r.others < best.others) best = r;
        if (r.others > MAX_OTHERS) await sleep(2000);
      }
      samples.get(c).push(best);
    }
    process.stderr.write(`pass ${pass + 1}/${runs} done\n`);
  }
  const fmt = (x) =>
    x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(0);
  const cell = (rs) => {
    const rates = rs.map((r) => r.rate);
    const noisy = rs.some((r) => r.others > MAX_OTHERS) ? ' *' : '';
    return `${fmt(median(rates))} (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))})${noisy}`;
  };
  console.log(
    `${availableParallelism()} cores, median (min–max) of ${runs} runs of ${windowMs} ms after ${WARMUP_MS} ms ` +
      `warm-up, park = { park: true, spinNs: 2000 }, Node ${process.version}. CPU: cores the process kept ` +
      `busy (median). Slowest: the slowest of 8 threads' share of an even split, in the median run. ` +
      `*: some sample had other processes using more than ${MAX_OTHERS} cores.\n`,
  );
  console.log(
    '| lock | policy | 1 thread ns/acq | 2 threads acq/s | CPU | 8 threads acq/s | CPU | slowest |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const lockName of Object.keys(LOCKS)) {
    for (const polName of Object.keys(POLICIES)) {
      const get = (t) =>
        samples.get(configs.find((c) => c.lockName === lockName && c.polName === polName && c.threads === t));
      const one = median(get(1).map((r) => 1e9 / r.rate));
      const cpu = (t) => median(get(t).map((r) => r.cores)).toFixed(1);
      const eight = [...get(8)].sort((a, b) => a.rate - b.rate)[(runs - 1) >> 1];
      const slowest = eight.total > 0 ? Math.min(...eight.per) / (eight.total / 8) : 0;
      console.log(
        `| ${lockName} | ${polName} | ${one.toFixed(0)} | ${cell(get(2))} | ${cpu(2)} | ${cell(get(8))} | ` +
          `${cpu(8)} | ${(slowest * 100).toFixed(0)}% |`,
      );
    }
  }
}

if (isMainThread) await main();
else work(workerData);
