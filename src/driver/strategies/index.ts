// Every --strategy value, in the order --help lists them.
import type { IovaMode } from '../../config/config.js';
import { batched } from './batched.js';
import { ecmdq } from './ecmdq.js';
import { lazy } from './lazy.js';
import { lockfree } from './lockfree.js';
import { perPage } from './per-page.js';
import { range } from './range.js';
import type { CmdqDesign } from '../cmdq.js';
import type { StrategyDef } from './strategy.js';
import { unsafeFreeBeforeSync } from './unsafe-free-before-sync.js';

// In Linux's order of history; the oracle's deliberately unsafe self-test last.
export const STRATEGIES: readonly StrategyDef[] = [
  perPage,
  batched,
  range,
  lockfree,
  lazy,
  ecmdq,
  unsafeFreeBeforeSync,
];

export const STRATEGY_NAMES: readonly string[] = STRATEGIES.map((s) => s.name);

export function getStrategy(name: string): StrategyDef {
  const s = STRATEGIES.find((d) => d.name === name);
  if (!s) throw new Error(`unknown strategy "${name}" (allowed: ${STRATEGY_NAMES.join(', ')})`);
  return s;
}

/** The IOVA allocator a strategy runs with: --iova if given, else its default (rcache). */
export function iovaOf(cfg: { readonly iova: IovaMode | null }, name: string): IovaMode {
  return cfg.iova ?? getStrategy(name).iova ?? 'rcache';
}

/** The design a strategy runs on: --cmdq if given, else its default. */
export function designOf(cfg: { readonly cmdq: CmdqDesign | null }, name: string): CmdqDesign {
  return cfg.cmdq ?? getStrategy(name).cmdq;
}
