// What the orchestrator says about a run that went wrong: each CPU's activity and what it waits
// for, every lock's holder, the SMMU's state and queue indices. Read from shared memory, so it
// works while workers are stuck or dead.
import type { Config } from '../config/config.js';
import {
  cmdqLockOff,
  cpuStateIdx,
  CpuState,
  Ctl,
  ctlIdx,
  iovaLockOff,
  type Layout,
} from '../hardware/layout.js';
import { RegisterFile } from '../hardware/regfile.js';
import { getLockAlgorithm } from '../concurrency/locks/index.js';
import { SPIN } from '../concurrency/wait.js';
import { Waiting } from '../concurrency/waiting.js';
import { IOVA_RCACHE_REGION, rcacheCpus, rcacheLockOff } from '../driver/iova-rcache.js';
import { ACTIVITY_NAMES } from './cpu-loop.js';
import { LOCK_CLASSES } from './task.js';

const SMMU_STATES = [
  'bring-up',
  'idle',
  'consuming',
  'stopped at a CMDQ error',
  'stopped',
  'stalled (injected)',
];
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

function lockHolders(
  i32: Int32Array,
  layout: Layout,
  cfg: Config,
): { name: string; holder: number; last: number }[] {
  const algo = getLockAlgorithm(cfg.lock);
  const at = (name: string, off: number) => {
    const h = algo.create(i32, off, layout.cpus, SPIN).holderIdx;
    return { name, holder: Atomics.load(i32, h) - 1, last: Atomics.load(i32, h + 1) - 1 };
  };
  const out = [at('cmdq', cmdqLockOff(layout))];
  const rcache = layout.regionOffs[IOVA_RCACHE_REGION] !== undefined;
  for (let d = 0; d < layout.domains; d++) {
    const dom = layout.domains > 1 ? `[${d}]` : '';
    out.push(at(`iova${dom}`, iovaLockOff(layout, d)));
    if (!rcache) continue;
    out.push(at(`depot${dom}`, rcacheLockOff(layout, d, -1)));
    for (let k = 0; k < rcacheCpus(layout); k++)
      out.push(at(`rcache${dom}[${k}]`, rcacheLockOff(layout, d, k)));
  }
  return out;
}

/** One line describing what a CPU is doing, e.g. "unmap, waiting for CMD_SYNC 0x105, holding cmdq". */
export function describeCpu(i32: Int32Array, layout: Layout, cfg: Config, cpu: number): string {
  const activity = ACTIVITY_NAMES[Atomics.load(i32, cpuStateIdx(layout, cpu, CpuState.ACTIVITY))] ?? '?';
  const waiting = Atomics.load(i32, cpuStateIdx(layout, cpu, CpuState.WAITING));
  const arg = Atomics.load(i32, cpuStateIdx(layout, cpu, CpuState.WAIT_ARG));
  const unmaps = Atomics.load(i32, cpuStateIdx(layout, cpu, CpuState.UNMAPS));
  const parts = [activity];
  if (waiting === Waiting.LOCK) parts.push(`waiting for lock ${LOCK_CLASSES[arg] ?? arg}`);
  else if (waiting === Waiting.QUEUE_SPACE) parts.push(`waiting for queue space at prod ${hex(arg)}`);
  else if (waiting === Waiting.CMD_SYNC) parts.push(`waiting for CMD_SYNC ${hex(arg)}`);
  const held = lockHolders(i32, layout, cfg).filter((l) => l.holder === cpu);
  if (held.length > 0) parts.push(`holding ${held.map((l) => l.name).join(', ')}`);
  return `${parts.join(', ')} (${unmaps} unmaps so far)`;
}

export function describeState(i32: Int32Array, layout: Layout, cfg: Config): string[] {
  const lines: string[] = [];
  for (let c = 0; c < layout.cpus; c++) lines.push(`cpu ${c}: ${describeCpu(i32, layout, cfg, c)}`);
  for (const l of lockHolders(i32, layout, cfg))
    lines.push(
      `lock ${l.name}: ${l.holder >= 0 ? `held by cpu ${l.holder}` : 'free'}` +
        (l.last >= 0 ? ` (last holder cpu ${l.last})` : ''),
    );
  const regs = new RegisterFile(i32, layout);
  const smmu = SMMU_STATES[Atomics.load(i32, ctlIdx(layout, Ctl.SMMU_STATE))] ?? '?';
  lines.push(
    `SMMU: ${smmu}; CMDQ_PROD ${hex(regs.read32('CMDQ_PROD'))} CMDQ_CONS ${hex(regs.read32('CMDQ_CONS'))} ` +
      `GERROR ${hex(regs.read32('GERROR'))} GERRORN ${hex(regs.read32('GERRORN'))}`,
  );
  return lines;
}
