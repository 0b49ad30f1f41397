// `tlbsync-emu calibrate [--out FILE] [--rounds N]`: measures this host with the threads engine's
// own code (src/run/calibrate/) and writes the virtual engine's parameter file, whole or not at all.
// Progress on stderr, the parameters on stdout; bad options: one line, exit 2.
import { parseCount } from '../config/parse.js';
import { writeFileAtomic } from '../report/atomic-write.js';
import { formatTable } from '../report/table.js';
import { calibrate, type CalibrationDocument } from '../run/calibrate/calibrate.js';
import { outPath } from './args.js';
import { parseSubcommand, subcommandProgram, usageExit, type Out } from './subcommand.js';

export const DEFAULT_CALIBRATION_FILE = 'calibration.json';
const MAX_ROUNDS = 101;

export function formatCalibration(doc: CalibrationDocument, file: string): string {
  const h = doc.host;
  return [
    `calibration of ${h.cpuModel} (${h.cores} cores, Node ${h.nodeVersion}, ${h.platform}/${h.arch}) written to ${file}`,
    '',
    formatTable(
      ['parameter', 'value'],
      Object.entries(doc.params).map(([k, v]) => [k, k.endsWith('Ns') ? `${v} ns` : String(v)]),
    ),
    '',
    `use it with: --engine virtual --calibration ${file}`,
    '',
  ].join('\n');
}

export async function calibrateMain(argv: readonly string[], stdout: Out, stderr: Out): Promise<number> {
  const program = subcommandProgram(
    'calibrate',
    "Measures this host with the threads engine's own code (line transfer, issue path per command, the " +
      "SMMU's work per command, the CMD_SYNC round trip, the DMA cycle's work outside the queue) and writes " +
      'the parameter file that --engine virtual --calibration FILE uses.',
  )
    .option('--out <file>', 'the parameter file to write', DEFAULT_CALIBRATION_FILE)
    .option('--rounds <n>', `trials per measurement, the smallest is kept (1-${MAX_ROUNDS})`, '5');
  const early = parseSubcommand(program, argv, stdout, stderr);
  if (early !== null) return early;
  const o = program.opts() as { out: string; rounds: string };
  try {
    const rounds = parseCount('calibrate: --rounds', o.rounds, 1, MAX_ROUNDS);
    const file = outPath('calibrate: --out', o.out)!;
    const doc = await calibrate({ rounds, log: (line) => stderr.write(`${line}\n`) });
    writeFileAtomic(file, `${JSON.stringify(doc, null, 2)}\n`);
    stdout.write(formatCalibration(doc, file));
    return 0;
  } catch (e) {
    return usageExit(e, stderr);
  }
}
