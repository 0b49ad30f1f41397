// Result files are written whole or not at all: write a temporary file beside the target, then
// rename it over the target (atomic on POSIX within one filesystem). A crash mid-write leaves at
// most a stray .tmp file, never a truncated result.
import {
  closeSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const target = resolve(path);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    if (Array.isArray(data)) writeFileSync(tmp, Buffer.concat(data as Uint8Array[]));
    else writeFileSync(tmp, data as string | Uint8Array);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Throws an Error whose message names the problem if `path` could not be written, checked before a
 * run starts by actually creating (and removing) a probe file where the result will go, since
 * permission bits say little when running as root.
 */
export function checkWritable(path: string): void {
  const target = resolve(path);
  const st = statOrNull(target);
  if (st?.isDirectory()) throw new Error('it is a directory');
  if (st) {
    closeSync(openSync(target, 'r+'));
    return;
  }
  // The directory may not exist yet (it is created at write time): probe the closest ancestor.
  let dir = dirname(target);
  for (let d = statOrNull(dir); !d; d = statOrNull(dir)) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no existing directory above it`);
    dir = up;
  }
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  const probe = join(dir, `.tlbsync-emu-probe-${process.pid}`);
  closeSync(openSync(probe, 'wx'));
  unlinkSync(probe);
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw new Error(`${dirname(p)} is not a directory`);
    throw e;
  }
}
