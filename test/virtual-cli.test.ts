// --engine virtual through the command line: bad input for its flags (exit 2, one line), the
// calibration file's format and precedence, the same seed giving byte-identical JSON (but for an
// explicit list of host and wall-clock fields), exact commands per unmap at 64 CPUs, and a sweep
// whose CSV names the engine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { expectUsageError } from './helpers/usage.js';
import {
  CALIBRATION_KIND,
  formatCalibration,
  parseCalibration,
  type CalibrationFile,
} from '../src/virtual/calibration.js';
import type { ResultDocument } from '../src/report/types.js';
import { checkLog } from './helpers/runs.js';

const RUN = resolve(__dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'tlbsync-virtual-cli-'));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const calibration = (params: Record<string, unknown>, over: Record<string, unknown> = {}): string =>
  JSON.stringify({
    kind: CALIBRATION_KIND,
    version: 1,
    tool: { name: 'tlbsync-emu', version: '0' },
    createdAt: '2026-01-01T00:00:00.000Z',
    host: { cores: 2 },
    params,
    ...over,
  });

const CAL = {
  good: file('good.json', calibration({ tlbiNs: 50, lineTransferNs: 80 })),
  notJson: file('not.json', '{'),
  wrongKind: file('kind.json', calibration({}, { kind: 'something-else' })),
  wrongVersion: file('version.json', calibration({}, { version: 2 })),
  unknownParam: file('unknown.json', calibration({ lineTransfer: 80 })),
  negative: file('negative.json', calibration({ atomicNs: -1 })),
  notNumber: file('string.json', calibration({ hitNs: 'fast' })),
  badShift: file('shift.json', calibration({ queueShift: 2.5 })),
  fetch7: file('fetch7.json', calibration({ smmuFetch: 7 })),
  fetchHalf: file('fetch-half.json', calibration({ smmuFetch: 1.5 })),
  hitZero: file('hit0.json', calibration({ hitNs: 0 })),
  transferZero: file('transfer0.json', calibration({ lineTransferNs: 0 })),
};

/** Calibration values the engine cannot run with (the file, the key, the allowed range). */
const BAD_VALUES: [string, RegExp][] = [
  [CAL.fetch7, /^--calibration .*fetch7\.json: params\.smmuFetch is 7, expected a whole number from 0 to 2$/],
  [
    CAL.fetchHalf,
    /^--calibration .*fetch-half\.json: params\.smmuFetch is 1\.5, expected a whole number from 0 to 2$/,
  ],
  [CAL.hitZero, /^--calibration .*hit0\.json: params\.hitNs is 0, expected a finite number > 0 \(/],
  [
    CAL.transferZero,
    /^--calibration .*transfer0\.json: params\.lineTransferNs is 0, expected a finite number > 0 \(/,
  ],
];

const BAD: [string[], RegExp][] = [
  [['--engine', 'qemu'], /^--engine: unknown value "qemu" \(allowed: threads, virtual\)$/],
  [
    ['--engine', 'virtual', '--seed', 'abc'],
    /^--seed: expected a whole number from 0 to 4294967295, got "abc"$/,
  ],
  [['--engine', 'virtual', '--seed', '4294967296'], /^--seed: 4294967296 is out of range/],
  [['--engine', 'virtual', '--seed', '1.5'], /^--seed: expected a whole number/],
  [
    ['--sweep', 'engine=threads,gem5'],
    /^--sweep engine: unknown value "gem5" \(allowed: threads, virtual\)$/,
  ],
  [
    ['--engine', 'virtual', '--calibration', join(dir, 'missing.json')],
    /^--calibration .*missing\.json: cannot read it \(no such file\)$/,
  ],
  [['--engine', 'virtual', '--calibration', dir], /^--calibration .*: cannot read it \(is a directory\)$/],
  [['--engine', 'virtual', '--calibration', CAL.notJson], /^--calibration .*not\.json: not JSON \(/],
  [
    ['--engine', 'virtual', '--calibration', CAL.wrongKind],
    /kind is "something-else", expected "tlbsync-emu-calibration"/,
  ],
  [
    ['--engine', 'virtual', '--calibration', CAL.wrongVersion],
    /version 2 is not supported \(this tool reads version 1\)$/,
  ],
  [
    ['--engine', 'virtual', '--calibration', CAL.unknownParam],
    /unknown parameter "lineTransfer" \(allowed: lineTransferNs, /,
  ],
  [
    ['--engine', 'virtual', '--calibration', CAL.negative],
    /params\.atomicNs is -1, expected a finite number >= 0$/,
  ],
  [
    ['--engine', 'virtual', '--calibration', CAL.notNumber],
    /params\.hitNs is "fast", expected a finite number >= 0$/,
  ],
  [
    ['--engine', 'virtual', '--calibration', CAL.badShift],
    /params\.queueShift is 2\.5, expected a whole number from 1 to 19$/,
  ],
  [
    ['--calibration', CAL.good],
    /^--calibration is for --engine virtual: the threads engine measures this host/,
  ],
  [
    ['--engine', 'virtual', '--inject', 'crash:cpu=0,at=1ms'],
    /^--engine virtual does not model --inject yet$/,
  ],
  [['--engine', 'virtual', '--sync-coalesce'], /^--engine virtual does not model --sync-coalesce msi yet$/],
  [
    ['--engine', 'virtual', '--domains', 'per-cpu'],
    /^--engine virtual does not model --domains per-cpu yet$/,
  ],
  [
    ['--engine', 'virtual', '--duration', '0.5us'],
    /^--duration: 0\.5us is out of range \(allowed: 1us to 60m\)$/,
  ],
  // An unmodelled setting at one point of a sweep names the point.
  [
    ['--engine', 'virtual', '--sweep', 'domains=shared,per-cpu'],
    /^--engine virtual does not model --domains per-cpu yet \(at --sweep point domains=per-cpu\)$/,
  ],
];

describe('bad input for the virtual engine', () => {
  for (const [argv, re] of BAD) {
    it(`${argv.join(' ')} -> exit 2`, () => expectUsageError(argv, re));
  }

  for (const [cal, re] of BAD_VALUES) {
    it(`calibration ${cal.split('/').pop()} -> exit 2`, () =>
      expectUsageError(['--engine', 'virtual', '--calibration', cal], re));
    it(`the real binary refuses ${cal.split('/').pop()} in one line, exit 2, nothing run`, () => {
      const r = spawnSync(process.execPath, [RUN, '--engine', 'virtual', '--calibration', cal], {
        encoding: 'utf8',
      });
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[1]).toBe('');
      expect(lines[0].replace(/^tlbsync-emu: /, '')).toMatch(re);
    });
  }

  it('the real binary refuses --calibration with threads in one line, exit 2', () => {
    const r = spawnSync(process.execPath, [RUN, '--calibration', CAL.good], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toEqual([
      expect.stringMatching(/^tlbsync-emu: --calibration is for --engine virtual/),
      '',
    ]);
  });
});

describe('flags', () => {
  it('virtual defaults: the threads engine lock, 20 ms after 1 ms of virtual time; the threads defaults unchanged', () => {
    const v = parseArgs(['--engine', 'virtual']);
    const t = parseArgs([]);
    if (v.kind !== 'run' || t.kind !== 'run') throw new Error('parse failed');
    expect([v.config.engine, v.config.seed, v.config.lock, v.config.durationMs, v.config.warmupMs]).toEqual([
      'virtual',
      1,
      'ttas',
      20,
      1,
    ]);
    expect([t.config.engine, t.config.lock, t.config.durationMs, t.config.warmupMs]).toEqual([
      'threads',
      'ttas',
      2000,
      200,
    ]);
  });

  it('engine and seed sweep', () => {
    const p = parseArgs(['--sweep', 'engine=threads,virtual', '--sweep', 'seed=1,2']);
    if (p.kind !== 'run') throw new Error(p.output);
    expect(p.plan.sweep?.map((a) => [a.key, a.values])).toEqual([
      ['engine', ['threads', 'virtual']],
      ['seed', [1, 2]],
    ]);
  });

  it('--calibration: its values replace defaults, flags given on the command line win', () => {
    const a = parseArgs(['--engine', 'virtual', '--calibration', CAL.good]);
    const b = parseArgs(['--engine', 'virtual', '--calibration', CAL.good, '--tlbi-ns', '200']);
    if (a.kind !== 'run' || b.kind !== 'run') throw new Error('parse failed');
    expect([a.config.tlbiNs, a.config.calibration]).toEqual([50, CAL.good]);
    expect(b.config.tlbiNs).toBe(200);
  });
});

describe('calibration file', () => {
  it('round-trips through formatCalibration and parseCalibration', () => {
    const f: CalibrationFile = {
      kind: CALIBRATION_KIND,
      version: 1,
      tool: { name: 'tlbsync-emu', version: '0.1.0' },
      createdAt: '2026-01-01T00:00:00.000Z',
      host: { cores: 2, cpuModel: 'x' },
      params: { lineTransferNs: 70, mmioReadNs: 300, service: 'fifo', queueShift: 10 },
      measurements: { pingPongNs: 140 },
    };
    const text = formatCalibration(f);
    expect(text.endsWith('}\n')).toBe(true);
    expect(parseCalibration(text, 'f.json')).toEqual(f.params);
  });
});

/** Runs the CLI in a fresh directory; returns the directory. */
function cli(args: string[]): { cwd: string; stdout: string; stderr: string } {
  const cwd = mkdtempSync(join(dir, 'run-'));
  const r = spawnSync(process.execPath, [RUN, ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return { cwd, stdout: r.stdout, stderr: r.stderr };
}

/** Host and wall-clock fields: everything else of a virtual run's JSON is simulated. */
const HOST_FIELDS = {
  document: ['startedAt', 'host'],
  run: ['startup'],
  virtual: ['eventsPerSec'],
} as const;

function simulated(path: string): string {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> & ResultDocument;
  for (const k of HOST_FIELDS.document) delete doc[k];
  for (const r of doc.runs) {
    const run = r as unknown as Record<string, unknown>;
    for (const k of HOST_FIELDS.run) delete run[k];
    const v = r.virtual as unknown as Record<string, unknown>;
    for (const k of HOST_FIELDS.virtual) delete v[k];
  }
  return JSON.stringify(doc);
}

describe('a virtual run through the CLI', () => {
  it('one seed gives byte-identical JSON but for the host and wall-clock fields; another seed differs', () => {
    const args = (seed: string): string[] => [
      '--engine',
      'virtual',
      '--seed',
      seed,
      '--cpus',
      '4',
      '--duration',
      '2ms',
      '--json',
      'a.json',
      '-q',
    ];
    const a = simulated(join(cli(args('7')).cwd, 'a.json'));
    const b = simulated(join(cli(args('7')).cwd, 'a.json'));
    const c = simulated(join(cli(args('8')).cwd, 'a.json'));
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    const doc = JSON.parse(a) as ResultDocument;
    expect(doc.runs.map((r) => [r.engine, r.virtual?.seed, r.oversubscribed])).toEqual([
      ['virtual', 7, false],
      ['virtual', 7, false],
    ]);
    expect(doc.runs.map((r) => [r.strategy, r.virtual?.commandsPerUnmap])).toEqual([
      ['per-page', { TLBI_NH_VA: 16, CMD_SYNC: 16 }],
      ['batched', { TLBI_NH_VA: 16, CMD_SYNC: 1 }],
    ]);
  });

  it('64 CPUs: exact commands per unmap (per-page at 64 CPUs completes none in 20 ms), the host line says virtual time', () => {
    // The default window (20 ms after 1 ms): 64 CPUs queue on the 2017 lock for milliseconds.
    const { cwd, stdout } = cli([
      '--engine',
      'virtual',
      '--cpus',
      '64',
      '--strategy',
      'batched,lockfree',
      '--json',
      'r.json',
    ]);
    expect(stdout).toMatch(/^host: .*; virtual time: 64 CPUs and the SMMU simulated in one thread/);
    expect(stdout).not.toMatch(/OVERSUBSCRIBED/);
    const doc = JSON.parse(readFileSync(join(cwd, 'r.json'), 'utf8')) as ResultDocument;
    expect(doc.host.oversubscribed).toBe(false);
    const per = Object.fromEntries(doc.runs.map((r) => [r.strategy, r.virtual?.commandsPerUnmap]));
    expect(per).toEqual({
      batched: { TLBI_NH_VA: 16, CMD_SYNC: 1 },
      lockfree: { TLBI_NH_VA: 16, CMD_SYNC: 1 },
    });
    for (const r of doc.runs) {
      expect(r.cpus).toBe(64);
      expect(r.totals.unmaps).toBeGreaterThan(0);
      expect(r.virtual?.params.tlbiNs).toBe(100);
    }
    const lockfree = doc.runs.find((r) => r.strategy === 'lockfree')!;
    expect(lockfree.virtual?.cmpxchgSuccessRate).toBeGreaterThan(0);
    expect(lockfree.extra.counters.cmpxchgSuccesses).toBeGreaterThan(0);
    // The locked design's lock: one acquisition per command issued (poll mode), give or take the
    // one each CPU may have had in hand when the window opened.
    const batched = doc.runs.find((r) => r.strategy === 'batched')!;
    expect(batched.locks.map((l) => l.name)).toEqual(['cmdq', 'iova', 'rcache', 'depot']);
    const issued = batched.driver.commandsIssued.total;
    expect(issued).toBeGreaterThan(64);
    expect(Math.abs(batched.locks[0].acquisitions - issued)).toBeLessThanOrEqual(64);
    expect(batched.locks[0].contentions).toBeGreaterThan(0);
  });

  it('--sweep cpus=1,2,4 writes a CSV with the engine and seed columns', () => {
    const { cwd } = cli([
      '--engine',
      'virtual',
      '--sweep',
      'cpus=1,2,4',
      '--duration',
      '200us',
      '--warmup',
      '20us',
      '--strategy',
      'batched',
      '--seed',
      '3',
      '--csv',
      'out.csv',
      '-q',
    ]);
    const [header, ...rows] = readFileSync(join(cwd, 'out.csv'), 'utf8').trimEnd().split('\r\n');
    const cols = header.split(',');
    const at = (row: string, name: string): string => row.split(',')[cols.indexOf(name)];
    expect(rows.map((r) => [at(r, 'cpus'), at(r, 'engine'), at(r, 'seed'), at(r, 'strategy')])).toEqual([
      ['1', 'virtual', '3', 'batched'],
      ['2', 'virtual', '3', 'batched'],
      ['4', 'virtual', '3', 'batched'],
    ]);
    expect(cols[cols.length - 1]).toBe('virtualParams');
  });
});

describe('--trace and --cmd-log in virtual time', () => {
  it('trace spans carry virtual timestamps; the command log holds exactly the commands counted', () => {
    const { cwd } = cli([
      '--engine',
      'virtual',
      '--cpus',
      '2',
      '--strategy',
      'batched',
      '--duration',
      '100us',
      '--warmup',
      '10us',
      '--trace',
      't.json',
      '--cmd-log',
      'cmds',
      '--json',
      'r.json',
      '-q',
    ]);
    const trace = JSON.parse(readFileSync(join(cwd, 't.json'), 'utf8')) as {
      traceEvents: { name: string; ph: string; ts?: number; dur?: number }[];
    };
    const spans = trace.traceEvents.filter((e) => e.ph === 'X');
    const names = new Set(spans.map((e) => e.name));
    // The IOVA allocator's locks too (the CPU's cpu_rcache lock at every alloc and free), as the
    // threads engine traces them.
    for (const n of [
      'iommu_unmap',
      'cmdq wait',
      'cmdq hold',
      'rcache hold',
      'CMD_SYNC wait',
      'TLBI_NH_VA',
      'CMD_SYNC',
    ])
      expect(names).toContain(n);
    // The window starts at virtual 0 and the run is 110 us of virtual time long (ts, dur in us).
    const end = Math.max(...spans.map((e) => e.ts! + e.dur!));
    expect(end).toBeGreaterThan(100);
    expect(end).toBeLessThanOrEqual(111);
    const doc = JSON.parse(readFileSync(join(cwd, 'r.json'), 'utf8')) as ResultDocument;
    expect(doc.runs[0].commands.total).toBeGreaterThan(0);
    // Decoded: exactly the opcodes and counts of commands{}.
    checkLog(doc.runs[0], join(cwd, 'cmds'));
  });
});
