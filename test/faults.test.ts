// Fault injection and the ways a run can end: a crashed CPU, a stalled SMMU, an illegal command,
// the watchdog and Ctrl-C. Each ends promptly with its exit code, a message that says what
// happened, and a JSON document holding what was measured.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const RUN = resolve(__dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'tlbsync-faults-'));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** ms from start until a stderr line matching `mark` appeared (for "ends within"). */
  markMs: number | null;
}

function run(args: string[], opts: { sigintAfterMs?: number; mark?: RegExp } = {}): Promise<Result> {
  return new Promise((done) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [RUN, ...args]);
    let stdout = '';
    let stderr = '';
    let markMs: number | null = null;
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => {
      stderr += d;
      if (markMs === null && opts.mark?.test(stderr)) markMs = Date.now() - t0;
    });
    if (opts.sigintAfterMs !== undefined) setTimeout(() => p.kill('SIGINT'), opts.sigintAfterMs);
    p.on('exit', (code) => done({ code, stdout, stderr, ms: Date.now() - t0, markMs }));
  });
}

const json = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'));

describe('fault injection', () => {
  it('crash:cpu=1 ends the run within 2 s with exit 3, naming the CPU and what it held, and keeps the data', async () => {
    const r = await run(
      [
        '--cpus',
        '2',
        '--strategy',
        'batched',
        '--duration',
        '3s',
        '--inject',
        'crash:cpu=1,at=500ms',
        '--json',
        join(dir, 'crash.json'),
      ],
      { mark: /running batched/ },
    );
    expect(r.code).toBe(3);
    // Started at markMs; the crash is 200 ms warm-up + 500 ms later; the exit follows within 2 s.
    expect(r.ms - (r.markMs ?? 0)).toBeLessThan(200 + 500 + 2000);
    expect(r.stderr).toMatch(
      /cpu 1 crashed: .*injected crash.* while holding cmdq; it was in unmap, holding cmdq/,
    );
    const doc = json('crash.json');
    expect(doc.complete).toBe(false);
    expect(doc.runs[0].outcome).toBe('crashed');
    expect(doc.runs[0].totals.unmaps).toBeGreaterThan(0);
    expect(doc.runs[0].durationMs).toBeGreaterThan(400);
    expect(doc.runs[0].durationMs).toBeLessThan(1500);
    expect(r.stdout).toContain('INCOMPLETE');
  }, 30_000);

  it('stall:smmu makes CMD_SYNC waiters time out and report, then the run completes', async () => {
    const r = await run([
      '--cpus',
      '2',
      '--strategy',
      'batched',
      '--duration',
      '2s',
      '--inject',
      'stall:smmu,at=300ms,for=700ms',
      '--sync-timeout',
      '200ms',
      '--json',
      join(dir, 'stall.json'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /cpu \d: CMD_SYNC timeout: waited \d+ ms for CMD_SYNC 0x[0-9a-f]+; CMDQ_PROD 0x[0-9a-f]+ CMDQ_CONS 0x[0-9a-f]+/,
    );
    const run0 = json('stall.json').runs[0];
    expect(run0.outcome).toBe('complete');
    expect(run0.faults.syncTimeouts).toBeGreaterThanOrEqual(1);
    expect(run0.endState).toEqual({ iotlbEntries: 0, iovasOutstanding: 0 });
  }, 30_000);

  it('illegal-cmd: the SMMU stops with CMDQ_CONS.ERR = ILL, the driver skips it as Linux does, the run completes', async () => {
    const r = await run([
      '--cpus',
      '2',
      '--strategy',
      'per-page',
      '--duration',
      '1s',
      '--inject',
      'illegal-cmd:cpu=0,at=200ms',
      '--json',
      join(dir, 'ill.json'),
      '--cmd-log',
      join(dir, 'ill'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /CMDQ error ILL at CMDQ_CONS 0x[0-9a-f]+: UNKNOWN opcode=0x7f .*replaced with CMD_SYNC and acknowledged/,
    );
    const run0 = json('ill.json').runs[0];
    expect(run0.smmu.cmdqErrors).toBe(1);
    expect(run0.faults.cmdqErrorsHandled).toBe(1);
    // The replacement CMD_SYNC is consumed like any other: the log still matches the counts.
    expect(readFileSync(join(dir, 'ill.per-page.bin')).length).toBe(16 * run0.commands.total);
  }, 30_000);

  it('the watchdog ends a run in which no unmap completes, with each CPU state and lock owner, exit 4', async () => {
    const r = await run([
      '--cpus',
      '2',
      '--strategy',
      'batched',
      '--duration',
      '10s',
      '--inject',
      'stall:smmu,at=100ms,for=30s',
      '--sync-timeout',
      'none',
      '--watchdog',
      '1s',
      '--json',
      join(dir, 'wd.json'),
    ]);
    expect(r.code).toBe(4);
    expect(r.ms).toBeLessThan(6000);
    expect(r.stderr).toMatch(/watchdog: no CPU completed an unmap for 1000 ms/);
    expect(r.stderr).toMatch(/cpu 0: .*\(\d+ unmaps so far\)/);
    expect(r.stderr).toMatch(/cpu 1: /);
    expect(r.stderr).toMatch(/lock cmdq: (held by cpu \d|free)/);
    expect(r.stderr).toMatch(/SMMU: stalled \(injected\); CMDQ_PROD 0x[0-9a-f]+ CMDQ_CONS/);
    expect(r.stderr).toMatch(/waiting for CMD_SYNC 0x[0-9a-f]+/);
    const doc = json('wd.json');
    expect(doc.complete).toBe(false);
    expect(doc.runs[0].outcome).toBe('hung');
    expect(doc.runs[0].totals.unmaps).toBeGreaterThan(0);
  }, 30_000);

  it('Ctrl-C stops the workers, prints and writes what was measured, exit 130', async () => {
    const r = await run(['--cpus', '2', '--duration', '10s', '--json', join(dir, 'int.json')], {
      sigintAfterMs: 1500,
    });
    expect(r.code).toBe(130);
    expect(r.ms).toBeLessThan(5000);
    expect(r.stdout).toContain('== per-page ==');
    const doc = json('int.json');
    expect(doc.complete).toBe(false);
    expect(doc.runs[0].outcome).toBe('interrupted');
    expect(doc.runs[0].totals.unmaps).toBeGreaterThan(0);
    // Result files are written whole (renamed into place): no temporary file is left behind.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(join(dir, 'int.json'))).toBe(true);
  }, 30_000);
});

describe('driver diagnostics from CPU workers', () => {
  it("reach the caller's warn(), after the run's first line, not the worker's own stderr", async () => {
    const { runConfig } = await import('../src/index.js');
    const { DEFAULTS } = await import('../src/config/config.js');
    const { parseInjection } = await import('../src/config/inject.js');
    const lines: string[] = [];
    await runConfig(
      {
        ...DEFAULTS,
        cpus: 2,
        strategies: ['batched'],
        durationMs: 1000,
        warmupMs: 50,
        syncTimeoutMs: 100,
        inject: [parseInjection('stall:smmu,at=200ms,for=500ms', 2, 1000)],
        quiet: true,
      },
      (l) => lines.push(l),
    );
    const timeouts = lines.filter((l) => /^tlbsync-emu: cpu \d: CMD_SYNC timeout: waited \d+ ms/.test(l));
    expect(timeouts.length, lines.join('\n')).toBeGreaterThanOrEqual(1);
    // One line per report, without the newline stderr would have needed.
    expect(timeouts.every((l) => !l.includes('\n'))).toBe(true);
    // The run's first line (the runLine) comes before any of them.
    expect(lines[0]).toMatch(/^running batched/);
  }, 30_000);
});
