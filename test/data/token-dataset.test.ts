// Token datasets: write -> read is exact across shards, and the reader refuses truncated or
// altered shards, manifest mismatches and out-of-range ids with clear messages.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Rng } from '@dalle/core';
import { TokenDatasetWriter, openTokenDataset, recordBytes, type TokenDatasetInfo } from '@dalle/data';
import { FAST } from '../helpers/timeouts.ts';
import { makeTempDir } from './fixtures.ts';

const INFO: TokenDatasetInfo = { textSeqLen: 5, gridSize: 3, codebookSize: 700, textVocabSize: 300, dvaeId: 'dvae-sha', tokenizerId: 'tok-sha' };

function randomRecords(n: number, seed: number): { text: number[]; codes: number[] }[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    text: Array.from({ length: INFO.textSeqLen }, () => rng.int(INFO.textVocabSize)),
    codes: Array.from({ length: INFO.gridSize ** 2 }, () => rng.int(INFO.codebookSize)),
  }));
}

async function writeDataset(dir: string, records: { text: number[]; codes: number[] }[], recordsPerShard = 4) {
  const w = await TokenDatasetWriter.create(dir, INFO, { recordsPerShard });
  for (const r of records) await w.add(r.text, r.codes);
  return w.close();
}

describe('data/token-dataset', function () {
  this.timeout(FAST);
  let root: string;
  const records = randomRecords(11, 7);

  before(async () => {
    root = await makeTempDir('tokens');
  });
  after(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('reads back exactly what was written, across shards', async () => {
    const dir = path.join(root, 'ok');
    const manifest = await writeDataset(dir, records);
    assert.equal(manifest.count, 11);
    assert.deepEqual(manifest.shards.map((s) => [s.file, s.records, s.bytes]), [
      ['shard-00000.bin', 4, 4 * recordBytes(INFO)],
      ['shard-00001.bin', 4, 4 * recordBytes(INFO)],
      ['shard-00002.bin', 3, 3 * recordBytes(INFO)],
    ]);
    assert.deepEqual((await fsp.readdir(dir)).sort(), ['manifest.json', 'shard-00000.bin', 'shard-00001.bin', 'shard-00002.bin']);
    const ds = await openTokenDataset(dir, { textSeqLen: 5, gridSize: 3, dvaeId: 'dvae-sha' });
    assert.equal(ds.size, 11);
    records.forEach((r, i) => {
      const got = ds.record(i);
      assert.deepEqual(Array.from(got.text), r.text);
      assert.deepEqual(Array.from(got.codes), r.codes);
    });
    const b = ds.batch([10, 0, 10]);
    assert.deepEqual(Array.from(b.text), [...records[10].text, ...records[0].text, ...records[10].text]);
    assert.deepEqual(Array.from(b.codes), [...records[10].codes, ...records[0].codes, ...records[10].codes]);
    assert.throws(() => ds.record(11), RangeError);
  });

  it('stores little-endian uint16 records [text | codes]', async () => {
    const dir = path.join(root, 'layout');
    await writeDataset(dir, records.slice(0, 1));
    const bytes = await fsp.readFile(path.join(dir, 'shard-00000.bin'));
    const flat = [...records[0].text, ...records[0].codes];
    assert.equal(bytes.length, flat.length * 2);
    flat.forEach((v, i) => assert.equal(bytes.readUInt16LE(2 * i), v));
  });

  it('refuses a truncated shard, naming the sizes', async () => {
    const dir = path.join(root, 'cut');
    await writeDataset(dir, records);
    const shard = path.join(dir, 'shard-00001.bin');
    const bytes = await fsp.readFile(shard);
    await fsp.writeFile(shard, bytes.subarray(0, bytes.length - 3));
    await assert.rejects(openTokenDataset(dir), { name: 'UsageError', message: /shard-00001\.bin is \d+ bytes, manifest says \d+ \(truncated\)/ });
  });

  it('refuses a shard whose bytes changed, and a missing shard', async () => {
    const dir = path.join(root, 'flip');
    await writeDataset(dir, records);
    const shard = path.join(dir, 'shard-00000.bin');
    const bytes = await fsp.readFile(shard);
    bytes[0] ^= 1;
    await fsp.writeFile(shard, bytes);
    await assert.rejects(openTokenDataset(dir), { name: 'UsageError', message: /sha256/ });
    await fsp.rm(shard);
    await assert.rejects(openTokenDataset(dir), { name: 'UsageError', message: /missing/ });
  });

  it('refuses a manifest field that differs from what the caller expects, naming both values', async () => {
    const dir = path.join(root, 'expect');
    await writeDataset(dir, records);
    await assert.rejects(openTokenDataset(dir, { gridSize: 8 }), { name: 'UsageError', message: /gridSize 3, expected 8/ });
    await assert.rejects(openTokenDataset(dir, { tokenizerId: 'other' }), { name: 'UsageError', message: /"tok-sha", expected "other"/ });
    const m = JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    await fsp.writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, count: m.count + 1 }));
    await assert.rejects(openTokenDataset(dir), { name: 'UsageError', message: /count says 12/ });
    await fsp.writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, formatVersion: 2 }));
    await assert.rejects(openTokenDataset(dir), { name: 'UsageError', message: /formatVersion 2/ });
    await assert.rejects(openTokenDataset(path.join(root, 'none')), { name: 'UsageError', message: /not a token dataset/ });
  });

  it('the writer rejects wrong lengths and out-of-range ids, and leaves no folder on abort', async () => {
    const dir = path.join(root, 'bad');
    const w = await TokenDatasetWriter.create(dir, INFO);
    await assert.rejects(w.add([1, 2, 3], records[0].codes), { name: 'UsageError', message: /expected 5 text ids/ });
    await assert.rejects(w.add(records[0].text, [...records[0].codes, 1]), { name: 'UsageError', message: /expected 9 image codes/ });
    await assert.rejects(w.add([0, 0, 0, 0, 300], records[0].codes), { name: 'UsageError', message: /text id 300/ });
    await assert.rejects(w.add(records[0].text, [700, 0, 0, 0, 0, 0, 0, 0, 0]), { name: 'UsageError', message: /image code 700/ });
    await w.abort();
    await assert.rejects(fsp.access(dir));
    assert.deepEqual((await fsp.readdir(root)).filter((n) => n.includes('staging')), []);
    await assert.rejects(TokenDatasetWriter.create(dir, { ...INFO, gridSize: 0 }), { name: 'UsageError', message: /gridSize/ });
  });

  it('an empty dataset round-trips', async () => {
    const dir = path.join(root, 'empty');
    const m = await writeDataset(dir, []);
    assert.equal(m.count, 0);
    assert.equal((await openTokenDataset(dir)).size, 0);
  });
});
