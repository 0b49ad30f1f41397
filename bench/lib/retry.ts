// Noisy samples on a shared VM: a sample taken while other processes kept more than NOISY_CORES
// cores busy is a sample of them too, so it is taken again while the budget lasts.
import { performance } from 'node:perf_hooks';
import { NOISY_CORES } from './stats.js';

export const log = (s: string): void => void process.stderr.write(`${s}\n`);

/**
 * Retries a sample taken while other processes kept more than NOISY_CORES cores busy, up to
 * maxAttempts, and keeps the quietest attempt; retries stop for good once budgetMs is spent.
 */
export class Retrier {
  spentMs = 0;
  retries = 0;
  constructor(
    readonly maxAttempts: number,
    readonly budgetMs: number,
  ) {}

  async quietest<T extends { othersCores: number }>(fn: () => Promise<T> | T): Promise<T> {
    let best: T | null = null;
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now();
      const r = await fn();
      if (attempt > 1) {
        this.spentMs += performance.now() - t0;
        this.retries++;
      }
      if (best === null || !(r.othersCores >= best.othersCores)) best = r;
      if (best.othersCores <= NOISY_CORES || attempt >= this.maxAttempts || this.spentMs >= this.budgetMs)
        return best;
    }
  }
}
