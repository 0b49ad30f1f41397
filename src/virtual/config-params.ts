// Which virtual-engine parameters a Config sets (the tool's own SMMU costs and workload shape),
// and the parameters a run uses: the engine's defaults, then a calibration file's, then the
// Config's. The CLI applies a calibration file's values to the Config settings no flag gave
// (calibratedConfig), so that explicit flags win over the file and the file over the defaults.
import type { Config } from '../config/config.js';
import { DEFAULT_VIRTUAL_PARAMS, type VirtualParams } from './params.js';

/** The parameters a Config determines, by VirtualParams key, with the Config key that sets each. */
export const CONFIG_PARAMS = {
  tlbiNs: 'tlbiNs',
  syncNs: 'syncNs',
  syncMode: 'syncMode',
  mmioReadNs: 'mmioReadNs',
  mmioWriteNs: 'mmioWriteNs',
  consPoll: 'consPoll',
  sev: 'sev',
  dmaNs: 'dmaNs',
  pages: 'pages',
  queueShift: 'queueEntries',
} as const satisfies Partial<Record<keyof VirtualParams, keyof Config>>;

type ConfigParam = keyof typeof CONFIG_PARAMS;

export function paramsFromConfig(cfg: Config): Pick<VirtualParams, ConfigParam> {
  return {
    tlbiNs: cfg.tlbiNs,
    syncNs: cfg.syncNs,
    syncMode: cfg.syncMode,
    mmioReadNs: cfg.mmioReadNs,
    mmioWriteNs: cfg.mmioWriteNs,
    consPoll: cfg.consPoll,
    sev: cfg.sev,
    dmaNs: cfg.dmaNs,
    pages: cfg.pages,
    queueShift: Math.log2(cfg.queueEntries),
  };
}

/** Every parameter a run of `cfg` uses, with `calibration` (a file's params) under the Config's. */
export function virtualParamsFor(cfg: Config, calibration: Partial<VirtualParams> = {}): VirtualParams {
  return { ...DEFAULT_VIRTUAL_PARAMS, ...calibration, ...paramsFromConfig(cfg) };
}

/**
 * The Config with a calibration file's values for the settings `given(configKey)` says no flag,
 * file or sweep set.
 */
export function calibratedConfig(
  cfg: Config,
  calibration: Partial<VirtualParams>,
  given: (key: keyof Config) => boolean,
): Config {
  const out: Record<string, unknown> = { ...cfg };
  for (const [param, key] of Object.entries(CONFIG_PARAMS) as [ConfigParam, keyof Config][]) {
    const v = calibration[param];
    if (v === undefined || given(key)) continue;
    out[key] = param === 'queueShift' ? 2 ** (v as number) : v;
  }
  return out as unknown as Config;
}
