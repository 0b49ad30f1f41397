// The safety oracle: the deliberately unsafe strategy is caught, and every safe strategy reports
// zero stale translation uses under every lock algorithm and wait policy.
import { describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import { DEFAULTS, type Config, type WaitMode } from '../src/config/config.js';
import { STRATEGY_NAMES } from '../src/driver/strategies/index.js';
import { LOCK_NAMES } from '../src/sync/lock.js';

const UNSAFE = 'unsafe-free-before-sync';
const SAFE = STRATEGY_NAMES.filter((s) => s !== UNSAFE);

function config(over: Partial<Config>): Config {
  return { ...DEFAULTS, cpus: 2, quiet: true, ...over };
}

describe('safety oracle', () => {
  it(`catches ${UNSAFE} in at least 19 of 20 runs of 2 s with --cpus 2 --iova rbtree`, async () => {
    let caught = 0;
    const uses: number[] = [];
    for (let i = 0; i < 20; i++) {
      // --iova rbtree: with per-CPU rcaches a freed IOVA comes back only to the CPU that freed it,
      // after that CPU's own CMD_SYNC, so the early free cannot be observed (as in Linux).
      const { doc } = await runConfig(
        config({ strategies: [UNSAFE], durationMs: 2000, iova: 'rbtree' }),
        () => {},
      );
      const s = doc.runs[0].safety;
      uses.push(s.staleTranslationUses);
      if (s.staleTranslationUses > 0) {
        caught++;
        const v = s.firstViolation!;
        expect(v.asid).toBe(1);
        expect(v.currentGeneration).toBeGreaterThan(v.entryGeneration);
        expect(v.iova).toMatch(/^0x[0-9a-f]+000$/);
      }
      expect(s.checkedTranslations).toBeGreaterThan(0);
    }
    expect(caught, `stale uses per run: ${uses.join(', ')}`).toBeGreaterThanOrEqual(19);
  }, 180_000);

  const combos: { lock: (typeof LOCK_NAMES)[number]; wait: WaitMode }[] = LOCK_NAMES.flatMap((lock) =>
    (lock === 'spin-park' ? (['park'] as const) : (['spin', 'park'] as const)).map((wait) => ({
      lock,
      wait,
    })),
  );
  for (const { lock, wait } of combos) {
    it(`reports 0 stale uses for every safe strategy with --lock ${lock} --wait ${wait}`, async () => {
      const { doc } = await runConfig(
        config({ strategies: SAFE, lock, wait, durationMs: 150, warmupMs: 30, pages: 4 }),
        () => {},
      );
      expect(doc.runs.map((r) => r.strategy)).toEqual(SAFE);
      for (const r of doc.runs) {
        expect(r.complete, `${r.strategy}: ${r.errors.join('; ')}`).toBe(true);
        expect(r.safety.staleTranslationUses, r.strategy).toBe(0);
        expect(r.safety.firstViolation).toBeNull();
        expect(r.safety.checkedTranslations, r.strategy).toBeGreaterThan(0);
      }
    }, 120_000);
  }
});
