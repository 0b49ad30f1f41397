// The registry of lock algorithms, by the names --lock accepts (LOCK_NAMES in ../lock.ts).
import { LOCK_NAMES, type LockAlgorithm, type LockName } from '../lock.js';
import { tas } from './tas.js';
import { ttas } from './ttas.js';
import { ticket } from './ticket.js';
import { mcs } from './mcs.js';
import { spinPark } from './spin-park.js';
import { checkRegion } from '../../hardware/region.js';

/** Every instance is checked once, where it is built, against the bytes its algorithm declares. */
const checked = (a: LockAlgorithm): LockAlgorithm => ({
  ...a,
  create(i32, byteOffset, cpus, policy) {
    checkRegion(i32.buffer, `lock (${a.name})`, byteOffset, a.bytes(cpus));
    return a.create(i32, byteOffset, cpus, policy);
  },
});

export const LOCKS: Record<LockName, LockAlgorithm> = {
  tas: checked(tas),
  ttas: checked(ttas),
  ticket: checked(ticket),
  mcs: checked(mcs),
  'spin-park': checked(spinPark),
};

export function getLockAlgorithm(name: string): LockAlgorithm {
  if (!Object.hasOwn(LOCKS, name)) {
    throw new Error(`unknown lock '${name}': expected one of ${LOCK_NAMES.join(', ')}`);
  }
  return LOCKS[name as LockName];
}
