// Piscina task: one emulated CPU for one strategy run. The task runs for the whole run (the pool
// has exactly one thread per emulated CPU), so piscina's job is thread lifetime and error
// propagation, not scheduling.
import { runCpu } from '../src/workload/cpu-loop.js';
import type { CpuResult, CpuTask } from '../src/workload/task.js';

export default function cpuWorker(task: CpuTask): CpuResult {
  return runCpu(task);
}
