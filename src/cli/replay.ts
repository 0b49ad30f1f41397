// `tlbsync-emu replay FILE [--tlbi-ns N] [--sync-ns N] [--queue-entries N] [--no-ril] [--no-msi]
// [--no-sev] [--json OUT]`: a raw command stream through the real SMMU engine (src/run/replay.ts)
// and what it made of it. Exit 0 when the SMMU accepted every command, 1 when it stopped at any
// (CERROR_ILL or another CMDQ_CONS.ERR), 2 for bad input, 3 when the SMMU worker failed.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { DEFAULTS } from '../config/config.js';
import { parseNs, parsePowerOfTwo, UsageError } from '../config/parse.js';
import { replayStream, ReplayInputError, type ReplayOptions, type ReplayResult } from '../run/replay.js';
import { writeFileAtomic } from '../report/atomic-write.js';
import { formatTable, int, us } from '../report/table.js';
import { Q_MAX_SHIFT } from '../hardware/queue.js';
import { outPath } from './args.js';
import { whyUnreadable } from '../report/result-file.js';
import { MAX_LATENCY_NS } from '../config/sweep.js';
import { TOOL } from '../version.js';
import { parseSubcommand, type Out } from './subcommand.js';

/** Version of the replay JSON document (independent of the run documents' SCHEMA_VERSION). */
export const REPLAY_SCHEMA_VERSION = 1;

export interface ReplayDocument extends ReplayResult {
  readonly schemaVersion: typeof REPLAY_SCHEMA_VERSION;
  readonly kind: 'replay';
  readonly tool: { readonly name: string; readonly version: string };
  readonly file: string;
  readonly smmu: {
    readonly ril: boolean;
    readonly msi: boolean;
    readonly sev: boolean;
    readonly queueEntries: number;
    readonly tlbiNs: number;
    readonly syncNs: number;
  };
  /** True when the SMMU accepted every command (exit 0). */
  readonly accepted: boolean;
}

function buildReplayProgram(): Command {
  const d = DEFAULTS;
  return new Command()
    .name('tlbsync-emu replay')
    .description(
      'Feeds a raw command stream (the --cmd-log format: 16-byte little-endian entries) through the SMMU ' +
        'engine, via the real command queue and registers, and prints per-opcode counts, every CERROR_ILL ' +
        'with its index and reason, the invalidations and the modelled service time.',
    )
    .argument('<FILE>', 'the command stream')
    .option('--tlbi-ns <ns>', 'modelled SMMU time per non-SYNC command (ns, or e.g. 1us)', String(d.tlbiNs))
    .option('--sync-ns <ns>', 'modelled SMMU time per CMD_SYNC (ns, or e.g. 1us)', String(d.syncNs))
    .option(
      '--queue-entries <n>',
      `command queue entries, a power of two (2-${2 ** Q_MAX_SHIFT})`,
      String(d.queueEntries),
    )
    .option('--no-ril', 'do not advertise range invalidation (IDR3.RIL = 0)')
    .option('--no-msi', 'do not advertise MSI (IDR0.MSI = IDR0.COHACC = 0)')
    .option('--no-sev', 'do not advertise SEV (IDR0.SEV = 0)')
    .option('--json <file>', 'write the result as JSON')
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureHelp({ helpWidth: 120 })
    .allowExcessArguments(false);
}

function readStream(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError(`replay: cannot read ${path}: ${whyUnreadable(e)}`);
  }
}

const plural = (n: number, what: string): string => `${int(n)} ${what}${n === 1 ? '' : 's'}`;

export function formatReplay(doc: ReplayDocument): string {
  const s = doc.smmu;
  const features = [s.ril && 'RIL', s.msi && 'MSI', s.sev && 'SEV'].filter(Boolean).join(' ') || 'none';
  const lines = [
    `replay: ${doc.file}: ${plural(doc.commands, 'command')} through a ${int(s.queueEntries)}-entry command queue ` +
      `(${plural(doc.prodWrites, 'PROD write')}); SMMU features: ${features}; --tlbi-ns ${s.tlbiNs} --sync-ns ${s.syncNs}`,
    '',
    formatTable(
      ['opcode', 'consumed'],
      Object.entries(doc.consumed.byOpcode).map(([op, c]) => [op, int(c)]),
    ),
    '',
  ];
  const tlbis = Object.entries(doc.invalidations.byOpcode);
  lines.push(
    `invalidations: ${plural(
      tlbis.reduce((a, [, c]) => a + c, 0),
      'command',
    )}` +
      (tlbis.length > 0 ? ` (${tlbis.map(([op, c]) => `${op} ${int(c)}`).join(', ')})` : '') +
      `, ${int(doc.invalidations.vaPages)} 4K pages named by TLBI_NH_VA/VAA`,
  );
  lines.push(`modelled service time: ${us(doc.serviceNs)} us`);
  if (doc.msiRetargeted > 0)
    lines.push(`MSI: ${int(doc.msiRetargeted)} CMD_SYNC CS=IRQ writes pointed at the replay's own MSI word`);
  if (doc.errors.length === 0) lines.push('CERROR_ILL: none: every command was accepted');
  for (const e of doc.errors)
    lines.push(
      `CERROR_${e.error} at command ${e.index} (byte ${e.index * 16}): ${e.reason}: ${e.command}; replaced with CMD_SYNC`,
    );
  lines.push('');
  return lines.join('\n');
}

/** The replay subcommand; argv without "replay". Returns the exit code. */
export async function replayMain(argv: readonly string[], stdout: Out, stderr: Out): Promise<number> {
  const program = buildReplayProgram();
  const exit = parseSubcommand(program, argv, stdout, stderr);
  if (exit !== null) return exit;
  try {
    const o = program.opts();
    const file = program.args[0];
    const opts: ReplayOptions = {
      tlbiNs: parseNs('--tlbi-ns', String(o.tlbiNs), MAX_LATENCY_NS),
      syncNs: parseNs('--sync-ns', String(o.syncNs), MAX_LATENCY_NS),
      queueEntries: parsePowerOfTwo('--queue-entries', String(o.queueEntries), 2, 2 ** Q_MAX_SHIFT),
      features: { ril: o.ril !== false, msi: o.msi !== false, sev: o.sev !== false },
    };
    const json = outPath('--json', o.json as string | undefined);
    const bytes = readStream(file);
    let result: ReplayResult;
    try {
      result = await replayStream(bytes, opts);
    } catch (e) {
      if (e instanceof ReplayInputError) throw new UsageError(`replay: ${file}: ${e.message}`);
      throw e;
    }
    const doc: ReplayDocument = {
      schemaVersion: REPLAY_SCHEMA_VERSION,
      kind: 'replay',
      tool: { name: TOOL.name, version: TOOL.version },
      file,
      smmu: { ...opts.features, queueEntries: opts.queueEntries, tlbiNs: opts.tlbiNs, syncNs: opts.syncNs },
      accepted: result.errors.length === 0,
      ...result,
    };
    stdout.write(formatReplay(doc));
    if (json !== null) writeFileAtomic(json, `${JSON.stringify(doc, null, 2)}\n`);
    return doc.accepted ? 0 : 1;
  } catch (e) {
    if (e instanceof UsageError) {
      stderr.write(`tlbsync-emu: ${e.message}\n`);
      return 2;
    }
    // The SMMU worker crashed or stopped consuming: not a verdict on the stream (1 is), a failure.
    stderr.write(`tlbsync-emu: replay failed: ${(e as Error).message.split('\n')[0]}\n`);
    return 3;
  }
}
