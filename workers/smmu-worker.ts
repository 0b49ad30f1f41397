// The SMMU hardware thread: brings the command queue up when the driver enables it, then consumes
// commands until the driver disables it. Consumed commands of the measured window are streamed to
// the orchestrator in chunks when a command log was asked for.
import { parentPort, workerData } from 'node:worker_threads';
import { SmmuEngine, type CommandSink } from '../src/hardware/smmu-engine.js';
import { elideHandOffFences } from '../src/concurrency/wait.js';
import { regionOff, viewsOf } from '../src/hardware/layout.js';
import { workerLayout } from '../src/workload/regions.js';
import { TraceRing, traceCapacity, traceRingOff, TRACE_REGION } from '../src/trace/ring.js';
import type { SmmuMessage, SmmuWorkerData } from '../src/workload/smmu-messages.js';

const CHUNK_COMMANDS = 65536;

class ChunkedLog implements CommandSink {
  private buf = new Int32Array(CHUNK_COMMANDS * 4);
  private n = 0;

  append(w0: number, w1: number, w2: number, w3: number): void {
    const b = this.buf;
    const o = this.n * 4;
    b[o] = w0;
    b[o + 1] = w1;
    b[o + 2] = w2;
    b[o + 3] = w3;
    if (++this.n === CHUNK_COMMANDS) this.flush();
  }

  flush(): void {
    if (this.n === 0) return;
    const chunk = new Uint8Array(this.buf.buffer, 0, this.n * 16);
    parentPort!.postMessage({ type: 'log', chunk } satisfies SmmuMessage, [this.buf.buffer]);
    this.buf = new Int32Array(CHUNK_COMMANDS * 4);
    this.n = 0;
  }
}

const data = workerData as SmmuWorkerData;
const layout = workerLayout(data.layout, data.fingerprint);
const log = data.log ? new ChunkedLog() : null;
const views = viewsOf(data.sab);
let ring: TraceRing | null = null;
if (data.trace) {
  // The SMMU's ring follows the CPUs' rings in the trace region.
  const cap = traceCapacity(layout.cpus + 1);
  ring = new TraceRing(views.f64, traceRingOff(regionOff(layout, TRACE_REGION), layout.cpus, cap), cap);
}
elideHandOffFences(data.handOffElision ?? null);
const engine = new SmmuEngine(views, layout, data.timing, data.idlePolicy, log, ring);
engine.bringUp();
engine.run();
log?.flush();
parentPort!.postMessage({ type: 'done' } satisfies SmmuMessage);
