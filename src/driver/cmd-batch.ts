// A batch of commands built before issue, as Linux's struct arm_smmu_cmdq_batch (v5.4+): strategies
// gather invalidations here; the command-queue design decides how they reach the queue (one lock
// round trip each in the 2017 design, one slot reservation for the whole batch in the lock-free one).
import { opcodeOf, writeTlbiNhAsid, writeTlbiNhVaPage } from '../hardware/commands.js';

/** Linux's CMDQ_BATCH_ENTRIES: a batch holds up to 64 commands (plus the CMD_SYNC issued with it). */
export const CMDQ_BATCH_ENTRIES = 64;

export class CmdBatch {
  /** The commands, 4 int32 words each, exactly as they will be copied into the queue. */
  readonly words = new Int32Array(CMDQ_BATCH_ENTRIES * 4);
  num = 0;

  full(): boolean {
    return this.num === CMDQ_BATCH_ENTRIES;
  }

  reset(): void {
    this.num = 0;
  }

  tlbiNhVa(
    asid: number,
    vaPage: number,
    leaf: boolean,
    num: number,
    scale: number,
    tg: number,
    ttl: number,
  ): void {
    writeTlbiNhVaPage(this.words, this.num++ * 4, asid, 0, vaPage, leaf, num, scale, tg, ttl);
  }

  tlbiNhAsid(asid: number): void {
    writeTlbiNhAsid(this.words, this.num++ * 4, asid, 0);
  }

  /** Any four words, e.g. an undefined opcode for fault injection. */
  raw(w0: number, w1: number, w2: number, w3: number): void {
    const o = this.num++ * 4;
    this.words[o] = w0;
    this.words[o + 1] = w1;
    this.words[o + 2] = w2;
    this.words[o + 3] = w3;
  }

  /** Opcode of command i (for per-opcode issue counts). */
  opcode(i: number): number {
    return opcodeOf(this.words, i * 4);
  }
}
