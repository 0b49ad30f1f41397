// The outputs of virtual runs: a virtual CPU sweep through the library API, and a document that
// holds both engines (the virtual runs cloned as threads runs of the same configuration): the
// HTML report draws the virtual points dashed and hollow in their strategy's colour, over the
// threads points, with an engine legend; compare never matches a virtual run with a threads run.
import { describe, expect, it, beforeAll } from 'vitest';
import { DEFAULTS, runConfig, runSweep, compareDocs } from '../src/index.js';
import { chartEntries, summarize } from '../src/report/charts.js';
import { documentText } from '../src/report/document-text.js';
import { renderCharts } from '../src/report/html.js';
import { runSummary, windowText } from '../src/report/text.js';
import type { ResultDocument } from '../src/report/types.js';
import { Progress } from '../src/cli/progress.js';
import { runLine } from '../src/run/progress-line.js';
import type { RunInfo } from '../src/run/run-plan.js';

let virtual: ResultDocument;
let mixed: ResultDocument;

beforeAll(async () => {
  const cfg = {
    ...DEFAULTS,
    engine: 'virtual' as const,
    lock: 'ticket' as const,
    strategies: ['batched', 'lockfree'],
    durationMs: 0.2,
    warmupMs: 0.02,
    quiet: true,
  };
  virtual = (await runSweep(cfg, [{ key: 'cpus', values: [1, 2, 4] }])).doc;
  // The same points as if the threads engine had run them (half the rate), swept over the engine.
  const threads = virtual.runs.map((r) => ({
    ...structuredClone(r),
    engine: 'threads' as const,
    virtual: null,
    params: { ...r.params, engine: 'threads' },
    totals: { ...r.totals, unmapsPerSec: r.totals.unmapsPerSec / 2 },
  }));
  const virt = virtual.runs.map((r) => ({
    ...structuredClone(r),
    params: { ...r.params, engine: 'virtual' },
  }));
  mixed = { ...structuredClone(virtual), runs: [...threads, ...virt] };
});

describe('virtual runs in the outputs', () => {
  it('a virtual CPU sweep reports engine, seed and a non-oversubscribed host', () => {
    expect(
      virtual.runs.map((r) => [r.cpus, r.strategy, r.engine, r.virtual?.seed, r.oversubscribed]),
    ).toEqual([
      [1, 'batched', 'virtual', 1, false],
      [1, 'lockfree', 'virtual', 1, false],
      [2, 'batched', 'virtual', 1, false],
      [2, 'lockfree', 'virtual', 1, false],
      [4, 'batched', 'virtual', 1, false],
      [4, 'lockfree', 'virtual', 1, false],
    ]);
    expect(virtual.host.oversubscribed).toBe(false);
  });

  it('summarize groups both engines under one colour per strategy', () => {
    const s = summarize(mixed);
    expect(s.engines).toEqual(['threads', 'virtual']);
    expect(s.baseSeries).toEqual(['batched', 'lockfree']);
    expect(s.series).toEqual([
      'batched (engine=threads)',
      'batched (engine=virtual)',
      'lockfree (engine=threads)',
      'lockfree (engine=virtual)',
    ]);
  });

  it('the throughput chart dashes and hollows the virtual points and has an engine legend', async () => {
    const entry = chartEntries(mixed).find((e) => e.id === 'throughput')!;
    const spec = JSON.stringify(entry.spec);
    expect(spec).toContain('"strokeDash"');
    expect(spec).toContain('"filled":false');
    expect(entry.caption).toMatch(/Dashed lines and hollow points are runs of the virtual-time engine/);
    const svg = (await renderCharts(mixed)).find((c) => c.entry.id === 'throughput')!.svg!;
    expect(svg).toContain('stroke-dasharray="6,4"');
    expect(svg).toMatch(/>engine</);
    expect(svg).toMatch(/>virtual</);
    // A threads-only document is drawn as before: no engine legend.
    const threads = { ...structuredClone(mixed), runs: mixed.runs.filter((r) => r.engine === 'threads') };
    expect(JSON.stringify(chartEntries(threads).find((e) => e.id === 'throughput')!.spec)).not.toContain(
      'strokeDash',
    );
  });

  it('compare matches runs of the same engine only', () => {
    const asThreads = { ...structuredClone(virtual), runs: mixed.runs.slice(0, virtual.runs.length) };
    const same = compareDocs(virtual, structuredClone(virtual));
    expect(same.rows.length).toBeGreaterThan(0);
    expect(() => compareDocs(virtual, asThreads)).toThrow(
      'compare: no run of A matches a run of B: they differ in engine ("virtual" in A, "threads" in B)',
    );
  });
});

describe('the text of virtual runs', () => {
  it('a window under 100 ms is printed in ms, from 100 ms up in s as before', () => {
    const line = runSummary(virtual.runs[0]).split('\n')[0];
    // The virtual window closes exactly at --duration: 0.2 ms, which "0.00 s" used to hide.
    expect(virtual.runs[0].durationMs).toBe(0.2);
    expect(line).toMatch(/ in 0\.200 ms$/);
    expect([
      windowText(2345.6),
      windowText(500.2),
      windowText(100),
      windowText(20.004),
      windowText(0),
    ]).toEqual(['2.35 s', '0.50 s', '0.10 s', '20.00 ms', '0.00 s']);
  });

  it('a run with no unmap in its window says so, not that every latency is 0', async () => {
    // A DMA of 1 ms holds the one CPU's first buffer across the whole 10 us window.
    const cfg = {
      ...DEFAULTS,
      engine: 'virtual' as const,
      strategies: ['batched'],
      cpus: 1,
      dmaNs: 1e6,
      durationMs: 0.01,
      warmupMs: 0.01,
      quiet: true,
      json: null,
    };
    const { doc } = await runConfig(cfg, () => {});
    const r = doc.runs[0];
    expect([r.totals.unmaps, r.modelBound.unmapsPerSec, r.virtual?.params.tlbiNs]).toEqual([0, null, 100]);
    const lines = runSummary(r).split('\n');
    expect(lines).toContain('model bound: none (no unmap in the measured window)');
    expect(lines.join('\n')).not.toMatch(/every modelled latency is 0/);
  });

  it('a sweep of virtual runs only does not name --wait; one with threads runs does', () => {
    const host = (t: string) => t.split('\n').find((l) => l.startsWith('host: '))!;
    expect(host(documentText(virtual))).toMatch(
      /; --engine virtual: every run in virtual time \(one thread\)$/,
    );
    expect(host(documentText(virtual))).not.toMatch(/--wait/);
    expect(host(documentText(mixed))).toMatch(
      /--wait auto \(resolved per point\); --engine virtual runs in virtual time \(one thread\)$/,
    );
  });
});

describe('progress of a virtual run', () => {
  const info: RunInfo = {
    index: 1,
    total: 1,
    point: 1,
    points: 1,
    params: {},
    strategy: 'lockfree',
    repetition: 0,
    repeat: 1,
    cfg: { ...DEFAULTS, engine: 'virtual', strategies: ['lockfree'], durationMs: 20, warmupMs: 1 },
    host: {} as never,
  };

  it('the start line says virtual time; the bar shows the virtual time reached', () => {
    expect(runLine(info)).toBe('running lockfree: 8 CPUs, 20 ms after 1 ms warm-up (virtual time)');
    let out = '';
    let now = 0;
    const p = new Progress('bar', { write: (s: string) => (out += s), isTTY: true, columns: 200 }, () => now);
    p.runStart(info);
    now += 1000;
    p.virtualProgress(info, 10.5e6, 65_536);
    expect(out).toMatch(/\| lockfree \| virtual 10\.50\/21 ms \| 0:01 elapsed/);
    // From the second report on: events simulated per second of wall time since the first.
    now += 250;
    p.virtualProgress(info, 12e6, 65_536 + 500_000);
    expect(out).toMatch(/\| lockfree \| virtual 12\.00\/21 ms, 2\.00M events\/s \| 0:01 elapsed/);
    p.done();
  });

  it('off a terminal: a line every 5 s of wall time, none sooner', () => {
    let out = '';
    let now = 0;
    const p = new Progress('lines', { write: (s: string) => (out += s) }, () => now);
    p.runStart(info);
    out = '';
    now = 1000;
    p.virtualProgress(info, 1e6, 65_536);
    now = 4999;
    p.virtualProgress(info, 3e6, 4 * 65_536);
    expect(out).toBe('');
    now = 5000;
    p.virtualProgress(info, 4e6, 65_536 + 600_000);
    now = 6000;
    p.virtualProgress(info, 5e6, 65_536 + 700_000);
    expect(out).toBe('virtual time 4.00 of 21 ms (lockfree, 150k events/s)\n');
  });
});
