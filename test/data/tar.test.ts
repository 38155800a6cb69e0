// The ustar reader: reads archives from our writer and from GNU tar, long names, and stops with
// a clear error on a truncated or damaged archive after yielding every complete entry.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { encodeTar, readTarEntries, TarFormatError, type TarEntry } from '@dalle/data';
import { FAST } from '../helpers/timeouts.ts';
import { makeTempDir } from './fixtures.ts';

async function readAll(file: string): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of readTarEntries(file)) out.push(e);
  return out;
}

function hasGnuTar(): boolean {
  try {
    execFileSync('tar', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('data/tar', function () {
  this.timeout(FAST);
  let dir: string;
  const longName = `${'deep/'.repeat(30)}file-with-a-long-name.txt`;
  const files = [
    { name: 'a.txt', data: Buffer.from('hello') },
    { name: 'empty.bin', data: Buffer.alloc(0) },
    { name: 'block.bin', data: Buffer.alloc(512, 7) },
    { name: 'odd.bin', data: Buffer.alloc(1300, 3) },
    { name: longName, data: Buffer.from('long') },
  ];

  before(async () => {
    dir = await makeTempDir('tar');
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('reads back what encodeTar wrote, long names included', async () => {
    const file = path.join(dir, 'ours.tar');
    await fsp.writeFile(file, encodeTar(files));
    const got = await readAll(file);
    assert.deepEqual(got.map((e) => e.name), files.map((f) => f.name));
    got.forEach((e, i) => assert.ok(e.data.equals(files[i].data), e.name));
  });

  it('reads archives written by GNU tar (ustar and pax formats)', async function () {
    if (!hasGnuTar()) this.skip();
    const src = path.join(dir, 'src');
    for (const f of files) {
      await fsp.mkdir(path.join(src, path.dirname(f.name)), { recursive: true });
      await fsp.writeFile(path.join(src, f.name), f.data);
    }
    for (const format of ['ustar', 'pax', 'gnu']) {
      const file = path.join(dir, `${format}.tar`);
      const names = format === 'ustar' ? files.slice(0, 4).map((f) => f.name) : files.map((f) => f.name);
      execFileSync('tar', [`--format=${format}`, '-cf', file, '-C', src, ...names]);
      const got = await readAll(file);
      assert.deepEqual(got.map((e) => e.name), names, format);
      got.forEach((e, i) => assert.ok(e.data.equals(files[i].data), `${format}: ${e.name}`));
    }
  });

  it('yields the complete entries of a truncated archive, then throws TarFormatError', async () => {
    const full = encodeTar(files.slice(0, 4));
    const file = path.join(dir, 'cut.tar');
    await fsp.writeFile(file, full.subarray(0, 512 * 4 + 100)); // a.txt, empty.bin, half of block.bin
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const e of readTarEntries(file)) seen.push(e.name);
    }, TarFormatError);
    assert.deepEqual(seen, ['a.txt', 'empty.bin']);
  });

  it('refuses a header whose checksum does not match', async () => {
    const bytes = encodeTar(files.slice(0, 1));
    bytes[10] ^= 0xff;
    const file = path.join(dir, 'bad.tar');
    await fsp.writeFile(file, bytes);
    await assert.rejects(readAll(file), /checksum/);
  });
});
