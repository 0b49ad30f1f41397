// The SMMU of an ECMDQ run as a process of the virtual engine, arbitrating between its queues as
// the threads engine's hardware/smmu-engine.ts runQueues() does: the normal command queue (slot 0)
// and every ECMDQ (slot 1 + n) in round-robin, ONE command per queue per turn (the spec leaves the
// order to the implementation, 3.5.6.1; one per turn keeps a queue's CMD_SYNC from waiting behind
// another CPU's whole cmdlist). A queue's PROD is re-read once the commands seen are consumed.
// Each command costs --tlbi-ns / --sync-ns of the one command processor the queues share; a
// CMD_SYNC orders its own queue only. With every queue empty the SMMU idles until any PROD is
// written (free: the threads engine's doorbell is a host device, not hardware). CONS is published
// lazily, by the single-queue rule (smmu.ts publishCons). It counts what runQueues() counts, in
// the same hardware/smmu-stats.ts slots: the depth of each queue per command, commands per ECMDQ,
// and a QUEUE_DEPTH trace sample per queue when its PROD moved and when it drained.
import { CMD_WORDS } from '../hardware/commands.js';
import { queueDepth, queueIncN, qIdx } from '../hardware/queue.js';
import { ECMDQ_CONS_ENACK } from '../hardware/registers.js';
import { EcmdqStat, Smmu } from '../hardware/smmu-stats.js';
import { Ev, queueDepthArg } from '../trace/ring.js';
import type { VQueueAddrs } from './cmdq-lockfree.js';
import type { Machine } from './machine.js';
import { mmioWrite, waitRegs, type Proc } from './requests.js';
import { consEvery, publishCons, serveCommand, type SmmuCosts, type SmmuRecord } from './smmu.js';

export interface SmmuQueue {
  readonly addrs: VQueueAddrs;
  /** Flags CONS carries beside RD (an ECMDQ: ENACK). */
  readonly consFlags: number;
}

export function* smmuQueuesProcess(
  m: Machine,
  agent: number,
  c: SmmuCosts,
  rec: SmmuRecord,
  queues: readonly SmmuQueue[],
): Proc {
  const shift = c.queueShift;
  const ptrMask = (2 << shift) - 1;
  const w = new Int32Array(CMD_WORDS);
  const n = queues.length;
  const prods = new Int32Array(n);
  const conss = new Int32Array(n);
  const since = new Int32Array(n);
  const wakeEvery = consEvery(shift);
  for (let k = 0; k < n; k++) {
    conss[k] = m.reg(queues[k].addrs.consReg) & ptrMask;
    prods[k] = conss[k];
  }
  const prodRegs = queues.map((q) => q.addrs.prodReg);
  const win = rec.window ?? null;
  for (;;) {
    let consumed = 0;
    for (let k = 0; k < n; k++) {
      const q = queues[k].addrs;
      if (prods[k] === conss[k]) {
        prods[k] = m.reg(q.prodReg) & ptrMask;
        if (prods[k] === conss[k]) continue;
        rec.ring?.record(Ev.QUEUE_DEPTH, m.now, 0, queueDepthArg(k, queueDepth(shift, prods[k], conss[k])));
      }
      // Counted per command, as runQueues() does: the depth before this one is consumed (largest
      // right after PROD moved, and still seen when the measured window opens mid-queue).
      if (win !== null) noteDepth(win, k, queueDepth(shift, prods[k], conss[k]));
      const at = q.entries + 16 * qIdx(shift, conss[k]);
      const op = yield* serveCommand(m, agent, c, rec, at, w, true, k - 1);
      conss[k] = queueIncN(shift, conss[k], 1);
      consumed++;
      if (conss[k] === prods[k]) rec.ring?.record(Ev.QUEUE_DEPTH, m.now, 0, queueDepthArg(k, 0));
      if (publishCons(op, conss[k], prods[k], ++since[k], wakeEvery)) {
        since[k] = 0;
        yield mmioWrite(q.consReg, conss[k] | queues[k].consFlags);
      }
    }
    if (consumed === 0) yield waitRegs(prodRegs);
  }
}

/**
 * The SMMU's depth counters for queue slot k (0 the normal queue, 1 + n ECMDQ n), as runQueues()
 * keeps them: the largest depth over every queue, and each ECMDQ's own.
 */
function noteDepth(win: Float64Array, k: number, depth: number): void {
  if (depth > win[Smmu.MAX_QUEUE_DEPTH]) win[Smmu.MAX_QUEUE_DEPTH] = depth;
  if (k === 0) return;
  const q = Smmu.ECMDQ + (k - 1) * EcmdqStat.SLOTS + EcmdqStat.MAX_DEPTH;
  if (depth > win[q]) win[q] = depth;
}

/** CONS flags of an enabled ECMDQ. */
export const ECMDQ_CONS_FLAGS = ECMDQ_CONS_ENACK;
