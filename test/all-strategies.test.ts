// Issue acceptance: one invocation with all six strategies, --cpus 4 and --duration 1s, finishes
// well under a minute on a 2-core machine and prints the full comparison against the first.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const RUN = resolve(__dirname, '../dist/run.js');
const SIX = ['per-page', 'batched', 'range', 'lockfree', 'lazy', 'ecmdq'];

describe('all six strategies in one invocation', () => {
  it('runs --strategy per-page,batched,range,lockfree,lazy,ecmdq --cpus 4 --duration 1s and compares them', () => {
    const json = join(mkdtempSync(join(tmpdir(), 'tlbsync-six-')), 'six.json');
    const r = spawnSync(
      process.execPath,
      [RUN, '--strategy', SIX.join(','), '--cpus', '4', '--duration', '1s', '--json', json],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    for (const s of SIX) expect(r.stdout).toContain(`== ${s} ==`);
    expect(r.stdout).toContain('== comparison (ratios against per-page) ==');
    for (const s of SIX.slice(1)) expect(r.stdout).toContain(`${s}/per-page`);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.complete).toBe(true);
    expect(doc.runs.map((x: { strategy: string }) => x.strategy)).toEqual(SIX);
    expect(doc.comparison.map((c: { candidate: string }) => c.candidate)).toEqual(SIX.slice(1));
    for (const run of doc.runs) {
      expect(run.totals.unmaps, run.strategy).toBeGreaterThan(0);
      expect(run.safety.staleTranslationUses, run.strategy).toBe(0);
    }
  }, 70_000);
});
