// Helpers shared by the end-to-end tests that run real threads: a short-run configuration, the
// command log decoder, and the check that a log decodes to exactly the counts the JSON reports.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { DEFAULTS, type Config } from '../../src/config/config.js';
import { CS_NONE, CS_SEV, decode, type Command } from '../../src/hardware/commands.js';
import type { ResultDocument, RunReport } from '../../src/report/types.js';

/** A short, quiet run on 2 CPUs with 8-page buffers, unless overridden. */
export function shortRun(over: Partial<Config>): Config {
  return { ...DEFAULTS, cpus: 2, pages: 8, durationMs: 300, warmupMs: 50, quiet: true, ...over };
}

/** Every 16-byte entry of a --cmd-log file, decoded. */
export function decodeLog(path: string): Command[] {
  const bytes = new Uint8Array(readFileSync(path));
  expect(bytes.length % 16).toBe(0);
  const out: Command[] = [];
  for (let o = 0; o < bytes.length; o += 16) out.push(decode(bytes, o));
  return out;
}

/** The log decodes to exactly the counts the JSON reports. */
export function checkLogCounts(r: RunReport, cmds: Command[]): void {
  expect(cmds.length).toBe(r.commands.total);
  const counts: Record<string, number> = {};
  for (const c of cmds) counts[c.op] = (counts[c.op] ?? 0) + 1;
  for (const [op, n] of Object.entries(r.commands.byOpcode)) expect(counts[op] ?? 0, op).toBe(n);
  expect(Object.keys(counts).every((k) => k in r.commands.byOpcode)).toBe(true);
}

/** CMD_SYNC's CS in poll mode: SEV when the SMMU advertises IDR0.SEV (--sev on). */
export const expectedPollCs = (doc: ResultDocument): number => (doc.config.sev === true ? CS_SEV : CS_NONE);
