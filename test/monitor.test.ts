// The orchestrator's monitor (workload/monitor.ts) on a real layout, with no CPUs or SMMU running:
// the test plays them by writing the shared words. It sleeps while nothing needs it (a bounded
// number of wakes, not one per 5 ms), is woken by a GERROR written from another thread, sets and
// clears SMMU_STALL at the stall window's edges, fires the watchdog and the "measuring" marker.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { Config } from '../src/config/config.js';
import {
  allocate,
  computeLayout,
  cpuStateIdx,
  CpuState,
  Ctl,
  ctlIdx,
  regIdx,
} from '../src/hardware/layout.js';
import { RegisterFile } from '../src/hardware/regfile.js';
import { GERROR_CMDQ_ERR } from '../src/hardware/registers.js';
import { WAITERS } from '../src/concurrency/wait.js';
import { Monitor, nextStallEdge, watchdogTickMs, type MonitorHooks } from '../src/workload/monitor.js';
import { layoutParamsFor } from '../src/workload/params.js';
import { config } from './helpers/runs.js';

function machine(over: Partial<Config> = {}, hooks: Partial<MonitorHooks> = {}) {
  const cfg = config({ watchdogMs: 3_600_000, ...over });
  const layout = computeLayout(layoutParamsFor(cfg, 'batched'));
  const { i32 } = allocate(layout);
  const regs = new RegisterFile(i32, layout);
  const monitor = new Monitor(i32, layout, cfg, regs, { cmdqError: () => {}, hung: () => {}, ...hooks });
  return { cfg, layout, i32, regs, monitor };
}

/**
 * Resolves once i32[idx] differs from `from` (an event, not a deadline). Registered in the waiter
 * count beside the word, as a parked SMMU is: storeAndWake() notifies only then.
 */
async function changed(i32: Int32Array, idx: number, from: number): Promise<number> {
  Atomics.add(i32, idx + WAITERS, 1);
  while (Atomics.load(i32, idx) === from) {
    const r = Atomics.waitAsync(i32, idx, from);
    if (r.async) await r.value;
  }
  Atomics.sub(i32, idx + WAITERS, 1);
  return Atomics.load(i32, idx);
}

/** A promise the test rejects to end a watch, as the orchestrator's end() does. */
function ender() {
  let end!: (e: Error) => void;
  const ended = new Promise<never>((_, reject) => (end = reject));
  ended.catch(() => {});
  return { ended, end: () => end(new Error('ended')) };
}

describe('monitor timing helpers', () => {
  it('ticks 20 times per --watchdog, between 5 ms and 250 ms apart', () => {
    expect(watchdogTickMs(100)).toBe(5);
    expect(watchdogTickMs(1000)).toBe(50);
    expect(watchdogTickMs(5000)).toBe(250);
    expect(watchdogTickMs(3_600_000)).toBe(250);
  });

  it('finds the next edge of any stall window', () => {
    const stalls = [
      { kind: 'stall', atMs: 100, forMs: 50 },
      { kind: 'stall', atMs: 120, forMs: 100 },
    ] as const;
    expect(nextStallEdge(stalls, 0)).toBe(100);
    expect(nextStallEdge(stalls, 100)).toBe(120);
    expect(nextStallEdge(stalls, 130)).toBe(150);
    expect(nextStallEdge(stalls, 150)).toBe(220);
    expect(nextStallEdge(stalls, 220)).toBe(Infinity);
    expect(nextStallEdge([], 0)).toBe(Infinity);
  });
});

describe('monitor', () => {
  it('sleeps through a quiet phase: a handful of wakes, not one per 5 ms', async () => {
    const { monitor } = machine();
    const { ended } = ender();
    await monitor.watch(600, null, ended);
    // One look at the start, one per 250 ms tick, one at the end (a timer may fire a ms early).
    expect(monitor.wakes).toBeGreaterThanOrEqual(2);
    expect(monitor.wakes).toBeLessThanOrEqual(6);
    monitor.close();
  });

  it('handles a CMDQ error raised by another thread, acknowledging once', async () => {
    const seen: number[] = [];
    let handled!: () => void;
    const handledP = new Promise<void>((r) => (handled = r));
    const m = machine(
      {},
      {
        cmdqError: (gerror) => {
          seen.push(gerror);
          m.regs.write32('GERRORN', gerror); // what skipCmdqErr's acknowledgement does
          handled();
        },
      },
    );
    const { ended, end } = ender();
    const watching = m.monitor.watch(3_600_000, null, ended);
    // The SMMU's RegisterFile.write32: store, then notify.
    const smmu = new Worker(
      `const { workerData: d } = require('node:worker_threads');
       const i32 = new Int32Array(d.sab);
       Atomics.store(i32, d.idx, d.value);
       Atomics.notify(i32, d.idx);`,
      {
        eval: true,
        workerData: { sab: m.i32.buffer, idx: regIdx(m.layout, 'GERROR'), value: GERROR_CMDQ_ERR },
      },
    );
    await handledP;
    end();
    await expect(watching).rejects.toThrow('ended');
    await new Promise((r) => smmu.once('exit', r));
    expect(seen).toEqual([GERROR_CMDQ_ERR]);
    m.monitor.close();
  });

  it('stalls the SMMU for exactly the --inject window, timed from the window opening', async () => {
    const stall = { kind: 'stall', atMs: 30, forMs: 40 } as const;
    const { i32, layout, monitor } = machine({ inject: [stall] });
    const idx = ctlIdx(layout, Ctl.SMMU_STALL);
    const { ended } = ender();
    const start = Date.now();
    const watching = monitor.watch(120, start, ended);
    expect(await changed(i32, idx, 0)).toBe(1);
    const on = Date.now() - start;
    expect(await changed(i32, idx, 1)).toBe(0);
    const off = Date.now() - start;
    await watching;
    expect(on).toBeGreaterThanOrEqual(stall.atMs - 1); // Date.now() and the timers' clock may differ by 1 ms
    expect(off).toBeGreaterThanOrEqual(stall.atMs + stall.forMs - 1);
    monitor.close();
  });

  it('fires the watchdog once when no unmap completes for --watchdog', async () => {
    let hung = 0;
    const { end, ended } = ender();
    const { monitor } = machine(
      { watchdogMs: 100 },
      {
        hung: () => {
          hung++;
          end();
        },
      },
    );
    const start = Date.now();
    monitor.startWatchdog();
    await expect(monitor.watch(3_600_000, null, ended)).rejects.toThrow('ended');
    expect(hung).toBe(1);
    expect(Date.now() - start).toBeGreaterThanOrEqual(99);
    monitor.close();
  });

  it('calls measuring() once the window holds more unmaps than CPUs since it opened', async () => {
    let marks = 0;
    const { end, ended } = ender();
    const m = machine(
      { cpus: 2 },
      {
        measuring: () => {
          marks++;
          end();
        },
      },
    );
    const unmaps = cpuStateIdx(m.layout, 0, CpuState.UNMAPS);
    Atomics.store(m.i32, unmaps, 7); // the warm-up's
    const watching = m.monitor.watch(3_600_000, Date.now(), ended);
    Atomics.store(m.i32, unmaps, 9); // one per CPU may have begun in the warm-up: not yet
    // Until the monitor has looked at 9 twice (it polls for the marker while the window is young).
    const looked = m.monitor.wakes + 2;
    while (m.monitor.wakes < looked) await new Promise((r) => setTimeout(r, 1));
    expect(marks).toBe(0);
    Atomics.store(m.i32, unmaps, 10);
    await expect(watching).rejects.toThrow('ended');
    expect(marks).toBe(1);
    m.monitor.close();
  });

  it('after STOP, keeps handling GERROR until the CPUs have settled', async () => {
    const seen: number[] = [];
    const m = machine(
      {},
      {
        cmdqError: (gerror) => {
          seen.push(gerror);
          m.regs.write32('GERRORN', gerror);
          settle();
        },
      },
    );
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    const serving = m.monitor.serviceErrors(settled, 3_600_000);
    m.regs.write32('GERROR', GERROR_CMDQ_ERR);
    expect(await serving).toBe(true);
    expect(seen).toEqual([GERROR_CMDQ_ERR]);
    expect(await m.monitor.serviceErrors(new Promise(() => {}), 10)).toBe(false);
    m.monitor.close();
  });
});
