// A second thread that does the device's side of a run to a rig's IOTLB: on request it translates
// pages through the real Iotlb (hardware/iotlb.ts), a miss and a fill each after the rig's TLBIs,
// so the sets' lines are last written on its core, as the CPU worker's DMA leaves them for the SMMU
// worker in a run. The rig waits for each request to finish (a spin on a shared word), so what it
// times next is its own work on lines another core just wrote.
//
// The worker is evaluated from the string below and imports the compiled Iotlb next to this
// module (dist/, or the bench's snapshot of it), so it needs no worker script of its own.
import { Worker } from 'node:worker_threads';
import type { LayoutParams, SharedViews } from '../../hardware/layout.js';

/** Int32 words of the control buffer: request number, done number (own lines), arguments. */
const REQ = 0;
const DONE = 16;
const ARG = 32;
const STOP = -1;

const module = (path: string): string => new URL(path, import.meta.url).href;

const PEER = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  const { computeLayout } = await import(workerData.layoutUrl);
  const { Iotlb } = await import(workerData.iotlbUrl);
  const { SPIN } = await import(workerData.waitUrl);
  const iotlb = new Iotlb(new Int32Array(workerData.sab), computeLayout(workerData.params), SPIN);
  const ctl = new Int32Array(workerData.ctl);
  parentPort.postMessage('ready');
  for (let seen = 0; ; ) {
    let k;
    while ((k = Atomics.load(ctl, ${REQ})) === seen) {}
    if (k === ${STOP}) break;
    seen = k;
    const asid = ctl[${ARG}], page = ctl[${ARG + 1}], n = ctl[${ARG + 2}];
    for (let p = 0; p < n; p++) iotlb.translate(asid, page + p);
    Atomics.store(ctl, ${DONE}, k);
  }
})();
`;

export interface IotlbPeer {
  /** Translates `count` pages from `page` on the peer's thread; returns when it is done. */
  fill(asid: number, page: number, count: number): void;
  stop(): Promise<void>;
}

export async function startIotlbPeer(views: SharedViews, params: LayoutParams): Promise<IotlbPeer> {
  const ctl = new Int32Array(new SharedArrayBuffer(256));
  const worker = new Worker(PEER, {
    eval: true,
    workerData: {
      sab: views.sab,
      ctl: ctl.buffer,
      params,
      layoutUrl: module('../../hardware/layout.js'),
      iotlbUrl: module('../../hardware/iotlb.js'),
      waitUrl: module('../../concurrency/wait.js'),
    },
  });
  const failed = new Promise<never>((_, rej) => worker.once('error', rej));
  failed.catch(() => {});
  const exited = new Promise<void>((res) => worker.once('exit', () => res()));
  await Promise.race([new Promise((res) => worker.once('message', res)), failed]);
  let k = 0;
  return {
    fill(asid, page, count) {
      ctl[ARG] = asid;
      ctl[ARG + 1] = page;
      ctl[ARG + 2] = count;
      Atomics.store(ctl, REQ, ++k);
      while (Atomics.load(ctl, DONE) !== k);
    },
    async stop() {
      Atomics.store(ctl, REQ, STOP);
      await exited;
    },
  };
}
