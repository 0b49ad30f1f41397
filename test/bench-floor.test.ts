// The twin section's floor (bench/lib/floor.ts): both sides' own code alone, in one thread.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsFloor, type Floor } from '../bench/lib/floor.js';
import { handOffStore } from '../src/concurrency/wait.js';

const ROOT = resolve(import.meta.dirname, '..');

const positive = (f: Floor): void => {
  for (const k of ['issueNsPerCommand', 'consumeNsPerCommand', 'clockNs'] as const) {
    expect(Number.isFinite(f[k]), k).toBe(true);
    expect(f[k], k).toBeGreaterThan(0);
  }
};

describe('the floor', () => {
  it('times the emulator’s rigs and leaves this thread’s hand-offs fenced again', () => {
    positive(jsFloor(1));
    // Fenced (storeSeqCst, then a look at the waiter count): a waiter is seen.
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    i32[1] = 1;
    expect(handOffStore(i32, 0, 7)).toBe(true);
    expect(i32[0]).toBe(7);
  });

  it('the C twin’s floor mode prints the three figures and returns', () => {
    // gcc, as the bench's twin section itself needs. The floor mode exits 1 if its SMMU loop did
    // not consume exactly the commands queued.
    const dir = mkdtempSync(join(tmpdir(), 'twin-'));
    try {
      const bin = join(dir, 'twin');
      execFileSync('gcc', ['-O2', '-pthread', '-Wall', '-Werror', '-o', bin, join(ROOT, 'bench/twin.c')]);
      const f = JSON.parse(execFileSync(bin, ['floor', '1'], { encoding: 'utf8', timeout: 60_000 })) as Floor;
      positive(f);
      expect(() => execFileSync(bin, ['floor', '0'], { stdio: 'pipe' })).toThrow(/twin: bad argument/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
