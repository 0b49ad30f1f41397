// The emulator's own cost per command, each side alone in one thread (src/run/calibrate/rigs.ts):
// a figure that does not depend on how two threads share the host's cores, for comparing builds
// side by side (docs/performance.md, "Hot path").
// Usage: node dist/bench/hotpath.js [--trials N] [--side cpu|smmu|both|unmap|per-page|batched]
//   [--stats full|counters] [--elide]
// --elide: the hand-offs as a --wait spin run makes them while it measures (release stores with no
// fence after them: concurrency/wait.ts handOff); without it, fenced, as this tool always measured.
// per-page, batched: a whole unmap's CPU side with an instant SMMU (bench/lib/sync-rig.ts).
// Prints the median and minimum ns per command (per unmap for --side unmap) over the trials.
import { cpuRig, smmuRig } from '../src/run/calibrate/rigs.js';
import { asSpinRun, trial } from './lib/floor.js';
import { unmapRig } from './lib/unmap-rig.js';
import { syncRig } from './lib/sync-rig.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

function summary(name: string, xs: number[], per = 'command'): string {
  const s = [...xs].sort((a, b) => a - b);
  const how = elide ? ', hand-offs elided' : '';
  return `${name}: median ${s[s.length >> 1].toFixed(1)} ns/${per}, min ${s[0].toFixed(1)} (${xs.length} trials${how})`;
}

const trials = Number(arg('--trials', '31'));
const side = arg('--side', 'both');
const elide = process.argv.includes('--elide');

function main(): void {
  if (side === 'unmap') {
    const rig = unmapRig();
    console.log(
      summary(
        'iommu_unmap without its commands (PTE clears, oracle stamp)',
        trial(trials, () => rig.cycle(20_000)),
        'unmap',
      ),
    );
  } else if (side === 'per-page' || side === 'batched') {
    const rig = syncRig(side === 'per-page', arg('--stats', 'full') === 'full');
    const unmaps = 2000;
    const xs = trial(trials, () => rig.unmap(unmaps) * rig.commandsPerUnmap);
    console.log(summary(`${side} unmap, CPU side, instant SMMU (locked, ttas)`, xs));
  } else if (side !== 'smmu') {
    const rig = cpuRig(arg('--stats', 'full') === 'full');
    console.log(
      summary(
        'cpu issue (locked, ttas)',
        trial(trials, () => rig.issue(2000)),
      ),
    );
  }
  if (side === 'smmu' || side === 'both') {
    const rig = smmuRig(2000);
    console.log(
      summary(
        'smmu consume (latencies 0)',
        trial(trials, () => rig.consume()),
      ),
    );
  }
}

if (elide) asSpinRun(main);
else main();
