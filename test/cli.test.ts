// The command line: every bad value is refused before any worker starts, with exit code 2 and one
// line naming the flag; --help and --version work; a real run writes the documented JSON.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectUsageError } from './helpers/usage.js';

const RUN = resolve(__dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'tlbsync-cli-'));

/** --config files for the bad-input table: each wrong in one way. */
function job(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
const JOB = {
  unknownKey: job('unknown-key.json', '{"cpu": 4}'),
  badValue: job('bad-value.json', '{"queue-entries": 100}'),
  badType: job('bad-type.json', '{"quiet": "yes"}'),
  badList: job('bad-list.json', '{"cpus": [1, 2]}'),
  twice: job('twice.json', '{"queueEntries": 64, "queue-entries": 128}'),
  notJson: job('not.json', 'cpus: 4'),
  notYaml: job('not.yaml', 'cpus: [1,\n'),
  topList: job('top-list.yaml', '- cpus: 4\n'),
  badSweep: job('bad-sweep.yaml', 'sweep:\n  cpus: [1, 0]\n'),
  sweepAndKey: job('sweep-and-key.yaml', 'cpus: 2\nsweep: [cpus=1,2]\n'),
  badInject: job('bad-inject.json', '{"inject": ["crash:cpu=1"]}'),
};

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
  [['--strategy', 'fastest'], /^--strategy: unknown value "fastest" \(allowed: per-page, batched, range, /],
  [['--strategy', 'per-page,,batched'], /^--strategy: empty item/],
  [['--strategy', 'batched,batched'], /^--strategy: "batched" is listed twice$/],
  [['--lock', 'futex'], /^--lock: unknown value "futex" \(allowed: tas, ttas, ticket, mcs, spin-park\)$/],
  [['--wait', 'sleep'], /^--wait: unknown value "sleep" \(allowed: spin, park, auto\)$/],
  [['--sync-mode', 'irq'], /^--sync-mode: unknown value "irq" \(allowed: poll, msi\)$/],
  [['--mmio-read-ns', '-1'], /^--mmio-read-ns: expected nanoseconds/],
  [['--mmio-write-ns', '20ms'], /^--mmio-write-ns: 20ms is out of range \(allowed: 0 to 10000000 ns\)$/],
  [['--sev', 'maybe'], /^--sev: unknown value "maybe" \(allowed: on, off\)$/],
  [['--cons-poll', 'wfe'], /^--cons-poll: unknown value "wfe" \(allowed: linux, spin\)$/],
  [
    ['--sync-coalesce', 'always'],
    /^--sync-coalesce: unknown value "always" \(allowed: off, msi, ext-poll\)$/,
  ],
  [['--sweep', 'mmio-read-ns=0,fast'], /^--sweep mmio-read-ns: expected nanoseconds/],
  [['--domains', 'global'], /^--domains: unknown value "global" \(allowed: shared, per-cpu\)$/],
  [['--iotlb-entries', '2'], /^--iotlb-entries: 2 is out of range \(allowed: 4 to 1048576\)$/],
  [['--iotlb-entries', '300'], /^--iotlb-entries: 300 is not a power of two/],
  [['--stats', 'some'], /^--stats: unknown value "some" \(allowed: full, counters\)$/],
  [['--lock', 'spin-park', '--wait', 'spin'], /^--lock spin-park contradicts --wait spin/],
  [
    ['--strategy', 'lockfree', '--queue-entries', '64'],
    /^--queue-entries 64 is too small for --strategy lockfree on --cmdq lockfree \(allowed: 128 or more;/,
  ],
  [
    ['--json', '/etc/hostname/x.json'],
    /^--json: cannot write \/etc\/hostname\/x.json: \/etc\/hostname is not a directory$/,
  ],
  [['--json', '/'], /^--json: cannot write \/: it is a directory$/],
  [['--cmd-log', '/sys/x'], /^--cmd-log: cannot write \/sys\/x: permission denied$/],
  [
    ['--inject', 'crash:cpu=9,at=1s'],
    /^--inject: "crash:cpu=9,at=1s": cpu=9 is not a CPU of this run \(allowed: 0 to 7\)$/,
  ],
  [['--inject', 'crash:cpu=1'], /^--inject: "crash:cpu=1": missing at=/],
  [['--inject', 'crash:cpu=1,at=1s,at=2s'], /^--inject: "crash:cpu=1,at=1s,at=2s": at given twice$/],
  [
    ['--inject', 'stall:cpu=1,at=1s,for=1s'],
    /^--inject: "stall:cpu=1,at=1s,for=1s": only the smmu can stall/,
  ],
  [
    ['--inject', 'boom:cpu=1,at=1s'],
    /^--inject: unknown fault "boom:cpu=1,at=1s" \(grammar: crash:cpu=N,at=T \| stall:smmu,at=T,for=D \| illegal-cmd:cpu=N,at=T\)$/,
  ],
  [
    ['--inject', 'crash:cpu=1,at=5s'],
    /^--inject: "crash:cpu=1,at=5s": at=5s is not inside the measured window \(--duration 2000ms\)$/,
  ],
  [
    ['--inject', 'stall:smmu,at=1s,for=soon'],
    /^--inject "stall:smmu,at=1s,for=soon" for: expected a duration/,
  ],
  [
    ['--inject', 'illegal-cmd:cpu=x,at=1s'],
    /^--inject: "illegal-cmd:cpu=x,at=1s": cpu=x is not a CPU of this run/,
  ],
  [['--devices', '-1'], /^--devices: expected a whole number from 0 to 1024/],
  [['--sync-timeout', 'never'], /^--sync-timeout: expected a duration/],
  [['--watchdog', '10ms'], /^--watchdog: 10ms is out of range \(allowed: 100ms to 60m\)$/],
  [['--fq-size', '0'], /^--fq-size: 0 is out of range \(allowed: 1 to 65536\)$/],
  [['--fq-timeout', 'later'], /^--fq-timeout: expected a duration/],
  [['--spin-ns', 'x'], /^--spin-ns: expected nanoseconds/],
  [['--iova', 'slab'], /^--iova: unknown value "slab" \(allowed: rcache, rbtree\)$/],
  [['--dma-ns', '-1'], /^--dma-ns: expected nanoseconds \(e\.g\. 100\) or a duration like 1us, got "-1"$/],
  [['-x', '11ms'], /^--dma-ns: 11ms is out of range \(allowed: 0 to 10000000 ns\)$/],
  [['--sweep', 'dma-ns=0,soon'], /^--sweep dma-ns: expected nanoseconds/],
  // --sweep: each value is checked like the flag it stands for, naming --sweep and the parameter.
  [['--sweep', 'cpus'], /^--sweep: expected PARAM=V1,V2,\.\.\. \(e\.g\. cpus=1,2,4\), got "cpus"$/],
  [
    ['--sweep', 'threads=1,2'],
    /^--sweep: cannot sweep "threads" \(allowed: cpus, pages, queue-entries, tlbi-ns, sync-ns, mmio-read-ns, mmio-write-ns, lock, sync-mode, wait, domains, iova, cmdq, dma-ns, engine, seed\)$/,
  ],
  [['--sweep', 'cpus=1,0'], /^--sweep cpus: 0 is out of range \(allowed: 1 to 256\)$/],
  [['--sweep', 'cpus=1,2.5'], /^--sweep cpus: expected a whole number from 1 to 256, got "2\.5"$/],
  [['--sweep', 'pages=1,4097'], /^--sweep pages: 4097 is out of range \(allowed: 1 to 4096\)$/],
  [['--sweep', 'queue-entries=64,100'], /^--sweep queue-entries: 100 is not a power of two/],
  [
    ['--sweep', 'lock=ttas,futex'],
    /^--sweep lock: unknown value "futex" \(allowed: tas, ttas, ticket, mcs, spin-park\)$/,
  ],
  [['--sweep', 'sync-ns=1us,20ms'], /^--sweep sync-ns: 20ms is out of range \(allowed: 0 to 10000000 ns\)$/],
  [['--sweep', 'tlbi-ns=fast'], /^--sweep tlbi-ns: expected nanoseconds/],
  [['--sweep', 'pages=1,,2'], /^--sweep pages: empty item in "1,,2"$/],
  [['--sweep', 'cpus='], /^--sweep cpus: no values \(expected cpus=v1,v2,\.\.\.\)$/],
  [['--sweep', 'pages=1,2,1'], /^--sweep pages: 1 is listed twice$/],
  [['--sweep', 'sync-ns=1000,1us'], /^--sweep sync-ns: 1us is listed twice$/],
  [['--sweep', 'cpus=1', '--sweep', 'cpus=2'], /^--sweep cpus: swept twice/],
  [['--cpus', '2', '--sweep', 'cpus=1,2'], /^--sweep cpus: also set by --cpus; give one or the other$/],
  [['-t', '2', '--sweep', 'cpus=1,2'], /^--sweep cpus: also set by --cpus; give one or the other$/],
  [
    ['--sweep', 'lock=ttas,spin-park', '--wait', 'spin'],
    /^--sweep lock=spin-park contradicts --wait spin: the spin-park lock always parks/,
  ],
  [
    ['--sweep', 'cpus=1,4', '--inject', 'crash:cpu=2,at=1s'],
    /^--inject: cpu=2 is not a CPU of the sweep point cpus=1 \(allowed: 0 to 0\)$/,
  ],
  [
    ['--sweep', 'cpus=1,2,3,4,5,6', '--repeat', '1000'],
    /^--sweep: 12000 runs \(6 points x 2 strategies x 1000 repetitions\) is more than 10000$/,
  ],
  // --repeat
  [['--repeat', '0'], /^--repeat: 0 is out of range \(allowed: 1 to 1000\)$/],
  [['--repeat', '1001'], /^--repeat: 1001 is out of range \(allowed: 1 to 1000\)$/],
  [['--repeat', 'twice'], /^--repeat: expected a whole number from 1 to 1000, got "twice"$/],
  // aliases name the flag they stand for
  [['-t', '0'], /^--cpus: 0 is out of range \(allowed: 1 to 256\)$/],
  [['-s', 'forever'], /^--duration: expected a duration/],
  [['-g', '5000'], /^--pages: 5000 is out of range/],
  // --config: the file and the key
  [
    ['--config', '/nonexistent/job.json'],
    /^--config: cannot read \/nonexistent\/job\.json: no such file or directory$/,
  ],
  [['--config', dir], /^--config: cannot read .*: it is a directory$/],
  [['--config', JOB.unknownKey], /^.*unknown-key\.json: unknown key "cpu" \(keys are the long flag names/],
  [['--config', JOB.badValue], /^.*bad-value\.json: queue-entries: 100 is not a power of two/],
  [['--config', JOB.badType], /^.*bad-type\.json: quiet: expected true or false, got "yes"$/],
  [['--config', JOB.badList], /^.*bad-list\.json: cpus: expected a number or a string, got a list$/],
  [['--config', JOB.twice], /^.*twice\.json: "queueEntries" and "queue-entries" set the same setting$/],
  [['--config', JOB.notJson], /^.*not\.json: not valid JSON: /],
  [['--config', JOB.notYaml], /^.*not\.yaml: not valid YAML: /],
  [['--config', JOB.topList], /^.*top-list\.yaml: expected an object of settings/],
  [['--config', JOB.badSweep], /^.*bad-sweep\.yaml: sweep cpus: 0 is out of range \(allowed: 1 to 256\)$/],
  [
    ['--config', JOB.sweepAndKey],
    /^.*sweep-and-key\.yaml: sweep cpus: also set by .*sweep-and-key\.yaml: cpus;/,
  ],
  [['--config', JOB.badInject], /^.*bad-inject\.json: inject: "crash:cpu=1": missing at=/],
  // new output files
  [['--csv', '/'], /^--csv: cannot write \/: it is a directory$/],
  [['--report', '/sys/x.html'], /^--report: cannot write \/sys\/x\.html: permission denied$/],
  [
    ['--json', join(dir, 'same.out'), '--csv', join(dir, 'same.out')],
    /^--csv: .*same\.out is also the --json file; give each output its own file$/,
  ],
  [['--frobnicate'], /unknown option '--frobnicate'/],
  [['--cpus'], /option '-t, --cpus <n>' argument missing/],
  [['extra-arg'], /too many arguments/],
];

describe('bad input', () => {
  for (const [argv, re] of BAD) {
    it(`${argv.join(' ')} -> exit 2`, () => expectUsageError(argv, re));
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
      'params',
      'baseline',
      'candidate',
      'unmapsPerSecRatio',
      'pagesPerSecRatio',
      'lockWaitTotalRatio',
      'p99UnmapLatencyRatio',
      'syncsPerUnmap',
      'metrics',
    ]);
  });
});
