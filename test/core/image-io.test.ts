import { strict as assert } from 'node:assert';
import sharp from 'sharp';
import { contactSheet, encodePng, imagesToTensor, loadImageRgb, tensorToPngs } from '@dalle/core';

describe('image-io', () => {
  it('flattens transparency on white and expands greyscale to RGB', async () => {
    const transparent = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const px = await loadImageRgb(transparent, 4);
    assert.equal(px.length, 4 * 4 * 3);
    assert.ok(px.every((v) => v === 1), 'fully transparent red becomes white');
    const grey = await sharp(Buffer.alloc(6 * 6, 64), { raw: { width: 6, height: 6, channels: 1 } }).png().toBuffer();
    const g = await loadImageRgb(grey, 3);
    assert.ok(g.every((v) => Math.abs(v - 64 / 255) < 2 / 255));
  });

  it('round-trips pixels through PNG and tensors', async () => {
    const pixels = Float32Array.from({ length: 5 * 5 * 3 }, (_, i) => (i % 256) / 255);
    const png = await encodePng(pixels, 5, 5);
    const back = await loadImageRgb(png, 5);
    back.forEach((v, i) => assert.ok(Math.abs(v - pixels[i]) < 1e-6));
    const t = imagesToTensor([pixels, back], 5);
    assert.deepEqual(t.shape, [2, 5, 5, 3]);
    const pngs = await tensorToPngs(t);
    assert.equal(pngs.length, 2);
    assert.ok(pngs[0].equals(png), 'equal pixels give identical PNG bytes');
    t.dispose();
  });

  it('lays out a contact sheet with the expected size', async () => {
    const img = new Float32Array(4 * 4 * 3).fill(0);
    const sheet = await contactSheet([img, img, img], 4, { cols: 2, gap: 1, scale: 2 });
    const meta = await sharp(sheet).metadata();
    assert.equal(meta.width, (2 * 4 + 3) * 2);
    assert.equal(meta.height, (2 * 4 + 3) * 2);
  });

  it('rejects bytes that are not an image', async () => {
    await assert.rejects(loadImageRgb(Buffer.from('not an image'), 4));
  });
});
