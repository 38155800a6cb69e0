// A small streaming tar (POSIX ustar) reader and writer for WebDataset-style shards.
// Follows the ustar layout of POSIX.1-1988 (512-byte headers, octal fields, name prefix) plus
// the pax 'x' path record and GNU 'L' long names that common writers emit for long paths.
import { createReadStream } from 'node:fs';
import { writeFileAtomic } from '@dalle/core';

const BLOCK = 512;

export interface TarEntry {
  /** Full path inside the archive ('/'-separated). */
  name: string;
  /** '0' regular file, '5' folder, ... (ustar typeflag; NUL is read as '0'). */
  type: string;
  data: Buffer;
}

/** Thrown for a malformed or truncated archive; callers decide whether to skip the rest. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

function readString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

/** Octal numeric field; GNU base-256 when the high bit of the first byte is set. */
function readNumber(buf: Buffer, start: number, length: number): number {
  if (buf[start] & 0x80) {
    let n = buf[start] & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + buf[start + i];
    return n;
  }
  const text = readString(buf, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad octal field "${text}"`);
  return parseInt(text, 8);
}

function headerChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return sum;
}

/** Parses pax extended-header records ("<len> key=value\n"). */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.toString('utf8', pos, space), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** Pulls exact byte counts out of a chunked stream. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Exactly `n` bytes, or fewer only at end of stream. */
  async read(n: number): Promise<Buffer> {
    while (this.size < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else {
        this.chunks.push(r.value);
        this.size += r.value.length;
      }
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    return out;
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/**
 * Streams the regular-file entries of a tar file in archive order, one in memory at a time.
 * Throws TarFormatError on a bad header checksum or a truncated entry (after yielding every
 * entry before it).
 */
export async function* readTarEntries(file: string): AsyncGenerator<TarEntry> {
  const queue = new ByteQueue(createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>);
  try {
    let longName: string | undefined;
    let paxPath: string | undefined;
    for (;;) {
      const header = await queue.read(BLOCK);
      if (header.length === 0) return; // no end-of-archive blocks: tolerated
      if (header.length < BLOCK) throw new TarFormatError(`truncated header (${header.length} of ${BLOCK} bytes)`);
      if (header.every((b) => b === 0)) return; // end-of-archive marker
      const stored = readNumber(header, 148, 8);
      if (stored !== headerChecksum(header)) throw new TarFormatError(`header checksum mismatch (stored ${stored}, computed ${headerChecksum(header)})`);
      const size = readNumber(header, 124, 12);
      const type = header[156] === 0 ? '0' : String.fromCharCode(header[156]);
      const magic = header.toString('latin1', 257, 262);
      const prefix = magic === 'ustar' ? readString(header, 345, 155) : '';
      const baseName = readString(header, 0, 100);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      const body = await queue.read(padded);
      if (body.length < padded) throw new TarFormatError(`truncated entry "${baseName}" (${body.length} of ${padded} bytes)`);
      const data = body.subarray(0, size);
      if (type === 'L') {
        longName = data.toString('utf8').replace(/\0+$/, '');
        continue;
      }
      if (type === 'x') {
        paxPath = parsePax(data).path;
        continue;
      }
      if (type === 'g') continue; // global pax header: nothing we use
      const name = paxPath ?? longName ?? (prefix ? `${prefix}/${baseName}` : baseName);
      longName = undefined;
      paxPath = undefined;
      if (type === '0' || type === '7') yield { name, type: '0', data: Buffer.from(data) };
    }
  } finally {
    await queue.close();
  }
}

function writeOctal(buf: Buffer, value: number, start: number, length: number): void {
  buf.write(value.toString(8).padStart(length - 1, '0') + '\0', start, length, 'latin1');
}

/** One ustar header block for a regular file; long names go through a pax 'x' record. */
function fileHeader(name: string, size: number, type = '0'): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(Buffer.byteLength(name) <= 100 ? name : name.slice(-100), 0, 100, 'utf8');
  writeOctal(header, 0o644, 100, 8);
  writeOctal(header, 0, 108, 8);
  writeOctal(header, 0, 116, 8);
  writeOctal(header, size, 124, 12);
  writeOctal(header, 0, 136, 12); // mtime 0: identical inputs give identical bytes
  header.write(type, 156, 1, 'latin1');
  header.write('ustar\0', 257, 6, 'latin1');
  header.write('00', 263, 2, 'latin1');
  header.write(`${headerChecksum(header).toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return header;
}

function pad(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Encodes files (in the given order) as a ustar archive. */
export function encodeTar(files: { name: string; data: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    if (Buffer.byteLength(f.name) > 100) {
      const body = `path=${f.name}\n`;
      let len = Buffer.byteLength(body) + 3;
      while (Buffer.byteLength(`${len} ${body}`) !== len) len = Buffer.byteLength(`${len} ${body}`);
      const record = Buffer.from(`${len} ${body}`, 'utf8');
      parts.push(fileHeader('PaxHeader', record.length, 'x'), record, pad(record.length));
    }
    parts.push(fileHeader(f.name, f.data.length), Buffer.from(f.data), pad(f.data.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** Writes a ustar archive to `file` atomically. */
export async function writeTar(file: string, files: { name: string; data: Uint8Array }[]): Promise<void> {
  await writeFileAtomic(file, encodeTar(files));
}
