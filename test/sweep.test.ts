// --sweep, --repeat, --csv, --config, the dma_map_benchmark aliases, progress and --report, on real
// runs with tiny durations: the runs a plan makes (which, in which order, on which pool), and
// that every output says the same about them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { cmdLogPath, runConfig, runInvocation } from '../src/index.js';
import { main } from '../src/cli/main.js';
import { Progress } from '../src/cli/progress.js';
import { runLine } from '../src/run/progress-line.js';
import { parseSweeps, sweepPoints } from '../src/config/sweep.js';
import { csvColumns, toCsv } from '../src/report/csv.js';
import type { ResultDocument } from '../src/report/types.js';
import { CpuPool } from '../src/workload/pool.js';
import { configWith } from './helpers/runs.js';

// The in-process --report failure test makes the renderer throw; everything else uses the real one.
let failHtml = false;
vi.mock('../src/report/html.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/report/html.js')>();
  return {
    ...real,
    renderHtmlReport: async (...args: Parameters<typeof real.renderHtmlReport>) => {
      if (failHtml) throw new Error('charts are not available');
      return real.renderHtmlReport(...args);
    },
  };
});

const RUN = resolve(__dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'tlbsync-sweep-'));
const TINY = ['-s', '100ms', '--warmup', '20ms'];

function run(args: string[]) {
  return spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', timeout: 120_000, cwd: dir });
}

/** A minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF records. */
function readCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let f = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        f += '"';
        i++;
      } else if (c === '"') q = false;
      else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      row.push(f);
      f = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(f);
      rows.push(row);
      row = [];
      f = '';
      i++;
    } else f += c;
  }
  expect(f).toBe('');
  return rows;
}

const config = configWith({ cpus: 1, pages: 4, durationMs: 100, warmupMs: 20 });

describe('a sweep (cross product of two axes, two strategies)', () => {
  let r: ReturnType<typeof run>;
  let doc: ResultDocument;
  let csv: string[][];
  beforeAll(() => {
    r = run([
      '--sweep',
      'cpus=1,2',
      '--sweep',
      'pages=1,4',
      '--strategy',
      'per-page,batched',
      ...TINY,
      '--json',
      'sweep.json',
      '--csv',
      'out/sweep.csv',
      '--cmd-log',
      'cmds',
    ]);
    doc = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8'));
    csv = readCsv(readFileSync(join(dir, 'out/sweep.csv'), 'utf8'));
  });

  it('makes exactly the (point, strategy) runs of the cross product, in order, with params', () => {
    expect(r.status, r.stderr).toBe(0);
    expect(doc.complete).toBe(true);
    expect(doc.sweep).toEqual({
      axes: [
        { name: 'cpus', values: [1, 2] },
        { name: 'pages', values: [1, 4] },
      ],
    });
    expect(doc.repeat).toBe(1);
    expect(doc.runs.map((x) => [x.params, x.strategy, x.repetition])).toEqual([
      [{ cpus: 1, pages: 1 }, 'per-page', 0],
      [{ cpus: 1, pages: 1 }, 'batched', 0],
      [{ cpus: 1, pages: 4 }, 'per-page', 0],
      [{ cpus: 1, pages: 4 }, 'batched', 0],
      [{ cpus: 2, pages: 1 }, 'per-page', 0],
      [{ cpus: 2, pages: 1 }, 'batched', 0],
      [{ cpus: 2, pages: 4 }, 'per-page', 0],
      [{ cpus: 2, pages: 4 }, 'batched', 0],
    ]);
  });

  it('runs each point on its own CPU count and buffer size', () => {
    for (const x of doc.runs) {
      expect(x.cpus).toBe(x.params.cpus);
      expect(x.perCpu).toHaveLength(x.params.cpus as number);
      expect(x.totals.pagesUnmapped).toBe(x.totals.unmaps * (x.params.pages as number));
    }
  });

  it('compares strategies within each point', () => {
    expect(doc.comparison.map((c) => [c.params, c.baseline, c.candidate])).toEqual([
      [{ cpus: 1, pages: 1 }, 'per-page', 'batched'],
      [{ cpus: 1, pages: 4 }, 'per-page', 'batched'],
      [{ cpus: 2, pages: 1 }, 'per-page', 'batched'],
      [{ cpus: 2, pages: 4 }, 'per-page', 'batched'],
    ]);
  });

  it('prints one compact row per (point, strategy), not a lockstat table per run', () => {
    expect(r.stdout).not.toContain('class name');
    expect(r.stdout).toContain(
      'sweep: cpus=1,2 x pages=1,4: 4 points x 2 strategies x 1 repetition = 8 runs',
    );
    const lines = r.stdout.split('\n');
    const head = lines.findIndex((l) => l.startsWith('cpus  pages  strategy'));
    expect(head).toBeGreaterThan(0);
    for (const h of ['unmaps/s', 'pages/s', 'syncs/unmap', 'cmdq wait p99 us', 'unmap p99 us', 'over'])
      expect(lines[head]).toContain(h);
    const rows = lines.slice(head + 2, lines.indexOf('', head));
    expect(rows).toHaveLength(8);
    expect(rows[0]).toMatch(/^1\s+1\s+per-page\s/);
    expect(rows[7]).toMatch(/^2\s+4\s+batched\s/);
  });

  it('prints one plain progress line per run on a pipe, each perhaps followed by its measuring marker', () => {
    const all = r.stderr.trimEnd().split('\n');
    const lines = all.filter((l) => !l.startsWith('measuring '));
    expect(lines).toHaveLength(8);
    // A marker follows its own run's line (a run too short to complete an unmap has none).
    const bad = all.flatMap((l, i) =>
      l.startsWith('measuring ') && !all[i - 1]?.includes(`running ${l.slice('measuring '.length)}:`)
        ? [l]
        : [],
    );
    expect(bad).toEqual([]);
    expect(lines[0]).toMatch(
      /^\[1\/8\] point 1\/4 cpus=1 pages=1: running per-page: 1 CPUs, 100 ms after 20 ms warm-up \(elapsed 0:00, ETA \d+:\d\d\)$/,
    );
    expect(lines[7]).toMatch(/^\[8\/8\] point 4\/4 cpus=2 pages=4: running batched: 2 CPUs/);
  });

  it('writes a CSV with the same runs and values as the JSON', () => {
    const [header, ...rows] = csv;
    expect(header).toEqual(csvColumns(doc));
    expect(header).toEqual([
      'cpus',
      'pages',
      'queueEntries',
      'tlbiNs',
      'syncNs',
      'mmioReadNs',
      'mmioWriteNs',
      'lock',
      'syncMode',
      'wait',
      'domains',
      'iova',
      'cmdq',
      'dmaNs',
      'engine',
      'seed',
      'strategy',
      'repetition',
      'unmapsPerSec',
      'pagesPerSec',
      'syncsPerUnmap',
      'cmdqWaitTotalNs',
      'cmdqWaitP99Ns',
      'iovaWaitTotalNs',
      'iovaWaitP99Ns',
      'rcacheWaitTotalNs',
      'rcacheWaitP99Ns',
      'depotWaitTotalNs',
      'depotWaitP99Ns',
      'p99UnmapLatencyNs',
      'overheadNsPerCommand',
      'oversubscribed',
      'complete',
      'virtualParams',
    ]);
    expect(rows).toHaveLength(doc.runs.length);
    const col = (name: string) => header.indexOf(name);
    rows.forEach((row, i) => {
      const x = doc.runs[i];
      expect(row).toHaveLength(header.length);
      expect(Number(row[col('cpus')])).toBe(x.params.cpus);
      expect(Number(row[col('pages')])).toBe(x.params.pages);
      expect(row[col('lock')]).toBe('ttas');
      expect(Number(row[col('queueEntries')])).toBe(256);
      expect(row[col('strategy')]).toBe(x.strategy);
      expect(Number(row[col('repetition')])).toBe(x.repetition);
      expect(Number(row[col('unmapsPerSec')])).toBe(x.totals.unmapsPerSec);
      expect(Number(row[col('pagesPerSec')])).toBe(x.totals.pagesPerSec);
      expect(Number(row[col('syncsPerUnmap')])).toBe(x.syncsPerUnmap);
      const cmdq = x.locks.find((l) => l.name === 'cmdq')!;
      expect(Number(row[col('cmdqWaitTotalNs')])).toBe(cmdq.waitNs.total);
      expect(Number(row[col('cmdqWaitP99Ns')])).toBe(cmdq.waitNs.p99);
      expect(Number(row[col('p99UnmapLatencyNs')])).toBe(x.unmapLatencyNs.p99);
      expect(row[col('oversubscribed')]).toBe(String(x.oversubscribed));
      expect(row[col('complete')]).toBe('true');
      expect([x.engine, x.virtual]).toEqual(['threads', null]);
      expect(row[col('engine')]).toBe('threads');
      expect(row[col('seed')]).toBe('');
      expect(row[col('virtualParams')]).toBe('');
    });
  });

  it('writes a command log per (point, strategy)', () => {
    for (const x of doc.runs) {
      const f = join(dir, cmdLogPath('cmds', x.strategy, x.params));
      expect(existsSync(f), f).toBe(true);
      expect(readFileSync(f).length).toBe(16 * x.commands.total);
    }
    expect(cmdLogPath('cmds', 'batched', { cpus: 2, queueEntries: 64 })).toBe(
      'cmds.cpus=2,queue-entries=64.batched.bin',
    );
    expect(cmdLogPath('cmds', 'batched', {}, 1, 3)).toBe('cmds.batched.rep1.bin');
    expect(cmdLogPath('cmds', 'batched')).toBe('cmds.batched.bin');
  });
});

describe('CPU pools', () => {
  it('one pool per distinct cpus value, sized to it; cpus varies slowest wherever it is given', async () => {
    const created: CpuPool[] = [];
    const sweep = parseSweeps('--sweep', ['pages=1,2', 'cpus=2,1']);
    const cfg = config({ strategies: ['batched'] });
    const order: string[] = [];
    const inv = await runInvocation(
      cfg,
      { sweep, repeat: 1 },
      { runStart: (i) => order.push(`${i.cfg.cpus}/${i.cfg.pages}`), warn: () => {} },
      undefined,
      {
        createPool: (n) => {
          const p = new CpuPool(n);
          created.push(p);
          return p;
        },
      },
    );
    expect(created.map((p) => p.cpus)).toEqual([2, 1]);
    expect(order).toEqual(['2/1', '2/2', '1/1', '1/2']);
    expect(inv.doc.runs.map((x) => x.perCpu.length)).toEqual([2, 2, 1, 1]);
    expect(inv.doc.runs.map((x) => x.params)).toEqual([
      { pages: 1, cpus: 2 },
      { pages: 2, cpus: 2 },
      { pages: 1, cpus: 1 },
      { pages: 2, cpus: 1 },
    ]);
    // The axes keep the order given.
    expect(inv.doc.sweep!.axes.map((a) => a.name)).toEqual(['pages', 'cpus']);
  });

  it('sweepPoints: the cross product, first axis slowest', () => {
    const pts = sweepPoints(config({}), parseSweeps('--sweep', ['lock=ttas,mcs', 'sync-ns=0,1us']));
    expect(pts.map((p) => p.params)).toEqual([
      { lock: 'ttas', syncNs: 0 },
      { lock: 'ttas', syncNs: 1000 },
      { lock: 'mcs', syncNs: 0 },
      { lock: 'mcs', syncNs: 1000 },
    ]);
    expect(pts[3].cfg.lock).toBe('mcs');
    expect(pts[3].cfg.syncNs).toBe(1000);
  });

  it('serialises overlapping invocations: the second starts after the first has finished', async () => {
    const log: string[] = [];
    const tag = (t: string) => (s: string) => log.push(`${t} ${s}`);
    await Promise.all([
      runConfig(config({ strategies: ['per-page', 'batched'] }), tag('A')),
      runConfig(config({ strategies: ['per-page', 'batched'] }), tag('B')),
    ]);
    expect(log.map((l) => l.slice(0, 1))).toEqual(['A', 'A', 'B', 'B']);
  });
});

describe('--repeat', () => {
  it('records each repetition as its own run, compared within its repetition', () => {
    const r = run([
      '--repeat',
      '2',
      '-t',
      '1',
      '--strategy',
      'per-page,batched',
      ...TINY,
      '--json',
      'rep.json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const doc: ResultDocument = JSON.parse(readFileSync(join(dir, 'rep.json'), 'utf8'));
    expect(doc.repeat).toBe(2);
    expect(doc.sweep).toBeNull();
    expect(doc.runs.map((x) => [x.strategy, x.repetition, x.params])).toEqual([
      ['per-page', 0, {}],
      ['batched', 0, {}],
      ['per-page', 1, {}],
      ['batched', 1, {}],
    ]);
    expect(doc.comparison).toHaveLength(2);
    expect(r.stdout).toContain('values are medians of 2 repetitions');
    expect(r.stdout).toMatch(/strategy\s+unmaps\/s\s+spread/);
    expect(r.stderr).toMatch(/^\[1\/4\] rep 1\/2: running per-page: 1 CPUs/);
  });
});

describe('--config', () => {
  const json = join(dir, 'job.json');
  const yaml = join(dir, 'job.yaml');
  writeFileSync(
    json,
    JSON.stringify({
      cpus: 2,
      'queue-entries': 64,
      syncNs: '2us',
      duration: 0.1,
      warmup: '20ms',
      strategy: ['batched', 'per-page'],
      'sync-coalesce': true,
      inject: 'stall:smmu,at=10ms,for=1ms',
    }),
  );
  writeFileSync(
    yaml,
    'cpus: 1\nduration: 100ms\nwarmup: 20ms\nstrategy: batched\nsweep:\n  pages: [1, 2]\n  lock: ttas,mcs\n',
  );

  it('reads the keys of a JSON file (long names and camelCase) with their flag formats', () => {
    const out = parseArgs(['--config', json]);
    expect(out.kind).toBe('run');
    if (out.kind !== 'run') return;
    expect(out.config).toMatchObject({
      cpus: 2,
      queueEntries: 64,
      syncNs: 2000,
      durationMs: 100,
      warmupMs: 20,
      strategies: ['batched', 'per-page'],
      syncCoalesce: 'msi',
    });
    expect(out.config.inject).toEqual([{ kind: 'stall', atMs: 10, forMs: 1 }]);
  });

  it('flags on the command line win over the file', () => {
    const out = parseArgs(['-t', '1', '--config', json, '--queue-entries', '128', '--strategy', 'per-page']);
    expect(out.kind).toBe('run');
    if (out.kind !== 'run') return;
    expect(out.config).toMatchObject({ cpus: 1, queueEntries: 128, syncNs: 2000, strategies: ['per-page'] });
  });

  it('reads YAML, including a sweep; a flag for a swept parameter drops that axis', () => {
    const out = parseArgs(['--config', yaml]);
    expect(out.kind).toBe('run');
    if (out.kind !== 'run') return;
    expect(out.plan.sweep).toEqual([
      { key: 'pages', values: [1, 2] },
      { key: 'lock', values: ['ttas', 'mcs'] },
    ]);
    const over = parseArgs(['--config', yaml, '--lock', 'ticket']);
    expect(over.kind === 'run' && over.plan.sweep).toEqual([{ key: 'pages', values: [1, 2] }]);
    const cli = parseArgs(['--config', yaml, '--sweep', 'cpus=1,2']);
    expect(cli.kind === 'run' && cli.plan.sweep).toEqual([{ key: 'cpus', values: [1, 2] }]);
  });

  it('runs from the file', () => {
    const r = run(['--config', yaml, '--json', 'cfg.json', '-q']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    const doc: ResultDocument = JSON.parse(readFileSync(join(dir, 'cfg.json'), 'utf8'));
    expect(doc.runs.map((x) => x.params)).toEqual([
      { pages: 1, lock: 'ttas' },
      { pages: 1, lock: 'mcs' },
      { pages: 2, lock: 'ttas' },
      { pages: 2, lock: 'mcs' },
    ]);
    expect(doc.config.cpus).toBe(1);
  });
});

describe('dma_map_benchmark aliases', () => {
  it('-t threads = --cpus, -s seconds = --duration, -g granule = --pages', () => {
    const out = parseArgs(['-t', '3', '-s', '2', '-g', '8']);
    expect(out.kind).toBe('run');
    if (out.kind !== 'run') return;
    expect(out.config).toMatchObject({ cpus: 3, durationMs: 2000, pages: 8 });
    const half = parseArgs(['-s', '0.5']);
    expect(half.kind === 'run' && half.config.durationMs).toBe(500);
  });

  it('are listed in --help', () => {
    const help = run(['--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('-t, --cpus <n>');
    expect(help).toContain('-s, --duration <time>');
    expect(help).toContain('-g, --pages <n>');
    expect(help).toContain("dma_map_benchmark's threads");
    for (const f of ['--sweep', '--repeat', '--config', '--csv', '--report', 'compare A.json B.json'])
      expect(help).toContain(f);
  });
});

describe('progress', () => {
  const info = {
    index: 3,
    total: 8,
    point: 2,
    points: 4,
    params: { cpus: 1, pages: 4 },
    strategy: 'batched',
    repetition: 0,
    repeat: 1,
    cfg: config({ strategies: ['per-page', 'batched'] }),
    host: {} as never,
  };

  it('a single run keeps the classic line', () => {
    expect(runLine({ ...info, index: 1, total: 2, points: 1, params: {} })).toBe(
      'running batched: 1 CPUs, 100 ms after 20 ms warm-up',
    );
  });

  it('on a terminal: a bar with run and point i of n, elapsed and ETA, cleared at the end', () => {
    let out = '';
    let now = 1000;
    const p = new Progress('bar', { write: (s: string) => (out += s), isTTY: true, columns: 200 }, () => now);
    p.runStart(info);
    now += 60_000;
    const bar = p.render();
    expect(bar).toMatch(
      /^\[#+-+\] run 3\/8 \| point 2\/4 cpus=1 pages=4 \| batched \| 1:00 elapsed \| ETA \d+:\d\d$/,
    );
    p.warn('tlbsync-emu: something');
    expect(out).toContain('\r\x1b[2Ktlbsync-emu: something\n');
    p.done();
    expect(out.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('--quiet prints nothing but errors', () => {
    let out = '';
    const p = new Progress('quiet', { write: (s: string) => (out += s) });
    p.runStart(info);
    p.warn('  cpu 0: detail');
    p.done();
    expect(out).toBe('');
    p.warn('tlbsync-emu: watchdog: ...');
    expect(out).toBe('tlbsync-emu: watchdog: ...\n');
  });
});

describe('--report', () => {
  it('writes the HTML report of the same document', () => {
    const r = run([
      '-t',
      '1',
      '--strategy',
      'batched',
      ...TINY,
      '-q',
      '--json',
      'rep-r.json',
      '--report',
      'r.html',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'rep-r.json'))).toBe(true);
    expect(readFileSync(join(dir, 'r.html'), 'utf8')).toMatch(/^<!doctype html>/i);
  });

  it('when it cannot be rendered: nothing written, one line, exit 3; the other files are written', async () => {
    failHtml = true;
    const html = join(dir, 'fail.html');
    const json = join(dir, 'fail.json');
    const csvFile = join(dir, 'fail.csv');
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err += String(s);
      return true;
    });
    let code: number;
    try {
      code = await main([
        '-t',
        '1',
        '--strategy',
        'batched',
        ...TINY,
        '-q',
        '--json',
        json,
        '--csv',
        csvFile,
        '--report',
        html,
      ]);
    } finally {
      spy.mockRestore();
      failHtml = false;
    }
    expect(code).toBe(3);
    expect(err).toBe(`tlbsync-emu: --report: ${html} not written: charts are not available\n`);
    expect(existsSync(html)).toBe(false);
    expect(existsSync(json)).toBe(true);
    expect(existsSync(csvFile)).toBe(true);
  });
});

describe('CSV quoting', () => {
  it('quotes fields with commas, quotes and line breaks (RFC 4180)', async () => {
    const { csvField } = await import('../src/report/csv.js');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('x\ny')).toBe('"x\ny"');
    expect(csvField(null)).toBe('');
    expect(csvField(1.5)).toBe('1.5');
    expect(csvField(false)).toBe('false');
  });

  it('empty fields for what was not measured (--stats counters)', async () => {
    const inv = await runConfig(config({ strategies: ['batched'], stats: 'counters' }), () => {});
    const rows = readCsv(toCsv(inv.doc));
    const h = rows[0];
    expect(rows[1][h.indexOf('cmdqWaitTotalNs')]).toBe('');
    expect(rows[1][h.indexOf('p99UnmapLatencyNs')]).toBe('');
    expect(rows[1][h.indexOf('overheadNsPerCommand')]).toBe('');
    expect(inv.doc.runs[0].overhead?.note).toBe('not timed (--stats counters)');
    expect(Number(rows[1][h.indexOf('unmapsPerSec')])).toBeGreaterThan(0);
  });
});
