// Fault injection and the ways a run can end: a crashed CPU, a stalled SMMU, an illegal command,
// the watchdog and Ctrl-C. Each ends promptly with its exit code, a message that says what
// happened, and a JSON document holding what was measured.
import { mkdtempSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { config } from './helpers/runs.js';

const dir = mkdtempSync(join(tmpdir(), 'tlbsync-faults-'));
const run = runCli;

const json = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'));

describe('fault injection', () => {
  it('crash:cpu=1 ends the run early with exit 3, naming the CPU and what it held, and keeps the data', async () => {
    const r = await run([
      '--cpus',
      '2',
      '--strategy',
      'batched',
      '--duration',
      '20s',
      '--inject',
      'crash:cpu=1,at=500ms',
      '--json',
      join(dir, 'crash.json'),
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /cpu 1 crashed: .*injected crash.* while holding cmdq; it was in unmap, holding cmdq/,
    );
    const doc = json('crash.json');
    expect(doc.complete).toBe(false);
    expect(doc.runs[0].outcome).toBe('crashed');
    expect(doc.runs[0].totals.unmaps).toBeGreaterThan(0);
    // The window closed at the crash (500 ms into it), not before, and not at --duration (no
    // tighter bound: a descheduled thread may take a while to notice).
    expect(doc.runs[0].durationMs).toBeGreaterThanOrEqual(500);
    expect(doc.runs[0].durationMs).toBeLessThan(15_000);
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

  it('--warmup 0: a fault is still timed from the window, which opens at the first iteration', async () => {
    const r = await run([
      '--cpus',
      '1',
      '--strategy',
      'batched',
      '--warmup',
      '0ms',
      '--duration',
      '600ms',
      '--inject',
      'illegal-cmd:cpu=0,at=100ms',
      '--json',
      join(dir, 'ill0.json'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const run0 = json('ill0.json').runs[0];
    expect(run0.smmu.cmdqErrors).toBe(1);
    expect(run0.faults.cmdqErrorsHandled).toBe(1);
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
    // Ended by the watchdog, not by --duration (outcome 'hung' below): no wall-clock bound.
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
    // SIGINT once the first measured window is open; --duration long enough that only it ends the run.
    const r = await run(['--cpus', '2', '--duration', '60s', '--json', join(dir, 'int.json')], {
      sigintAfter: /^measuring per-page$/m,
    });
    expect(r.code, r.stderr).toBe(130);
    expect(r.marked, r.stderr).toBe(true);
    expect(r.stderr).toContain('tlbsync-emu: interrupted: stopping');
    expect(r.stdout).toContain('== per-page ==');
    const doc = json('int.json');
    expect(doc.complete).toBe(false);
    // Only the interrupted run: the plan stops with it (batched never started).
    expect(doc.runs.map((x: { outcome: string }) => x.outcome)).toEqual(['interrupted']);
    expect(doc.runs[0].totals.unmaps).toBeGreaterThan(0);
    expect(doc.runs[0].durationMs).toBeLessThan(60_000);
    // Result files are written whole (renamed into place): no temporary file is left behind.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(join(dir, 'int.json'))).toBe(true);
  }, 30_000);
});

describe('driver diagnostics from CPU workers', () => {
  it("reach the caller's warn(), after the run's first line, not the worker's own stderr", async () => {
    const { runConfig } = await import('../src/index.js');
    const { parseInjection } = await import('../src/config/inject.js');
    const lines: string[] = [];
    await runConfig(
      config({
        strategies: ['batched'],
        durationMs: 1000,
        syncTimeoutMs: 100,
        inject: [parseInjection('stall:smmu,at=200ms,for=500ms', 2, 1000)],
      }),
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
