// Result files are written whole or not at all: write a temporary file beside the target, then
// rename it over the target (atomic on POSIX within one filesystem). A crash mid-write leaves at
// most a stray .tmp file, never a truncated result.
import { mkdirSync, renameSync, rmSync, writeFileSync, accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

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

/** Throws a message naming the problem if `path` could not be written (checked before a run). */
export function checkWritable(path: string): void {
  const target = resolve(path);
  let dir = dirname(target);
  // The directory may not exist yet (we create it): check the closest ancestor that does.
  for (;;) {
    try {
      if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const up = dirname(dir);
      if (up === dir) throw new Error(`no existing directory above ${target}`);
      dir = up;
    }
  }
  accessSync(dir, constants.W_OK);
  try {
    if (statSync(target).isDirectory()) throw new Error(`${target} is a directory`);
    accessSync(target, constants.W_OK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
