// --inject: fault injection specs, validated before a run. Grammar (T and D are durations like
// 500ms or 2s, measured from the start of each strategy's measured window):
//   crash:cpu=N,at=T          that CPU's worker throws (while holding cmdq, if its design has one)
//   stall:smmu,at=T,for=D     the SMMU stops consuming commands for D
//   illegal-cmd:cpu=N,at=T    that CPU inserts one command with an undefined opcode
import { parseDuration, UsageError } from './parse.js';

export type Injection =
  | { readonly kind: 'crash'; readonly cpu: number; readonly atMs: number }
  | { readonly kind: 'stall'; readonly atMs: number; readonly forMs: number }
  | { readonly kind: 'illegal-cmd'; readonly cpu: number; readonly atMs: number };

export const INJECT_GRAMMAR = 'crash:cpu=N,at=T | stall:smmu,at=T,for=D | illegal-cmd:cpu=N,at=T';

function fields(spec: string, body: string, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of body.split(',')) {
    const m = /^([a-z]+)=(.+)$/.exec(part.trim());
    if (!m || !allowed.includes(m[1]))
      throw new UsageError(
        `--inject: "${spec}": expected ${allowed.map((a) => `${a}=...`).join(',')} (grammar: ${INJECT_GRAMMAR})`,
      );
    if (m[1] in out) throw new UsageError(`--inject: "${spec}": ${m[1]} given twice`);
    out[m[1]] = m[2];
  }
  for (const a of allowed)
    if (!(a in out)) throw new UsageError(`--inject: "${spec}": missing ${a}= (grammar: ${INJECT_GRAMMAR})`);
  return out;
}

function cpuOf(spec: string, raw: string, cpus: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) >= cpus)
    throw new UsageError(
      `--inject: "${spec}": cpu=${raw} is not a CPU of this run (allowed: 0 to ${cpus - 1})`,
    );
  return Number(raw);
}

export function parseInjection(spec: string, cpus: number, durationMs: number): Injection {
  const m = /^([a-z-]+):(.*)$/.exec(spec.trim());
  const at = (raw: string): number => {
    const ms = parseDuration(`--inject "${spec}" at`, raw, 0, 3_600_000);
    if (ms >= durationMs)
      throw new UsageError(
        `--inject: "${spec}": at=${raw} is not inside the measured window (--duration ${durationMs}ms)`,
      );
    return ms;
  };
  switch (m?.[1]) {
    case 'crash': {
      const f = fields(spec, m[2], ['cpu', 'at']);
      return { kind: 'crash', cpu: cpuOf(spec, f.cpu, cpus), atMs: at(f.at) };
    }
    case 'illegal-cmd': {
      const f = fields(spec, m[2], ['cpu', 'at']);
      return { kind: 'illegal-cmd', cpu: cpuOf(spec, f.cpu, cpus), atMs: at(f.at) };
    }
    case 'stall': {
      const [target, ...rest] = m[2].split(',');
      if (target !== 'smmu')
        throw new UsageError(`--inject: "${spec}": only the smmu can stall (stall:smmu,at=T,for=D)`);
      const f = fields(spec, rest.join(','), ['at', 'for']);
      return {
        kind: 'stall',
        atMs: at(f.at),
        forMs: parseDuration(`--inject "${spec}" for`, f.for, 1, 3_600_000),
      };
    }
    default:
      throw new UsageError(`--inject: unknown fault "${spec}" (grammar: ${INJECT_GRAMMAR})`);
  }
}
