// Captioned-image sources: the folder, tar and JSONL formats yield the same images and captions,
// and bad or unusual files are skipped or handled without stopping the stream.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { openImageSource, writeTar, type CaptionedImage, type ImageSource } from '@dalle/data';
import { FAST } from '../helpers/timeouts.ts';
import { goodItems, gradientRgb, makeTempDir, writeFolder, type FixtureItem } from './fixtures.ts';

const SIZE = 8;

async function collect(source: ImageSource): Promise<CaptionedImage[]> {
  const out: CaptionedImage[] = [];
  for await (const item of source) out.push(item);
  return out;
}

function assertSameItems(a: CaptionedImage[], b: CaptionedImage[], label: string): void {
  assert.deepEqual(a.map((x) => x.key), b.map((x) => x.key), `${label}: keys`);
  a.forEach((x, i) => {
    assert.deepEqual(x.captions, b[i].captions, `${label}: captions of ${x.key}`);
    assert.deepEqual(Array.from(x.image), Array.from(b[i].image), `${label}: pixels of ${x.key}`);
  });
}

describe('data/image-source', function () {
  this.timeout(FAST * 3);
  let root: string;
  let items: FixtureItem[];

  before(async () => {
    root = await makeTempDir('sources');
    items = await goodItems();
    await writeFolder(path.join(root, 'folder'), items);
    const tarFiles = items.flatMap((it) => [
      { name: `${it.key}.${it.ext}`, data: it.bytes },
      { name: `${it.key}.txt`, data: Buffer.from(it.captions.join('\n')) },
    ]);
    await writeTar(path.join(root, 'all.tar'), tarFiles);
    await fsp.mkdir(path.join(root, 'shards'));
    await writeTar(path.join(root, 'shards', 'shard-0.tar'), tarFiles.slice(0, 4));
    // the second shard carries captions as JSON, the other accepted caption form
    await writeTar(
      path.join(root, 'shards', 'shard-1.tar'),
      items.slice(2).flatMap((it) => [
        { name: `${it.key}.${it.ext}`, data: it.bytes },
        { name: `${it.key}.json`, data: Buffer.from(JSON.stringify({ caption: it.captions })) },
      ]),
    );
    const jsonl = items.map((it, i) => JSON.stringify({ image: `folder/${it.key}.${it.ext}`, caption: i === 3 ? it.captions[0] : it.captions })).join('\n');
    await fsp.writeFile(path.join(root, 'data.jsonl'), jsonl + '\n');
  });

  after(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('yields every good item with its captions from an image folder', async () => {
    const got = await collect(openImageSource(path.join(root, 'folder'), { imageSize: SIZE }));
    assert.deepEqual(got.map((g) => g.key), items.map((i) => i.key));
    got.forEach((g, i) => {
      assert.deepEqual(g.captions, items[i].captions);
      assert.equal(g.image.length, SIZE * SIZE * 3);
      assert.ok(g.image.every((v) => v >= 0 && v <= 1));
    });
  });

  it('folder, tar, shard folder, comma list and jsonl yield the same images and captions', async () => {
    const folder = await collect(openImageSource(path.join(root, 'folder'), { imageSize: SIZE }));
    const tar = await collect(openImageSource(path.join(root, 'all.tar'), { imageSize: SIZE }));
    const shards = await collect(openImageSource(path.join(root, 'shards'), { imageSize: SIZE }));
    const list = await collect(openImageSource(['shard-0.tar', 'shard-1.tar'].map((n) => path.join(root, 'shards', n)).join(','), { imageSize: SIZE }));
    const jsonl = await collect(openImageSource(path.join(root, 'data.jsonl'), { imageSize: SIZE }));
    assertSameItems(tar, folder, 'tar');
    assertSameItems(shards, folder, 'shard folder');
    assertSameItems(list, folder, 'comma list');
    assertSameItems(jsonl.map((j) => ({ ...j, key: path.basename(j.key) })), folder, 'jsonl');
    // A comma list may mix kinds: each part in turn.
    const mixed = await collect(openImageSource(`${path.join(root, 'folder')}, ${path.join(root, 'all.tar')}`, { imageSize: SIZE }));
    assertSameItems(mixed.slice(0, folder.length), folder, 'mixed list, folder part');
    assertSameItems(mixed.slice(folder.length), folder, 'mixed list, tar part');
  });

  it('honours limit and restarts on a second pass', async () => {
    const source = openImageSource(path.join(root, 'all.tar'), { imageSize: SIZE, limit: 2 });
    assert.equal((await collect(source)).length, 2);
    assert.equal(source.stats.yielded, 2);
    assert.equal((await collect(source)).length, 2);
  });

  it('refuses a spec that names nothing usable with a UsageError', () => {
    assert.throws(() => openImageSource(path.join(root, 'nope'), { imageSize: SIZE }), { name: 'UsageError', message: /not found/ });
    assert.throws(() => openImageSource(`${root}/a.tar,${root}/b.txt`, { imageSize: SIZE }), { name: 'UsageError' });
    assert.throws(() => openImageSource(`${root}/folder,${root}/nope`, { imageSize: SIZE }), { name: 'UsageError', message: /data not found: ".*nope"/ });
    assert.throws(() => openImageSource(root, { imageSize: 0 }), { name: 'UsageError', message: /imageSize/ });
  });

  it('a truncated tar shard yields its complete samples, then one corrupt-tar skip', async () => {
    const whole = await fsp.readFile(path.join(root, 'all.tar'));
    const cut = path.join(root, 'cut.tar');
    // keep the first two samples (4 entries) and part of the third image
    let offset = 0;
    for (let e = 0; e < 4; e++) offset += 512 + Math.ceil(parseInt(whole.toString('latin1', offset + 124, offset + 135), 8) / 512) * 512;
    await fsp.writeFile(cut, whole.subarray(0, offset + 600));
    const reasons: string[] = [];
    const source = openImageSource(cut, { imageSize: SIZE, onSkip: (_k, r) => reasons.push(r) });
    const got = await collect(source);
    assert.deepEqual(got.map((g) => g.key), items.slice(0, 2).map((i) => i.key));
    assert.deepEqual(source.stats.skippedReasons, { 'corrupt tar': 1 });
    assert.match(reasons[0], /truncated/);
  });

  describe('unusual and bad files', () => {
    let dir: string;
    before(async () => {
      dir = path.join(root, 'edge');
      await fsp.mkdir(dir);
      const caption = async (key: string) => fsp.writeFile(path.join(dir, `${key}.txt`), `caption of ${key}\n`);
      const write = async (name: string, data: Buffer) => {
        await fsp.writeFile(path.join(dir, name), data);
        await caption(name.replace(/\.[^.]+$/, ''));
      };
      await write('corrupt.png', Buffer.from('this is not a png at all, just text'));
      await write('truncated.png', (await sharp(gradientRgb(32, 32, 5), { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer()).subarray(0, 60));
      await write('jpeg-named.png', await sharp(gradientRgb(12, 12, 6), { raw: { width: 12, height: 12, channels: 3 } }).jpeg().toBuffer());
      await write('grey.png', await sharp(Buffer.alloc(10 * 10, 77), { raw: { width: 10, height: 10, channels: 1 } }).png().toBuffer());
      // fully transparent black: must come out white, since alpha is flattened on white
      await write('rgba.png', await sharp(Buffer.alloc(6 * 6 * 4, 0), { raw: { width: 6, height: 6, channels: 4 } }).png().toBuffer());
      await write('deep16.png', await sharp(gradientRgb(9, 9, 7), { raw: { width: 9, height: 9, channels: 3 } }).toColourspace('rgb16').png().toBuffer());
      await write('one.png', await sharp(Buffer.from([200, 10, 30]), { raw: { width: 1, height: 1, channels: 3 } }).png().toBuffer());
      await write('huge.jpg', await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#3366cc' } }).jpeg().toBuffer());
      await fsp.writeFile(path.join(dir, 'nocaption.png'), await sharp(gradientRgb(4, 4, 8), { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer());
      await fsp.writeFile(path.join(dir, 'orphan.txt'), 'caption without an image\n');
      await fsp.writeFile(path.join(dir, 'empty.png'), await sharp(gradientRgb(4, 4, 9), { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer());
      await fsp.writeFile(path.join(dir, 'empty.txt'), '\n  \n');
    });

    it('skips corrupt, uncaptioned and orphan entries with a reason, and decodes the rest', async () => {
      const skips: string[] = [];
      const source = openImageSource(dir, { imageSize: SIZE, onSkip: (key) => skips.push(key) });
      const got = await collect(source);
      const keys = got.map((g) => g.key).sort();
      assert.deepEqual(keys, ['deep16', 'grey', 'huge', 'jpeg-named', 'one', 'rgba']);
      assert.deepEqual(skips.sort(), ['corrupt', 'empty', 'nocaption', 'orphan', 'truncated']);
      assert.equal(source.stats.yielded, 6);
      assert.equal(source.stats.skipped, 5);
      assert.equal(source.stats.skippedReasons['unreadable image'], 2);
      assert.equal(source.stats.skippedReasons['missing caption'], 1);
      assert.equal(source.stats.skippedReasons['missing image'], 1);
      assert.equal(source.stats.skippedReasons['empty caption'], 1);
      const byKey = new Map(got.map((g) => [g.key, g.image]));
      const grey = byKey.get('grey')!;
      for (let i = 0; i < grey.length; i += 3) assert.ok(grey[i] === grey[i + 1] && grey[i] === grey[i + 2], 'greyscale expands to equal RGB');
      assert.ok(byKey.get('rgba')!.every((v) => v === 1), 'transparent pixels become white');
      const one = byKey.get('one')!;
      assert.ok(Math.abs(one[0] - 200 / 255) < 0.02 && Math.abs(one[1] - 10 / 255) < 0.02, '1x1 image is upscaled with its colour');
      const huge = byKey.get('huge')!;
      assert.ok(Math.abs(huge[0] - 0x33 / 255) < 0.03 && Math.abs(huge[2] - 0xcc / 255) < 0.03, '4000x3000 image is reduced with its colour');
      assert.ok(byKey.get('deep16')!.some((v) => v > 0 && v < 1), '16-bit image decodes to ordinary floats');
    });

    it('a corrupt image inside a tar shard is skipped and the shard continues', async () => {
      const tarFile = path.join(root, 'edge.tar');
      await writeTar(tarFile, [
        { name: 'bad.png', data: Buffer.from('garbage') },
        { name: 'bad.txt', data: Buffer.from('bad') },
        { name: 'good.png', data: items[0].bytes },
        { name: 'good.txt', data: Buffer.from('good') },
        { name: 'lonely.txt', data: Buffer.from('no image') },
      ]);
      const source = openImageSource(tarFile, { imageSize: SIZE, onSkip: () => {} });
      const got = await collect(source);
      assert.deepEqual(got.map((g) => g.key), ['good']);
      assert.deepEqual(source.stats.skippedReasons, { 'unreadable image': 1, 'missing image': 1 });
    });
  });
});
