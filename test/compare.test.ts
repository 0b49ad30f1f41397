// `tlbsync-emu compare A.json B.json [--fail-on-regression PCT]`: runs matched on strategy and
// settings, B/A per metric, a marker only beyond the noise the files' repetitions show, exit codes.
// The files are made by one real run and then edited, so the expected ratios are exact.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareMain } from '../src/cli/compare.js';
import { compareDocs } from '../src/report/compare-documents.js';
import type { ResultDocument, RunReport } from '../src/report/types.js';

const RUN = resolve(__dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'tlbsync-compare-'));

let base: ResultDocument;

function clone(): ResultDocument {
  return structuredClone(base);
}

/** Sets unmaps/s of each repetition of a strategy, in repetition order. */
function setRate(doc: ResultDocument, strategy: string, rates: number[]): ResultDocument {
  const runs = doc.runs.filter((r) => r.strategy === strategy);
  expect(runs).toHaveLength(rates.length);
  runs.forEach((r, i) => (r.totals.unmapsPerSec = rates[i]));
  return doc;
}

function write(name: string, doc: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
}

function cli(...args: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = compareMain(args, { write: (s: string) => (out += s) }, { write: (s: string) => (err += s) });
  return { code, out, err };
}

function row(res: ReturnType<typeof compareDocs>, run: string, metric: string) {
  const r = res.rows.find((x) => x.run === run && x.metric === metric);
  expect(r, `${run} ${metric}`).toBeDefined();
  return r!;
}

beforeAll(() => {
  const json = join(dir, 'base.json');
  const r = spawnSync(
    process.execPath,
    [
      RUN,
      '-t',
      '1',
      '--strategy',
      'per-page,batched',
      '--repeat',
      '2',
      '-s',
      '100ms',
      '--warmup',
      '20ms',
      '-q',
      '--json',
      json,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  base = JSON.parse(readFileSync(json, 'utf8'));
  setRate(base, 'per-page', [1000, 1100]); // median 1050, noise (1100-1000)/1050 = 9.5%
  setRate(base, 'batched', [2000, 2000]); // noise 0
});

describe('matching and ratios', () => {
  it('matches runs on strategy and settings and gives B/A of the medians', () => {
    const b = setRate(setRate(clone(), 'per-page', [990, 1010]), 'batched', [3000, 3000]);
    const res = compareDocs(base, b);
    expect(res.matched).toBe(2);
    expect(res.onlyA).toEqual([]);
    expect(res.onlyB).toEqual([]);
    const pp = row(res, 'per-page', 'unmaps/s');
    expect(pp.a).toBe(1050);
    expect(pp.b).toBe(1000);
    expect(pp.ratio).toBeCloseTo(1000 / 1050, 12);
    expect(pp.noise).toBeCloseTo(100 / 1050, 12);
    // -4.8% is inside A's noise of 9.5%: not marked.
    expect(pp.mark).toBe('');
    const bt = row(res, 'batched', 'unmaps/s');
    expect(bt.ratio).toBe(1.5);
    expect(bt.noise).toBe(0);
    expect(bt.mark).toBe('better');
    for (const m of [
      'pages/s',
      'syncs/unmap',
      'cmdq wait total us/s',
      'cmdq wait p99 us',
      'iova wait total us/s',
      'unmap p99 us',
    ])
      row(res, 'per-page', m);
  });

  it('marks a change beyond the noise as worse, direction-aware', () => {
    const b = setRate(clone(), 'per-page', [500, 510]);
    for (const r of b.runs) r.unmapLatencyNs.p99 = (r.unmapLatencyNs.p99 ?? 0) * 3 + 1;
    const res = compareDocs(base, b);
    expect(row(res, 'per-page', 'unmaps/s').mark).toBe('worse');
    expect(row(res, 'per-page', 'unmap p99 us').mark).toBe('worse');
    const faster = setRate(clone(), 'per-page', [2000, 2100]);
    expect(row(compareDocs(base, faster), 'per-page', 'unmaps/s').mark).toBe('better');
  });

  it('with one repetition the noise is unknown and nothing is marked', () => {
    const a1 = clone();
    a1.runs = a1.runs.filter((r) => r.repetition === 0);
    a1.repeat = 1;
    const b1 = structuredClone(a1);
    b1.runs[0].totals.unmapsPerSec = 10;
    const res = compareDocs(a1, b1);
    const r = row(res, 'per-page', 'unmaps/s');
    expect(r.noise).toBeNull();
    expect(r.mark).toBe('');
    expect(res.rows.every((x) => x.mark === '')).toBe(true);
  });

  it('a sweep point matches a single run with the same settings', () => {
    const sweep = clone();
    for (const r of sweep.runs) r.params = { cpus: 1 };
    sweep.sweep = { axes: [{ name: 'cpus', values: [1] }] };
    sweep.config.cpus = 8; // the flag's value; the point's 1 is what ran
    const res = compareDocs(sweep, base);
    expect(res.matched).toBe(2);
    expect(res.rows[0].run).toBe('per-page cpus=1');
  });

  it('runs whose settings differ are not matched', () => {
    const b = clone();
    b.runs.push({ ...structuredClone(b.runs[0]), strategy: 'range' } as RunReport);
    const res = compareDocs(base, b);
    expect(res.onlyB).toEqual(['range']);
    const other = clone();
    other.config.lock = 'mcs';
    expect(() => compareDocs(base, other)).toThrow(
      /^compare: no run of A matches a run of B: they differ in lock \("ttas" in A, "mcs" in B\)$/,
    );
  });

  it.each([
    ['mmioReadNs', 2000],
    ['mmioWriteNs', 0],
    ['sev', false],
    ['consPoll', 'spin'],
  ] as const)('runs that differ in %s are not matched', (key, value) => {
    const other = clone();
    (other.config as Record<string, unknown>)[key] = value;
    expect(() => compareDocs(base, other)).toThrow(new RegExp(`they differ in ${key} `));
  });

  it('a file from before --mmio-*-ns, --cons-poll and --iova matches a run with their old behaviour', () => {
    const old = clone();
    for (const k of ['mmioReadNs', 'mmioWriteNs', 'consPoll', 'iova'])
      delete (old.config as Record<string, unknown>)[k];
    for (const r of old.runs) delete r.iova;
    const now = clone();
    Object.assign(now.config, { mmioReadNs: 0, mmioWriteNs: 0, consPoll: 'spin' });
    for (const r of now.runs) r.iova = 'rbtree';
    expect(compareDocs(old, now).matched).toBe(2);
    expect(() => compareDocs(old, base)).toThrow(/they differ in mmioReadNs /);
  });
});

describe('the command', () => {
  const a = () => write('a.json', base);

  it('prints each metric side by side with B/A, the noise and the marker; exit 0', () => {
    const b = write('b.json', setRate(clone(), 'per-page', [500, 510]));
    const r = cli(a(), b);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^run\s+metric\s+A\s+B\s+B\/A\s+change\s+noise/m);
    expect(r.out).toMatch(/^per-page\s+unmaps\/s\s+1,050\s+505\s+0\.48x\s+-51\.9%\s+±9\.5%\s+worse$/m);
    expect(r.out).toMatch(/^batched\s+unmaps\/s\s+2,000\s+2,000\s+1\.00x\s+\+0\.0%\s+±0\.0%$/m);
    expect(r.out).toContain('2 matched runs');
  });

  it('--fail-on-regression: exit 1 when a metric got worse beyond the limit and the noise', () => {
    const worse = write('worse.json', setRate(clone(), 'per-page', [500, 510]));
    const r = cli(a(), worse, '--fail-on-regression', '10');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/WORSE \(regression\)/);
    expect(r.out).toMatch(
      /^REGRESSION: \d+ metrics? worse beyond 10% and the noise: .*per-page unmaps\/s -51\.9%/m,
    );
    // Worse by 4.8%: inside the noise (9.5%) and the limit.
    const slight = write('slight.json', setRate(clone(), 'per-page', [990, 1010]));
    expect(cli(a(), slight, '--fail-on-regression', '1').code).toBe(0);
    // Better is never a regression.
    const better = write('better.json', setRate(clone(), 'per-page', [5000, 5000]));
    expect(cli(a(), better, '--fail-on-regression', '0')).toMatchObject({ code: 0 });
    // The same file: exit 0.
    const same = cli(a(), a(), '--fail-on-regression', '5');
    expect(same.code).toBe(0);
    expect(same.out).toContain('no regression beyond 5% and the noise');
  });

  it('--fail-on-regression with a single repetition applies the limit alone', () => {
    const a1 = clone();
    a1.runs = a1.runs.filter((r) => r.repetition === 0);
    const b1 = structuredClone(a1);
    b1.runs[0].totals.unmapsPerSec = a1.runs[0].totals.unmapsPerSec * 0.5;
    const pa = write('a1.json', a1);
    const pb = write('b1.json', b1);
    const r = cli(pa, pb, '--fail-on-regression', '20');
    expect(r.code).toBe(1);
    expect(r.out).toContain('?: a single repetition');
    expect(cli(pa, pb, '--fail-on-regression', '60').code).toBe(0);
  });

  it('the real binary dispatches compare', () => {
    const r = spawnSync(process.execPath, [RUN, 'compare', a(), a()], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('per-page');
    const help = spawnSync(process.execPath, [RUN, 'compare', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--fail-on-regression <pct>');
  });
});

describe('bad input: one line, exit 2', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'a missing file',
      () => [write('ok.json', base), join(dir, 'nope.json')],
      /^compare: cannot read .*nope\.json: no such file or directory$/,
    ],
    [
      'not JSON',
      () => [write('ok.json', base), write('bad.json', '{"schemaVersion": 1,')],
      /^compare: .*bad\.json is not JSON: /,
    ],
    [
      'a wrong schemaVersion',
      () => [write('ok.json', base), write('v2.json', { ...base, schemaVersion: 2 })],
      /^compare: .*v2\.json has schemaVersion 2; this tlbsync-emu reads 1$/,
    ],
    [
      'not a result file',
      () => [write('ok.json', base), write('arr.json', [1, 2])],
      /is not a tlbsync-emu result file/,
    ],
    [
      'a broken run',
      () => [write('ok.json', base), write('br.json', { ...base, runs: [{ strategy: 'x' }] })],
      /^compare: .*br\.json: runs\[0\] is not a run report$/,
    ],
    [
      'no matching runs',
      () => [write('ok.json', base), write('other.json', { ...base, config: { ...base.config, pages: 64 } })],
      /^compare: no run of A matches a run of B: they differ in pages \(16 in A, 64 in B\)$/,
    ],
    [
      'a bad percentage',
      () => [write('ok.json', base), write('ok.json', base), '--fail-on-regression', 'lots'],
      /^--fail-on-regression: expected a percentage like 5 or 2\.5, got "lots"$/,
    ],
    [
      'one file',
      () => [write('ok.json', base)],
      /^compare: missing required argument 'B\.json' \(see tlbsync-emu compare --help\)$/,
    ],
    ['three files', () => ['a', 'b', 'c'], /^compare: too many arguments/],
  ];
  for (const [name, args, re] of cases)
    it(name, () => {
      const r = cli(...args());
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.endsWith('\n')).toBe(true);
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
      expect(r.err.replace(/^tlbsync-emu: /, '').trimEnd()).toMatch(re);
    });
});
