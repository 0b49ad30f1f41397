// docs/validation-params.json is VALIDATION_PARAMS as a calibration file, so that
// `node dist/run.js --engine virtual --calibration docs/validation-params.json ...` runs the
// validation tables' parameter set: it parses, every key that no flag of the tool's own model sets
// equals VALIDATION_PARAMS', and read as the CLI reads it (file under the flags) it gives exactly
// VALIDATION_PARAMS. Also: the flags of the CONS poll loop reach the virtual engine.
// The file lists every parameter, not only those VALIDATION_PARAMS sets apart from the defaults:
// VALIDATION_PARAMS spreads DEFAULT_VIRTUAL_PARAMS, so a new parameter or a changed default
// changes the set docs/validation.md's tables were measured with; a full file makes that fail
// here (add the key, re-run the tables) instead of silently drifting from the published figures.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/config/config.js';
import { parseCalibration } from '../src/virtual/calibration.js';
import { calibratedConfig, CONFIG_PARAMS, virtualParamsFor } from '../src/virtual/config-params.js';
import { VALIDATION_PARAMS, type VirtualParams } from '../src/virtual/params.js';

const FILE = resolve(__dirname, '../docs/validation-params.json');
const fromFile = parseCalibration(readFileSync(FILE, 'utf8'), FILE);

describe('docs/validation-params.json', () => {
  it('sets every parameter that no flag reaches to its VALIDATION_PARAMS value', () => {
    const nonCli = (Object.keys(VALIDATION_PARAMS) as (keyof VirtualParams)[]).filter(
      (k) => !(k in CONFIG_PARAMS),
    );
    expect(nonCli.length).toBeGreaterThan(0);
    for (const k of nonCli)
      expect(fromFile[k], `${k} (missing or different in the file)`).toEqual(VALIDATION_PARAMS[k]);
  });

  it('read as the CLI reads it, with no flag given, is VALIDATION_PARAMS exactly', () => {
    const cfg = calibratedConfig(DEFAULTS, fromFile, () => false);
    expect(virtualParamsFor(cfg, fromFile)).toEqual(VALIDATION_PARAMS);
  });

  it('a flag still wins over the file (an experiment sets its workload by flags)', () => {
    const given = new Set(['pages', 'syncMode']);
    const cfg = calibratedConfig({ ...DEFAULTS, pages: 16, syncMode: 'poll' }, fromFile, (k) => given.has(k));
    const p = virtualParamsFor(cfg, fromFile);
    expect([p.pages, p.syncMode, p.syncNs]).toEqual([16, 'poll', VALIDATION_PARAMS.syncNs]);
  });
});

describe('--cons-poll and --sev under --engine virtual', () => {
  it('reach the engine (they were once taken from the defaults whatever the flags said)', () => {
    const p = virtualParamsFor({ ...DEFAULTS, consPoll: 'spin', sev: false });
    expect([p.consPoll, p.sev]).toEqual(['spin', false]);
  });
});
