// Small hashing helpers: sha256 of bytes/files (weights identity, manifests) and FNV-1a 32
// (the deterministic split rule in shared DATA.md).
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  return sha256(await fsp.readFile(file));
}

/** FNV-1a, 32-bit, over the UTF-8 bytes of `s` (offset 0x811c9dc5, prime 0x01000193). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
