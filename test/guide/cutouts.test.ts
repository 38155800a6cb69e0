import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { Rng } from '@dalle/core';
import { applyCutouts, drawCutouts, fullView, resampleMatrix } from '@dalle/guide';
import { expectNoLeak } from '../helpers/memory.ts';

const SETTINGS = { cropMin: 0.5, shift: 0.1, flipProb: 0.5 };

function randomImages(b: number, size: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  return tf.tensor4d(Float32Array.from({ length: b * size * size * 3 }, () => rng.next()), [b, size, size, 3]);
}

describe('cutouts', () => {
  it('resampling rows are convex weights (sum 1, non-negative), also when shrinking, shifting off the edge and flipping', () => {
    for (const [start, side, src, out, flip] of [
      [0, 16, 16, 16, false],
      [3.3, 9.5, 16, 16, false],
      [-2, 16, 16, 8, true],
      [5, 30, 32, 7, false],
    ] as const) {
      const m = resampleMatrix(start, side, src, out, flip);
      for (let i = 0; i < out; i++) {
        const row = m.subarray(i * src, (i + 1) * src);
        assert.ok(row.every((w) => w >= 0));
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      }
    }
  });

  it('the whole view at the same size is the identity, and a flip mirrors columns', async () => {
    const img = randomImages(2, 8, 3);
    const same = applyCutouts(img, [fullView(8)], 8);
    const flipped = applyCutouts(img, [{ ...fullView(8), flip: true }], 8);
    const mirrored = tf.reverse(img, 2);
    assert.ok(tf.max(tf.abs(tf.sub(same, img))).dataSync()[0] < 1e-6);
    assert.ok(tf.max(tf.abs(tf.sub(flipped, mirrored))).dataSync()[0] < 1e-6);
    tf.dispose([img, same, flipped, mirrored]);
  });

  it('returns views view-major with the requested size, deterministic in the Rng seed', () => {
    const views = drawCutouts(new Rng(5), 3, 16, SETTINGS);
    assert.deepEqual(views, drawCutouts(new Rng(5), 3, 16, SETTINGS));
    assert.notDeepEqual(views, drawCutouts(new Rng(6), 3, 16, SETTINGS));
    for (const v of views) assert.ok(v.side >= 8 && v.side <= 16);
    const img = randomImages(2, 16, 1);
    const out = applyCutouts(img, views, 12);
    assert.deepEqual(out.shape, [6, 12, 12, 3]);
    // row k*B + b is view k of image b: view 1 of image 0 equals the single-view result of image 0
    const one = applyCutouts(tf.slice(img, [0, 0, 0, 0], [1, 16, 16, 3]), [views[1]], 12);
    const row = tf.slice(out, [2, 0, 0, 0], [1, 12, 12, 3]);
    assert.ok(tf.max(tf.abs(tf.sub(one, row))).dataSync()[0] < 1e-5);
    tf.dispose([img, out, one, row]);
  });

  it('is differentiable in the images and leaks nothing', async () => {
    const img = randomImages(1, 16, 2);
    const views = drawCutouts(new Rng(1), 2, 16, SETTINGS);
    const g = await expectNoLeak(() => tf.grad((x: tf.Tensor) => tf.sum(applyCutouts(x as tf.Tensor4D, views, 8)))(img), 1);
    const total = tf.sum(g).dataSync()[0];
    assert.ok(Number.isFinite(total) && total > 0);
    tf.dispose([img, g]);
  });
});
