import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadImageRgb } from '@dalle/core';
import { mirrorImage, openTokenDataset, trainTextTokenizer } from '@dalle/data';
import { DVAE_PRESETS, Dvae, dvaeIdentity, saveDvae } from '@dalle/dvae';
import { CLI } from '../helpers/timeouts.ts';
import { runBin, writeImageFolder } from './fixtures.ts';

describe('dvae-encode and dvae-decode commands', function () {
  this.timeout(CLI);
  let dir: string;
  let dvae: Dvae;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvae-enc-'));
    await writeImageFolder(path.join(dir, 'data'), 5, 16);
    dvae = Dvae.create(DVAE_PRESETS.tiny, 8);
    await saveDvae(path.join(dir, 'dvae'), dvae);
    const captions = Array.from({ length: 5 }, (_, i) => [`a box number ${i}`, `the box ${i}`]).flat();
    await trainTextTokenizer(captions, { outDir: path.join(dir, 'tok'), vocabSize: 300 });
  });
  after(async () => {
    dvae.dispose();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes one record per image-caption pair with the encoder codes, and decodes them back', async () => {
    const enc = await runBin('dvae-encode', ['--dvae', path.join(dir, 'dvae'), '--tokenizer', path.join(dir, 'tok'), '--data', path.join(dir, 'data'), '--out', path.join(dir, 'tokens'), '--batch-size', '2', '--text-seq-len', '8']);
    assert.equal(enc.code, 0, enc.stderr);
    assert.match(enc.stdout, /10 records from 5 images/);
    const ds = await openTokenDataset(path.join(dir, 'tokens'), { dvaeId: dvaeIdentity(dvae), gridSize: 4, codebookSize: 32, textSeqLen: 8 });
    assert.equal(ds.size, 10);
    // The codes equal the library's encode of the same image (keys sort as img0..img4).
    const img0 = await loadImageRgb(path.join(dir, 'data', 'img0.png'), 16);
    const x = tf.tensor4d(img0, [1, 16, 16, 3]);
    const codes = dvae.encode(x);
    const want = Array.from(codes.dataSync());
    tf.dispose([x, codes]);
    const found = Array.from({ length: ds.size }, (_, i) => Array.from(ds.record(i).codes));
    assert.ok(found.some((c) => c.join() === want.join()), 'img0 codes not found in the dataset');

    const dec = await runBin('dvae-decode', ['--dvae', path.join(dir, 'dvae'), '--dataset', path.join(dir, 'tokens'), '--out', path.join(dir, 'decoded'), '--limit', '3']);
    assert.equal(dec.code, 0, dec.stderr);
    assert.deepEqual((await fsp.readdir(path.join(dir, 'decoded'))).sort(), ['000000.png', '000001.png', '000002.png']);

    await fsp.writeFile(path.join(dir, 'codes.json'), JSON.stringify([want]));
    const fromFile = await runBin('dvae-decode', ['--dvae', path.join(dir, 'dvae'), '--codes', path.join(dir, 'codes.json'), '--out', path.join(dir, 'decoded2')]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const both = await runBin('dvae-decode', ['--dvae', path.join(dir, 'dvae'), '--out', path.join(dir, 'x')]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of --codes FILE or --dataset DIR/);
  });

  it('--mirror adds each image mirrored: twice the records, the mirrored codes among them', async () => {
    const enc = await runBin('dvae-encode', ['--dvae', path.join(dir, 'dvae'), '--tokenizer', path.join(dir, 'tok'), '--data', path.join(dir, 'data'), '--out', path.join(dir, 'tokens-mirror'), '--batch-size', '3', '--text-seq-len', '8', '--mirror']);
    assert.equal(enc.code, 0, enc.stderr);
    assert.match(enc.stdout, /20 records from 5 images and their mirror images/);
    const ds = await openTokenDataset(path.join(dir, 'tokens-mirror'), { dvaeId: dvaeIdentity(dvae) });
    assert.equal(ds.size, 20);
    const img0 = await loadImageRgb(path.join(dir, 'data', 'img0.png'), 16);
    const x = tf.tensor4d(mirrorImage(img0, 16, 16), [1, 16, 16, 3]);
    const codes = dvae.encode(x);
    const want = Array.from(codes.dataSync()).join();
    tf.dispose([x, codes]);
    const found = Array.from({ length: ds.size }, (_, i) => Array.from(ds.record(i).codes).join());
    assert.equal(found.filter((c) => c === want).length, 2, 'the mirrored img0 codes, once per caption');
  });

  it('--group-by writes each record\'s group: an image, its mirror copy and its captions share one', async () => {
    const enc = await runBin('dvae-encode', ['--dvae', path.join(dir, 'dvae'), '--tokenizer', path.join(dir, 'tok'), '--data', path.join(dir, 'data'), '--out', path.join(dir, 'tokens-groups'), '--text-seq-len', '8', '--mirror', '--group-by', '/^img(\\d)$/']);
    assert.equal(enc.code, 0, enc.stderr);
    assert.match(enc.stdout, /20 records .*; 5 groups by \/\^img/);
    const ds = await openTokenDataset(path.join(dir, 'tokens-groups'));
    assert.deepEqual(ds.groups?.names, ['0', '1', '2', '3', '4']);
    // 2 captions x (image + mirror) per image, written image by image
    assert.deepEqual([...ds.groups!.ids], [0, 1, 2, 3, 4].flatMap((g) => [g, g, g, g]));

    const bad = await runBin('dvae-encode', ['--dvae', path.join(dir, 'dvae'), '--tokenizer', path.join(dir, 'tok'), '--data', path.join(dir, 'data'), '--out', path.join(dir, 'tokens-bad'), '--group-by', 'emoji']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--group-by emoji: image key "img0" is not <set>-<codepoints>/);
    const left = (await fsp.readdir(dir)).filter((n) => n.includes('tokens-bad'));
    assert.deepEqual(left, [], 'no dataset or staging folder is left behind');
    const unknown = await runBin('dvae-encode', ['--dvae', path.join(dir, 'dvae'), '--tokenizer', path.join(dir, 'tok'), '--data', path.join(dir, 'data'), '--out', path.join(dir, 'tokens-bad'), '--group-by', 'class']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown group rule "class"/);
  });

  it('refuses to decode a dataset made by another dVAE', async () => {
    const other = Dvae.create(DVAE_PRESETS.tiny, 9);
    await saveDvae(path.join(dir, 'other'), other);
    other.dispose();
    const dec = await runBin('dvae-decode', ['--dvae', path.join(dir, 'other'), '--dataset', path.join(dir, 'tokens'), '--out', path.join(dir, 'decoded3')]);
    assert.equal(dec.code, 2);
    assert.match(dec.stderr, /dvaeId/);
  });
});
