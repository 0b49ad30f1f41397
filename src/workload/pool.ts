// The CPU workers: a piscina pool sized exactly to the emulated CPU count (minThreads = maxThreads,
// never shrinking), created once per --cpus value of an invocation and reused by every run with
// that many CPUs, so thread start-up is paid once and is not inside any measured window.
//
// The threads are started by the first run(), not by the constructor: the orchestrator submits the
// CPU tasks only after the SMMU worker is up and the driver has probed it, and the SMMU's isolate
// then boots alone instead of behind --cpus others on a host with fewer cores (docs/performance.md
// has the start-up measured both ways).
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { workerFile } from './paths.js';
import type { CpuResult, CpuTask } from './task.js';

export class CpuPool {
  private pool: Piscina | null = null;
  private ended: 'closed' | 'destroyed' | null = null;

  constructor(readonly cpus: number) {}

  private started(): Piscina {
    this.pool ??= new Piscina({
      // A file: URL, so piscina import()s the worker rather than require()ing an ES module, which
      // trips a Node 20 module-loader assertion when many workers start at once.
      filename: pathToFileURL(workerFile('cpu-worker')).href,
      minThreads: this.cpus,
      maxThreads: this.cpus,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
    });
    return this.pool;
  }

  run(task: CpuTask): Promise<CpuResult> {
    if (this.ended !== null) return Promise.reject(new Error(`the CPU pool was ${this.ended}`));
    return this.started().run(task) as Promise<CpuResult>;
  }

  /** Graceful: waits for running tasks. */
  async close(): Promise<void> {
    this.ended ??= 'closed';
    await this.pool?.close();
  }

  /** Immediate: terminates threads even if a task is stuck spinning. */
  async destroy(): Promise<void> {
    this.ended = 'destroyed';
    await this.pool?.destroy();
  }
}
