// Settings that are valid one by one but contradict each other, checked before any worker starts.
// Each message names the flags involved and what would be allowed.
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import { designOf, getStrategy } from '../driver/strategies/index.js';
import type { Config } from '../config/config.js';
import { UsageError } from '../config/parse.js';
import { virtualUnsupported } from '../virtual/capabilities.js';

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
    const def = getStrategy(name);
    if (def.designFixed && cfg.cmdq !== null && cfg.cmdq !== def.cmdq)
      throw new UsageError(
        `--cmdq ${cfg.cmdq} contradicts --strategy ${name} (batched on the ${def.cmdq} design): ` +
          `use --strategy batched --cmdq ${cfg.cmdq}`,
      );
    const cmdq = designOf(cfg, name);
    const min = CMDQ_DESIGNS[cmdq].minQueueEntries ?? 2;
    if (cfg.queueEntries < min)
      throw new UsageError(
        `--queue-entries ${cfg.queueEntries} is too small for --strategy ${name} on --cmdq ${cmdq} ` +
          `(allowed: ${min} or more; that design reserves a whole batch of commands at once)`,
      );
    if (cfg.engine === 'virtual') {
      const why = virtualUnsupported(cfg, name, cmdq);
      if (why !== null) throw new UsageError(why);
    }
  }
}
