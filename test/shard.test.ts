// Sweeps across machines: --shard deals a sweep's points into N slices, `merge` puts the documents
// back together, `report` renders a saved one. Three shards merged must equal the unsharded sweep's
// set of runs, with the same settings.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseShard, shardPoints } from '../src/config/shard.js';
import { toCsv } from '../src/report/csv.js';
import type { ResultDocument } from '../src/report/types.js';

const RUN = resolve(import.meta.dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'tlbsync-shard-'));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('node', [RUN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ResultDocument;
const runKeys = (d: ResultDocument) =>
  d.runs.map((r) => `${r.strategy} ${JSON.stringify(r.params)} ${r.repetition}`).sort();
const SWEEP = ['--cpus=1', '--strategy=per-page,batched', '--duration=20ms', '--warmup=10ms', '--quiet'];
const AXES = ['--sweep=pages=1,2,4,8', '--sweep=tlbi-ns=50,100', '--repeat=2'];

describe('--shard', () => {
  it('deals every point to exactly one slice, round-robin in run order', () => {
    const points = Array.from({ length: 10 }, (_, i) => i);
    const slices = [0, 1, 2].map((index) => shardPoints(points, { index, count: 3 }));
    expect(slices).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7],
      [2, 5, 8],
    ]);
    expect(shardPoints(points, null)).toEqual(points);
  });

  it('reads K/N and the job-array environments', () => {
    expect(parseShard('--shard', '2/3', {}, null)).toEqual({ index: 1, count: 3 });
    expect(
      parseShard(
        '--shard',
        'auto',
        { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '4', SLURM_ARRAY_TASK_COUNT: '3' },
        null,
      ),
    ).toEqual({
      index: 1,
      count: 3,
    });
    expect(parseShard('--shard', 'auto', { JOB_COMPLETION_INDEX: '0' }, 4)).toEqual({ index: 0, count: 4 });
  });

  it.each([
    ['0/3', /K counts from 1/],
    ['4/3', /slice 4 of 3 does not exist/],
    ['1/0', /N must be 1 or more/],
    ['half', /expected K\/N/],
  ])('refuses %s', (spec, msg) => {
    expect(() => parseShard('--shard', spec, {}, null)).toThrow(msg);
  });

  it('refuses on the command line with one line and exit 2', () => {
    for (const [args, msg, env] of [
      [['--shard', '1/3'], /nothing to split without --sweep/, {}],
      [['--shard', '1/9', '--sweep', 'pages=1,2'], /the sweep has 2 points, fewer than 9 shards/, {}],
      [['--shard', 'auto', '--sweep', 'pages=1,2'], /neither SLURM_ARRAY_TASK_ID/, {}],
      [['--shard', 'auto', '--sweep', 'pages=1,2'], /add --shards N/, { JOB_COMPLETION_INDEX: '1' }],
      [['--shards', '2', '--sweep', 'pages=1,2'], /--shards needs --shard auto/, {}],
    ] as [string[], RegExp, Record<string, string>][]) {
      const r = cli(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });

  it('three shards merged equal the unsharded sweep', { timeout: 240_000 }, () => {
    expect(cli([...SWEEP, ...AXES, '--json=whole.json']).code).toBe(0);
    for (const k of [1, 2, 3])
      expect(cli([...SWEEP, ...AXES, `--shard=${k}/3`, `--json=s${k}.json`]).code).toBe(0);
    const shards = [1, 2, 3].map((k) => read(`s${k}.json`));
    // 8 points x 2 strategies x 2 repetitions, dealt 3/3/2 points.
    expect(shards.map((d) => d.runs.length)).toEqual([12, 12, 8]);
    expect(shards.map((d) => d.shard)).toEqual([1, 2, 3].map((index) => ({ index, count: 3 })));

    // Any order of the inputs gives the same document.
    const m = cli(['merge', 's3.json', 's1.json', 's2.json', '--json=all.json', '--csv=all.csv', '--quiet']);
    expect(m.err).toBe('');
    expect(m.code).toBe(0);
    const whole = read('whole.json');
    const all = read('all.json');
    expect(runKeys(all)).toEqual(runKeys(whole));
    expect(all.runs.length).toBe(32);
    // The same settings; only where the JSON went differs.
    expect({ ...all.config, json: null }).toEqual({ ...whole.config, json: null });
    expect(all.sweep).toEqual(whole.sweep);
    expect(all.repeat).toBe(2);
    expect(all.complete).toBe(true);
    expect(all.shard).toBeNull();
    expect(all.merged?.sources.map((s) => s.file)).toEqual(['s3.json', 's1.json', 's2.json']);
    // In the order one invocation runs them.
    expect(all.runs.map((r) => `${r.strategy} ${JSON.stringify(r.params)} ${r.repetition}`)).toEqual(
      whole.runs.map((r) => `${r.strategy} ${JSON.stringify(r.params)} ${r.repetition}`),
    );
    expect(readFileSync(join(dir, 'all.csv'), 'utf8')).toBe(toCsv(all));

    // Two of three shards: merged, but not complete.
    expect(cli(['merge', 's1.json', 's2.json', '--json=part.json', '--quiet']).code).toBe(0);
    expect(read('part.json').complete).toBe(false);
  });

  it('merge refuses clashing versions, settings, slicings and overlapping runs', { timeout: 180_000 }, () => {
    expect(cli([...SWEEP, '--sweep=pages=1,2', '--json=a.json']).code).toBe(0);
    expect(cli([...SWEEP, '--sweep=pages=4', '--tlbi-ns=50', '--json=b.json']).code).toBe(0);
    expect(cli([...SWEEP, '--sweep=pages=1,2,4', '--shard=1/3', '--json=h1.json']).code).toBe(0);
    expect(cli([...SWEEP, '--sweep=pages=1,2,4', '--shard=2/2', '--json=h2.json']).code).toBe(0);
    const a = read('a.json');
    writeFileSync(join(dir, 'old.json'), JSON.stringify({ ...a, tool: { ...a.tool, version: '0.0.1' } }));
    for (const [args, msg] of [
      [
        ['a.json', 'old.json'],
        /^tlbsync-emu: merge: old\.json does not fit a\.json: written by tlbsync-emu 0\.0\.1, not /,
      ],
      [
        ['a.json', 'b.json'],
        /^tlbsync-emu: merge: b\.json does not fit a\.json: settings differ \(tlbiNs 100 vs 50\)$/,
      ],
      [['a.json', 'a.json'], /both hold the run per-page \{"pages":1\} rep 0$/],
      [
        ['h1.json', 'h2.json'],
        /^tlbsync-emu: merge: h2\.json does not fit h1\.json: sliced differently \(3 shards vs 2 shards\)$/,
      ],
      [['a.json', 'nope.json'], /^tlbsync-emu: merge: cannot read nope\.json: no such file or directory$/],
      [[], /missing required argument/],
    ] as [string[], RegExp][]) {
      const r = cli(['merge', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim()).toMatch(msg);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });

  it('report renders a saved result without running anything', () => {
    expect(cli([...SWEEP, '--sweep=pages=1,2', '--json=r.json']).code).toBe(0);
    const r = cli(['report', 'r.json', '--csv=r.csv']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^sweep: pages=1,2: 2 points x 2 strategies/m);
    expect(readFileSync(join(dir, 'r.csv'), 'utf8')).toBe(toCsv(read('r.json')));
    const bad = cli(['report', 'r.json', '--csv=r.json']);
    expect(bad.code).toBe(2);
    expect(bad.err.trim()).toMatch(
      /^tlbsync-emu: report: --csv: r\.json is an input file; give the output its own file$/,
    );
  });
});
