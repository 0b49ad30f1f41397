// Builds a CPU's IOVA allocator for --iova: the rbtree alone (alloc_iova/free_iova), or the
// per-CPU rcache in front of it (alloc_iova_fast/free_iova_fast), with every lock it takes.
import type { IovaMode } from '../config/config.js';
import { iovaLockOff, type Layout } from '../hardware/layout.js';
import type { InstrumentedLock } from '../concurrency/lockstat.js';
import { IovaDomain, type IovaAllocator } from './iova.js';
import { IovaRcache, rcacheCpus, rcacheLockOff, rcacheSlotOf } from './iova-rcache.js';

/** The lockstat class of each IOVA lock: iova_rbtree_lock, cpu_rcache->lock, rcache->lock. */
export type IovaLockKind = 'rbtree' | 'rcache' | 'depot';

export interface BuiltIova {
  readonly allocator: IovaAllocator;
  /** Every lock object this CPU built, so the loop can switch their statistics block and ring. */
  readonly locks: readonly InstrumentedLock[];
}

export function buildIovaAllocator(
  mode: IovaMode,
  i32: Int32Array,
  layout: Layout,
  cpu: number,
  domain: number,
  lock: (byteOffset: number, kind: IovaLockKind) => InstrumentedLock,
): BuiltIova {
  const rbtreeLock = lock(iovaLockOff(layout, domain), 'rbtree');
  const rbtree = new IovaDomain(i32, layout, domain, rbtreeLock);
  if (mode === 'rbtree') return { allocator: rbtree, locks: [rbtreeLock] };
  const depot = lock(rcacheLockOff(layout, domain, -1), 'depot');
  const cpuLocks: InstrumentedLock[] = [];
  for (let k = 0; k < rcacheCpus(layout); k++)
    cpuLocks.push(lock(rcacheLockOff(layout, domain, k), 'rcache'));
  const allocator = new IovaRcache(i32, layout, domain, rcacheSlotOf(layout, cpu), rbtree, {
    depot,
    cpu: cpuLocks,
  });
  return { allocator, locks: [rbtreeLock, depot, ...cpuLocks] };
}
