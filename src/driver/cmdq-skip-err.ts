// The driver's half of a command-queue error on the normal queue, as Linux's GERROR handler does it
// (arm_smmu_gerror_handler -> arm_smmu_cmdq_skip_err): read CMDQ_CONS.ERR and the entry at CONS,
// overwrite the entry with a CMD_SYNC (so the queue keeps its order and anyone waiting on a later
// CMD_SYNC still completes), then acknowledge by making GERRORN.CMDQ_ERR equal GERROR.CMDQ_ERR.
// The SMMU resumes at the same CONS and consumes the CMD_SYNC. Shared by the run's monitor and
// the replayer.
import { decodeWords, writeCmdSync, type Command } from '../hardware/commands.js';
import { cmdqEntryIdx, type Layout } from '../hardware/layout.js';
import { qIdx } from '../hardware/queue.js';
import type { RegisterFile } from '../hardware/regfile.js';
import { CMDQ_CONS_ERR_MASK, CMDQ_CONS_ERR_SHIFT, GERROR_CMDQ_ERR } from '../hardware/registers.js';

export interface SkippedCommand {
  /** CMDQ_CONS as read, ERR field included. */
  readonly cons: number;
  /** CMDQ_CONS.ERR: CMDQ_ERR_ILL, CMDQ_ERR_ABT, CMDQ_ERR_ATC_INV_SYNC. */
  readonly err: number;
  /** The entry the SMMU stopped at, as it was before being replaced. */
  readonly words: readonly [number, number, number, number];
  readonly command: Command;
}

/** GERROR if a normal-queue error is active (GERROR.CMDQ_ERR != GERRORN.CMDQ_ERR), else -1. */
export function activeCmdqError(regs: RegisterFile): number {
  const gerror = regs.read32('GERROR');
  return ((gerror ^ regs.read32('GERRORN')) & GERROR_CMDQ_ERR) !== 0 ? gerror : -1;
}

/** Replaces the entry at CONS with a CMD_SYNC of completion signal `cs` and acknowledges. */
export function skipCmdqErr(
  regs: RegisterFile,
  i32: Int32Array,
  layout: Layout,
  gerror: number,
  cs: number,
): SkippedCommand {
  const cons = regs.read32('CMDQ_CONS');
  const err = (cons >>> CMDQ_CONS_ERR_SHIFT) & CMDQ_CONS_ERR_MASK;
  const w = cmdqEntryIdx(layout, qIdx(layout.queueShift, cons));
  const words = [i32[w] >>> 0, i32[w + 1] >>> 0, i32[w + 2] >>> 0, i32[w + 3] >>> 0] as const;
  const command = decodeWords(i32, w);
  writeCmdSync(i32, w, cs, 0, 0);
  regs.write32('GERRORN', (regs.read32('GERRORN') & ~GERROR_CMDQ_ERR) | (gerror & GERROR_CMDQ_ERR));
  return { cons, err, words, command };
}
