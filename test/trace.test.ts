// --trace: a Chrome Trace Event Format file that parses, whose spans nest per track, and in which
// hold spans of one lock never overlap across CPUs (they cannot, if the lock works and every
// thread reads the same clock).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import type { ChromeEvent } from '../src/trace/chrome.js';
import { configWith } from './helpers/runs.js';

const dir = mkdtempSync(join(tmpdir(), 'tlbsync-trace-'));
/** Timestamps are rounded to 10 ns (0.01 us); allow the float error of that arithmetic. */
const EPS = 1e-6;
/** --trace-window of the two-strategy run: shorter than warm-up + duration, so it cuts. */
const WINDOW_MS = 250;

const config = configWith({ pages: 4 });

describe('--trace', () => {
  let trace: { traceEvents: ChromeEvent[]; displayTimeUnit: string; otherData: Record<string, unknown> };
  const file = join(dir, 'trace.json');
  beforeAll(async () => {
    // Every hold timed (--hold-sample 1), so the no-overlap check sees every hand-over. A window of
    // most of the run, so that a CPU descheduled for a while still holds each lock inside it.
    await runConfig(
      // --iova rbtree: a lock every CPU takes on every unmap (the rcache's locks are per CPU).
      config({
        trace: file,
        traceWindowMs: WINDOW_MS,
        holdSample: 1,
        strategies: ['per-page', 'batched'],
        iova: 'rbtree',
      }),
      () => {},
    );
    trace = JSON.parse(readFileSync(file, 'utf8'));
  });

  it('is Chrome Trace Event Format with named tracks per CPU and the SMMU, one process per strategy', () => {
    expect(Array.isArray(trace.traceEvents)).toBe(true);
    const names = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name');
    for (const pid of [1, 2]) {
      expect(names.filter((e) => e.pid === pid).map((e) => e.args?.name)).toEqual(['cpu 0', 'cpu 1', 'SMMU']);
    }
    const procs = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name');
    expect(procs.map((e) => e.args?.name)).toEqual(['per-page', 'batched']);
    const spans = trace.traceEvents.filter((e) => e.ph === 'X');
    for (const name of ['cmdq hold', 'iova hold', 'CMD_SYNC wait', 'iommu_unmap'])
      expect(
        spans.some((e) => e.name === name && e.tid < 2),
        name,
      ).toBe(true);
    // The SMMU track (tid = cpus) has a span per command it processed, and queue-depth counters.
    for (const name of ['TLBI_NH_VA', 'CMD_SYNC'])
      expect(
        spans.some((e) => e.name === name && e.tid === 2),
        name,
      ).toBe(true);
    const depth = trace.traceEvents.filter((e) => e.ph === 'C' && e.name === 'queue depth');
    expect(depth.length).toBeGreaterThan(0);
    expect(depth.every((e) => typeof e.args?.entries === 'number' && (e.args.entries as number) >= 0)).toBe(
      true,
    );
    // The counter returns to 0 when the SMMU drains the queue and goes idle.
    expect(depth.some((e) => e.args?.entries === 0)).toBe(true);
    expect(depth.some((e) => (e.args?.entries as number) > 0)).toBe(true);
    // Only the last --trace-window is kept; plain checks (an expect per span is slow).
    const outside = spans.filter((e) => !(e.dur! >= 0 && e.ts! >= 0 && e.ts! <= WINDOW_MS * 1000 + EPS));
    expect(outside.slice(0, 3)).toEqual([]);
  });

  it('nests spans correctly on every track', () => {
    const tracks = new Map<string, ChromeEvent[]>();
    for (const e of trace.traceEvents) {
      if (e.ph !== 'X') continue;
      const k = `${e.pid}/${e.tid}`;
      const list = tracks.get(k);
      if (list) list.push(e);
      else tracks.set(k, [e]);
    }
    expect(tracks.size).toBeGreaterThanOrEqual(4);
    const bad: string[] = [];
    for (const [k, evs] of tracks) {
      evs.sort((a, b) => a.ts! - b.ts! || b.dur! - a.dur!);
      const stack: ChromeEvent[] = [];
      for (const e of evs) {
        while (stack.length > 0 && stack[stack.length - 1].ts! + stack[stack.length - 1].dur! <= e.ts! + EPS)
          stack.pop();
        const top = stack[stack.length - 1];
        if (top && e.ts! + e.dur! > top.ts! + top.dur! + EPS)
          bad.push(`${k}: ${e.name}@${e.ts} (${e.dur}) overlaps ${top.name}@${top.ts} (${top.dur})`);
        stack.push(e);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('never shows two CPUs holding the same lock at once', () => {
    const bad: string[] = [];
    for (const pid of [1, 2]) {
      for (const lock of ['cmdq hold', 'iova hold']) {
        const holds = trace.traceEvents
          .filter((e) => e.pid === pid && e.ph === 'X' && e.name === lock)
          .sort((a, b) => a.ts! - b.ts!);
        // Both CPUs held it, and it passed between them: the check below compares holds of two
        // different CPUs, not only one CPU's holds with each other.
        expect(new Set(holds.map((h) => h.tid)), `${pid} ${lock}`).toEqual(new Set([0, 1]));
        let handOvers = 0;
        for (let i = 1; i < holds.length; i++) {
          const [a, b] = [holds[i - 1], holds[i]];
          if (a.tid !== b.tid) handOvers++;
          if (b.ts! < a.ts! + a.dur! - EPS)
            bad.push(`${pid} ${lock}: cpu ${a.tid} @${a.ts}+${a.dur} vs cpu ${b.tid} @${b.ts}`);
        }
        expect(handOvers, `${pid} ${lock}`).toBeGreaterThan(0);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });
});

describe('--trace with ECMDQs', () => {
  it('has a depth counter per ECMDQ on the SMMU track, each back to 0 when its queue drains', async () => {
    const file = join(dir, 'trace-ecmdq.json');
    await runConfig(config({ trace: file, traceWindowMs: 100, strategies: ['ecmdq'] }), () => {});
    const trace = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: ChromeEvent[] };
    const counters = trace.traceEvents.filter((e) => e.ph === 'C');
    for (const name of ['ECMDQ 0 depth', 'ECMDQ 1 depth']) {
      const depth = counters.filter((e) => e.name === name);
      expect(depth.length, name).toBeGreaterThan(0);
      expect(
        depth.every((e) => e.tid === 2 && Number.isInteger(e.args?.entries)),
        name,
      ).toBe(true);
      expect(
        depth.some((e) => e.args?.entries === 0),
        name,
      ).toBe(true);
      // pages 4: a CPU posts 4 TLBIs and a CMD_SYNC at once, so its queue holds at most 5.
      expect(
        depth.some((e) => (e.args?.entries as number) > 0),
        name,
      ).toBe(true);
      expect(
        depth.every((e) => (e.args?.entries as number) <= 5),
        name,
      ).toBe(true);
    }
    // Nothing goes through the normal command queue once the ECMDQs are up. (Bring-up's commands
    // do, and are sampled as 'queue depth'; they are outside the last --trace-window of 100 ms.)
    expect(counters.filter((e) => e.name === 'queue depth')).toEqual([]);
  });
});
