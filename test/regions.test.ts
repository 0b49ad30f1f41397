// The shared-memory layout checks itself: regions are placed as their owners declare them, every
// view of a region refuses an offset outside the buffer or off its alignment, and a worker whose
// code lays memory out differently from the orchestrator's (a stale dist/) fails the run at once.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/config/config.js';
import { Iotlb } from '../src/hardware/iotlb.js';
import {
  allocate,
  viewsOf,
  computeLayout,
  cpuStatsBase,
  layoutFingerprint,
  regionOff,
  type LayoutParams,
} from '../src/hardware/layout.js';
import { alignUp, checkRegion, LINE, REGION } from '../src/hardware/region.js';
import { RegisterFile } from '../src/hardware/regfile.js';
import { Oracle } from '../src/safety/oracle.js';
import { CpuStats } from '../src/concurrency/counters.js';
import { LOCKS } from '../src/concurrency/locks/index.js';
import { SPIN } from '../src/concurrency/wait.js';
import { TraceRing, traceCapacity, TRACE_REGION } from '../src/trace/ring.js';
import { layoutParamsFor } from '../src/workload/params.js';
import { workerFile } from '../src/workload/paths.js';
import { reevaluated, STALE_WORKER, workerLayout } from '../src/workload/regions.js';
import type { SmmuWorkerData } from '../src/workload/smmu-messages.js';

const ROOT = resolve(import.meta.dirname, '..');

const params = (over: Partial<typeof DEFAULTS> = {}, strategy = 'batched'): LayoutParams =>
  layoutParamsFor({ ...DEFAULTS, ...over }, strategy);

describe('placement', () => {
  it('places every declared region once, in order, aligned, without overlap', () => {
    const p = params({ cpus: 5, trace: 'x.json' }, 'ecmdq');
    const l = computeLayout(p);
    let end = 0;
    for (const r of p.regions) {
      const off = regionOff(l, r.name);
      expect(off % r.align, r.name).toBe(0);
      expect(off, r.name).toBeGreaterThanOrEqual(end);
      end = off + r.bytes;
    }
    expect(l.totalBytes).toBe(alignUp(end));
    expect(p.regions.map((r) => r.name)).toEqual(
      expect.arrayContaining(['ecmdq', 'ecmdq-lockfree', 'iova-rcache', 'trace']),
    );
    // The command queue sits on its own size, as CMDQ_BASE.ADDR requires.
    expect(l.cmdqOff % (l.queueEntries * 16)).toBe(0);
  });

  it('the hot-path offsets are the named regions', () => {
    const l = computeLayout(params());
    expect(l.controlOff).toBe(regionOff(l, REGION.CONTROL));
    expect(l.cmdqOff).toBe(regionOff(l, REGION.CMDQ));
    expect(l.iotlbOff).toBe(regionOff(l, REGION.IOTLB));
    expect(l.safetyOff).toBe(regionOff(l, REGION.SAFETY));
    expect(cpuStatsBase(l, 0) * 8).toBe(regionOff(l, REGION.CPU_STATS));
  });

  it('refuses a region declared twice and one without a line alignment', () => {
    const p = params();
    expect(() => computeLayout({ ...p, regions: [...p.regions, p.regions[3]] })).toThrow(
      `layout: region "${p.regions[3].name}" declared twice`,
    );
    expect(() => computeLayout({ ...p, regions: [...p.regions, { name: 'x', bytes: 8, align: 8 }] })).toThrow(
      /region "x" alignment 8/,
    );
  });

  it('geometry changes resize every region that depends on them', () => {
    const p = params();
    const q = reevaluated(p, { iovaSlotsPerDomain: p.iovaSlotsPerDomain * 4 });
    const size = (x: LayoutParams, n: string) => x.regions.find((r) => r.name === n)!.bytes;
    for (const n of [REGION.IOVA, REGION.PTE, REGION.PTE_GEN, REGION.SAFETY])
      expect(size(q, n)).toBeGreaterThan(size(p, n));
    expect(size(q, REGION.IOTLB)).toBe(size(p, REGION.IOTLB));
  });
});

describe('fingerprint', () => {
  it('a worker rebuilds the orchestrator layout from its own declarations', () => {
    const p = params({ cpus: 3, fqSize: 7 }, 'lazy');
    const l = computeLayout(p);
    expect(workerLayout(p, layoutFingerprint(l))).toEqual(l);
  });

  it('differs when any region moves or changes size', () => {
    const p = params();
    const fp = layoutFingerprint(computeLayout(p));
    const grown = p.regions.map((r) => (r.name === REGION.SAFETY ? { ...r, bytes: r.bytes + LINE } : r));
    expect(layoutFingerprint(computeLayout({ ...p, regions: grown }))).not.toBe(fp);
    // A region the orchestrator sized differently from the worker's own declaration.
    expect(() =>
      workerLayout({ ...p, regions: grown }, layoutFingerprint(computeLayout({ ...p, regions: grown }))),
    ).toThrow(STALE_WORKER);
    expect(() => workerLayout(p, '00000000')).toThrow(STALE_WORKER);
  });

  it('the SMMU worker given a wrong fingerprint fails with the stale-dist message', async () => {
    const p = params({ cpus: 1 });
    const l = computeLayout(p);
    const views = allocate(l);
    const workerData: SmmuWorkerData = {
      sab: views.sab,
      layout: p,
      fingerprint: 'deadbeef',
      timing: { tlbiNs: 0, syncNs: 0 },
      idlePolicy: SPIN,
      log: false,
      trace: false,
    };
    const w = new Worker(workerFile('smmu-worker'), { workerData });
    const error = await new Promise<Error>((res) => w.on('error', res));
    await w.terminate();
    expect(error.message).toBe(STALE_WORKER);
  });
});

describe('views check their offsets once, where they are built', () => {
  const l = computeLayout(params({ trace: 'x.json' }));
  // An exact-length buffer: the run's own (allocate) is rounded up to 64 KiB pages
  // (hardware/shared-memory.ts), where a region just past totalBytes would still fit.
  const { i32, f64 } = viewsOf(new SharedArrayBuffer(l.totalBytes));
  const g = { cpus: l.cpus, domains: l.domains, slotsPerDomain: l.iovaSlotsPerDomain };

  it('checkRegion names the region, the offset and the buffer', () => {
    expect(() => checkRegion(i32.buffer, 'r', 32, 8)).toThrow(
      'region "r": offset 32 is not a multiple of 64',
    );
    expect(() => checkRegion(i32.buffer, 'r', l.totalBytes - 64, 128)).toThrow(
      `region "r": [${l.totalBytes - 64}, ${l.totalBytes + 64}) runs past the end of the ${l.totalBytes}-byte buffer`,
    );
  });

  it('the oracle, statistics, trace ring, locks, IOTLB and register file', () => {
    expect(() => new Oracle(i32, f64, l.safetyOff + 4, g, l.slotPages, 0)).toThrow(
      /^region "safety": offset/,
    );
    expect(() => new Oracle(i32, f64, l.totalBytes - LINE, g, l.slotPages, 0)).toThrow(
      /^region "safety": .* runs past/,
    );
    expect(() => new CpuStats(f64, cpuStatsBase(l, 0) + 1)).toThrow(/^region "cpu-stats": offset/);
    const cap = traceCapacity(l.cpus + 1);
    expect(() => new TraceRing(f64, l.totalBytes, cap)).toThrow(/^region "trace": .* runs past/);
    expect(() => LOCKS.mcs.create(i32, l.totalBytes - LINE, 8, SPIN)).toThrow(
      /^region "lock \(mcs\)": .* runs past/,
    );
    expect(() => LOCKS.ttas.create(i32, 4, 8, SPIN)).toThrow(/^region "lock \(ttas\)": offset 4/);
    expect(() => new Iotlb(i32, { ...l, iotlbOff: l.iotlbOff + 16 }, SPIN)).toThrow(
      /^region "iotlb": offset/,
    );
    expect(() => new RegisterFile(i32, { ...l, cmdqConsLineOff: l.totalBytes })).toThrow(
      /^region "cmdq-cons"/,
    );
    // The offsets the layout gives pass.
    expect(() => new Oracle(i32, f64, l.safetyOff, g, l.slotPages, 0)).not.toThrow();
    expect(() => new TraceRing(f64, regionOff(l, TRACE_REGION), cap)).not.toThrow();
  });
});

describe('a stale dist/', () => {
  const scratch = join(ROOT, 'test-output');
  mkdirSync(scratch, { recursive: true });
  const dir = mkdtempSync(join(scratch, 'stale-dist-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A copy of dist/ whose `worker` bundle was built from sources with another layout version. */
  function staleCopy(worker: 'cpu-worker' | 'smmu-worker'): string {
    const dist = join(dir, worker, 'dist');
    cpSync(join(ROOT, 'dist'), dist, { recursive: true });
    const file = join(dist, 'workers', `${worker}.js`);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/var LAYOUT_VERSION = \d+;/);
    writeFileSync(
      file,
      text.replace(/var LAYOUT_VERSION = (\d+);/, (_, v) => `var LAYOUT_VERSION = ${Number(v) + 1};`),
    );
    return join(dist, 'run.js');
  }

  for (const worker of ['cpu-worker', 'smmu-worker'] as const) {
    it(`fails the run on one line, exit 3, when the ${worker} bundle is stale`, () => {
      const run = staleCopy(worker);
      const r = spawnSync(
        process.execPath,
        [run, '--cpus', '2', '--strategy', 'batched', '-s', '50ms', '--warmup', '10ms', '--quiet'],
        { encoding: 'utf8', timeout: 120_000 },
      );
      expect(r.status, r.stderr).toBe(3);
      const lines = r.stderr.split('\n').filter((s) => s.includes('stale dist/'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(STALE_WORKER);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });
  }
});
