// `tlbsync-emu merge`: one result document from several, typically the shards of one sweep run on
// different machines (--shard K/N). What may be merged: documents of the same tool version whose
// settings agree (the configuration apart from output paths, the sweep's axis names, --repeat), and
// whose runs do not overlap. Anything else is refused with one line naming the two files.
import { UsageError } from '../config/parse.js';
import { compareRuns } from './compare-strategies.js';
import type { MergeSource, ResultDocument, RunReport } from './types.js';

export interface MergeInput {
  readonly file: string;
  readonly doc: ResultDocument;
}

/** Settings that name where output went, not what was measured. */
const OUTPUT_KEYS = new Set(['json', 'cmdLog', 'trace', 'quiet']);

function settings(doc: ResultDocument): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc.config).filter(([k]) => !OUTPUT_KEYS.has(k)));
}

function firstDifference(a: Record<string, unknown>, b: Record<string, unknown>): string | null {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k]))
      return `${k} ${JSON.stringify(a[k]) ?? 'unset'} vs ${JSON.stringify(b[k]) ?? 'unset'}`;
  return null;
}

function runKey(r: RunReport): string {
  return `${r.strategy} ${JSON.stringify(r.params)} rep ${r.repetition}`;
}

export function mergeDocs(inputs: readonly MergeInput[]): ResultDocument {
  if (inputs.length === 0) throw new UsageError('merge: no result files given');
  const first = inputs[0];
  const base = settings(first.doc);
  const axisNames = (d: ResultDocument) => (d.sweep?.axes ?? []).map((a) => a.name).join(',');
  const owner = new Map<string, string>();
  const runs: RunReport[] = [];
  for (const { file, doc } of inputs) {
    const clash = (what: string) => new UsageError(`merge: ${file} does not fit ${first.file}: ${what}`);
    if (doc.tool.name !== first.doc.tool.name || doc.tool.version !== first.doc.tool.version)
      throw clash(
        `written by ${doc.tool.name} ${doc.tool.version}, not ${first.doc.tool.name} ${first.doc.tool.version}`,
      );
    const diff = firstDifference(base, settings(doc));
    if (diff !== null) throw clash(`settings differ (${diff})`);
    if (axisNames(doc) !== axisNames(first.doc))
      throw clash(`swept settings differ (${axisNames(first.doc) || 'none'} vs ${axisNames(doc) || 'none'})`);
    if (doc.repeat !== first.doc.repeat) throw clash(`--repeat ${first.doc.repeat} vs ${doc.repeat}`);
    const shards = (d: ResultDocument) => (d.shard ? `${d.shard.count} shards` : 'not sharded');
    if ((doc.shard?.count ?? 0) !== (first.doc.shard?.count ?? 0))
      throw clash(`sliced differently (${shards(first.doc)} vs ${shards(doc)})`);
    for (const r of doc.runs) {
      const k = runKey(r);
      const other = owner.get(k);
      if (other !== undefined) throw new UsageError(`merge: ${file} and ${other} both hold the run ${k}`);
      owner.set(k, file);
      runs.push(r);
    }
  }

  // The merged sweep: each axis with every value any input ran, in the order first seen.
  const axes = (first.doc.sweep?.axes ?? []).map((a, i) => {
    const values = new Set(a.values);
    for (const { doc } of inputs) for (const v of doc.sweep?.axes[i].values ?? []) values.add(v);
    return { name: a.name, values: [...values] };
  });
  // Run order as one invocation would have made it: cpus slowest, then the axes in order, then the
  // repetition, then the strategy.
  const order = [...axes.filter((a) => a.name === 'cpus'), ...axes.filter((a) => a.name !== 'cpus')];
  const strategies = (first.doc.config.strategies as string[] | undefined) ?? [];
  const sortKey = (r: RunReport): number[] => [
    ...order.map((a) => a.values.indexOf(r.params[a.name] as string | number)),
    r.repetition,
    strategies.indexOf(r.strategy),
  ];
  runs.sort((x, y) => {
    const kx = sortKey(x);
    const ky = sortKey(y);
    for (let i = 0; i < kx.length; i++) if (kx[i] !== ky[i]) return kx[i] - ky[i];
    return 0;
  });

  const sources: MergeSource[] = inputs.map(({ file, doc }) => ({
    file,
    startedAt: doc.startedAt,
    host: doc.host,
    shard: doc.shard ?? null,
    complete: doc.complete,
    runs: doc.runs.length,
  }));
  return {
    ...first.doc,
    startedAt: inputs.map((i) => i.doc.startedAt).sort()[0],
    sweep: first.doc.sweep ? { axes } : null,
    shard: null,
    merged: { sources },
    complete: inputs.every((i) => i.doc.complete) && shardsCovered(inputs),
    runs,
    comparison: compareRuns(runs),
  };
}

/** Shards of one sweep are complete together only when every slice 1..N is there. */
function shardsCovered(inputs: readonly MergeInput[]): boolean {
  const shards = inputs.map((i) => i.doc.shard ?? null).filter((s) => s !== null);
  if (shards.length === 0) return true;
  const count = shards[0].count;
  const seen = new Set(shards.filter((s) => s.count === count).map((s) => s.index));
  return seen.size === count;
}
