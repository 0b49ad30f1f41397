// IOVA allocation as dma-iommu does it (--iova rcache) against the rbtree alone (--iova rbtree):
// single-thread sequences whose lock counts iova.c determines exactly (hit, miss, overflow into the
// depot, overflow past it, a magazine moving between CPUs through the depot, the flush on an
// exhausted space, sizes the rcache does not serve), then real runs through the CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { DEFAULTS, type Config, type IovaMode } from '../src/config/config.js';
import { buildIovaAllocator } from '../src/driver/iova-alloc.js';
import { IovaDomain, initIovaDomain, type IovaAllocator } from '../src/driver/iova.js';
import { iovaOf } from '../src/driver/strategies/index.js';
import {
  initIovaRcache,
  IOVA_MAG_SIZE as M,
  MAX_GLOBAL_MAGS as G,
  rcacheCachedPfns,
} from '../src/driver/iova-rcache.js';
import {
  allocate,
  computeLayout,
  cpuStateIdx,
  CpuState,
  VA_BASE_PAGE,
  type Layout,
} from '../src/hardware/layout.js';
import type { ResultDocument, RunReport } from '../src/report/types.js';
import { CpuStats, cpuStatsSlots, initCpuStats, lockBase, Lk } from '../src/concurrency/counters.js';
import { InstrumentedLock } from '../src/concurrency/lockstat.js';
import { getLockAlgorithm } from '../src/concurrency/locks/index.js';
import { SPIN } from '../src/concurrency/wait.js';
import { layoutParamsFor } from '../src/workload/params.js';
import { reevaluated } from '../src/workload/regions.js';
import { CLS_DEPOT, CLS_IOVA, CLS_RCACHE } from '../src/workload/task.js';

interface Rig {
  readonly layout: Layout;
  readonly i32: Int32Array;
  readonly cpu: IovaAllocator[];
  /** Acquisitions of a lock class by a CPU so far. */
  count(cpu: number, cls: number): number;
}

/** A domain shared by `cpus` CPUs with `slots` IOVAs of `pages` pages, one allocator per CPU. */
function rig(cpus: number, slots: number, mode: IovaMode = 'rcache', pages = 4): Rig {
  const cfg: Config = { ...DEFAULTS, cpus, pages, iova: mode, strategies: ['batched'] };
  const layout = computeLayout(reevaluated(layoutParamsFor(cfg, 'batched'), { iovaSlotsPerDomain: slots }));
  const { i32 } = allocate(layout);
  initIovaDomain(i32, layout, 0);
  if (mode === 'rcache') initIovaRcache(i32, layout, 0);
  const algo = getLockAlgorithm('ttas');
  const stats: CpuStats[] = [];
  const cls = { rbtree: CLS_IOVA, rcache: CLS_RCACHE, depot: CLS_DEPOT } as const;
  const cpu = Array.from({ length: cpus }, (_, c) => {
    const s = new CpuStats(new Float64Array(cpuStatsSlots(layout.lockClasses.length)), 0);
    initCpuStats(s.f64, 0, layout.lockClasses.length);
    stats.push(s);
    const waiting = cpuStateIdx(layout, c, CpuState.WAITING);
    return buildIovaAllocator(
      mode,
      i32,
      layout,
      c,
      0,
      (off, kind) =>
        new InstrumentedLock(algo.create(i32, off, cpus, SPIN), i32, c, cls[kind], s, false, waiting),
    ).allocator;
  });
  return {
    layout,
    i32,
    cpu,
    count: (c, k) => (k < layout.lockClasses.length ? stats[c].f64[lockBase(k) + Lk.ACQUISITIONS] : 0),
  };
}

/** Lock acquisitions a step made on CPU c: [rcache, depot, rbtree]. */
function delta(r: Rig, c: number, step: () => void): [number, number, number] {
  const before = [CLS_RCACHE, CLS_DEPOT, CLS_IOVA].map((k) => r.count(c, k));
  step();
  const after = [CLS_RCACHE, CLS_DEPOT, CLS_IOVA].map((k) => r.count(c, k));
  return [after[0] - before[0], after[1] - before[1], after[2] - before[2]];
}

const allocN = (a: IovaAllocator, n: number): number[] => Array.from({ length: n }, () => a.alloc());

/** Every IOVA is exactly once in the rbtree, an rcache or the caller's hands. */
function checkConserved(r: Rig, outstanding: readonly number[]): void {
  const rbtree = IovaDomain.freeCount(r.i32, r.layout, 0);
  const cached = r.layout.lockClasses.length > 2 ? rcacheCachedPfns(r.i32, r.layout, 0) : [];
  expect(rbtree + cached.length + outstanding.length).toBe(r.layout.iovaSlotsPerDomain);
  expect(new Set([...cached, ...outstanding]).size).toBe(cached.length + outstanding.length);
}

describe('IOVA rcache, one thread, exact lock counts', () => {
  it('a miss takes the CPU lock, the depot lock and the rbtree lock; a hit only the CPU lock', () => {
    const r = rig(1, 8);
    let a = 0;
    expect(delta(r, 0, () => (a = r.cpu[0].alloc()))).toEqual([1, 1, 1]);
    expect(a).toBe(VA_BASE_PAGE);
    expect(delta(r, 0, () => r.cpu[0].free(a))).toEqual([1, 0, 0]);
    let b = 0;
    expect(delta(r, 0, () => (b = r.cpu[0].alloc()))).toEqual([1, 0, 0]);
    expect(b).toBe(a);
    // Steady state of one buffer per CPU: each unmap takes the CPU's own lock twice, nothing else.
    expect(
      delta(r, 0, () => {
        r.cpu[0].free(b);
        for (let i = 0; i < 1000; i++) r.cpu[0].free(r.cpu[0].alloc());
      }),
    ).toEqual([2001, 0, 0]);
    checkConserved(r, []);
  });

  it('a third full magazine goes to the depot, and comes back when both CPU magazines are empty', () => {
    const r = rig(1, 4 * M);
    const n = 2 * M + 1;
    let got: number[] = [];
    expect(delta(r, 0, () => (got = allocN(r.cpu[0], n)))).toEqual([n, n, n]);
    expect(delta(r, 0, () => got.forEach((p) => r.cpu[0].free(p)))).toEqual([n, 1, 0]);
    checkConserved(r, []);
    // Loaded (1), then prev (M) by a swap, then the depot's magazine (M): no rbtree, one depot lock.
    let again: number[] = [];
    expect(delta(r, 0, () => (again = allocN(r.cpu[0], n)))).toEqual([n, 1, 0]);
    expect(new Set(again)).toEqual(new Set(got));
    // Everything cached is out: the next allocation misses.
    expect(delta(r, 0, () => r.cpu[0].alloc())).toEqual([1, 1, 1]);
  });

  it('past a full depot, a full magazine is freed to the rbtree under one acquisition', () => {
    const r = rig(1, 2 * M + G * M + 2 * M);
    const n = 2 * M + G * M + 1;
    const got = allocN(r.cpu[0], n);
    const rbtreeBefore = IovaDomain.freeCount(r.i32, r.layout, 0);
    // G frees each push a full magazine to the depot; the last finds it full (depot lock G + 1)
    // and hands its loaded magazine's M pfns to the rbtree at once.
    expect(delta(r, 0, () => got.forEach((p) => r.cpu[0].free(p)))).toEqual([n, G + 1, 1]);
    expect(IovaDomain.freeCount(r.i32, r.layout, 0)).toBe(rbtreeBefore + M);
    expect(rcacheCachedPfns(r.i32, r.layout, 0)).toHaveLength(n - M);
    checkConserved(r, []);
    // LIFO: the last IOVA freed is the next one handed out, from the CPU's magazine.
    let a = 0;
    expect(delta(r, 0, () => (a = r.cpu[0].alloc()))).toEqual([1, 0, 0]);
    expect(a).toBe(got[n - 1]);
  });

  it("moves a magazine between CPUs through the depot: CPU 1 gets CPU 0's IOVAs without the rbtree", () => {
    const r = rig(2, 4 * M);
    const got = allocN(r.cpu[0], 2 * M + 1);
    got.forEach((p) => r.cpu[0].free(p));
    // The depot holds the magazine filled by frees M+1..2M (prev and loaded swapped at M+1).
    let a = 0;
    expect(delta(r, 1, () => (a = r.cpu[1].alloc()))).toEqual([1, 1, 0]);
    expect(a).toBe(got[2 * M - 1]);
    expect(delta(r, 1, () => allocN(r.cpu[1], M - 1))).toEqual([M - 1, 0, 0]);
    expect(delta(r, 1, () => r.cpu[1].alloc())).toEqual([1, 1, 1]);
  });

  it('on an exhausted space, flushes every CPU cache and the depot back to the rbtree, then retries', () => {
    const r = rig(2, 4);
    const got = allocN(r.cpu[0], 4);
    got.forEach((p) => r.cpu[0].free(p));
    let a = 0;
    // Own get (CPU lock, depot lock), alloc_iova fails (rbtree), both CPUs' loaded and prev freed
    // (2 CPU locks, 4 rbtree: empty magazines too), the depot (1), the retry (rbtree).
    expect(delta(r, 1, () => (a = r.cpu[1].alloc()))).toEqual([1 + 2, 1 + 1, 1 + 4 + 1]);
    expect(a).toBe(got[3]);
    expect(rcacheCachedPfns(r.i32, r.layout, 0)).toHaveLength(0);
    checkConserved(r, [a]);
  });

  it('leaves buffers of 64 pages or more to the rbtree (order >= IOVA_RANGE_CACHE_MAX_SIZE)', () => {
    const r = rig(1, 8, 'rcache', 64);
    expect(delta(r, 0, () => r.cpu[0].free(r.cpu[0].alloc()))).toEqual([0, 0, 2]);
    const s = rig(1, 8, 'rcache', 32);
    s.cpu[0].free(s.cpu[0].alloc());
    expect(delta(s, 0, () => s.cpu[0].free(s.cpu[0].alloc()))).toEqual([2, 0, 0]);
  });

  it('--iova rbtree takes the rbtree lock on every alloc and free', () => {
    const r = rig(1, 8, 'rbtree');
    expect(delta(r, 0, () => r.cpu[0].free(r.cpu[0].alloc()))).toEqual([0, 0, 2]);
    expect(r.layout.lockClasses).toEqual(['cmdq', 'iova']);
  });
});

describe('--iova flag', () => {
  it("defaults to each strategy's own (rcache; rbtree for the unsafe self-test), takes rbtree, and refuses anything else in one line with exit 2", () => {
    const ok = parseArgs([]);
    expect(ok.kind === 'run' && ok.config.iova).toBeNull();
    expect(iovaOf(DEFAULTS, 'batched')).toBe('rcache');
    expect(iovaOf(DEFAULTS, 'unsafe-free-before-sync')).toBe('rbtree');
    expect(iovaOf({ iova: 'rcache' }, 'unsafe-free-before-sync')).toBe('rcache');
    const rb = parseArgs(['--iova', 'rbtree']);
    expect(rb.kind === 'run' && rb.config.iova).toBe('rbtree');
    for (const argv of [
      ['--iova', 'magazine'],
      ['--sweep', 'iova=rcache,slab'],
    ]) {
      const bad = parseArgs(argv);
      expect(bad.kind).toBe('exit');
      if (bad.kind === 'exit') {
        expect(bad.code).toBe(2);
        expect(bad.output).toMatch(/^tlbsync-emu: .*iova.*(magazine|slab).*allowed: rcache, rbtree\)\n$/);
      }
    }
  });
});

const RUN = resolve(__dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'tlbsync-iova-'));

describe('--sweep iova=rcache,rbtree on real runs', () => {
  it('rcache: the rbtree lock < 1 per 100 unmaps; rbtree: 2 per unmap; all IOVAs free, no stale use', () => {
    const json = join(dir, 'iova.json');
    const csv = join(dir, 'iova.csv');
    const res = spawnSync(
      process.execPath,
      [RUN, '--cpus', '3', '--strategy', 'batched', '-s', '400ms', '--warmup', '100ms', '-q'].concat([
        '--sweep',
        'iova=rcache,rbtree',
        '--sweep',
        'domains=shared,per-cpu',
        '--json',
        json,
        '--csv',
        csv,
      ]),
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(res.status, res.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as ResultDocument;
    expect(doc.runs.map((r) => `${r.params.iova} ${r.params.domains}`)).toEqual([
      'rcache shared',
      'rcache per-cpu',
      'rbtree shared',
      'rbtree per-cpu',
    ]);
    const lock = (r: RunReport, n: string) => r.locks.find((l) => l.name === n);
    for (const r of doc.runs) {
      const at = `${r.params.iova} ${r.params.domains}`;
      expect(r.complete, at).toBe(true);
      expect(r.totals.unmaps, at).toBeGreaterThan(100 * r.cpus);
      expect(r.endState, at).toEqual({ iotlbEntries: 0, iovasOutstanding: 0 });
      expect(r.safety.staleTranslationUses, at).toBe(0);
      const rbtree = lock(r, 'iova')!.acquisitions;
      if (r.params.iova === 'rcache') {
        // Each alloc and free takes the CPU's own lock once; only a CPU's very first allocation
        // (normally in the warm-up) misses, taking the depot lock and then the rbtree lock.
        expect(lock(r, 'rcache')!.acquisitions, at).toBe(2 * r.totals.unmaps);
        expect(lock(r, 'depot')!.acquisitions, at).toBe(rbtree);
        expect(rbtree, at).toBeLessThanOrEqual(r.cpus);
        expect(rbtree, at).toBeLessThan(r.totals.unmaps / 100);
        expect(lock(r, 'rcache')!.contentions, at).toBe(0);
      } else {
        expect(rbtree, at).toBe(2 * r.totals.unmaps);
        expect(lock(r, 'rcache'), at).toBeUndefined();
      }
    }
    expect(doc.config.iova).toBeNull();
    expect(doc.runs.map((r) => r.iova)).toEqual(doc.runs.map((r) => r.params.iova));
    const [header, ...rows] = readFileSync(csv, 'utf8')
      .trimEnd()
      .split('\r\n')
      .map((l) => l.split(','));
    expect(header).toContain('iova');
    expect(header).toContain('rcacheWaitTotalNs');
    expect(rows.map((row) => row[header.indexOf('iova')])).toEqual(['rcache', 'rcache', 'rbtree', 'rbtree']);
  }, 120_000);
});
