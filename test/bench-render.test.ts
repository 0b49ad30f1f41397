// The bench's renderers, without measuring anything: docs/performance.md's generated part must be
// exactly what the sections render from the committed bench/results/full.json, so that a renderer
// or template that breaks (or drifts from the JSON) fails here rather than at the next 10-minute
// bench. The figure-by-figure checks read a frozen copy of an older full.json (sections 1-6 only,
// test/fixtures/bench-full-2026-11-28.json), so that re-running the bench does not change them.
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readResults, renderDoc, writeDoc } from '../bench/lib/doc.js';
import { parseBenchOptions } from '../bench/lib/options.js';
import { renderTemplate } from '../bench/lib/template.js';
import { SECTIONS } from '../bench/sections/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const FULL = join(ROOT, 'bench/results/full.json');
/** full.json as the bench wrote it on 2026-11-28, before the twin and virtual sections existed. */
const FROZEN = join(ROOT, 'test/fixtures/bench-full-2026-11-28.json');
const DOC = join(ROOT, 'docs/performance.md');
const BEGIN = '<!-- bench:begin';
const END = '<!-- bench:end -->';

/** The generated part of a performance.md: after the begin marker's line and its blank line. */
function generatedPart(text: string): string {
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  expect(a).toBeGreaterThanOrEqual(0);
  expect(b).toBeGreaterThan(a);
  return text.slice(text.indexOf('\n', a) + 2, b - 1);
}

describe('bench rendering from bench/results/full.json', () => {
  it('reproduces the generated part of docs/performance.md byte for byte, every section present', () => {
    const md = renderDoc(readResults(FULL), SECTIONS);
    expect(md).toBe(generatedPart(readFileSync(DOC, 'utf8')));
    const headings = md
      .split('\n')
      .filter((l) => /^### \d\. /.test(l))
      .map((l) => l.slice(4, 6));
    expect(headings).toEqual(['1.', '2.', '3.', '4.', '5.', '6.', '7.', '8.']);
  });
});

describe('bench rendering from a frozen full.json (2026-11-28)', () => {
  const md = renderDoc(readResults(FROZEN), SECTIONS);
  const lines = md.split('\n');

  it('renders every section, in registry order, with no placeholder left', () => {
    const headings = lines.filter((l) => /^### \d\. /.test(l)).map((l) => l.slice(4, 6));
    expect(headings).toEqual(['1.', '2.', '3.', '4.', '5.', '6.']);
    expect(SECTIONS.map((s) => s.name)).toEqual([
      'efficiency',
      'locks',
      'stats',
      'scaling',
      'startup',
      'profile',
      'twin',
      'virtual',
    ]);
    expect(md).not.toMatch(/\{\{|\}\}/);
  });

  it('collects one target row per target, each section in order, with the figures of the JSON', () => {
    const head = lines.indexOf('| target | measured (median, min–max) | verdict |');
    const rows = lines.slice(head + 2, lines.indexOf('', head));
    expect(rows).toEqual([
      '| 1. per-page at 100/1000: measured >= 0.85x floor bound | 0.68x (0.58x–0.69x) | MISSED (the bare queue protocol reaches 0.81x in JS, 0.90x in C: see 1.) |',
      '| 1. batched at 100/1000: measured >= 0.85x floor bound | 0.31x (0.30x–0.32x) | MISSED (the bare queue protocol reaches 0.57x in JS, 0.68x in C: see 1.) |',
      '| 1. CMD_SYNC round trip (mean, latencies 0) <= 1.5x ping-pong | 1.12x (0.73x–1.43x) | met |',
      '| 2. JS ttas >= 0.7x C ttas (acquisitions/s) | 0.81x (0.61x–1.04x) | met |',
      '| 3. --stats full costs <= 5 % (full/counters >= 0.95) | 0.98x (0.82x–0.99x) | met |',
      '| 3. --trace costs <= 20 % (full+trace/counters >= 0.80) | 0.92x (0.88x–0.94x) | met |',
      '| 4. every scaling run completes within duration + 2 s | 105/105 runs | met |',
      '| 5. process start to first measured unmap, --cpus 8 <= 500 ms | 315 ms (310 ms–317 ms) | met |',
    ]);
  });

  it('keeps prose paragraphs on one line with their figures filled in', () => {
    expect(lines).toContain(
      'Peak RSS per CPU worker (least-squares slope of the medians over --cpus 1, 2, 4, 8): **11.3 MiB**.',
    );
    expect(lines.filter((l) => l.startsWith('One child process per run'))).toHaveLength(2);
  });

  it('renders a section missing from the results as absent, not as an error', () => {
    const doc = readResults(FROZEN);
    delete doc.profile;
    delete doc.efficiency;
    const partial = renderDoc(doc, SECTIONS);
    expect(partial).not.toContain('### 1. ');
    expect(partial).not.toContain('### 6. ');
    expect(partial).toContain('### 5. Start-up and memory');
    expect(partial).not.toContain('| 1. per-page');
  });
});

describe('writeDoc', () => {
  it('replaces only the part between the markers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-render-'));
    const file = join(dir, 'performance.md');
    copyFileSync(DOC, file);
    const before = readFileSync(file, 'utf8');
    writeDoc('generated\n', file);
    const after = readFileSync(file, 'utf8');
    expect(generatedPart(after)).toBe('generated\n');
    const outside = (t: string) => [t.slice(0, t.indexOf(BEGIN)), t.slice(t.indexOf(END))];
    expect(outside(after)).toEqual(outside(before));
  });
});

describe('templates', () => {
  it('refuses a placeholder without a value and a value without a placeholder', () => {
    expect(() => renderTemplate('intro-quick', { extra: 1 })).toThrow(/no placeholder for \{\{extra\}\}/);
    expect(() => renderTemplate('profile-thread', { role: 'CPU worker' })).toThrow(
      /no value for \{\{waiting\}\}/,
    );
    expect(renderTemplate('profile-thread', { role: 'CPU worker', waiting: '$& 5 %' })).toBe(
      '- CPU worker: $& 5 % waiting (waitForChange, until, spinUntil)',
    );
  });
});

describe('bench options', () => {
  const parse = (...argv: string[]) => parseBenchOptions(argv, SECTIONS);

  it('turns bad input into one line and exit code 2', () => {
    for (const [argv, msg] of [
      [['--reps', '0'], 'bench: --reps: 0 is out of range (allowed: 1 to 1000)\n'],
      [
        ['--only', 'efficiency,nope'],
        'bench: --only: unknown value "nope" (allowed: efficiency, locks, stats, scaling, startup, profile, twin, virtual)\n',
      ],
      [['--bogus'], "bench: unknown option '--bogus' (see --help)\n"],
      [
        ['--render-only', FULL, '--quick'],
        "bench: option '--render-only <file>' cannot be used with option '--quick' (see --help)\n",
      ],
      [['--name', '../x'], `bench: --name: "../x" is not a file name (letters, digits, '.', '-', '_')\n`],
    ] as const)
      expect(parse(...argv)).toEqual({ kind: 'exit', code: 2, output: msg });
  });

  it('lists every option in --help', () => {
    const r = parse('--help');
    expect(r.kind === 'exit' && r.code).toBe(0);
    for (const flag of ['--quick', '--reps', '--only', '--name', '--profile', '--no-doc', '--render-only'])
      expect(r.kind === 'exit' && r.output).toContain(flag);
  });

  it('selects the default sections per mode, as before the split', () => {
    const only = (...argv: string[]) => {
      const r = parse(...argv);
      return r.kind === 'run' ? [r.options.only, r.options.reps, r.options.name] : r;
    };
    const all = ['efficiency', 'locks', 'stats', 'scaling', 'startup', 'profile', 'twin', 'virtual'];
    expect(only()).toEqual([all, 5, 'full']);
    expect(only('--quick')).toEqual([all.filter((s) => s !== 'profile'), 3, 'quick']);
    expect(only('--quick', '--profile')).toEqual([all, 3, 'quick']);
    expect(only('--only', 'stats,efficiency', '--reps', '7')).toEqual([['stats', 'efficiency'], 7, 'full']);
  });
});

/** The rendered lines of the frozen full.json with one more section's result from test/fixtures/bench-NAME.json. */
function renderWithFixture(name: string): string[] {
  const doc = readResults(FROZEN);
  doc[name] = JSON.parse(readFileSync(join(ROOT, `test/fixtures/bench-${name}.json`), 'utf8')) as unknown;
  return renderDoc(doc, SECTIONS).split('\n');
}

/** The section numbers of the rendered headings ("### N. ..."). */
const headingNumbers = (lines: readonly string[]): string[] =>
  lines.filter((l) => /^### \d\. /.test(l)).map((l) => l.slice(4, 6));

describe('the twin section, from a fixture (the frozen full.json predates it)', () => {
  const lines = renderWithFixture('twin');

  it('renders as section 7, after the others, with its targets last in the Targets table', () => {
    expect(headingNumbers(lines)).toEqual(['1.', '2.', '3.', '4.', '5.', '6.', '7.']);
    const head = lines.indexOf('| target | measured (median, min–max) | verdict |');
    const rows = lines.slice(head + 2, lines.indexOf('', head));
    expect(rows.slice(-3)).toEqual([
      '| 7. per-page at 100/1000: C twin / emulator, mean time in iommu_unmap >= 0.9 | 0.66x (0.66x–0.80x) | MISSED |',
      '| 7. batched at 100/1000: C twin / emulator, mean time in iommu_unmap >= 0.9 | 0.93x (0.93x–0.99x) | met |',
      "| 7. per-page/batched unmap time at 100/1000 within 15 % of the C twin's (emulator/C 0.85-1.15) | 1.23x (1.23x–1.41x) | MISSED |",
    ]);
  });

  it('puts C, the emulator, their ratios (mean and median) and the time per command side by side', () => {
    expect(lines).toContain(
      '| 100/1000 | per-page | 17.6 µs | 23.8 µs (23.8 µs–24.0 µs) | 30.0 µs (30.0 µs–36.0 µs) | 0.66x (0.66x–0.80x) | 23.6 µs (23.6 µs–23.8 µs) | 27.0 µs (27.0 µs–32.4 µs) | 0.73x (0.73x–0.88x) | 194 ns (194 ns–200 ns) | 388 ns (388 ns–575 ns) | >= 0.9x: MISSED |',
    );
    // A cell with a noisy sample (another process kept > 0.25 cores busy) is starred.
    expect(lines).toContain(
      '| 10/100 | batched | 260 ns | 1.35 µs (1.35 µs–1.40 µs) * | 2.90 µs (2.90 µs–3.00 µs) * | 0.47x (0.47x–0.47x) * | 1.15 µs (1.15 µs–1.20 µs) * | 2.61 µs (2.61 µs–2.70 µs) * | 0.44x (0.44x–0.44x) * | 64.1 ns (64.1 ns–67.1 ns) * | 155 ns (155 ns–161 ns) * |  |',
    );
    expect(lines).toContain(
      '| 100/1000 | 6.23x (6.23x–6.23x) | 7.69x (7.69x–8.78x) | 1.23x (1.23x–1.41x) | +23 % (+23 %–+41 %) | 0.85x-1.15x: MISSED |',
    );
    expect(lines.join('\n')).not.toMatch(/\{\{|\}\}/);
  });

  it('shows the floor, each side alone, when the results file has one, and says so when not', () => {
    expect(lines).toContain('_Not measured in this results file (the floor was added in session 10)._');
    const doc = readResults(FROZEN);
    const tw = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/bench-twin.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const s = (x: number, lo = x, hi = x) => ({
      median: x,
      min: lo,
      max: hi,
      n: 3,
      samples: [lo, x, hi],
      noisy: 0,
    });
    tw.floorCommands = ['bench/build/twin floor 31'];
    tw.floors = [{ what: 'one clock read', c: s(25, 24), emu: s(40, 40, 45), emuOverC: s(1.6) }];
    doc.twin = tw;
    const md = renderDoc(doc, SECTIONS).split('\n');
    expect(md).toContain(
      '| one clock read | 25.0 ns (24.0 ns–25.0 ns) | 40.0 ns (40.0 ns–45.0 ns) | 1.60x (1.60x–1.60x) |',
    );
    expect(md).toContain('bench/build/twin floor 31');
    expect(md.join('\n')).not.toContain('Not measured in this results file');
  });
});

describe('the virtual section, from a fixture (the frozen full.json predates it)', () => {
  const lines = renderWithFixture('virtual');

  it('renders as section 8 with one target per point and figure, then the scale targets', () => {
    expect(headingNumbers(lines)).toEqual(['1.', '2.', '3.', '4.', '5.', '6.', '8.']);
    const head = lines.indexOf('| target | measured (median, min–max) | verdict |');
    const rows = lines.slice(head + 2, lines.indexOf('', head)).filter((r) => r.startsWith('| 8. '));
    expect(rows.map((r) => r.split(' | ')[0])).toEqual([
      '| 8. per-page at 1 CPU(s): virtual/threads unmaps/s within ±20 %',
      '| 8. per-page at 1 CPU(s): virtual/threads mean unmap time within ±20 %',
      '| 8. batched at 1 CPU(s): virtual/threads unmaps/s within ±20 %',
      '| 8. batched at 1 CPU(s): virtual/threads mean unmap time within ±20 %',
      '| 8. lockfree at 1 CPU(s): virtual/threads unmaps/s within ±20 %',
      '| 8. lockfree at 1 CPU(s): virtual/threads mean unmap time within ±20 %',
      '| 8. 64 CPUs x 100 ms virtual, lockfree: <= 30 s wall',
      '| 8. 256 CPUs x 20 ms virtual, lockfree: finishes',
      '| 8. peak RSS at 256 CPUs <= 1 GiB',
    ]);
  });

  it('shows the calibration, both engines side by side and the scale runs', () => {
    const md = lines.join('\n');
    expect(md).toContain('| cmdNs | ');
    expect(md).toContain('| wakeNs | ');
    expect(md).toContain('| smmuFetch | 1 | ');
    expect(lines.filter((l) => /^\| 1 \| (per-page|batched|lockfree) \| /.test(l))).toHaveLength(3);
    expect(lines.filter((l) => /^\| (64|256) \| \d+ ms \| lockfree \| /.test(l))).toHaveLength(2);
    expect(md).not.toMatch(/\{\{|\}\}/);
  });
});
