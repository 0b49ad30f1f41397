// The command line: every bad value is refused before any worker starts, with exit code 2 and one
// line naming the flag; --help and --version work; a real run writes the documented JSON.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';

const RUN = resolve(__dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'tlbsync-cli-'));

const BAD: [string[], RegExp][] = [
  [['--cpus', 'abc'], /^--cpus: expected a whole number from 1 to 256, got "abc"$/],
  [['--cpus', '0'], /^--cpus: 0 is out of range \(allowed: 1 to 256\)$/],
  [['--cpus', '-3'], /--cpus/],
  [['--cpus', '257'], /^--cpus: 257 is out of range/],
  [['--cpus', '2.5'], /^--cpus: expected a whole number/],
  [['--pages', '0'], /^--pages: 0 is out of range \(allowed: 1 to 4096\)$/],
  [['--pages', '4097'], /^--pages: 4097 is out of range/],
  [['--queue-entries', '100'], /^--queue-entries: 100 is not a power of two/],
  [['--queue-entries', '1'], /^--queue-entries: 1 is out of range \(allowed: 2 to 524288\)$/],
  [['--queue-entries', '1048576'], /^--queue-entries: 1048576 is out of range/],
  [['--tlbi-ns', '-1'], /^--tlbi-ns: expected nanoseconds/],
  [['--tlbi-ns', 'fast'], /^--tlbi-ns: expected nanoseconds/],
  [['--sync-ns', '20ms'], /^--sync-ns: 20ms is out of range \(allowed: 0 to 10000000 ns\)$/],
  [['--duration', 'forever'], /^--duration: expected a duration like 500ms, 2s or 1m, got "forever"$/],
  [['--duration', '5ms'], /^--duration: 5ms is out of range \(allowed: 10ms to 60m\)$/],
  [['--duration', '2h'], /^--duration: expected a duration/],
  [['--warmup', '-1s'], /^--warmup: expected a duration/],
  [['--strategy', 'fastest'], /^--strategy: unknown value "fastest" \(allowed: per-page, batched\)$/],
  [['--strategy', 'per-page,,batched'], /^--strategy: empty item/],
  [['--strategy', 'batched,batched'], /^--strategy: "batched" is listed twice$/],
  [['--lock', 'futex'], /^--lock: unknown value "futex" \(allowed: tas, ttas, ticket, mcs, spin-park\)$/],
  [['--wait', 'sleep'], /^--wait: unknown value "sleep" \(allowed: spin, park, auto\)$/],
  [['--sync-mode', 'irq'], /^--sync-mode: unknown value "irq" \(allowed: poll, msi\)$/],
  [['--domains', 'global'], /^--domains: unknown value "global" \(allowed: shared, per-cpu\)$/],
  [['--iotlb-entries', '2'], /^--iotlb-entries: 2 is out of range \(allowed: 4 to 1048576\)$/],
  [['--iotlb-entries', '300'], /^--iotlb-entries: 300 is not a power of two/],
  [['--stats', 'some'], /^--stats: unknown value "some" \(allowed: full, counters\)$/],
  [['--lock', 'spin-park', '--wait', 'spin'], /^--lock spin-park contradicts --wait spin/],
  [
    ['--json', '/etc/hostname/x.json'],
    /^--json: cannot write \/etc\/hostname\/x.json: \/etc\/hostname is not a directory$/,
  ],
  [['--json', '/'], /^--json: cannot write \/: it is a directory$/],
  [['--cmd-log', '/sys/x'], /^--cmd-log: cannot write \/sys\/x: permission denied$/],
  [['--frobnicate'], /unknown option '--frobnicate'/],
  [['--cpus'], /option '--cpus <n>' argument missing/],
  [['extra-arg'], /too many arguments/],
];

describe('bad input', () => {
  for (const [argv, re] of BAD) {
    it(`${argv.join(' ')} -> exit 2`, () => {
      const out = parseArgs(argv);
      expect(out.kind).toBe('exit');
      if (out.kind !== 'exit') return;
      expect(out.code).toBe(2);
      expect(out.output.endsWith('\n')).toBe(true);
      expect(out.output.trimEnd().split('\n')).toHaveLength(1);
      expect(out.output.replace(/^tlbsync-emu: /, '').trimEnd()).toMatch(re);
    });
  }

  it('the real binary prints one line, no stack trace, and exits 2', () => {
    const r = spawnSync(process.execPath, [RUN, '--cpus', 'many'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('tlbsync-emu: --cpus: expected a whole number from 1 to 256, got "many"\n');
  });
});

describe('help and version', () => {
  it('--help lists every flag with its default', () => {
    // Help wraps long lines: compare with white space folded.
    const out = execFileSync(process.execPath, [RUN, '--help'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    for (const flag of [
      '--cpus',
      '--strategy',
      '--pages',
      '--queue-entries',
      '--tlbi-ns',
      '--sync-ns',
      '--duration',
      '--lock',
      '--wait',
      '--sync-mode',
      '--domains',
      '--json',
      '--cmd-log',
    ])
      expect(out).toContain(flag);
    expect(out).toContain('(default: "8")');
    expect(out).toContain('(default: "per-page,batched")');
  });

  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, '../package.json'), 'utf8')) as {
      version: string;
    };
    expect(execFileSync(process.execPath, [RUN, '--version'], { encoding: 'utf8' }).trim()).toBe(pkg.version);
  });
});

describe('a real run', () => {
  it('prints both lockstat tables and the comparison, and writes the documented JSON', () => {
    const json = join(dir, 'out', 'result.json');
    const r = spawnSync(
      process.execPath,
      [RUN, '--cpus', '2', '--duration', '200ms', '--warmup', '50ms', '--json', json],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('== per-page ==');
    expect(r.stdout).toContain('== batched ==');
    expect(r.stdout).toMatch(
      /class name\s+con-bounces\s+contentions\s+waittime-min\s+waittime-max\s+waittime-total\s+waittime-avg\s+acq-bounces\s+acquisitions\s+holdtime-min/,
    );
    expect(r.stdout).toContain('== comparison (ratios against per-page) ==');
    expect(existsSync(json)).toBe(true);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.schemaVersion).toBe(1);
    expect(doc.tool.name).toBe('tlbsync-emu');
    expect(Object.keys(doc.host)).toEqual(
      expect.arrayContaining(['cores', 'nodeVersion', 'threads', 'oversubscribed', 'waitPolicy']),
    );
    expect(doc.config.cpus).toBe(2);
    expect(doc.complete).toBe(true);
    expect(doc.runs.map((x: { strategy: string }) => x.strategy)).toEqual(['per-page', 'batched']);
    const run = doc.runs[0];
    for (const k of [
      'strategy',
      'cpus',
      'durationMs',
      'totals',
      'commands',
      'syncsPerUnmap',
      'unmapLatencyNs',
      'locks',
      'perCpu',
      'smmu',
    ])
      expect(run).toHaveProperty(k);
    expect(Object.keys(run.totals)).toEqual([
      'maps',
      'unmaps',
      'pagesMapped',
      'pagesUnmapped',
      'unmapsPerSec',
      'pagesPerSec',
    ]);
    expect(Object.keys(run.unmapLatencyNs)).toEqual(['mean', 'p50', 'p99', 'p999', 'max']);
    expect(run.commands.byOpcode).toHaveProperty('TLBI_NH_VA');
    expect(run.commands.byOpcode).toHaveProperty('TLBI_NH_ASID');
    expect(run.commands.byOpcode).toHaveProperty('CMD_SYNC');
    expect(Object.keys(run.locks[0].waitNs)).toEqual(['total', 'mean', 'min', 'max', 'p50', 'p99']);
    expect(Object.keys(run.perCpu[0])).toEqual(['cpu', 'unmaps', 'acquisitions', 'lockWaitNs', 'syncWaitNs']);
    expect(Object.keys(run.smmu)).toEqual(
      expect.arrayContaining(['commandsConsumed', 'maxQueueDepth', 'iotlbInvalidations', 'cmdqErrors']),
    );
    expect(Object.keys(doc.comparison[0])).toEqual([
      'baseline',
      'candidate',
      'unmapsPerSecRatio',
      'pagesPerSecRatio',
      'lockWaitTotalRatio',
      'p99UnmapLatencyRatio',
      'syncsPerUnmap',
    ]);
  });
});
