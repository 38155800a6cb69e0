import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { gumbelSoftmax } from '@dalle/dvae';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';

describe('gumbelSoftmax', function () {
  this.timeout(FAST);
  const logits = () => tf.randomNormal([4, 3, 3, 10], 0, 2, 'float32', 7);

  it('gives rows that sum to 1, deterministic in the seed', () => {
    tf.tidy(() => {
      const l = logits();
      const a = gumbelSoftmax(l, { temperature: 1, hard: false, seed: 11 });
      const b = gumbelSoftmax(l, { temperature: 1, hard: false, seed: 11 });
      const c = gumbelSoftmax(l, { temperature: 1, hard: false, seed: 12 });
      for (const s of tf.sum(a, -1).dataSync()) assert.ok(Math.abs(s - 1) < 1e-5);
      assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
      assert.notDeepEqual(Array.from(a.dataSync()), Array.from(c.dataSync()));
    });
  });

  it('hard (straight-through) is one-hot at the soft sample argmax, with a non-zero gradient', () => {
    tf.tidy(() => {
      const l = logits();
      const soft = gumbelSoftmax(l, { temperature: 0.5, hard: false, seed: 3 });
      const hard = gumbelSoftmax(l, { temperature: 0.5, hard: true, seed: 3 });
      const h = hard.dataSync();
      for (const v of h) assert.ok(Math.abs(v) < 1e-6 || Math.abs(v - 1) < 1e-6);
      assert.deepEqual(Array.from(tf.argMax(hard, -1).dataSync()), Array.from(tf.argMax(soft, -1).dataSync()));
      const w = tf.randomNormal(l.shape, 0, 1, 'float32', 9);
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(gumbelSoftmax(x, { temperature: 0.5, hard: true, seed: 3 }), w)))(l);
      const norm = tf.sum(tf.abs(g)).dataSync()[0];
      assert.ok(Number.isFinite(norm) && norm > 0);
    });
  });

  it('low temperature approaches one-hot', () => {
    tf.tidy(() => {
      const sharp = gumbelSoftmax(logits(), { temperature: 1 / 64, hard: false, seed: 5 });
      const maxes = tf.max(sharp, -1).dataSync();
      assert.ok(Math.min(...maxes) > 0.9);
    });
  });

  it('leaks nothing', async () => {
    const l = logits();
    const out = await expectNoLeak(() => gumbelSoftmax(l, { temperature: 1, hard: true, seed: 1 }), 1);
    tf.dispose([l, out]);
  });
});
