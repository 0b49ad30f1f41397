// The SMMU worker on a fresh layout of its own, with nothing else of a run around it: what
// `replay` (run/replay.ts), the calibration rigs (run/calibrate/smmu-peer.ts) and tests that drive
// the command queue by hand each need. The caller probes it (driver/probe.ts) and stops it
// (CR0.CMDQEN clear, then terminate); the orchestrator builds its own, with the CPU workers.
import { Worker } from 'node:worker_threads';
import type { WaitPolicy } from '../concurrency/wait.js';
import {
  allocate,
  computeLayout,
  layoutFingerprint,
  type Layout,
  type LayoutParams,
  type SharedViews,
} from '../hardware/layout.js';
import { RegisterFile } from '../hardware/regfile.js';
import type { SmmuTiming } from '../hardware/smmu-engine.js';
import { resetSmmu, type SmmuFeatures } from '../hardware/smmu-reset.js';
import { workerFile } from './paths.js';
import type { SmmuWorkerData } from './smmu-messages.js';

export interface StandaloneSmmuOptions {
  /** The ID registers the reset advertises. */
  readonly features: SmmuFeatures;
  readonly timing: SmmuTiming;
  /** How the worker waits for a doorbell when idle. */
  readonly idlePolicy: WaitPolicy;
  /** Send consumed commands to the parent ('log' messages, workload/smmu-messages.ts). */
  readonly log?: boolean;
}

export interface StandaloneSmmu {
  readonly layout: Layout;
  readonly views: SharedViews;
  readonly regs: RegisterFile;
  readonly worker: Worker;
}

/** Allocates `params`' layout, resets the SMMU's registers and starts the SMMU worker on it. */
export function startStandaloneSmmu(params: LayoutParams, o: StandaloneSmmuOptions): StandaloneSmmu {
  const layout = computeLayout(params);
  const views = allocate(layout);
  const regs = new RegisterFile(views.i32, layout);
  resetSmmu(regs, o.features);
  const workerData: SmmuWorkerData = {
    sab: views.sab,
    layout: params,
    fingerprint: layoutFingerprint(layout),
    timing: o.timing,
    idlePolicy: o.idlePolicy,
    log: o.log ?? false,
    trace: false,
  };
  return { layout, views, regs, worker: new Worker(workerFile('smmu-worker'), { workerData }) };
}
