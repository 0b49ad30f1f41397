// A CPU's WFE on CONS (cons-poll.ts, `--cons-poll linux` with IDR0.SEV) is woken by the SMMU's
// CONS write at no cost and then reads CONS once, as Linux's queue_poll() does (one readl per
// iteration, then WFE): the wake-up itself must not be charged as a second MMIO read.
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/virtual/machine.js';
import { DEFAULT_VIRTUAL_PARAMS } from '../src/virtual/params.js';
import { pollReg } from '../src/virtual/cons-poll.js';
import { VCpuStats } from '../src/virtual/cpu-stats.js';
import { delay, mmioWrite, type Proc } from '../src/virtual/requests.js';

const CONS = 0x100;
const READ_NS = 500;
const EXTRA_NS = 76;
const ONE_READ = READ_NS + EXTRA_NS;

describe('WFE on CONS', () => {
  it('pays exactly one MMIO read per wake-up', () => {
    const cpu = 0;
    const smmu = 1;
    let reads = 0;
    const m = new Machine({
      ...DEFAULT_VIRTUAL_PARAMS,
      agents: 2,
      seed: 1,
      mmioReadNs: READ_NS,
      mmioExtraNs: EXTRA_NS,
      mmioWriteNs: 0,
      freeMmioAgents: new Set([smmu]),
      onMmio: (agent, write) => {
        if (agent === cpu && !write) reads++;
      },
    });
    const st = new VCpuStats();
    let doneAt = -1;
    let got = -1;
    function* waiter(): Proc {
      got = yield* pollReg({ mode: 'linux', sev: true, costlyReads: true }, st, CONS, (v) => v === 3);
      doneAt = m.now;
    }
    // CONS moves twice: the first write wakes the CPU without satisfying it, the second does.
    function* writer(): Proc {
      yield delay(10_000);
      yield mmioWrite(CONS, 1);
      yield delay(10_000);
      yield mmioWrite(CONS, 3);
    }
    m.spawn(cpu, waiter());
    m.spawn(smmu, writer());
    m.run(1_000_000);
    expect(got).toBe(3);
    // Reads at 0, after the wake at 10 us and after the wake at 20 us: three, no more.
    expect(st.mmioReads).toBe(3);
    expect(st.consPollWfes).toBe(2);
    expect(reads).toBe(3);
    expect(doneAt).toBe(20_000 + ONE_READ);
  });
});
