// SMMUv3.3 Enhanced Command queues on the virtual machine, as the threads engine's
// driver/cmdq-ecmdq.ts drives them: CPU n owns ECMDQ n and runs the v5.4 lock-free protocol
// (cmdq-lockfree.ts) unchanged on that queue's own {prod, cons}, valid bitmap, owner_prod and
// counter lock, each block of lines its own (so no two CPUs share a line on the fast path); only
// the owner's PROD write differs: `prod | ECMDQ_PROD_EN`. A CMD_SYNC waits for its own queue only:
// poll mode polls ECMDQ_CONS, msi mode waits for the SMMU's MSI into the CMD_SYNC's own slot.
// Error handling (ECMDQ_CONS.ERR, ERRACK) is not modelled: the virtual SMMU refuses nothing.
import { CMD_BYTES } from '../hardware/commands.js';
import { ECMDQ_CONS_ENACK, ECMDQ_PROD_EN } from '../hardware/registers.js';
import {
  ECMDQ_CONS_OFF,
  ECMDQ_ENTRIES,
  ECMDQ_PROD_OFF,
  ECMDQ_REG_STRIDE,
  ECMDQ_REGS,
  ECMDQ_STATE,
  ECMDQ_STATE_BYTES,
} from './address-map.js';
import { initLockfree, VLockfreeCmdq, type VQueueAddrs } from './cmdq-lockfree.js';
import type { ConsPollOptions } from './cons-poll.js';
import type { VCpuStats } from './cpu-stats.js';
import type { VProbe } from './instrument.js';
import type { Machine } from './machine.js';
import type { SyncMode } from '../config/config.js';

/** Where ECMDQ n's words, entries and registers live. */
export function ecmdqAddrs(n: number, queueShift: number): VQueueAddrs {
  const state = ECMDQ_STATE + n * ECMDQ_STATE_BYTES;
  const regs = ECMDQ_REGS + n * ECMDQ_REG_STRIDE;
  return {
    llq: state,
    validMapPtr: state + 192,
    ownerProd: state + 200,
    lock: state + 204,
    validMap: state + 256,
    entries: ECMDQ_ENTRIES + n * ((1 << queueShift) * CMD_BYTES),
    prodReg: regs + ECMDQ_PROD_OFF,
    consReg: regs + ECMDQ_CONS_OFF,
  };
}

/**
 * Every CPU's ECMDQ as probe leaves it (driver/probe.ts enableEcmdqs): PROD = CONS = 0, then
 * PROD.EN written and CONS.ENACK set by the SMMU.
 */
export function initEcmdqs(m: Machine, cpus: number, queueShift: number): void {
  if (Math.ceil((1 << queueShift) / 32) * 4 > ECMDQ_STATE_BYTES - 256)
    throw new RangeError(`virtual ECMDQ: a valid bitmap of ${1 << queueShift} entries does not fit`);
  for (let n = 0; n < cpus; n++) {
    const q = ecmdqAddrs(n, queueShift);
    initLockfree(m, queueShift, 0, q);
    m.setReg(q.prodReg, ECMDQ_PROD_EN);
    m.setReg(q.consReg, ECMDQ_CONS_ENACK);
  }
}

export class VEcmdqCmdq extends VLockfreeCmdq {
  constructor(
    cpu: number,
    shift: number,
    syncMode: SyncMode,
    stats: VCpuStats,
    poll: ConsPollOptions,
    probe: VProbe | null = null,
    sampleOwners = true,
  ) {
    super(shift, syncMode, stats, poll, ecmdqAddrs(cpu, shift), probe, sampleOwners);
    this.prodFlags = ECMDQ_PROD_EN;
  }
}
