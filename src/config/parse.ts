// Parsing and validation of flag values. Every check happens before any worker starts; a bad value
// becomes a UsageError whose message names the flag and says what is allowed, which the CLI prints
// as one line and exits with code 2.

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseCount(flag: string, raw: string, min: number, max: number): number {
  const s = raw.trim();
  if (!/^\d+$/.test(s))
    throw new UsageError(`${flag}: expected a whole number from ${min} to ${max}, got "${raw}"`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`${flag}: ${n} is out of range (allowed: ${min} to ${max})`);
  return n;
}

export function parsePowerOfTwo(flag: string, raw: string, min: number, max: number): number {
  const n = parseCount(flag, raw, min, max);
  if ((n & (n - 1)) !== 0)
    throw new UsageError(`${flag}: ${n} is not a power of two (allowed: 2^k from ${min} to ${max})`);
  return n;
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000 };

/** A duration like 500ms, 2s, 1.5s, 250us; a bare number is seconds (as fio's runtime). Returns ms. */
export function parseDuration(flag: string, raw: string, minMs: number, maxMs: number): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m)?$/.exec(raw.trim());
  if (!m) throw new UsageError(`${flag}: expected a duration like 500ms, 2s or 1m, got "${raw}"`);
  const ms = Number(m[1]) * UNITS[m[2] ?? 's'];
  if (ms < minMs || ms > maxMs)
    throw new UsageError(`${flag}: ${raw} is out of range (allowed: ${fmtMs(minMs)} to ${fmtMs(maxMs)})`);
  return ms;
}

function fmtMs(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  if (ms >= 1) return `${ms}ms`;
  return `${ms * 1000}us`;
}

/** A latency in ns: a whole number, or a duration with a unit (e.g. 1us). */
export function parseNs(flag: string, raw: string, max: number): number {
  const s = raw.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n > max) throw new UsageError(`${flag}: ${n} is out of range (allowed: 0 to ${max} ns)`);
    return n;
  }
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms)$/.exec(s);
  if (!m)
    throw new UsageError(`${flag}: expected nanoseconds (e.g. 100) or a duration like 1us, got "${raw}"`);
  const n = Math.round(Number(m[1]) * UNITS[m[2]] * 1e6);
  if (n > max) throw new UsageError(`${flag}: ${raw} is out of range (allowed: 0 to ${max} ns)`);
  return n;
}

export function parseChoice<T extends string>(flag: string, raw: string, allowed: readonly T[]): T {
  const s = raw.trim();
  if (!(allowed as readonly string[]).includes(s))
    throw new UsageError(`${flag}: unknown value "${raw}" (allowed: ${allowed.join(', ')})`);
  return s as T;
}

/** A comma-separated list of choices, in order, without duplicates. */
export function parseChoiceList<T extends string>(flag: string, raw: string, allowed: readonly T[]): T[] {
  const parts = raw.split(',').map((p) => p.trim());
  if (parts.some((p) => p === ''))
    throw new UsageError(`${flag}: empty item in "${raw}" (allowed: ${allowed.join(', ')})`);
  const out = parts.map((p) => parseChoice(flag, p, allowed));
  const dup = out.find((v, i) => out.indexOf(v) !== i);
  if (dup) throw new UsageError(`${flag}: "${dup}" is listed twice`);
  return out;
}
