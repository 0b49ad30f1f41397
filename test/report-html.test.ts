// The HTML report: rendered from a real short run and from a synthetic sweep built by cloning that
// run's reports at other CPU counts (two repetitions each, 10% apart, so averaging shows), it must be
// one self-contained file whose charts all draw data from the document; then opened in headless
// Chromium, every chart must show marks on screen and the page must fetch nothing.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import { chartEntries, summarize } from '../src/report/charts.js';
import { renderCharts, renderHtmlReport } from '../src/report/html.js';
import type { ResultDocument } from '../src/report/types.js';
import {
  haveChromium,
  IN_CI,
  launchChromium,
  missingChromiumMessage,
  type Browser,
} from './helpers/browser.js';
import { config } from './helpers/runs.js';

const OUT = fileURLToPath(new URL('../test-output/report-html/', import.meta.url));
const SWEEP_CPUS = [1, 2, 4, 8];

/** The short run's reports cloned at each CPU count, two repetitions 0.9x and 1.1x its rate. */
function syntheticSweep(doc: ResultDocument): ResultDocument {
  const runs = SWEEP_CPUS.flatMap((cpus) =>
    doc.runs.flatMap((r) =>
      [0.9, 1.1].map((f, repetition) => {
        const c = structuredClone(r);
        c.params = { cpus };
        c.cpus = cpus;
        c.repetition = repetition;
        c.oversubscribed = cpus + 1 > doc.host.cores;
        c.totals.unmapsPerSec = r.totals.unmapsPerSec * f;
        return c;
      }),
    ),
  );
  return {
    ...structuredClone(doc),
    sweep: { axes: [{ name: 'cpus', values: SWEEP_CPUS }] },
    repeat: 2,
    runs,
  };
}

interface Figure {
  id: string;
  empty: boolean;
  svg: string;
}

function figures(html: string): Figure[] {
  const out: Figure[] = [];
  const re =
    /<figure class="chart" id="chart-([^"]+)" data-chart="[^"]+" data-empty="(true|false)"[^>]*>([\s\S]*?)<\/figure>/g;
  for (const m of html.matchAll(re)) out.push({ id: m[1], empty: m[2] === 'true', svg: m[3] });
  return out;
}

/**
 * Drawn elements inside data-mark groups: vega draws symbols, rects and lines as non-empty paths,
 * rules as <line>s.
 */
function markPaths(svg: string, kind: 'symbol' | 'rect' | 'line' | 'rule'): number {
  let n = 0;
  const re = new RegExp(`<g class="mark-${kind} role-mark[^"]*"[^>]*>([\\s\\S]*?)</g>`, 'g');
  const el = kind === 'rule' ? /<line[^>]*>/g : /<path[^>]*\sd="M[^"]+"/g;
  for (const m of svg.matchAll(re)) n += (m[1].match(el) ?? []).length;
  return n;
}

function lockIdsWithWaits(doc: ResultDocument, cpus: number): string[] {
  const s = summarize(doc);
  return s.locks.filter((name) =>
    s.points.some(
      (p) => p.cpus === cpus && (p.locks.find((l) => l.name === name)?.waitHistogram.size ?? 0) > 0,
    ),
  );
}

function expectSelfContained(html: string): void {
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/<link/i);
  expect(html).not.toMatch(/<img/i);
  expect(html).not.toMatch(/@import|url\(/i);
  expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
  // The only http(s) text left is SVG namespace declarations, which fetch nothing.
  const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
  expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink']));
}

let doc: ResultDocument;
let sweep: ResultDocument;
let singleHtml: string;
let sweepHtml: string;

beforeAll(async () => {
  ({ doc } = await runConfig(
    config({ pages: 16, durationMs: 200, strategies: ['per-page', 'batched'] }),
    () => {},
  ));
  sweep = syntheticSweep(doc);
  // Whatever this host is, the sweep document says it was oversubscribed, so the warning shows.
  sweep.host = { ...sweep.host, oversubscribed: true, threads: 9 };
  singleHtml = await renderHtmlReport(doc);
  sweepHtml = await renderHtmlReport(sweep);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(`${OUT}report-single.html`, singleHtml);
  writeFileSync(`${OUT}report-sweep.html`, sweepHtml);
});

describe('HTML report, as a file', () => {
  it('is self-contained: no scripts, links, fonts or remote sources', () => {
    expectSelfContained(singleHtml);
    expectSelfContained(sweepHtml);
    expect(singleHtml).toContain('Content-Security-Policy');
  });

  it('has one SVG chart per expected figure, each with data marks, a title, axis titles and a caption', () => {
    for (const [d, html] of [
      [doc, singleHtml],
      [sweep, sweepHtml],
    ] as const) {
      const xMax = Math.max(...summarize(d).xs);
      const withWaits = lockIdsWithWaits(d, xMax);
      expect(withWaits).toContain('cmdq');
      const figs = figures(html);
      const locks = summarize(d).locks;
      expect(figs.map((f) => f.id)).toEqual([
        'throughput',
        'per-cpu',
        'lock-wait-p99',
        ...locks.map((l) => `wait-histogram-${l}`),
        'commands-per-unmap',
      ]);
      for (const f of figs) {
        const expectEmpty = f.id.startsWith('wait-histogram-') && !withWaits.includes(f.id.slice(15));
        expect(f.empty, f.id).toBe(expectEmpty);
        expect(f.svg, f.id).toContain('How to read this:');
        if (expectEmpty) {
          expect(f.svg, f.id).not.toContain('<svg');
          expect(f.svg, f.id).toContain('Nothing to draw');
          continue;
        }
        expect(f.svg.match(/<svg/g)?.length, f.id).toBe(1);
        const marks = ['symbol', 'rect', 'line'] as const;
        expect(
          marks.reduce((n, k) => n + markPaths(f.svg, k), 0),
          f.id,
        ).toBeGreaterThan(0);
      }
      const byId = Object.fromEntries(figs.map((f) => [f.id, f.svg]));
      const strategies = d.config.strategies as string[];
      const nx = summarize(d).xs.length;
      if (nx === 1) {
        // One point: a bar per strategy, labelled with its rate.
        expect(markPaths(byId.throughput, 'rect')).toBe(strategies.length);
        for (const r of d.runs)
          expect(byId.throughput).toContain(`>${Math.round(r.totals.unmapsPerSec).toLocaleString('en-US')}<`);
      } else {
        // A line and a point per (CPU count, strategy); whiskers for the repetitions.
        expect(markPaths(byId.throughput, 'symbol')).toBe(strategies.length * nx);
        expect(markPaths(byId.throughput, 'line')).toBe(strategies.length);
        expect(markPaths(byId.throughput, 'rule')).toBe(strategies.length * nx);
        expect(byId['per-cpu']).toContain('unmaps/s per CPU');
      }
      expect(byId.throughput).toContain('unmaps/s, all CPUs');
      expect(byId['lock-wait-p99']).toMatch(/contended wait p99 \((µs|ms)\)/);
      expect(byId['wait-histogram-cmdq']).toContain('contended wait time (µs or ms, log scale)');
      expect(byId['commands-per-unmap']).toContain('commands consumed per unmap');
      expect(byId['commands-per-unmap']).toContain('CMD_SYNC');
      for (const s of strategies) expect(byId.throughput).toContain(`>${s}<`);
    }
  });

  it('plots what the document holds: repetitions averaged per (point, strategy)', () => {
    const s = summarize(sweep);
    expect(s.xs).toEqual(SWEEP_CPUS);
    expect(s.points).toHaveLength(SWEEP_CPUS.length * doc.runs.length);
    const tp = chartEntries(sweep).find((e) => e.id === 'throughput')!;
    const values = (tp.spec as { data: { values: { series: string; cpus: number; value: number }[] } }).data
      .values;
    for (const r of doc.runs)
      for (const cpus of SWEEP_CPUS) {
        const row = values.find((v) => v.series === r.strategy && v.cpus === cpus)!;
        expect(row.value).toBeCloseTo(r.totals.unmapsPerSec, 6); // mean of 0.9x and 1.1x
        const p = s.points.find((q) => q.strategy === r.strategy && q.cpus === cpus)!;
        expect(p.perCpuUnmapsPerSec.mean).toBeCloseTo(r.totals.unmapsPerSec / cpus, 6);
        expect(p.unmapsPerSec.min).toBeCloseTo(0.9 * r.totals.unmapsPerSec, 6);
        expect(p.commandsPerUnmap).toEqual(r.commandsPerUnmap);
        expect(p.locks.find((l) => l.name === 'cmdq')!.waitP99Ns!.mean).toBe(
          r.locks.find((l) => l.name === 'cmdq')!.waitNs.p99,
        );
        // Histogram counts pooled over both repetitions.
        const hist = p.locks.find((l) => l.name === 'cmdq')!.waitHistogram;
        const counts = r.locks.find((l) => l.name === 'cmdq')!.waitHistogram.count;
        expect([...hist.values()].reduce((a, b) => a + b, 0)).toBe(2 * counts.reduce((a, b) => a + b, 0));
      }
  });

  it('renders without vega or vega-lite warnings', async () => {
    for (const d of [doc, sweep])
      for (const c of await renderCharts(d)) expect(c.warnings, c.entry.id).toEqual([]);
  });

  it('shows the oversubscription warning exactly when the host was oversubscribed', async () => {
    const over = await renderHtmlReport({
      ...doc,
      host: { ...doc.host, oversubscribed: true },
      runs: doc.runs.map((r) => ({ ...r, oversubscribed: true })),
    });
    expect(over).toContain('id="oversubscribed"');
    expect(over).toContain('Oversubscribed host:');
    const notOver = await renderHtmlReport({
      ...doc,
      host: { ...doc.host, oversubscribed: false },
      runs: doc.runs.map((r) => ({ ...r, oversubscribed: false })),
    });
    expect(notOver).not.toContain('id="oversubscribed"');
    expect(sweepHtml).toContain('id="oversubscribed"');
  });

  it('lists the configuration and host', () => {
    for (const k of Object.keys(doc.config)) expect(singleHtml).toContain(`<dt>${k}</dt>`);
    expect(singleHtml).toContain(`<dd>${doc.host.cores}</dd>`);
    expect(singleHtml).toContain(doc.host.nodeVersion);
    expect(sweepHtml).toContain('cpus = 1, 2, 4, 8');
  });

  it('explains rather than draws what was not measured, and survives an empty document', async () => {
    const counters: ResultDocument = {
      ...doc,
      runs: doc.runs.map((r) => ({
        ...r,
        locks: r.locks.map((l) => ({
          ...l,
          waitNs: { ...l.waitNs, p99: null },
          waitHistogram: { lowNs: [], count: [] },
        })),
      })),
    };
    const html = await renderHtmlReport(counters);
    const figs = figures(html);
    expect(figs.find((f) => f.id === 'lock-wait-p99')!.empty).toBe(true);
    expect(html).toContain('not recorded (--stats counters');
    expect(figs.find((f) => f.id === 'throughput')!.empty).toBe(false);
    const empty = await renderHtmlReport({ ...doc, runs: [], complete: false });
    expect(figures(empty)).toEqual([]);
    expect(empty).toContain('nothing to chart');
    expect(empty).toContain('id="incomplete"');
  });
});

// Counts, for each chart figure, SVG mark elements drawn with a non-zero box on screen.
const MEASURE = `(() => [...document.querySelectorAll('figure.chart')].map((f) => ({
  id: f.dataset.chart,
  empty: f.dataset.empty === 'true',
  svgs: f.querySelectorAll('svg').length,
  marks: [...f.querySelectorAll('g.role-mark > path')].filter((el) => {
    const b = el.getBoundingClientRect();
    return b.width > 0 && b.height > 0;
  }).length,
  visible: f.getBoundingClientRect().height > 0,
})))()`;

interface Measured {
  id: string;
  empty: boolean;
  svgs: number;
  marks: number;
  visible: boolean;
}

it('.ci/run sets CI=true before the tests, so that CI cannot skip the browser tests', () => {
  const script = readFileSync(fileURLToPath(new URL('../.ci/run', import.meta.url)), 'utf8');
  const exported = script.search(/^export CI=true$/m);
  expect(exported).toBeGreaterThan(0);
  expect(script.indexOf('npm test')).toBeGreaterThan(exported);
});

describe.skipIf(!haveChromium() && !IN_CI)('HTML report, in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!haveChromium()) throw new Error(missingChromiumMessage());
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  for (const name of ['single', 'sweep'] as const) {
    it(`draws every chart of the ${name} report with visible marks and fetches nothing`, async () => {
      const d = name === 'single' ? doc : sweep;
      const page = await browser.context.newPage();
      const requests: string[] = [];
      const problems: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      const file = `${OUT}report-${name}.html`;
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

      const measured = (await page.evaluate(MEASURE)) as Measured[];
      const expected = chartEntries(d);
      expect(measured.map((m) => m.id)).toEqual(expected.map((e) => e.id));
      for (const m of measured) {
        expect(m.visible, m.id).toBe(true);
        if (m.empty) continue;
        expect(m.svgs, m.id).toBe(1);
        expect(m.marks, m.id).toBeGreaterThan(0);
      }
      expect(measured.filter((m) => !m.empty).length).toBeGreaterThanOrEqual(4);
      await expect(page.locator('#oversubscribed').isVisible()).resolves.toBe(d.host.oversubscribed);
      expect(await page.title()).toContain('tlbsync-emu report');

      const shot = `${OUT}report-${name}.png`;
      await page.screenshot({ path: shot, fullPage: true });
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
      expect(problems).toEqual([]);
      await page.close();
    });
  }
});
