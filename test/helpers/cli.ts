// The real binary (dist/run.js) in a child process, for the tests of how a run ends: exit code,
// stdout, stderr, and Ctrl-C sent on an event (a stderr line), never after a fixed delay.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const RUN = resolve(__dirname, '../../dist/run.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** A stderr line matched `sigintAfter` (and SIGINT was sent). */
  marked: boolean;
}

/**
 * Runs the CLI; with `sigintAfter`, sends SIGINT once a stderr line matches it: an event, never
 * a fixed delay (a loaded host may not even have started the run by then).
 */
export function runCli(args: string[], opts: { sigintAfter?: RegExp } = {}): Promise<CliResult> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [RUN, ...args]);
    let stdout = '';
    let stderr = '';
    let marked = false;
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => {
      stderr += d;
      if (!marked && opts.sigintAfter?.test(stderr)) {
        marked = true;
        p.kill('SIGINT');
      }
    });
    p.on('exit', (code) => done({ code, stdout, stderr, marked }));
  });
}
