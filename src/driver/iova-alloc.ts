// Builds a CPU's IOVA allocator for --iova: the rbtree alone (alloc_iova/free_iova), or the
// per-CPU rcache in front of it (alloc_iova_fast/free_iova_fast), with every lock it takes.
import type { IovaMode } from '../config/config.js';
import { iovaLockOff, type Layout } from '../hardware/layout.js';
import { IovaDomain, type IovaAllocator, type IovaLock } from './iova.js';
import { IovaRcache, rcacheCpus, rcacheLockOff, rcacheSlotOf } from './iova-rcache.js';

/** The lockstat class of each IOVA lock: iova_rbtree_lock, cpu_rcache->lock, rcache->lock. */
export type IovaLockKind = 'rbtree' | 'rcache' | 'depot';

export interface BuiltIova<L extends IovaLock> {
  readonly allocator: IovaAllocator;
  /** Every lock object this CPU built, so the loop can switch their statistics block and ring. */
  readonly locks: readonly L[];
}

export function buildIovaAllocator<L extends IovaLock>(
  mode: IovaMode,
  i32: Int32Array,
  layout: Layout,
  cpu: number,
  domain: number,
  lock: (byteOffset: number, kind: IovaLockKind) => L,
): BuiltIova<L> {
  const rbtreeLock = lock(iovaLockOff(layout, domain), 'rbtree');
  const rbtree = new IovaDomain(i32, layout, domain, rbtreeLock);
  if (mode === 'rbtree') return { allocator: rbtree, locks: [rbtreeLock] };
  const depot = lock(rcacheLockOff(layout, domain, -1), 'depot');
  const cpuLocks: L[] = [];
  for (let k = 0; k < rcacheCpus(layout); k++)
    cpuLocks.push(lock(rcacheLockOff(layout, domain, k), 'rcache'));
  const allocator = new IovaRcache(i32, layout, domain, rcacheSlotOf(layout, cpu), rbtree, {
    depot,
    cpu: cpuLocks,
  });
  return { allocator, locks: [rbtreeLock, depot, ...cpuLocks] };
}
