// The SMMU's per-queue counters of an ECMDQ run (report ecmdq.queues[], smmu.maxQueueDepth): the
// virtual engine counts what the threads engine's runQueues() counts, at the same points, so the
// same report fields mean the same thing on both engines.
import { describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import type { EngineName } from '../src/config/config.js';
import type { RunReport } from '../src/report/types.js';
import { config } from './helpers/runs.js';

const PAGES = 4;

/** The one ECMDQ run of `engine` at `cpus`. */
async function ecmdqRun(engine: EngineName, cpus: number): Promise<RunReport> {
  const cfg = config({
    engine,
    cpus,
    pages: PAGES,
    strategies: ['ecmdq'],
    // The threads run parks (a loaded shared host); the virtual window is 1 ms of virtual time.
    wait: 'park',
    durationMs: engine === 'virtual' ? 1 : 100,
    warmupMs: engine === 'virtual' ? 0.1 : 20,
  });
  const { doc } = await runConfig(cfg, () => {});
  expect(doc.runs).toHaveLength(1);
  return doc.runs[0];
}

describe('ECMDQ per-queue counters', () => {
  // At 1 CPU every command goes through ECMDQ 0, one cmdlist (4 TLBIs + CMD_SYNC) per PROD write:
  // the SMMU sees exactly that depth on both engines.
  for (const engine of ['virtual', 'threads'] as const)
    it(`1 CPU, ${engine} engine: queue 0 holds every command, depth one cmdlist`, async () => {
      const r = await ecmdqRun(engine, 1);
      const q = r.ecmdq!.queues;
      expect(q).toHaveLength(1);
      expect(r.smmu.commandsConsumed).toBeGreaterThan(0);
      expect(q[0].commandsConsumed).toBe(r.smmu.commandsConsumed);
      expect(q[0].maxDepth).toBe(PAGES + 1);
      expect(r.smmu.maxQueueDepth).toBe(PAGES + 1);
    });

  it('8 CPUs, virtual engine: the queues sum to the commands consumed, every depth in range', async () => {
    const r = await ecmdqRun('virtual', 8);
    const q = r.ecmdq!.queues;
    expect(q).toHaveLength(8);
    expect(q.reduce((s, x) => s + x.commandsConsumed, 0)).toBe(r.smmu.commandsConsumed);
    for (const x of q) {
      expect(x.commandsConsumed, `queue ${x.queue}`).toBeGreaterThan(0);
      expect(x.maxDepth, `queue ${x.queue}`).toBeGreaterThan(0);
      expect(x.maxDepth, `queue ${x.queue}`).toBeLessThanOrEqual(config().queueEntries);
    }
    expect(r.smmu.maxQueueDepth).toBe(Math.max(...q.map((x) => x.maxDepth)));
  });
});
