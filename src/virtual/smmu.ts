// The SMMU as a process of the virtual engine: consumes the command queue from CONS to PROD,
// spending --tlbi-ns per TLBI (and any other command) and --sync-ns per CMD_SYNC, completes a
// CMD_SYNC with CS=IRQ by writing MSIDATA to MSIADDR (a coherent write by the SMMU, which takes
// the line from the waiter spinning on it), and publishes CONS after each command. It fetches
// entries without coherence cost (a simplification: a real coherent SMMU's reads would pull the
// lines from the writers' caches; here that time is part of --tlbi-ns / --sync-ns).
import { CS_IRQ, CMD_WORDS, OP, opcodeOf, syncCs, syncMsiAddr, syncMsiData } from '../hardware/commands.js';
import { queueIncN, qIdx } from '../hardware/queue.js';
import { CMDQ_CONS_REG, CMDQ_PROD_REG, QUEUE_BASE } from './address-map.js';
import type { Machine } from './machine.js';
import { delay, load, mmioWrite, store, waitReg, type Proc } from './requests.js';

export interface SmmuCosts {
  readonly tlbiNs: number;
  readonly syncNs: number;
  readonly queueShift: number;
  /** Own work per command (params.smmuCmdNs): added after an idle spell, overlapping the
   *  latency while busy; absent: 0. */
  readonly smmuCmdNs?: number;
  /** Until a register write is seen across (params.wakeNs): waking for PROD, CONS reaching the
   *  CPU; absent: 0. */
  readonly wakeNs?: number;
  /** 1: the SMMU reads each entry through the coherence model (params.smmuFetch); absent: free. */
  readonly smmuFetch?: number;
}

export interface SmmuRecord {
  /** Commands consumed, by opcode. */
  readonly byOpcode: Map<number, number>;
  /** Every consumed entry's four words, when a command stream is asked for (tests, --cmd-log). */
  readonly log: number[] | null;
}

const ignore = (): void => {};

export function* smmuProcess(m: Machine, agent: number, c: SmmuCosts, rec: SmmuRecord): Proc {
  const shift = c.queueShift;
  const ptrMask = (2 << shift) - 1;
  const w = new Int32Array(CMD_WORDS);
  let cons = m.reg(CMDQ_CONS_REG) & ptrMask;
  const own = c.smmuCmdNs ?? 0;
  const wake = c.wakeNs ?? 0;
  for (;;) {
    yield waitReg(CMDQ_PROD_REG, (v) => (v & ptrMask) !== cons);
    if (wake > 0) yield delay(wake);
    let first = true;
    while ((m.reg(CMDQ_PROD_REG) & ptrMask) !== cons) {
      const a = QUEUE_BASE + 16 * qIdx(shift, cons);
      // A coherent fetch (params.smmuFetch): the entry's line comes from the writer's cache.
      if (c.smmuFetch === 1) yield load(a);
      for (let i = 0; i < CMD_WORDS; i++) w[i] = m.mem.peek(a + 4 * i);
      if (rec.log !== null) for (let i = 0; i < CMD_WORDS; i++) rec.log.push(w[i]);
      const op = opcodeOf(w, 0);
      rec.byOpcode.set(op, (rec.byOpcode.get(op) ?? 0) + 1);
      // The threads engine carries completion times forward: its own work shows after an idle
      // spell and hides inside the latency of a busy one.
      const lat = op === OP.CMD_SYNC ? c.syncNs : c.tlbiNs;
      yield delay(first ? lat + own : Math.max(lat, own));
      first = false;
      // Posted: the SMMU goes on while the MSI write takes the line from its waiter.
      if (op === OP.CMD_SYNC && syncCs(w, 0) === CS_IRQ)
        m.mem.access(agent, store(syncMsiAddr(w, 0), syncMsiData(w, 0) | 0), ignore);
      cons = queueIncN(shift, cons, 1);
      if (wake > 0) {
        // Posted: the SMMU goes on; the CPUs see the new CONS once it has crossed.
        const v = cons;
        m.at(m.now + wake, () => m.setReg(CMDQ_CONS_REG, v));
      } else yield mmioWrite(CMDQ_CONS_REG, cons);
    }
  }
}
