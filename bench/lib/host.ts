// What the bench runs on, and how busy the rest of the machine was while it measured: on a small
// VM shared with other jobs, a sample taken while another process had a core is a sample of that
// process too, so every sample records the cores other processes kept busy meanwhile.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

export interface HostDescription {
  cores: number;
  cpuModel: string;
  node: string;
  kernel: string;
  gcc: string;
  date: string;
  loadAverage: number[];
}

export function describeHost(): HostDescription {
  let gcc = 'not found';
  try {
    gcc = execFileSync('gcc', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    // reported as not found
  }
  return {
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    gcc,
    date: new Date().toISOString(),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const TICKS_PER_SEC = 100; // USER_HZ on Linux

/** Busy seconds of the whole machine (all cores) so far, or NaN where /proc/stat is missing. */
function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_SEC;
  } catch {
    return NaN;
  }
}

/** CPU seconds of this process and of its children that have exited (utime+stime+cutime+cstime). */
function ownBusySeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name (field 2) may contain spaces: split after its closing parenthesis.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of stat(5) are at indexes 11-14 here (field 3, state, is index 0).
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS_PER_SEC;
  } catch {
    return NaN;
  }
}

export interface NoiseProbe {
  /** Cores kept busy by processes other than the bench and its children since start(). */
  stop(): { othersCores: number; ownCores: number };
}

export function startNoiseProbe(): NoiseProbe {
  const m0 = machineBusySeconds();
  const o0 = ownBusySeconds();
  const t0 = performance.now();
  return {
    stop() {
      const secs = (performance.now() - t0) / 1000;
      const machine = (machineBusySeconds() - m0) / secs;
      const own = (ownBusySeconds() - o0) / secs;
      const others = Math.max(0, machine - own);
      return {
        othersCores: Number.isFinite(others) ? Math.round(others * 100) / 100 : NaN,
        ownCores: Number.isFinite(own) ? Math.round(own * 100) / 100 : NaN,
      };
    },
  };
}
