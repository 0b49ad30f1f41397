// Replays a raw command stream (the --cmd-log format: 16-byte little-endian entries, no header)
// through the real SMMU: a fresh register file and command queue in a SharedArrayBuffer, the real
// SmmuEngine in its own worker (the engine's loop owns its thread, as on a run), brought up by the
// real probe. This thread is the driver: it copies entries into the free part of the queue, wraps
// as the queue does, writes CMDQ_PROD once per batch, waits for CMDQ_CONS, and when the SMMU stops
// at a command it rejects, does what Linux's GERROR handler does (skipCmdqErr) and records it.
// What is reported comes from the engine's own counters (consumed commands per opcode, modelled
// busy time), so it is what a run of the same commands would count.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { startStandaloneSmmu } from '../workload/smmu-standalone.js';
import {
  assertLittleEndian,
  CMD_BYTES,
  CMD_WORDS,
  CS_IRQ,
  formatCommand,
  OP,
  opcodeName,
  opcodeOf,
  setSyncMsiAddr,
  syncCs,
  TG_NONE,
  tlbiNum,
  tlbiScale,
  tlbiTg,
} from '../hardware/commands.js';
import { IOTLB_WAYS } from '../hardware/iotlb.js';
import {
  cmdqEntryIdx,
  Ctl,
  ctlIdx,
  LINE,
  Phase,
  regIdx,
  smmuStatsBase,
  type LayoutParams,
} from '../hardware/layout.js';
import { log2Exact, queueDepth, queueIncN } from '../hardware/queue.js';
import { CMDQ_ERR_ABT, CMDQ_ERR_ATC_INV_SYNC, CMDQ_ERR_ILL } from '../hardware/registers.js';
import type { SmmuFeatures } from '../hardware/smmu-reset.js';
import { Smmu } from '../hardware/smmu-stats.js';
import { checkerFor, type CommandChecker } from '../hardware/command-check.js';
import { PARK_AT_ONCE, WAITERS } from '../concurrency/wait.js';
import { layoutParamsOf } from '../workload/regions.js';
import { activeCmdqError, skipCmdqErr, type SkippedCommand } from '../driver/cmdq-skip-err.js';
import { probeSmmu } from '../driver/probe.js';

export interface ReplayOptions {
  /** Modelled latencies the engine spends per command (--tlbi-ns, --sync-ns). */
  readonly tlbiNs: number;
  readonly syncNs: number;
  /** Command queue entries (a power of two); the stream is fed through it in wrapping batches. */
  readonly queueEntries: number;
  /** What the replayed SMMU advertises (IDR0.MSI, IDR0.SEV, IDR3.RIL). */
  readonly features: SmmuFeatures;
}

/** The replayed IOTLB starts empty and nothing fills it: its size only sets a full scan's cost. */
const IOTLB_ENTRIES = 256;

export interface ReplayError {
  /** Position of the command in the stream (0-based entry number; byte offset = 16 x index). */
  readonly index: number;
  /** CMDQ_CONS.ERR as a name: ILL (CERROR_ILL), ABT, ATC_INV_SYNC, or the raw code. */
  readonly error: string;
  readonly reason: string;
  /** The entry as it was in the stream, decoded (commands.ts formatCommand). */
  readonly command: string;
  /** Its four little-endian 32-bit halves, word 0 low first, as hex. */
  readonly words: readonly string[];
}

export interface ReplayResult {
  /** Entries in the stream. */
  readonly commands: number;
  /** What the SMMU consumed, per opcode name, CMD_SYNCs that replaced rejected commands included. */
  readonly consumed: { readonly total: number; readonly byOpcode: Record<string, number> };
  /** Every command the SMMU stopped at, in stream order; each was replaced with a CMD_SYNC. */
  readonly errors: readonly ReplayError[];
  readonly invalidations: {
    /** Consumed TLBI_* commands, per opcode name. */
    readonly byOpcode: Record<string, number>;
    /** 4 KiB pages named by the consumed TLBI_NH_VA/VAA: (NUM+1) << SCALE granules of TG, or 1. */
    readonly vaPages: number;
  };
  /** Sum of the engine's modelled latencies over every consumed command (Smmu.BUSY_NS). */
  readonly serviceNs: number;
  /** PROD writes the replayer made (one per batch, as a driver submits a batch). */
  readonly prodWrites: number;
  /** CMD_SYNCs with CS=IRQ whose MSIADDR was pointed at the replay's own MSI word. */
  readonly msiRetargeted: number;
}

/** Why the stream cannot be replayed at all (the CLI's exit 2). */
export class ReplayInputError extends Error {
  override readonly name = 'ReplayInputError';
}

/** Give up when the SMMU consumes nothing for this long while commands are pending. */
const NO_PROGRESS_MS = 30_000;
/** One park on CMDQ_CONS; GERROR is looked at between parks. */
const PARK_MS = 20;

const ERR_NAMES: Record<number, string> = {
  [CMDQ_ERR_ILL]: 'ILL',
  [CMDQ_ERR_ABT]: 'ABT',
  [CMDQ_ERR_ATC_INV_SYNC]: 'ATC_INV_SYNC',
};

/**
 * What the SMMU said about the command it stopped at: CMDQ_CONS.ERR, and for CERROR_ILL the
 * engine's own classification (command-check.ts) of the entry, under the same IDR3.RIL.
 */
function describeError(s: SkippedCommand, checker: CommandChecker): { error: string; reason: string } {
  const error = ERR_NAMES[s.err] ?? String(s.err);
  if (s.err !== CMDQ_ERR_ILL) return { error, reason: `the SMMU reported CMDQ_CONS.ERR = ${error}` };
  return { error, reason: checker.reason(Int32Array.from(s.words), 0) };
}

/** The stream as int32 halves in host order (the queue's view); throws ReplayInputError. */
export function streamWords(bytes: Uint8Array): Int32Array {
  assertLittleEndian();
  if (bytes.length === 0) throw new ReplayInputError('the stream is empty: no commands to replay');
  if (bytes.length % CMD_BYTES !== 0)
    throw new ReplayInputError(
      `${bytes.length} bytes is not a whole number of ${CMD_BYTES}-byte commands (${bytes.length % CMD_BYTES} left over)`,
    );
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Int32Array(copy.buffer);
}

function layoutParams(o: ReplayOptions): LayoutParams {
  return layoutParamsOf(
    {
      cpus: 1,
      queueShift: log2Exact(o.queueEntries),
      domains: 1,
      iovaSlotsPerDomain: 1,
      slotPages: 1,
      iotlbSets: IOTLB_ENTRIES / IOTLB_WAYS,
      lockBytes: LINE,
      lockClasses: [],
      fqSize: 0,
    },
    [],
  );
}

/** 4 KiB pages one TLBI_NH_VA/VAA names: a range of (NUM+1) << SCALE granules of TG, or one page. */
function vaPagesOf(src: Int32Array, w: number): number {
  const tg = tlbiTg(src, w);
  if (tg === TG_NONE) return 1;
  return (tlbiNum(src, w) + 1) * 2 ** tlbiScale(src, w) * 4 ** (tg - 1);
}

export async function replayStream(bytes: Uint8Array, opts: ReplayOptions): Promise<ReplayResult> {
  const src = streamWords(bytes);
  const n = src.length / CMD_WORDS;
  const {
    layout,
    views,
    regs,
    worker: smmu,
  } = startStandaloneSmmu(layoutParams(opts), {
    features: opts.features,
    timing: { tlbiNs: opts.tlbiNs, syncNs: opts.syncNs },
    idlePolicy: PARK_AT_ONCE,
  });
  const { i32, f64 } = views;
  const crash: { error: Error | null } = { error: null };
  const exited = new Promise<void>((resolve) => {
    smmu.on('error', (e) => (crash.error = new Error(`SMMU worker crashed: ${e.message}`)));
    smmu.on('exit', () => resolve());
  });
  try {
    const probe = await probeSmmu(views, layout);
    const checker = checkerFor(regs);
    // The engine counts only in the measured phase: bring-up's commands stay out of the counts.
    Atomics.store(i32, ctlIdx(layout, Ctl.PHASE), Phase.MEASURE);
    const shift = layout.queueShift;
    const size = layout.queueEntries;
    const mask = (2 << shift) - 1;
    const consIdx = regIdx(layout, 'CMDQ_CONS');
    // The stream's MSI targets are addresses in the memory of the machine that wrote it; here they
    // would land anywhere in the emulator's buffer, so they go to a word of the replay's own.
    const msiAddr = ctlIdx(layout, Ctl.SYNC_COUNT) * 4;
    let prod = regs.read32('CMDQ_PROD');
    let written = 0;
    let prodWrites = 0;
    let msiRetargeted = 0;
    const errors: ReplayError[] = [];
    const rejected = new Set<number>();
    let lastCons = -1;
    let lastProgressAt = Date.now();
    for (;;) {
      if (crash.error !== null) throw crash.error;
      const gerror = activeCmdqError(regs);
      if (gerror >= 0) {
        const s = skipCmdqErr(regs, i32, layout, gerror, probe.pollCs);
        // The entries between CONS and PROD are the last ones written, in stream order.
        const index = written - queueDepth(shift, prod, s.cons & mask);
        rejected.add(index);
        errors.push({
          index,
          ...describeError(s, checker),
          command: formatCommand(s.command),
          words: s.words.map((v) => `0x${v.toString(16).padStart(8, '0')}`),
        });
        continue;
      }
      const consRaw = Atomics.load(i32, consIdx);
      const cons = consRaw & mask;
      if (written === n && cons === prod) break;
      const free = size - queueDepth(shift, prod, cons);
      if (free > 0 && written < n) {
        const batch = Math.min(free, n - written);
        for (let k = 0; k < batch; k++) {
          const w = cmdqEntryIdx(layout, (prod + k) & (size - 1));
          const s = (written + k) * CMD_WORDS;
          for (let j = 0; j < CMD_WORDS; j++) i32[w + j] = src[s + j];
          if (opcodeOf(i32, w) === OP.CMD_SYNC && syncCs(i32, w) === CS_IRQ) {
            setSyncMsiAddr(i32, w, msiAddr);
            msiRetargeted++;
          }
        }
        written += batch;
        prod = queueIncN(shift, prod, batch);
        regs.write32('CMDQ_PROD', prod);
        prodWrites++;
        await yieldToLoop(); // lets a worker 'error' be seen
        continue;
      }
      if (cons !== lastCons) {
        lastCons = cons;
        lastProgressAt = Date.now();
      } else if (Date.now() - lastProgressAt > NO_PROGRESS_MS) {
        throw new Error(
          `replay: the SMMU consumed nothing for ${NO_PROGRESS_MS / 1000} s at stream command ${written - queueDepth(shift, prod, cons)}`,
        );
      }
      // Parked on CONS: the engine notifies its waiters when it publishes CONS or stops on an error.
      Atomics.add(i32, consIdx + WAITERS, 1);
      if (Atomics.load(i32, consIdx) === consRaw) Atomics.wait(i32, consIdx, consRaw, PARK_MS);
      Atomics.sub(i32, consIdx + WAITERS, 1);
      await yieldToLoop();
    }
    return collect(f64, smmuStatsBase(layout), src, n, errors, rejected, prodWrites, msiRetargeted);
  } finally {
    regs.write32('CR0', 0);
    await Promise.race([exited, new Promise((res) => setTimeout(res, 2000).unref())]);
    await smmu.terminate();
  }
}

function collect(
  f: Float64Array,
  st: number,
  src: Int32Array,
  n: number,
  errors: ReplayError[],
  rejected: ReadonlySet<number>,
  prodWrites: number,
  msiRetargeted: number,
): ReplayResult {
  const byOpcode: Record<string, number> = {};
  const tlbis: Record<string, number> = {};
  for (let op = 0; op < 256; op++) {
    const c = f[st + Smmu.BY_OPCODE + op];
    if (c === 0) continue;
    byOpcode[opcodeName(op)] = c;
    if (opcodeName(op).startsWith('TLBI_')) tlbis[opcodeName(op)] = c;
  }
  let vaPages = 0;
  for (let i = 0; i < n; i++) {
    const w = i * CMD_WORDS;
    const op = opcodeOf(src, w);
    if ((op === OP.TLBI_NH_VA || op === OP.TLBI_NH_VAA) && !rejected.has(i)) vaPages += vaPagesOf(src, w);
  }
  return {
    commands: n,
    consumed: { total: f[st + Smmu.COMMANDS_CONSUMED], byOpcode },
    errors,
    invalidations: { byOpcode: tlbis, vaPages },
    serviceNs: f[st + Smmu.BUSY_NS],
    prodWrites,
    msiRetargeted,
  };
}
