// The published package as a user gets it: `npm pack`, installed into a scratch project, used
// through the library API (`import ... from 'tlbsync-emu'`) and through its bin (`npx tlbsync-emu`).
// Both run the same short sweep; each must produce every point of it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let dir = '';

interface Doc {
  schemaVersion: number;
  complete: boolean;
  runs: { strategy: string; params: Record<string, unknown>; totals: { unmaps: number } }[];
}

function pointsOf(doc: Doc): string[] {
  return doc.runs.map((r) => `${r.strategy} ${JSON.stringify(r.params)}`).sort();
}

describe('the packed package', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tlbsync-pack-'));
    // npm test has built dist/ already; pack what `files` in package.json publishes.
    execFileSync(NPM, ['pack', '--pack-destination', dir, '--silent'], { cwd: ROOT, stdio: 'pipe' });
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack wrote no tarball into ${dir}`);
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
    );
    execFileSync(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${tgz}`], {
      cwd: dir,
      stdio: 'pipe',
    });
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a sweep through the library API', () => {
    writeFileSync(
      join(dir, 'api.mjs'),
      `import { DEFAULTS, runSweep, parseSweepSpec, SCHEMA_VERSION } from 'tlbsync-emu';
const cfg = { ...DEFAULTS, cpus: 1, strategies: ['per-page', 'batched'], durationMs: 40, warmupMs: 10, quiet: true };
const inv = await runSweep(cfg, [parseSweepSpec('--sweep', 'pages=1,2')]);
if (inv.doc.schemaVersion !== SCHEMA_VERSION) throw new Error('schema');
process.stdout.write(JSON.stringify(inv.doc));
`,
    );
    const doc = JSON.parse(execFileSync('node', ['api.mjs'], { cwd: dir, encoding: 'utf8' })) as Doc;
    expect(doc.complete).toBe(true);
    expect(pointsOf(doc)).toEqual([
      'batched {"pages":1}',
      'batched {"pages":2}',
      'per-page {"pages":1}',
      'per-page {"pages":2}',
    ]);
    for (const r of doc.runs) expect(r.totals.unmaps).toBeGreaterThan(0);
  }, 120_000);

  it('runs the same sweep through npx tlbsync-emu', () => {
    execFileSync(
      'npx',
      [
        '--no-install',
        'tlbsync-emu',
        '--cpus=1',
        '--strategy=per-page,batched',
        '--duration=40ms',
        '--warmup=10ms',
        '--sweep=pages=1,2',
        '--json=cli.json',
        '--quiet',
      ],
      { cwd: dir, stdio: 'pipe' },
    );
    const doc = JSON.parse(readFileSync(join(dir, 'cli.json'), 'utf8')) as Doc;
    expect(doc.complete).toBe(true);
    expect(pointsOf(doc)).toHaveLength(4);
    expect(pointsOf(doc)).toContain('per-page {"pages":2}');
  }, 120_000);
});
