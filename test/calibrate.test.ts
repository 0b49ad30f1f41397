// `calibrate`: a short run (one round) through the real CLI writes a parameter file that parses
// back with every parameter a finite number >= 0 and a key of VirtualParams; bad options are one
// line and exit 2 before anything is measured or written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrateMain } from '../src/cli/calibrate.js';
import {
  CALIBRATED_PARAMS,
  CALIBRATION_KIND,
  CALIBRATION_VERSION,
  type CalibrationDocument,
} from '../src/run/calibrate/calibrate.js';
import { DEFAULT_VIRTUAL_PARAMS } from '../src/virtual/params.js';
import { parseCalibration } from '../src/virtual/calibration.js';

const dir = mkdtempSync(join(tmpdir(), 'tlbsync-calibrate-'));

describe('calibrate', () => {
  it('writes a parameter file that parses back: every parameter finite and >= 0', () => {
    const out = join(dir, 'sub', 'cal.json');
    const r = spawnSync(
      process.execPath,
      [resolve(import.meta.dirname, '../dist/run.js'), 'calibrate', '--rounds', '1', '--out', out],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`written to ${out}`);
    // Progress on stderr, one line per measurement.
    const progress = r.stderr.trimEnd().split('\n');
    expect(progress.length).toBeGreaterThanOrEqual(8);
    for (const l of progress) expect(l).toMatch(/^calibrate: .*: [\d.]+ ns$/);

    const doc = JSON.parse(readFileSync(out, 'utf8')) as CalibrationDocument;
    expect(doc.kind).toBe(CALIBRATION_KIND);
    expect(doc.version).toBe(CALIBRATION_VERSION);
    expect(doc.tool.name).toBe('tlbsync-emu');
    expect(new Date(doc.createdAt).toISOString()).toBe(doc.createdAt);
    expect(doc.host.cores).toBeGreaterThanOrEqual(1);
    expect(doc.host.nodeVersion).toBe(process.version);
    expect(Object.keys(doc.params).sort()).toEqual([...CALIBRATED_PARAMS].sort());
    for (const [k, v] of Object.entries(doc.params)) {
      expect(k in DEFAULT_VIRTUAL_PARAMS, k).toBe(true);
      expect(typeof DEFAULT_VIRTUAL_PARAMS[k as keyof typeof DEFAULT_VIRTUAL_PARAMS]).toBe('number');
      expect(Number.isFinite(v) && v >= 0, `${k} = ${v}`).toBe(true);
    }
    for (const [k, v] of Object.entries(doc.measurements))
      expect(Number.isFinite(v) && v >= 0, `${k} = ${v}`).toBe(true);
    // What --calibration reads: the costs time advances by are > 0.
    expect(parseCalibration(readFileSync(out, 'utf8'), out)).toEqual(doc.params);
    expect(doc.params.hitNs).toBeGreaterThan(0);
    expect(doc.params.lineTransferNs).toBeGreaterThan(0);
    // The parameters that carry a measurement carry exactly it.
    expect(doc.params.lineTransferNs).toBe(doc.measurements.pingPongOneWayNs);
    expect(doc.params.mapNs).toBe(doc.measurements.mapStepNs);
    expect(doc.params.unmapNs).toBe(doc.measurements.unmapStepNs);
  });
});

describe('calibrate: bad options, one line, exit 2, nothing written', () => {
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  const cases: [string, string[], RegExp][] = [
    [
      '--rounds 0',
      ['--rounds', '0'],
      /^tlbsync-emu: calibrate: --rounds: 0 is out of range \(allowed: 1 to 101\)$/,
    ],
    ['--rounds x', ['--rounds', 'x'], /^tlbsync-emu: calibrate: --rounds: expected a whole number/],
    [
      '--out a directory',
      ['--out', dir],
      /^tlbsync-emu: calibrate: --out: cannot write .*: it is a directory$/,
    ],
    ['--out under a file', ['--out', join(file, 'x.json')], /^tlbsync-emu: calibrate: --out: cannot write /],
    ['an unknown flag', ['--bogus'], /^tlbsync-emu: calibrate: unknown option '--bogus'/],
    ['an argument', ['extra'], /^tlbsync-emu: calibrate: too many arguments/],
  ];
  for (const [what, args, re] of cases)
    it(what, async () => {
      let out = '';
      let err = '';
      const code = await calibrateMain(args, { write: (s) => (out += s) }, { write: (s) => (err += s) });
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err.endsWith('\n')).toBe(true);
      expect(err.trimEnd().split('\n')).toHaveLength(1);
      expect(err.trimEnd()).toMatch(re);
      expect(existsSync(join(dir, 'calibration.json'))).toBe(false);
    });
});
