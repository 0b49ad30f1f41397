// The tables of docs/validation.md, every point at once (each is also one `node dist/run.js
// --engine virtual --calibration docs/validation-params.json ...` run; validation.md gives them):
//   node dist/src/virtual/validate.js [--experiment seed|garry|thunderx2|lazy-ecmdq|all] [--ms N]
//                                     [--service random|fifo] [--sync-mode msi|poll]
// Every point runs from VALIDATION_PARAMS and one seed; each experiment adds only its stated
// workload (src/virtual/validation/*.ts). Prints Markdown tables, each followed by its verdict
// and the simulated events and wall time it took.
import { performance } from 'node:perf_hooks';
import type { SyncMode } from '../config/config.js';
import type { ServicePolicy } from './coherence.js';
import type { ValidationTable } from './validation/common.js';
import { garryPoints, garryTable } from './validation/garry.js';
import { lazyEcmdqPoints, lazyEcmdqTable } from './validation/lazy-ecmdq.js';
import { seedPoints, seedTable } from './validation/seed.js';
import { thunderx2Points, thunderx2Table } from './validation/thunderx2.js';

interface Args {
  readonly experiments: readonly string[];
  readonly ms: number | null;
  readonly service: ServicePolicy | null;
  readonly syncModes: readonly SyncMode[];
}

/** Each experiment's measured window by default, ms (seed: at up to 8 CPUs; it grows beyond). */
const EXPERIMENTS: Record<string, { ms: number; run: (a: Args, ms: number) => ValidationTable[] }> = {
  seed: { ms: 20, run: (a, ms) => a.syncModes.map((s) => seedTable(seedPoints({ ms, syncMode: s }), s)) },
  garry: { ms: 20, run: (a, ms) => [garryTable(garryPoints({ ms, service: a.service ?? 'random' }))] },
  thunderx2: {
    ms: 30,
    run: (a, ms) => a.syncModes.map((s) => thunderx2Table(thunderx2Points({ ms, syncMode: s }))),
  },
  'lazy-ecmdq': { ms: 20, run: (_a, ms) => [lazyEcmdqTable(lazyEcmdqPoints({ ms }))] },
};

class UsageError extends Error {}

function parse(argv: readonly string[]): Args {
  let experiments: string[] = Object.keys(EXPERIMENTS);
  let ms: number | null = null;
  let service: ServicePolicy | null = null;
  let syncModes: SyncMode[] = ['msi', 'poll'];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    i++;
    if (flag === '--experiment') {
      if (value !== 'all' && !(value in EXPERIMENTS))
        throw new UsageError(
          `--experiment: unknown '${value}' (${Object.keys(EXPERIMENTS).join(', ')}, all)`,
        );
      experiments = value === 'all' ? Object.keys(EXPERIMENTS) : [value];
    } else if (flag === '--ms') {
      ms = Number(value);
      if (!Number.isFinite(ms) || ms <= 0 || ms > 10_000)
        throw new UsageError(`--ms: expected a number of ms in (0, 10000], got '${value}'`);
    } else if (flag === '--service') {
      if (value !== 'random' && value !== 'fifo')
        throw new UsageError(`--service: expected random or fifo, got '${value}'`);
      service = value;
    } else if (flag === '--sync-mode') {
      if (value !== 'msi' && value !== 'poll')
        throw new UsageError(`--sync-mode: expected msi or poll, got '${value}'`);
      syncModes = [value];
    } else throw new UsageError(`unknown option '${flag}'`);
  }
  return { experiments, ms, service, syncModes };
}

function markdown(t: ValidationTable): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(t.headers), line(t.headers.map(() => '---')), ...t.rows.map(line)].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let args: Args;
  try {
    args = parse(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`validate: ${e.message}`);
    process.exit(2);
  }
  for (const name of args.experiments) {
    const e = EXPERIMENTS[name];
    const t0 = performance.now();
    for (const t of e.run(args, args.ms ?? e.ms)) {
      const judged =
        t.pass === null ? 'nothing judged' : t.pass ? 'every judged row meets its goal' : 'some rows miss';
      const goal = (t.pending ?? 0) > 0 ? `${judged}; ${t.pending} rows pending` : judged;
      console.log(`### ${t.title}\n\n${markdown(t)}\n\n${t.id}: ${goal}\n`);
    }
    console.log(`(${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s of wall time)\n`);
  }
}
