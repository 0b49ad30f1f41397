// The safety oracle: the deliberately unsafe strategy is caught on every command-queue design it
// runs on, and every safe strategy reports zero stale translation uses under every lock algorithm
// and wait policy. Every run must also show that the oracle had the chance to see staleness:
// devices read other CPUs' live buffers (peer reads), where a stale IOTLB entry would be used.
import { describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import { DEFAULTS, type Config, type WaitMode } from '../src/config/config.js';
import { STRATEGY_NAMES } from '../src/driver/strategies/index.js';
import type { SafetySummary } from '../src/safety/oracle.js';
import { LOCK_NAMES } from '../src/concurrency/lock.js';
import { configWith } from './helpers/runs.js';

const UNSAFE = 'unsafe-free-before-sync';
const SAFE = STRATEGY_NAMES.filter((s) => s !== UNSAFE);

/** 2 CPUs, otherwise the default settings (the unsafe runs' title says so). */
const config = configWith({
  pages: DEFAULTS.pages,
  durationMs: DEFAULTS.durationMs,
  warmupMs: DEFAULTS.warmupMs,
});

/**
 * The designs the unsafe ordering is run on, each caught in at least 19 of 20 runs. A design is
 * one line: its name and the settings that select it. The strategy's own default allocator is the
 * rbtree (with per-CPU rcaches a freed IOVA comes back only to the CPU that freed it, after that
 * CPU's own CMD_SYNC, so the early free could not be observed, as in Linux).
 */
const BROKEN: readonly { readonly design: string; readonly over: Partial<Config> }[] = [
  { design: 'locked', over: {} },
  { design: 'lockfree', over: { cmdq: 'lockfree' } },
  { design: 'ecmdq', over: { cmdq: 'ecmdq' } },
];

/** The oracle checked translations and saw devices read other CPUs' buffers. */
function checkCoverage(s: SafetySummary, what: string): void {
  expect(s.checkedTranslations, what).toBeGreaterThan(0);
  expect(s.peerReads, what).toBeGreaterThan(0);
}

describe('safety oracle', () => {
  for (const { design, over } of BROKEN)
    it(`catches ${UNSAFE} on the ${design} design in at least 19 of 20 runs of 2 s with --cpus 2 and default settings`, async () => {
      let caught = 0;
      const uses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const { doc } = await runConfig(
          config({ ...over, strategies: [UNSAFE], durationMs: 2000 }),
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
        checkCoverage(s, `run ${i}`);
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
        checkCoverage(r.safety, r.strategy);
      }
    }, 120_000);
  }
});
