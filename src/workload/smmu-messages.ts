// The contract between the orchestrator and the SMMU worker (workers/smmu-worker.ts): what it is
// started with and what it posts back. Declared here so that src/ never imports from workers/.
import type { SmmuTiming } from '../hardware/smmu-engine.js';
import type { LayoutParams } from '../hardware/layout.js';
import type { HandOffElision, WaitPolicy } from '../concurrency/wait.js';

export interface SmmuWorkerData {
  readonly sab: SharedArrayBuffer;
  readonly layout: LayoutParams;
  /** layoutFingerprint() of the orchestrator's layout: the worker refuses a layout of its own
   *  that differs (workload/regions.ts workerLayout). */
  readonly fingerprint: string;
  readonly timing: SmmuTiming;
  readonly idlePolicy: WaitPolicy;
  /** As CpuTask.handOffElision, for the SMMU's CONS, MSI and IOTLB hand-offs; absent: never. */
  readonly handOffElision?: HandOffElision | null;
  readonly log: boolean;
  readonly trace: boolean;
}

/** Messages to the orchestrator. */
export type SmmuMessage = { type: 'log'; chunk: Uint8Array } | { type: 'done' };
