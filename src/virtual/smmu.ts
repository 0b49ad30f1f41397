// The SMMU as a process of the virtual engine: consumes the command queue from CONS to PROD,
// spending --tlbi-ns per TLBI (and any other command) and --sync-ns per CMD_SYNC, completes a
// CMD_SYNC with CS=IRQ by writing MSIDATA to MSIADDR (a coherent write by the SMMU, which takes
// the line from the waiter spinning on it), and publishes CONS lazily as the threads engine's SMMU
// does: after a CMD_SYNC, when the commands seen are drained, or every 1/8 of the queue. It fetches
// entries without coherence cost (a simplification: a real coherent SMMU's reads would pull the
// lines from the writers' caches; here that time is part of --tlbi-ns / --sync-ns).
import { CS_IRQ, CMD_WORDS, OP, opcodeOf, syncCs, syncMsiAddr, syncMsiData } from '../hardware/commands.js';
import { queueDepth, queueIncN, qIdx } from '../hardware/queue.js';
import { CMDQ_CONS_REG, CMDQ_PROD_REG, PROD_LINE, QUEUE_BASE } from './address-map.js';
import { SMMU_FETCH_IO, SMMU_FETCH_THREAD } from './params.js';
import type { Machine, MachineParams } from './machine.js';
import { EcmdqStat, Smmu } from '../hardware/smmu-stats.js';
import { Ev, queueDepthArg, type TraceRing } from '../trace/ring.js';
import { delay, mmioWrite, store, waitReg, type Proc, type Req } from './requests.js';

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
  /** How the SMMU reads each entry (params.smmuFetch): 1 an I/O master's read, 2 a CPU thread's
   *  load with PROD a coherent line (the threads engine); absent or 0: free. */
  readonly smmuFetch?: number;
}

export interface SmmuRecord {
  /** Commands consumed, by opcode. */
  readonly byOpcode: Map<number, number>;
  /** Every consumed entry's four words, when a command stream is asked for (tests, --cmd-log). */
  readonly log: number[] | null;
  /** The command's effect on the driver state (state.ts: TLBIs remove IOTLB entries), once its
   *  time has passed, as hardware/smmu-engine.ts executes after serving. */
  readonly execute?: (w: Int32Array) => void;
  /**
   * The threads engine's SMMU counters (hardware/smmu-stats.ts slots: consumed, by opcode, max
   * queue depth, busy ns), for the measured window: the run zeroes it when the window opens.
   */
  readonly window?: Float64Array;
  /** --trace: the SMMU's ring (commands as spans, queue depth samples), or null. */
  ring?: TraceRing | null;
}

const ignore = (): void => {};

/**
 * smmuFetch 2, the SMMU worker of the threads engine: CMDQ_PROD is a shared-memory word on a line
 * of its own that the CPU's doorbell stores to (a transfer when the SMMU worker has read it since),
 * and the queue's entries are written with plain stores (store-buffer.ts).
 */
export function threadSmmuMachine(queueShift: number): Pick<MachineParams, 'coherentRegs' | 'postedStores'> {
  const end = QUEUE_BASE + 16 * (1 << queueShift);
  return {
    coherentRegs: new Map([[CMDQ_PROD_REG, PROD_LINE]]),
    postedStores: (a) => a >= QUEUE_BASE && a < end,
  };
}

export function* smmuProcess(m: Machine, agent: number, c: SmmuCosts, rec: SmmuRecord): Proc {
  const shift = c.queueShift;
  const ptrMask = (2 << shift) - 1;
  const w = new Int32Array(CMD_WORDS);
  const win = rec.window ?? null;
  const wakeEvery = consEvery(shift);
  let cons = m.reg(CMDQ_CONS_REG) & ptrMask;
  const wake = c.wakeNs ?? 0;
  const thread = c.smmuFetch === SMMU_FETCH_THREAD;
  let prod = cons;
  let since = 0;
  let idle = true;
  for (;;) {
    // PROD is re-read only once the commands seen are consumed (hardware/smmu-engine.ts run()).
    if (prod === cons) {
      const moved = (m.reg(CMDQ_PROD_REG) & ptrMask) !== cons;
      // smmuFetch 2 (the threads engine's SMMU worker): idle, it polls PROD and peeks at the
      // entry at CONS (hardware/smmu-engine.ts run()), holding shared copies of both lines.
      if (thread && !moved) m.mem.sharedReadNs(agent, QUEUE_BASE + 16 * qIdx(shift, cons));
      prod = (yield waitReg(CMDQ_PROD_REG, (v) => (v & ptrMask) !== cons)) & ptrMask;
      if (thread && moved) {
        // Busy, PROD had moved: a load of its line, a transfer after the CPU's doorbell store.
        yield delay(m.mem.sharedReadNs(agent, PROD_LINE));
      } else {
        if (wake > 0) yield delay(wake);
        // Woken: the line's transfer is part of the crossing wakeNs was measured on.
        if (thread) m.mem.sharedReadNs(agent, PROD_LINE);
      }
      idle = true;
      // The depth is largest right after PROD moved (the threads engine samples it there too).
      const depth = queueDepth(shift, prod, cons);
      if (win !== null && depth > win[Smmu.MAX_QUEUE_DEPTH]) win[Smmu.MAX_QUEUE_DEPTH] = depth;
      rec.ring?.record(Ev.QUEUE_DEPTH, m.now, 0, queueDepthArg(0, depth));
    }
    const op = yield* serveCommand(m, agent, c, rec, QUEUE_BASE + 16 * qIdx(shift, cons), w, idle);
    idle = false;
    cons = queueIncN(shift, cons, 1);
    if (cons === prod) rec.ring?.record(Ev.QUEUE_DEPTH, m.now, 0, queueDepthArg(0, 0));
    if (publishCons(op, cons, prod, ++since, wakeEvery)) {
      since = 0;
      if (wake > 0) {
        // Posted: the SMMU goes on; the CPUs see the new CONS once it has crossed.
        const v = cons;
        m.at(m.now + wake, () => m.setReg(CMDQ_CONS_REG, v));
      } else yield mmioWrite(CMDQ_CONS_REG, cons);
    }
  }
}

/** The threads engine's SMMU wakes queue-space waiters every 1/8 of the queue. */
export function consEvery(queueShift: number): number {
  return Math.max(1, (1 << queueShift) >> 3);
}

/**
 * CONS is published lazily, as the threads engine's SMMU does (the spec allows it): after a
 * CMD_SYNC, once the commands seen are drained, or every 1/8 of the queue for space waiters.
 */
export function publishCons(op: number, cons: number, prod: number, since: number, every: number): boolean {
  return op === OP.CMD_SYNC || cons === prod || since >= every;
}

/**
 * Consumes the entry at `a`: logs it, spends its latency, and for a CMD_SYNC with CS=IRQ writes
 * MSIDATA to MSIADDR (posted: the SMMU goes on while the write takes the line from its waiter).
 */
export function* serveCommand(
  m: Machine,
  agent: number,
  c: SmmuCosts,
  rec: SmmuRecord,
  a: number,
  w: Int32Array,
  /** The first command after an idle spell (its own work does not hide in a previous latency). */
  idle = true,
  /** An ECMDQ's index n (its EcmdqStat slots count the command too), or -1: the normal queue. */
  ecmdq = -1,
): Generator<Req, number, number> {
  // A coherent fetch (params.smmuFetch): the entry's line comes from the writer's cache, read as
  // an I/O master reads (coherence.ts snoopReadNs), so the writer keeps the line.
  // smmuFetch 2, the threads engine's SMMU worker: a CPU's load, which keeps a shared copy, so the
  // CPU's next store into the line is a transfer. (That worker copies the commands a PROD read
  // reveals at that read, 32 at most, where this charges each entry at its turn: the same line
  // transfers, each a little later; section 8 of docs/performance.md cross-checks the two.)
  if (c.smmuFetch === SMMU_FETCH_IO) yield delay(m.mem.snoopReadNs(agent, a));
  else if (c.smmuFetch === SMMU_FETCH_THREAD) yield delay(m.mem.sharedReadNs(agent, a));
  for (let i = 0; i < CMD_WORDS; i++) w[i] = m.mem.peek(a + 4 * i);
  if (rec.log !== null) for (let i = 0; i < CMD_WORDS; i++) rec.log.push(w[i]);
  const op = opcodeOf(w, 0);
  rec.byOpcode.set(op, (rec.byOpcode.get(op) ?? 0) + 1);
  const lat = op === OP.CMD_SYNC ? c.syncNs : c.tlbiNs;
  const win = rec.window;
  if (win !== undefined) {
    win[Smmu.COMMANDS_CONSUMED]++;
    win[Smmu.BY_OPCODE + op]++;
    win[Smmu.BUSY_NS] += lat;
    if (ecmdq >= 0) win[Smmu.ECMDQ + ecmdq * EcmdqStat.SLOTS + EcmdqStat.CONSUMED]++;
  }
  rec.ring?.record(Ev.SMMU_CMD, m.now, lat, op);
  // The threads engine carries completion times forward: its own work shows after an idle spell
  // and hides inside the latency of a busy one.
  const own = c.smmuCmdNs ?? 0;
  yield delay(idle ? lat + own : Math.max(lat, own));
  rec.execute?.(w);
  if (op === OP.CMD_SYNC && syncCs(w, 0) === CS_IRQ)
    m.mem.access(agent, store(syncMsiAddr(w, 0), syncMsiData(w, 0) | 0), ignore);
  return op;
}
