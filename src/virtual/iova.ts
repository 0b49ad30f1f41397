// The IOVA allocator on the virtual machine: the threads engine's own allocator
// (driver/iova-alloc.ts: the rbtree alone, or dma-iommu's per-CPU rcache in front of it) run on the
// run's real layout, its locks (the run's --lock algorithm, state.ts lockAt) played on the coherence
// model, counted into the CPU's VCpuStats.iovaLocks by class. The allocator is synchronous code, so
// it cannot stop at a lock: it is called with locks that only record what it takes, and the record
// is then played in virtual time.
//
// Linearisation: the operation's first lock (the CPU's own cpu_rcache lock when the rcache serves
// the buffer size, else iova_rbtree_lock) is acquired on the machine BEFORE the call, so the data
// change happens while that lock is held, in the order CPUs got it. Locks taken inside the call
// (the depot lock, the rbtree lock of a magazine going back or of an rcache miss) are then acquired
// and released in the recorded order, each holding for its data work: `iovaRbtreeNs` per IOVA
// inserted or erased under the rbtree lock, `iovaMagazineNs` per cpu_rcache or depot section. With
// --iova rbtree the order of data changes is exactly the rbtree lock's order; with the rcache the
// depot's and rbtree's changes inside an operation take the order of the CPU locks (uncontended:
// only their own CPU takes them, but for the exhaustion flush), not of the inner locks.
import { buildIovaAllocator, type IovaLockKind } from '../driver/iova-alloc.js';
import { IovaDomain, type IovaAllocator, type IovaLock } from '../driver/iova.js';
import { rcacheServes, rcacheSlotOf } from '../driver/iova-rcache.js';
import type { IovaMode } from '../config/config.js';
import type { Layout } from '../hardware/layout.js';
import type { IovaLockClass } from './cpu-stats.js';
import { delay, type Req } from './requests.js';
import type { VInstrumentedLock } from './locks.js';

const CLASS: Record<IovaLockKind, IovaLockClass> = { rbtree: 'iova', rcache: 'rcache', depot: 'depot' };

class RecordingLock implements IovaLock {
  /** The rbtree's free count when this (rbtree) lock was taken: the work is what changed. */
  freeAtAcquire = 0;

  constructor(
    readonly kind: IovaLockKind,
    readonly v: VInstrumentedLock,
    private readonly owner: VIovaAllocator,
  ) {}

  acquire(): void {
    this.owner.recordAcquire(this);
  }

  release(): void {
    this.owner.recordRelease(this);
  }
}

interface Step {
  readonly lock: RecordingLock;
  readonly acquire: boolean;
  /** Release: data work done under the lock, ns. */
  readonly workNs: number;
}

export interface IovaCosts {
  readonly iovaRbtreeNs: number;
  readonly iovaMagazineNs: number;
}

export class VIovaAllocator {
  private readonly allocator: IovaAllocator;
  private readonly first: RecordingLock;
  private pendingFirst: RecordingLock | null = null;
  private steps: Step[] = [];

  constructor(
    mode: IovaMode,
    private readonly i32: Int32Array,
    private readonly layout: Layout,
    private readonly cpu: number,
    private readonly domain: number,
    /** The machine's lock at a layout byte offset (one instance per lock, shared by the CPUs). */
    vlock: (byteOffset: number, cls: IovaLockClass) => VInstrumentedLock,
    private readonly costs: IovaCosts,
  ) {
    const built = buildIovaAllocator(
      mode,
      i32,
      layout,
      cpu,
      domain,
      (off, kind) => new RecordingLock(kind, vlock(off, CLASS[kind]), this),
    );
    this.allocator = built.allocator;
    // [rbtree] or [rbtree, depot, cpu 0, cpu 1, ...]: the CPU's own cpu_rcache lock comes first
    // when the rcache serves this size (iova-rcache.ts alloc/free), else the rbtree lock.
    this.first =
      mode === 'rcache' && rcacheServes(layout.slotPages)
        ? built.locks[2 + rcacheSlotOf(layout, cpu)]
        : built.locks[0];
  }

  /** alloc_iova_fast / alloc_iova: the first VA page of a free IOVA, or -1 (space exhausted). */
  *alloc(): Generator<Req, number, number> {
    return yield* this.play(() => this.allocator.alloc());
  }

  /** free_iova_fast / free_iova. */
  *free(vaPage: number): Generator<Req, void, number> {
    yield* this.play(() => {
      this.allocator.free(vaPage);
      return 0;
    });
  }

  private *play(op: () => number): Generator<Req, number, number> {
    const first = this.first;
    yield* first.v.acquire(this.cpu);
    this.pendingFirst = first;
    this.steps = [];
    const r = op();
    if (this.pendingFirst !== null)
      throw new Error(`virtual iova: the allocator did not take its ${first.kind} lock first`);
    for (const s of this.steps) {
      if (s.acquire) yield* s.lock.v.acquire(this.cpu);
      else {
        if (s.workNs > 0) yield delay(s.workNs);
        yield* s.lock.v.release(this.cpu);
      }
    }
    return r;
  }

  recordAcquire(l: RecordingLock): void {
    if (l.kind === 'rbtree') l.freeAtAcquire = IovaDomain.freeCount(this.i32, this.layout, this.domain);
    if (this.pendingFirst === l) {
      this.pendingFirst = null;
      return;
    }
    this.steps.push({ lock: l, acquire: true, workNs: 0 });
  }

  recordRelease(l: RecordingLock): void {
    const c = this.costs;
    const workNs =
      l.kind === 'rbtree'
        ? c.iovaRbtreeNs *
          Math.max(1, Math.abs(IovaDomain.freeCount(this.i32, this.layout, this.domain) - l.freeAtAcquire))
        : c.iovaMagazineNs;
    this.steps.push({ lock: l, acquire: false, workNs });
  }
}
