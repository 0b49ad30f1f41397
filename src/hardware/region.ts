// Units of the shared memory, and the contract between a region's owner and the layout: as
// js-lock-and-condition declares NUMBYTES/ALIGN next to each lock class, every region's owner
// declares its name, size and alignment next to the code that reads its format, and
// hardware/layout.ts only places the declared regions. A leaf module, so any layer may import it.

/** Bytes of a cache line: the unit of placement, so no two writers share a line by accident. */
export const LINE = 64;

/** 4 KiB translation granule (IOVA page = address >> PAGE_SHIFT). */
export const PAGE_SHIFT = 12;
export const PAGE_BYTES = 1 << PAGE_SHIFT;

/** n rounded up to a multiple of a (a line by default). */
export const alignUp = (n: number, a: number = LINE): number => Math.ceil(n / a) * a;

/** What every region's size is a function of (the layout parameters without the regions). */
export interface LayoutGeometry {
  readonly cpus: number;
  /** log2 of the command queue's entries. */
  readonly queueShift: number;
  /** Number of translation domains (ASIDs 1..domains). */
  readonly domains: number;
  /** IOVA slots per domain; a slot holds one buffer. */
  readonly iovaSlotsPerDomain: number;
  /** Pages per slot (a power of two >= the buffer's pages: Linux size-aligns IOVAs). */
  readonly slotPages: number;
  readonly iotlbSets: number;
  readonly lockBytes: number;
  /** Lock classes that statistics are kept for (lockstat "class name"), e.g. ['cmdq', 'iova']. */
  readonly lockClasses: readonly string[];
  /** Entries of each CPU's flush ring (lazy's iova-fq region; unused by other strategies). */
  readonly fqSize: number;
}

/** A region as its owner declares it: its size and alignment from the run's layout parameters. */
export interface RegionDecl<P> {
  readonly name: string;
  /** Bytes the region needs; the layout pads it to whole lines. */
  bytes(p: P): number;
  /** Byte alignment of its start: a power of two, at least LINE. */
  readonly align: number | ((p: P) => number);
}

/** A declaration evaluated for one run: what the layout places (and what workers are sent). */
export interface RegionSpec {
  readonly name: string;
  readonly bytes: number;
  readonly align: number;
}

export function specOf<P>(d: RegionDecl<P>, p: P): RegionSpec {
  return { name: d.name, bytes: d.bytes(p), align: typeof d.align === 'number' ? d.align : d.align(p) };
}

/**
 * Checks, once when a view of a region is built, that [off, off + bytes) is inside the buffer and
 * off is aligned to `align`: a wrong offset otherwise reads another region's words silently.
 */
export function checkRegion(
  buffer: { readonly byteLength: number },
  name: string,
  off: number,
  bytes: number,
  align: number = LINE,
): void {
  if (!Number.isInteger(off) || off < 0 || off % align !== 0)
    throw new RangeError(`region "${name}": offset ${off} is not a multiple of ${align}`);
  if (off + bytes > buffer.byteLength)
    throw new RangeError(
      `region "${name}": [${off}, ${off + bytes}) runs past the end of the ${buffer.byteLength}-byte buffer`,
    );
}

/**
 * Names of the regions every run has, in placement order; layout.ts keeps a precomputed offset
 * of each (controlOff, cmdqOff, ...) for the hot path.
 */
export const REGION = {
  CONTROL: 'control',
  REG_IMAGE: 'registers',
  CONTROL_PAGE_REGS: 'control-page-registers',
  CMDQ_PROD: 'cmdq-prod',
  CMDQ_CONS: 'cmdq-cons',
  CMDQ: 'cmdq',
  LOCKS: 'locks',
  CPU_STATE: 'cpu-state',
  IOVA: 'iova',
  PTE: 'pte',
  PTE_GEN: 'pte-gen',
  IOTLB: 'iotlb',
  SMMU_STATS: 'smmu-stats',
  CPU_STATS: 'cpu-stats',
  SAFETY: 'safety',
} as const;
