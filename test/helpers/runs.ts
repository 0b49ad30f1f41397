// Helpers shared by the end-to-end tests that run real threads: the one short-run configuration
// factory, the command log check (decodes to exactly the counts the JSON reports), and an
// event wait whose deadline only names what hung.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { cmdLogPath } from '../../src/index.js';
import { DEFAULTS, type Config } from '../../src/config/config.js';
import {
  CS_SEV,
  SYNC_MSH_ISH,
  SYNC_MSIATTR_OIWB,
  decode,
  decodeWords as decodeCommandWords,
  type Command,
} from '../../src/hardware/commands.js';
import type { RunReport } from '../../src/report/types.js';

/** A short, quiet run on 2 CPUs with 8-page buffers, unless overridden. */
export function config(over: Partial<Config> = {}): Config {
  return { ...DEFAULTS, cpus: 2, pages: 8, durationMs: 300, warmupMs: 50, quiet: true, ...over };
}

/** config() with a file's own defaults on top (a design, a CPU count), still overridable per test. */
export function configWith(defaults: Partial<Config>): (over?: Partial<Config>) => Config {
  return (over = {}) => config({ ...defaults, ...over });
}

/** Every 16-byte entry of a --cmd-log file, decoded. */
export function decodeLog(path: string): Command[] {
  const bytes = new Uint8Array(readFileSync(path));
  expect(bytes.length % 16).toBe(0);
  const out: Command[] = [];
  for (let o = 0; o < bytes.length; o += 16) out.push(decode(bytes, o));
  return out;
}

/** A stream of int32 words (the virtual engine's commandWords), decoded four words at a time. */
export function decodeWords(words: readonly number[]): Command[] {
  const i32 = Int32Array.from(words);
  return Array.from({ length: i32.length >> 2 }, (_, i) => decodeCommandWords(i32, 4 * i));
}

/** The log decodes to exactly the counts the JSON reports. */
export function checkLogCounts(r: RunReport, cmds: Command[]): void {
  expect(cmds.length).toBe(r.commands.total);
  const counts: Record<string, number> = {};
  for (const c of cmds) counts[c.op] = (counts[c.op] ?? 0) + 1;
  for (const [op, n] of Object.entries(r.commands.byOpcode)) expect(counts[op] ?? 0, op).toBe(n);
  expect(Object.keys(counts).every((k) => k in r.commands.byOpcode)).toBe(true);
}

/**
 * Lock acquisitions made by IOVA allocs and frees: one each, of the CPU's own cpu_rcache lock with
 * --iova rcache (the IOVA space is sized so that no CPU ever has to flush every cache, which would
 * add more), or of the rbtree lock with --iova rbtree or buffers of 64 pages or more, which the
 * rcache does not serve.
 */
export function iovaOpAcquisitions(r: RunReport): number {
  const rcache = r.locks.find((l) => l.name === 'rcache');
  return rcache && rcache.acquisitions > 0
    ? rcache.acquisitions
    : r.locks.find((l) => l.name === 'iova')!.acquisitions;
}

/** The run's --cmd-log file (written under `base`), checked against its counts and decoded. */
export function checkLog(r: RunReport, base: string): Command[] {
  const cmds = decodeLog(cmdLogPath(base, r.strategy));
  checkLogCounts(r, cmds);
  return cmds;
}

/**
 * Waits for `cond` on the event loop, polling each millisecond. The deadline is there only to
 * name what hung, well inside the test's own timeout: it is no bound on how long a descheduled
 * worker may take.
 */
export async function until(cond: () => boolean, what: string, deadlineMs = 45_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 1));
  }
}

/**
 * A polled CMD_SYNC exactly as Linux builds it (arm_smmu_cmdq_build_cmd, v4.19+), whatever the wait
 * policy or IDR0.SEV: CS=SEV, MSH=ISH, MSIATTR=OIWB, no MSI; word 0 = 0x000000000fc02046.
 */
export const POLLED_SYNC: Command = {
  op: 'CMD_SYNC',
  cs: CS_SEV,
  msh: SYNC_MSH_ISH,
  msiattr: SYNC_MSIATTR_OIWB,
  msidata: 0,
  msiaddr: 0,
};

/** Is c a polled CMD_SYNC as Linux writes it (every field, not only CS)? */
export const isPolledSync = (c: Command): boolean =>
  c.op === 'CMD_SYNC' &&
  c.cs === CS_SEV &&
  c.msh === SYNC_MSH_ISH &&
  c.msiattr === SYNC_MSIATTR_OIWB &&
  c.msidata === 0 &&
  c.msiaddr === 0;
