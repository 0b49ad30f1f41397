// Which virtual protocol runs a --strategy on a --cmdq design, by the threads engine's own rules
// (driver/strategies/index.ts designOf, run/combinations.ts): a strategy runs on --cmdq if given,
// else on the design of its era; `lockfree` and `ecmdq` are aliases of batched on their designs and
// refuse another --cmdq.
import type { CmdqDesign } from '../config/config.js';
import { designOf, getStrategy } from '../driver/strategies/index.js';
import type { VirtualStrategy } from './cpu.js';
import type { VirtualDesign } from './run.js';

/** The strategies the virtual engine's protocols implement (beyond these: not yet). */
export const VIRTUAL_STRATEGIES = ['per-page', 'batched', 'range', 'lockfree', 'ecmdq'] as const;
/** The designs it implements: all three. */
export const VIRTUAL_DESIGNS: readonly VirtualDesign[] = ['locked', 'lockfree', 'ecmdq'];

/** The virtual strategy and design for `name` with --cmdq `cmdq`; throws on what it cannot run. */
export function virtualPlan(
  name: string,
  cmdq: CmdqDesign | null,
): { readonly strategy: VirtualStrategy; readonly design: VirtualDesign } {
  const def = getStrategy(name);
  if (!(VIRTUAL_STRATEGIES as readonly string[]).includes(name))
    throw new Error(`--strategy ${name} is not implemented by the virtual engine`);
  if (def.designFixed === true && cmdq !== null && cmdq !== def.cmdq)
    throw new Error(`--cmdq ${cmdq} contradicts --strategy ${name} (batched on the ${def.cmdq} design)`);
  const design = designOf({ cmdq }, name);
  const strategy: VirtualStrategy = name === 'per-page' || name === 'range' ? name : 'batched';
  return { strategy, design };
}
