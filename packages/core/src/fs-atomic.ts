// Atomic file and folder writes: write beside the target under a temporary name, then rename.
// A crash or Ctrl-C mid-write leaves the previous version intact, never a half-written file.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Writes `data` to `file` atomically (temp file + fsync + rename). Creates parent folders. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  const handle = await fsp.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Fills a folder atomically: `fill(tmpDir)` writes into a fresh temporary folder, which then
 * replaces `dir` (an existing `dir` is moved aside first and removed only after the swap).
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  await fsp.mkdir(path.dirname(dir), { recursive: true });
  const tmp = tempName(dir);
  await fsp.mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const old = tempName(dir) + '.old';
  let moved = false;
  try {
    await fsp.rename(dir, old);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fsp.rename(tmp, dir);
  if (moved) await fsp.rm(old, { recursive: true, force: true });
}
