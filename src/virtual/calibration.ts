// The calibration file: the virtual engine's parameters as measured on one host (`calibrate`
// writes it, `--engine virtual --calibration FILE` reads it). A JSON document that says what it
// is (kind, version), what wrote it and where, the parameters it sets (any subset of
// VirtualParams: the rest keep their defaults) and, for the record, the raw measurements they
// were derived from. Reading is strict: an unknown parameter, a number that is not finite and
// non-negative (positive for hitNs and lineTransferNs, a whole number in range for queueShift,
// pages and smmuFetch), or a wrong kind or version is refused with one line naming the file and
// the field.
import { readFileSync } from 'node:fs';
import { MAX_PAGES } from '../config/config.js';
import { Q_MAX_SHIFT } from '../hardware/queue.js';
import { DEFAULT_VIRTUAL_PARAMS, SMMU_FETCH_THREAD, type VirtualParams } from './params.js';

export const CALIBRATION_KIND = 'tlbsync-emu-calibration';
export const CALIBRATION_VERSION = 1;

export interface CalibrationFile {
  readonly kind: typeof CALIBRATION_KIND;
  readonly version: typeof CALIBRATION_VERSION;
  readonly tool: { readonly name: string; readonly version: string };
  /** ISO 8601, when the measurements were made. */
  readonly createdAt: string;
  /** The host measured (cores, CPU model, node version, ...): shown, never interpreted. */
  readonly host: Record<string, unknown>;
  readonly params: Partial<VirtualParams>;
  /** What was measured, by name (ns or ratios), from which params were derived. */
  readonly measurements?: Record<string, number>;
}

/** A calibration file that cannot be used: the message is one line and names the file. */
export class CalibrationError extends Error {
  override readonly name = 'CalibrationError';
}

/** Allowed string values of the parameters that are not numbers. */
const CHOICES: Partial<Record<keyof VirtualParams, readonly string[]>> = {
  service: ['random', 'fifo'],
  syncMode: ['poll', 'msi'],
};

/** Parameters that must be whole numbers (a count, a shift), with their range. */
const WHOLE: Partial<Record<keyof VirtualParams, readonly [number, number]>> = {
  queueShift: [1, Q_MAX_SHIFT],
  pages: [1, MAX_PAGES],
  // A mode, not a cost: 0 free, SMMU_FETCH_IO, SMMU_FETCH_THREAD (params.ts).
  smmuFetch: [0, SMMU_FETCH_THREAD],
};

/**
 * Costs that must be > 0 for virtual time to advance: every access costs hitNs on the agent's own
 * copy and lineTransferNs (+ atomicNs) when the line moves, so with either 0 a spin that hits, or
 * a TAS lock whose RMWs bounce the line, runs forever at one instant.
 */
const POSITIVE: readonly (keyof VirtualParams)[] = ['hitNs', 'lineTransferNs'];

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The parameters a calibration file sets, validated. `file` names it in messages. */
export function parseCalibration(text: string, file: string): Partial<VirtualParams> {
  const fail = (what: string): never => {
    throw new CalibrationError(`--calibration ${file}: ${what}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail(`not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isRecord(doc)) return fail('expected a JSON object');
  if (doc.kind !== CALIBRATION_KIND)
    fail(`kind is ${JSON.stringify(doc.kind)}, expected "${CALIBRATION_KIND}" (not a calibration file)`);
  if (doc.version !== CALIBRATION_VERSION)
    fail(
      `version ${JSON.stringify(doc.version)} is not supported (this tool reads version ${CALIBRATION_VERSION})`,
    );
  if (!isRecord(doc.params)) return fail('"params" must be an object of parameters');
  const out: Record<string, number | string> = {};
  for (const [key, v] of Object.entries(doc.params)) {
    if (!(key in DEFAULT_VIRTUAL_PARAMS))
      fail(`unknown parameter "${key}" (allowed: ${Object.keys(DEFAULT_VIRTUAL_PARAMS).join(', ')})`);
    const k = key as keyof VirtualParams;
    const choices = CHOICES[k];
    if (choices !== undefined) {
      if (typeof v !== 'string' || !choices.includes(v))
        fail(`params.${key} is ${JSON.stringify(v)} (allowed: ${choices.join(', ')})`);
      out[key] = v as string;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      fail(`params.${key} is ${JSON.stringify(v)}, expected a finite number >= 0`);
    if (v === 0 && POSITIVE.includes(k))
      fail(`params.${key} is 0, expected a finite number > 0 (with 0 virtual time can stand still)`);
    const whole = WHOLE[k];
    if (whole !== undefined && (!Number.isInteger(v) || (v as number) < whole[0] || (v as number) > whole[1]))
      fail(`params.${key} is ${String(v)}, expected a whole number from ${whole[0]} to ${whole[1]}`);
    out[key] = v as number;
  }
  if (doc.measurements !== undefined && !isRecord(doc.measurements))
    fail('"measurements" must be an object of numbers');
  return out as Partial<VirtualParams>;
}

/** The file's text: pretty JSON with a final newline (what `calibrate` writes). */
export function formatCalibration(file: CalibrationFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Reads and parses a calibration file; a file that cannot be read is a CalibrationError too. */
export function readCalibration(file: string): Partial<VirtualParams> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? 'unreadable');
    throw new CalibrationError(`--calibration ${file}: cannot read it (${why})`);
  }
  return parseCalibration(text, file);
}
