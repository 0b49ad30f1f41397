// Runs a command as a child process and times it from just before spawn to its exit, so that the
// wall time includes Node's start-up, module loading, worker start-up and shutdown.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { startNoiseProbe } from './host.js';

export interface ChildResult {
  code: number | null;
  signal: string | null;
  /** From just before spawn() to the 'exit' event, ms. */
  wallMs: number;
  /** Monotonic clock (process.hrtime, ns) just before spawn(): the child's nowNs() uses the same clock. */
  spawnNs: number;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  othersCores: number;
}

export function runChild(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<ChildResult> {
  return new Promise((resolve) => {
    const noise = startNoiseProbe();
    const spawnNs = Number(process.hrtime.bigint());
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // Only this child, by its pid: it runs the emulator's threads, not processes of its own.
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('exit', (code, signal) => {
      const wallMs = performance.now() - t0;
      clearTimeout(timer);
      const { othersCores } = noise.stop();
      // Let the pipes drain before resolving.
      child.on('close', () =>
        resolve({ code, signal, wallMs, spawnNs, timedOut, stdout, stderr, othersCores }),
      );
    });
  });
}
