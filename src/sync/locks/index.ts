// The registry of lock algorithms, by the names --lock accepts (LOCK_NAMES in ../lock.ts).
import { LOCK_NAMES, type LockAlgorithm, type LockName } from '../lock.js';
import { tas } from './tas.js';
import { ttas } from './ttas.js';
import { ticket } from './ticket.js';
import { mcs } from './mcs.js';
import { spinPark } from './spin-park.js';

export const LOCKS: Record<LockName, LockAlgorithm> = {
  tas,
  ttas,
  ticket,
  mcs,
  'spin-park': spinPark,
};

export function getLockAlgorithm(name: string): LockAlgorithm {
  if (!Object.hasOwn(LOCKS, name)) {
    throw new Error(`unknown lock '${name}': expected one of ${LOCK_NAMES.join(', ')}`);
  }
  return LOCKS[name as LockName];
}
