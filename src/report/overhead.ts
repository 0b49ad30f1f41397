// How much of a run's unmap time is the emulator's own: the mean time inside iommu_unmap minus the
// modelled SMMU time of the commands that unmap issued, per command. At one CPU that is the
// JavaScript (and host) cost of the protocol the model leaves out; with more CPUs it also holds
// the lock and queue waits for other CPUs' commands.
/** runs[].overhead (docs/cli.md). */
export interface UnmapOverhead {
  /** Commands the CPUs issued inside iommu_unmap, per unmap: 0 when the strategy defers them (lazy). */
  commandsPerUnmap: number;
  /** Those commands' modelled SMMU latencies: non-SYNC x --tlbi-ns + CMD_SYNC x --sync-ns, ns. */
  modelledUnmapNs: number;
  /** unmapLatencyNs.mean (null under --stats counters). */
  measuredUnmapNs: number | null;
  /** measuredUnmapNs - modelledUnmapNs. */
  overheadUnmapNs: number | null;
  /** overheadUnmapNs / commandsPerUnmap; null without commands or without timing. */
  nsPerCommand: number | null;
  /** modelledUnmapNs / measuredUnmapNs: the unmap path's efficiency; null when the model costs 0. */
  unmapEfficiency: number | null;
  /** Why nsPerCommand is null, when it is. */
  note: string | null;
}

/** The modelled SMMU time of a command mix given per unmap, keyed by opcode name. */
export function modelledNs(
  perUnmap: Readonly<Record<string, number>>,
  tlbiNs: number,
  syncNs: number,
): number {
  let ns = 0;
  for (const [op, n] of Object.entries(perUnmap)) ns += n * (op === 'CMD_SYNC' ? syncNs : tlbiNs);
  return ns;
}

/**
 * `issuedPerUnmap`: the CPUs' issued commands per unmap by opcode (the run's own counts);
 * `deferred`: the strategy's unmap issues none of them (they are a flush's, outside the unmap).
 */
export function unmapOverhead(
  issuedPerUnmap: Readonly<Record<string, number>>,
  deferred: boolean,
  measuredUnmapNs: number | null,
  tlbiNs: number,
  syncNs: number,
): UnmapOverhead {
  let commandsPerUnmap = 0;
  if (!deferred) for (const n of Object.values(issuedPerUnmap)) commandsPerUnmap += n;
  const modelledUnmapNs = deferred ? 0 : modelledNs(issuedPerUnmap, tlbiNs, syncNs);
  const overheadUnmapNs = measuredUnmapNs === null ? null : measuredUnmapNs - modelledUnmapNs;
  const note = deferred
    ? 'unmap issues no commands (invalidation deferred to flushes)'
    : commandsPerUnmap === 0
      ? 'no unmaps measured'
      : measuredUnmapNs === null
        ? 'not timed (--stats counters)'
        : null;
  return {
    commandsPerUnmap,
    modelledUnmapNs,
    measuredUnmapNs,
    overheadUnmapNs,
    nsPerCommand: note === null && overheadUnmapNs !== null ? overheadUnmapNs / commandsPerUnmap : null,
    unmapEfficiency:
      measuredUnmapNs !== null && measuredUnmapNs > 0 && modelledUnmapNs > 0
        ? modelledUnmapNs / measuredUnmapNs
        : null,
    note,
  };
}
