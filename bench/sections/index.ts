// The bench's sections, in the order they run and appear in docs/performance.md. A new section is
// a module exporting a BenchSection (see section.ts) and one line here.
import { efficiency } from './efficiency.js';
import { locks } from './locks.js';
import { profile } from './profile.js';
import { scaling } from './scaling.js';
import type { BenchSection } from './section.js';
import { startup } from './startup.js';
import { stats } from './stats.js';
import { twin } from './twin.js';
import { virtual } from './virtual.js';

export const SECTIONS: readonly BenchSection<unknown>[] = [
  efficiency,
  locks,
  stats,
  scaling,
  startup,
  profile,
  twin,
  virtual,
];
