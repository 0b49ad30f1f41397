// How a CPU of the virtual engine waits for the SMMU to move a CONS register, as the threads
// engine's driver/cons-poll.ts runs Linux's queue_poll(): after each failed read, WFE when the SMMU
// can send events (IDR0.SEV), else cpu_relax() and read again, and after ARM_SMMU_POLL_SPIN_COUNT
// failed reads udelay(delay) with delay doubling from 1 us. `--cons-poll spin` re-reads at once.
// Every read is an MMIO read (--mmio-read-ns); a WFE costs nothing while it sleeps and ends when
// the register is next written (the SMMU's event comes with the CONS update); udelay and the
// back-to-back reads are time the CPU spends, inside whatever it holds.
import { ARM_SMMU_POLL_SPIN_COUNT, UDELAY_FIRST_NS } from '../driver/cons-poll.js';
import type { ConsPollMode } from '../config/config.js';
import type { VCpuStats } from './cpu-stats.js';
import { delay, mmioRead, waitReg, waitRegs, type Req } from './requests.js';

export interface ConsPollOptions {
  readonly mode: ConsPollMode;
  /** IDR0.SEV: the poll loop may WFE. */
  readonly sev: boolean;
  /** --mmio-read-ns > 0: a spinning re-read costs time (else it is a wait for the next write). */
  readonly costlyReads: boolean;
}

/**
 * queue_poll_init() and the loop: reads register `reg` (unless `first` is the value just read)
 * until pred holds; returns the value that satisfied it.
 */
export function* pollReg(
  o: ConsPollOptions,
  st: VCpuStats,
  reg: number,
  pred: (v: number) => boolean,
  first?: number,
): Generator<Req, number, number> {
  let v: number;
  if (first === undefined) {
    st.mmioReads++;
    v = yield mmioRead(reg);
  } else v = first;
  if (pred(v)) return v;
  if (o.mode === 'spin') {
    // Free re-reads would loop in zero time: then the spin is a wait for the next write.
    if (!o.costlyReads) return yield waitReg(reg, pred);
    while (!pred(v)) {
      st.mmioReads++;
      v = yield mmioRead(reg);
    }
    return v;
  }
  let delayNs = UDELAY_FIRST_NS;
  let spinCnt = 0;
  while (!pred(v)) {
    if (o.sev) {
      st.consPollWfes++;
      yield waitRegs([reg]);
    } else if (++spinCnt >= ARM_SMMU_POLL_SPIN_COUNT) {
      st.consPollUdelays++;
      yield delay(delayNs);
      delayNs *= 2;
      spinCnt = 0;
    }
    // cpu_relax(): nothing to model.
    st.mmioReads++;
    v = yield mmioRead(reg);
  }
  return v;
}
