// Settings that are valid one by one but contradict each other, checked before any worker starts.
// Each message names the flags involved and what would be allowed.
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import { getStrategy } from '../driver/strategies/index.js';
import type { Config } from '../config/config.js';
import { UsageError } from '../config/parse.js';

export function checkCombinations(cfg: Config): void {
  if (cfg.lock === 'spin-park' && cfg.wait === 'spin')
    throw new UsageError(
      '--lock spin-park contradicts --wait spin: the spin-park lock always parks (use --wait auto or park)',
    );
  if (cfg.trace !== null && cfg.stats === 'counters')
    throw new UsageError(
      '--trace contradicts --stats counters: trace spans need the clock reads that counters mode skips',
    );
  for (const name of cfg.strategies) {
    const design = CMDQ_DESIGNS[getStrategy(name).cmdq];
    const min = design.minQueueEntries ?? 2;
    if (cfg.queueEntries < min)
      throw new UsageError(
        `--queue-entries ${cfg.queueEntries} is too small for --strategy ${name} (allowed: ${min} or more; ` +
          `its command-queue design reserves a whole batch of commands at once)`,
      );
  }
}
