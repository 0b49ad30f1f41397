// The CPU workers: a piscina pool sized exactly to the emulated CPU count (minThreads = maxThreads,
// never shrinking), created once per --cpus value of an invocation and reused by every run with
// that many CPUs, so thread start-up is paid once and is not inside any measured window.
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { workerFile } from './paths.js';
import type { CpuResult, CpuTask } from './task.js';

export class CpuPool {
  private readonly pool: Piscina;

  constructor(readonly cpus: number) {
    this.pool = new Piscina({
      // A file: URL, so piscina import()s the worker rather than require()ing an ES module, which
      // trips a Node 20 module-loader assertion when many workers start at once.
      filename: pathToFileURL(workerFile('cpu-worker')).href,
      minThreads: cpus,
      maxThreads: cpus,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
    });
  }

  run(task: CpuTask): Promise<CpuResult> {
    return this.pool.run(task) as Promise<CpuResult>;
  }

  /** Graceful: waits for running tasks. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Immediate: terminates threads even if a task is stuck spinning. */
  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
