// What every command-queue design offers the strategies above it: issue a batch of commands,
// optionally followed by a CMD_SYNC that is waited for (Linux arm_smmu_cmdq_issue_cmdlist()).
import { OP } from '../hardware/commands.js';
import { Cpu, type CpuStats } from '../concurrency/counters.js';
import type { CmdBatch } from './cmd-batch.js';
import type { ConsPoller } from './cons-poll.js';
import type { Mmio } from './mmio.js';

export type { SyncMode } from '../config/config.js';

/** The command-queue designs (--cmdq; each strategy has a default). */
export { CMDQ_DESIGN_NAMES, type CmdqDesign } from '../config/config.js';

/** How a design touches the SMMU's queue registers: costed MMIO, CONS polled the kernel's way. */
export interface RegisterAccess {
  readonly mmio: Mmio;
  readonly poll: ConsPoller;
}

export interface CmdqIssuer {
  /**
   * Inserts the batch's commands in order and, if `sync`, a CMD_SYNC after them; with `sync` it
   * returns only once the SMMU has completed every one of them.
   */
  issue(batch: CmdBatch, sync: boolean): void;
  /** Where counts go; the CPU loop swaps it between the measured and the warm-up block. */
  stats: CpuStats;
}

/** The ISSUED_* counter of an opcode (CMD_SYNC is counted by the sync's issuer). */
export function issuedCounter(op: number): Cpu {
  return op === OP.TLBI_NH_VA
    ? Cpu.ISSUED_TLBI_NH_VA
    : op === OP.TLBI_NH_ASID
      ? Cpu.ISSUED_TLBI_NH_ASID
      : Cpu.ISSUED_OTHER;
}

/** Counts a batch's commands by opcode into the issuing CPU's statistics. */
export function countIssued(stats: CpuStats, batch: CmdBatch, sync: boolean): void {
  for (let i = 0; i < batch.num; i++) stats.add(issuedCounter(batch.opcode(i)), 1);
  if (sync) stats.add(Cpu.ISSUED_CMD_SYNC, 1);
  // The total is not counted: the report sums the opcodes (a count per command saved on the
  // issue path, which Linux does not have).
}
