// The bad-input check every flag's table shares: parseArgs refuses argv with exit code 2 and one
// line, "tlbsync-emu: " and a message matching re.
import { expect } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';

export function expectUsageError(argv: readonly string[], re: RegExp): void {
  const out = parseArgs(argv);
  expect(out.kind).toBe('exit');
  if (out.kind !== 'exit') return;
  expect(out.code).toBe(2);
  expect(out.output.endsWith('\n')).toBe(true);
  expect(out.output.trimEnd().split('\n')).toHaveLength(1);
  expect(out.output.replace(/^tlbsync-emu: /, '').trimEnd()).toMatch(re);
}
