// Helpers shared by the virtual engine's tests: its consumed command stream decoded by the real
// decoder, and a canonical form in which two engines' streams can be compared.
import type { Command } from '../../src/hardware/commands.js';

/** The consumed stream, decoded by the real decoder (one implementation: helpers/runs.ts). */
export { decodeWords } from './runs.js';

/**
 * A stream with the addresses that depend on where each engine keeps its memory replaced by their
 * steps: a CMD_SYNC's MSIADDR by its distance from the previous one (in queue entries, wrapped),
 * its MSIDATA by the step from the previous one. Everything else is compared as decoded.
 */
export function canonical(cmds: Command[], queueEntries: number): string[] {
  let lastAddr = -1;
  let lastData = -1;
  return cmds.map((c) => {
    if (c.op !== 'CMD_SYNC') return JSON.stringify(c);
    const addrStep =
      lastAddr < 0 ? 'first' : ((((c.msiaddr - lastAddr) / 16) % queueEntries) + queueEntries) % queueEntries;
    const dataStep = lastData < 0 ? 'first' : c.msidata - lastData;
    lastAddr = c.msiaddr;
    lastData = c.msidata;
    return JSON.stringify({ ...c, msiaddr: addrStep, msidata: dataStep });
  });
}
