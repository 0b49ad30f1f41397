// Measurements of the machine without the emulator: a bare Atomics ping-pong, a command hand-off
// through a ring, lock primitives around a calibrated critical section, in JS (worker threads
// running bench/workers/bench-worker.ts) and in C (bench/locks.c, compiled here), and Node's own
// start-up of idle workers. The emulator's figures are read against these.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { LockName } from '../../src/concurrency/lock.js';
import { sharedBuffer } from '../../src/hardware/shared-memory.js';
import {
  handoffSink,
  SAB_BYTES,
  W,
  type HandoffSmmuResult,
  type WorkerJob,
} from '../workers/bench-worker.js';
import { startNoiseProbe } from './host.js';
import { BUILD, C_BIN, C_SRC, rel, WORKER_JS } from './paths.js';

/** A figure and the cores other processes kept busy while it was measured. */
export interface Timed {
  value: number;
  othersCores: number;
}

function startWorker(job: WorkerJob): { worker: Worker; message: Promise<unknown>; online: Promise<void> } {
  const worker = new Worker(WORKER_JS, { workerData: job });
  const message = new Promise<unknown>((res, rej) => {
    worker.once('message', res);
    worker.once('error', rej);
    worker.once('exit', (code) => rej(new Error(`bench worker (${job.kind}) exited with code ${code}`)));
  });
  message.catch(() => {});
  const online = new Promise<void>((res) => worker.once('online', () => res()));
  return { worker, message, online };
}

/** Compiles bench/locks.c; returns the command as the report shows it. */
export function buildC(): string {
  mkdirSync(BUILD, { recursive: true });
  const args = ['-O2', '-pthread', '-Wall', '-o', C_BIN, C_SRC];
  execFileSync('gcc', args, { stdio: 'inherit' });
  return `gcc ${args.map(rel).join(' ')}`;
}

export function cRun(args: readonly string[]): Record<string, number> {
  return JSON.parse(execFileSync(C_BIN, args, { encoding: 'utf8', timeout: 60_000 })) as Record<
    string,
    number
  >;
}

// ---- ping-pong -----------------------------------------------------------------------------------

export async function jsPingPong(roundTrips: number): Promise<Timed> {
  const sab = sharedBuffer(SAB_BYTES);
  const warmup = Math.floor(roundTrips / 10);
  const pong = startWorker({ kind: 'pong', sab, roundTrips, warmup });
  await pong.online;
  const noise = startNoiseProbe();
  const ping = startWorker({ kind: 'ping', sab, roundTrips, warmup });
  const { rtNs } = (await ping.message) as { rtNs: number };
  const { othersCores } = noise.stop();
  await pong.message;
  await Promise.all([ping.worker.terminate(), pong.worker.terminate()]);
  return { value: rtNs, othersCores };
}

export function cPingPong(roundTrips: number): Timed {
  const noise = startNoiseProbe();
  const r = cRun(['pingpong', String(roundTrips)]);
  return { value: r.rtNs, othersCores: noise.stop().othersCores };
}

// ---- command hand-off ----------------------------------------------------------------------------

export type HandoffMode = 'stream' | 'sync';

/** The command hand-off without the emulator (bench-worker.ts handoff-cpu/-smmu), JS. */
export async function jsHandoff(commands: number, mode: HandoffMode): Promise<Timed> {
  const sab = sharedBuffer(SAB_BYTES);
  const smmu = startWorker({ kind: 'handoff-smmu', sab });
  await smmu.online;
  const noise = startNoiseProbe();
  const cpu = startWorker({ kind: 'handoff-cpu', sab, commands, warmup: Math.floor(commands / 10), mode });
  const { nsPerCmd } = (await cpu.message) as { nsPerCmd: number };
  const { othersCores } = noise.stop();
  const r = (await smmu.message) as HandoffSmmuResult;
  await Promise.all([cpu.worker.terminate(), smmu.worker.terminate()]);
  if (r.consumed !== commands || r.sink !== handoffSink(commands))
    throw new Error(`js handoff ${mode}: lost commands (consumed ${r.consumed} of ${commands})`);
  return { value: nsPerCmd, othersCores };
}

/** The same in C (bench/locks.c handoff). */
export function cHandoff(commands: number, mode: HandoffMode): Timed {
  const noise = startNoiseProbe();
  const r = cRun(['handoff', String(commands), mode]);
  return { value: r.nsPerCmd, othersCores: noise.stop().othersCores };
}

// ---- locks ---------------------------------------------------------------------------------------

export interface Calibration {
  nsPerIter: number;
  iters: number;
  csNs: number;
}

export async function jsCalibrate(): Promise<Calibration> {
  const w = startWorker({ kind: 'calibrate', targetNs: 100 });
  const r = (await w.message) as Calibration;
  await w.worker.terminate();
  return r;
}

export function cCalibrate(): Calibration {
  return cRun(['calibrate', '100']) as unknown as Calibration;
}

export interface LockSample {
  acqPerSec: number;
  handoffPerSec: number;
  /** Share of the window the lock spent running critical sections: acquisitions x csNs. */
  utilization: number;
  othersCores: number;
}

export async function jsLock(
  lock: LockName,
  cal: Calibration,
  warmupMs: number,
  ms: number,
): Promise<LockSample> {
  const sab = sharedBuffer(SAB_BYTES);
  const i32 = new Int32Array(sab);
  const threads = 2;
  const ws = Array.from({ length: threads }, (_, me) =>
    startWorker({ kind: 'lock', sab, lock, threads, me, iters: cal.iters }),
  );
  await Promise.all(ws.map((w) => w.online));
  const counts = (): number[][] =>
    Array.from({ length: threads }, (_, me) => [
      Atomics.load(i32, W.COUNTS + 16 * me),
      Atomics.load(i32, W.COUNTS + 16 * me + 1),
    ]);
  Atomics.store(i32, W.START, 1);
  Atomics.notify(i32, W.START);
  await sleep(warmupMs);
  const noise = startNoiseProbe();
  const c0 = counts();
  const t0 = performance.now();
  await sleep(ms);
  const c1 = counts();
  const t1 = performance.now();
  const { othersCores } = noise.stop();
  Atomics.store(i32, W.STOP, 1);
  await Promise.all(ws.map((w) => w.message));
  await Promise.all(ws.map((w) => w.worker.terminate()));
  const total = counts().reduce((a, c) => a + c[0], 0);
  if (i32[W.COUNTER] !== total)
    throw new Error(`js ${lock}: lost updates (counter ${i32[W.COUNTER]} != ${total})`);
  const secs = (t1 - t0) / 1000;
  const acq = c1.reduce((a, c, i) => a + c[0] - c0[i][0], 0);
  const hand = c1.reduce((a, c, i) => a + c[1] - c0[i][1], 0);
  return {
    acqPerSec: acq / secs,
    handoffPerSec: hand / secs,
    utilization: (acq / secs) * cal.csNs * 1e-9,
    othersCores,
  };
}

export function cLock(lock: string, cal: Calibration, ms: number): LockSample {
  const noise = startNoiseProbe();
  const r = cRun(['lock', lock, String(ms), String(cal.iters)]);
  const { othersCores } = noise.stop();
  const secs = r.ns / 1e9;
  return {
    acqPerSec: r.acquisitions / secs,
    handoffPerSec: r.handoffs / secs,
    utilization: (r.acquisitions / secs) * cal.csNs * 1e-9,
    othersCores,
  };
}

// ---- Node's own start-up -------------------------------------------------------------------------

/** Spawn to 'online' of n Node workers that run nothing: Node's own cost of that many isolates. */
export async function bareWorkersMs(n: number): Promise<Timed> {
  const noise = startNoiseProbe();
  const t0 = performance.now();
  const ws = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Worker>((res, rej) => {
          const w = new Worker('', { eval: true });
          w.once('online', () => res(w));
          w.once('error', rej);
        }),
    ),
  );
  const ms = performance.now() - t0;
  const { othersCores } = noise.stop();
  await Promise.all(ws.map((w) => w.terminate()));
  return { value: ms, othersCores };
}
