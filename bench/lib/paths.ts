// Where the bench reads, writes and runs from. The same module runs from source (vitest renders
// from saved results) and compiled (dist/bench/lib), so the repository is found by walking up to
// its package.json rather than by a fixed number of '..'.
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function findRoot(from: string): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) throw new Error(`bench: no package.json above ${from}`);
  }
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const BUILD = join(ROOT, 'bench/build');
export const TMP = join(BUILD, 'tmp');
export const RESULTS = join(ROOT, 'bench/results');
export const TEMPLATES = join(ROOT, 'bench/templates');
export const DOC = join(ROOT, 'docs/performance.md');
export const C_SRC = join(ROOT, 'bench/locks.c');
export const C_BIN = join(BUILD, 'locks');
export const TWIN_SRC = join(ROOT, 'bench/twin.c');
export const TWIN_BIN = join(BUILD, 'twin');

// Everything the bench runs comes from a copy of dist/ taken at start: other people rebuilding
// dist/ while the bench runs (a shared checkout) would otherwise change, or break, the code under
// measurement half-way. The copy lives outside the repository (so that no linter walks it), with
// the project's package.json (ESM) and a link to its node_modules beside it.
const SNAP = join(tmpdir(), `tlbsync-bench-${process.pid}`);
const SNAP_DIST = join(SNAP, 'dist');
export const RUN_JS = join(SNAP_DIST, 'run.js');
export const WORKER_JS = join(SNAP_DIST, 'bench/workers/bench-worker.js');
export const PROBE_JS = join(SNAP_DIST, 'bench/startup-probe.js');
export const RSS_WRAP_JS = join(SNAP_DIST, 'bench/rss-wrap.js');
export const MAIN_URL = pathToFileURL(join(SNAP_DIST, 'src/index.js')).href;
export const SYNC_RTT_URL = pathToFileURL(join(SNAP_DIST, 'src/run/calibrate/sync-rtt.js')).href;

/** A path as the report shows it: relative to the snapshot or the repository. */
export const rel = (f: string): string => f.replace(`${SNAP}/`, '').replace(`${ROOT}/`, '');

export function snapshotDist(): void {
  rmSync(SNAP, { recursive: true, force: true });
  mkdirSync(SNAP, { recursive: true });
  cpSync(join(ROOT, 'dist'), SNAP_DIST, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(SNAP, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(SNAP, 'node_modules'), 'dir');
  process.on('exit', () => rmSync(SNAP, { recursive: true, force: true }));
}
export const CALIBRATE_URL = pathToFileURL(join(SNAP_DIST, 'src/run/calibrate/calibrate.js')).href;
