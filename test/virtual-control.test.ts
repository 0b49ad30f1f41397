// A virtual run under control: the engine runs in slices (Machine.slices) that give the event loop
// a turn without changing the order of events; Ctrl-C stops a run at the virtual time reached and
// reports what its window measured (exit 130, the JSON written whole); an error inside the engine
// ends its run as `failed` with one line naming it, the runs before it kept.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS, runInvocation, SINGLE_RUN, type Config, type RunInfo } from '../src/index.js';
import { delay, type Proc } from '../src/virtual/requests.js';
import { Machine, SLICE_EVENTS } from '../src/virtual/machine.js';
import { DEFAULT_VIRTUAL_PARAMS } from '../src/virtual/params.js';
import { VInstrumentedLock } from '../src/virtual/locks.js';
import { runVirtual, runVirtualAsync, type VirtualEnd, type VirtualRunOptions } from '../src/virtual/run.js';
import { VCpuState } from '../src/virtual/state.js';
import type { ResultDocument } from '../src/report/types.js';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tlbsync-virtual-control-'));

afterEach(() => {
  vi.restoreAllMocks();
});

describe('slices', () => {
  it('Machine.slices runs the same events in the same order as Machine.run', () => {
    const trace = (sliced: boolean): string => {
      const m = new Machine({ ...DEFAULT_VIRTUAL_PARAMS, agents: 4, seed: 5, freeMmioAgents: new Set() });
      const seen: string[] = [];
      function* agent(a: number): Proc {
        for (let i = 0; i < 30_000; i++) {
          // Ties (equal times) are frequent, so that the heap's order among them is exercised too.
          yield delay(m.rng.below(4));
          seen.push(`${a}@${m.now}`);
        }
      }
      for (let a = 0; a < 4; a++) m.spawn(a, agent(a));
      let yields = 0;
      if (sliced) for (const _ of m.slices(1e9)) yields++;
      else m.run(1e9);
      if (sliced) expect(yields).toBeGreaterThanOrEqual(3);
      return `${seen.join(' ')} | ${m.events} events, now ${m.now}`;
    };
    expect(trace(true)).toBe(trace(false));
  });

  const opts: VirtualRunOptions = {
    cpus: 8,
    design: 'lockfree',
    strategy: 'batched',
    seed: 7,
    durationNs: 6e6,
    warmupNs: 1e5,
    state: true,
  };

  it('runVirtualAsync (the event loop between slices) gives runVirtual’s result, byte for byte', async () => {
    const a = runVirtual(opts);
    expect(a.events).toBeGreaterThan(3 * SLICE_EVENTS);
    const b = await runVirtualAsync(opts);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(a.interrupted).toBeUndefined();
  });

  it('an abort closes the window where it was, drains, and reports the part measured', async () => {
    const interrupted = async (): Promise<[string, VirtualEnd]> => {
      const ac = new AbortController();
      let end: VirtualEnd | null = null;
      const r = await runVirtualAsync({
        ...opts,
        durationNs: 1e9,
        signal: ac.signal,
        // The window holds an unmap: abort there (seen at this slice boundary).
        measuring: () => ac.abort(),
        onEnd: (e) => (end = e),
      });
      expect(r.interrupted).toBe(true);
      expect(r.unmaps).toBeGreaterThan(0);
      expect(r.virtualNs).toBeGreaterThan(opts.warmupNs);
      expect(r.virtualNs).toBeLessThan(opts.warmupNs + 1e9);
      const e = end as VirtualEnd | null;
      expect(e?.closedAt).toBe(r.virtualNs);
      expect(e?.windowNs).toBe(r.virtualNs - opts.warmupNs);
      // Rates over the part measured, not the whole --duration.
      expect(r.unmapsPerSec).toBeCloseTo(r.unmaps / ((r.virtualNs - opts.warmupNs) / 1e9), 6);
      // Every CPU finished its iteration and drained, as after a complete run.
      expect(r.state?.endState).toEqual({ iotlbEntries: 0, iotlbEntriesUnmapped: 0, iovasOutstanding: 0 });
      expect(r.state?.safety.staleTranslationUses).toBe(0);
      return [JSON.stringify(r), e!];
    };
    const [a] = await interrupted();
    // Stopped at a slice boundary: deterministic too.
    const [b] = await interrupted();
    expect(b).toBe(a);
  });
});

/** Two virtual runs on the 2017 queue, quick: per-page then batched. */
const cfg = (over: Partial<Config> = {}): Config => ({
  ...DEFAULTS,
  engine: 'virtual',
  lock: 'ticket',
  strategies: ['per-page', 'batched'],
  cpus: 4,
  seed: 3,
  durationMs: 2,
  warmupMs: 0.1,
  quiet: true,
  ...over,
});

describe('an interrupt before the window opens', () => {
  it('reports an interrupted run that measured nothing (no warm-up count leaks into it)', async () => {
    const ac = new AbortController();
    ac.abort();
    // A warm-up far longer than the first slice: the window never opens.
    const inv = await runInvocation(
      cfg({ strategies: ['batched'], warmupMs: 1000 }),
      SINGLE_RUN,
      { warn: () => {} },
      ac.signal,
    );
    expect(inv.outcome).toBe('interrupted');
    const r = inv.doc.runs[0];
    expect([r.outcome, r.complete, r.errors]).toEqual(['interrupted', false, ['interrupted (SIGINT)']]);
    expect(r.durationMs).toBe(0);
    expect(r.totals).toEqual({
      maps: 0,
      unmaps: 0,
      pagesMapped: 0,
      pagesUnmapped: 0,
      unmapsPerSec: 0,
      pagesPerSec: 0,
    });
    expect(r.commands.total).toBe(0);
    expect(r.locks.map((l) => [l.name, l.acquisitions])).toEqual(r.locks.map((l) => [l.name, 0]));
    expect(r.virtual?.virtualNs).toBeGreaterThan(0);
    expect(r.virtual?.virtualNs).toBeLessThan(1000e6);
  });
});

/**
 * The cmdq lock's release, replaced: while `faulty()` is false it releases; then it runs `fault`
 * instead (a throw, or nothing: the lock is never released).
 */
function faultyRelease(faulty: () => boolean, fault: (cpu: number) => void): void {
  const release = VInstrumentedLock.prototype.release;
  vi.spyOn(VInstrumentedLock.prototype, 'release').mockImplementation(function* (
    this: VInstrumentedLock,
    cpu: number,
  ): Proc {
    if (!faulty()) return yield* release.call(this, cpu);
    fault(cpu);
  });
}

describe('an error inside the engine', () => {
  it('a lock invariant violation ends its run as failed, one line naming it; the run before is kept', async () => {
    let armed = false;
    faultyRelease(
      () => armed,
      (cpu) => {
        throw new Error(`virtual ticket lock: cpu ${cpu} released it while cpu 9 holds it`);
      },
    );
    const inv = await runInvocation(cfg(), SINGLE_RUN, {
      warn: () => {},
      // Once batched's window holds an unmap: the next release throws.
      measureStart: (info: RunInfo) => (armed = info.strategy === 'batched'),
    });
    const doc: ResultDocument = inv.doc;
    expect(inv.outcome).toBe('failed');
    expect(doc.complete).toBe(false);
    expect(doc.runs.map((r) => [r.strategy, r.outcome, r.complete])).toEqual([
      ['per-page', 'complete', true],
      ['batched', 'failed', false],
    ]);
    const failed = doc.runs[1];
    expect(failed.errors).toHaveLength(1);
    expect(failed.errors[0]).toMatch(
      /^virtual engine failed in batched \(4 CPUs, seed 3\): virtual ticket lock: cpu \d released it while cpu 9 holds it$/,
    );
    // What its window measured until then is reported, over the part it ran.
    expect(failed.totals.unmaps).toBeGreaterThan(0);
    expect(failed.durationMs).toBeGreaterThan(0);
    expect(failed.durationMs).toBeLessThan(2);
    expect(failed.virtual?.virtualNs).toBeCloseTo(0.1e6 + failed.durationMs * 1e6, 3);
    // The stack goes to the JSON's diagnostics, never to the error line.
    expect(failed.diagnostics.length).toBeGreaterThan(0);
    expect(failed.diagnostics.every((l) => l.startsWith('at '))).toBe(true);
    expect(inv.text).toContain('INCOMPLETE');
  });

  it('a deadlock (a lock never released: nothing left to run) fails the run at once', async () => {
    let armed = false;
    faultyRelease(
      () => armed,
      () => {},
    );
    const inv = await runInvocation(cfg({ strategies: ['batched'], durationMs: 1000 }), SINGLE_RUN, {
      warn: () => {},
      measureStart: () => (armed = true),
    });
    expect(inv.outcome).toBe('failed');
    const r = inv.doc.runs[0];
    expect(r.errors).toEqual([
      'virtual engine failed in batched (4 CPUs, seed 3): deadlock: every CPU waits forever (nothing left to run in the measured window)',
    ]);
    expect(r.totals.unmaps).toBeGreaterThan(0);
  });

  it('a CPU that never stops in the drain fails the run after its whole window', async () => {
    const drain = VCpuState.prototype.drain;
    vi.spyOn(VCpuState.prototype, 'drain').mockImplementation(function* (this: VCpuState) {
      // CPU 0 leaves without stopping: the engine waits for it until nothing is left to run.
      if ((this as unknown as { cpu: number }).cpu === 0) return;
      yield* drain.call(this);
    });
    const inv = await runInvocation(cfg({ strategies: ['batched'] }), SINGLE_RUN, { warn: () => {} });
    expect(inv.outcome).toBe('failed');
    const r = inv.doc.runs[0];
    expect(r.errors).toEqual([
      'virtual engine failed in batched (4 CPUs, seed 3): virtual engine: 1 CPU(s) did not stop after the run',
    ]);
    expect(r.durationMs).toBe(2);
    expect(r.totals.unmaps).toBeGreaterThan(0);
  });
});

describe('Ctrl-C during a virtual run', () => {
  it('stops it promptly, prints and writes what was measured, exit 130', async () => {
    const json = join(dir, 'int.json');
    // 2 s of virtual time at 64 CPUs takes minutes of wall time: only Ctrl-C ends it soon. SIGINT
    // once the window holds an unmap.
    const { code, stdout, stderr, marked } = await runCli(
      [
        '--engine',
        'virtual',
        '--cpus',
        '64',
        '--strategy',
        'lockfree,batched',
        '--duration',
        '2s',
        '--json',
        json,
      ],
      { sigintAfter: /^measuring lockfree$/m },
    );
    expect(marked, stderr).toBe(true);
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('tlbsync-emu: interrupted: stopping');
    expect(stderr).toMatch(/^tlbsync-emu: run interrupted: interrupted \(SIGINT\)$/m);
    expect(stdout).toContain('INCOMPLETE: interrupted (SIGINT)');
    const doc = JSON.parse(readFileSync(json, 'utf8')) as ResultDocument;
    expect(doc.complete).toBe(false);
    // Only the interrupted run: batched never started.
    expect(doc.runs.map((r) => [r.strategy, r.outcome, r.complete])).toEqual([
      ['lockfree', 'interrupted', false],
    ]);
    const r = doc.runs[0];
    expect(r.totals.unmaps).toBeGreaterThan(0);
    expect(r.durationMs).toBeGreaterThan(0);
    expect(r.durationMs).toBeLessThan(2000);
    expect(r.virtual?.virtualNs).toBeLessThan(2001e6);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);
});
