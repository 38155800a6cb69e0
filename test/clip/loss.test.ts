import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { contrastiveLoss, inBatchAccuracy, similarityLogits } from '@dalle/clip';
import { Rng } from '@dalle/core';
import { expectNoLeak } from '../helpers/memory.ts';

/** Symmetric cross-entropy with diagonal targets, in plain JS loops. */
function referenceLoss(logits: number[][]): number {
  const B = logits.length;
  const lse = (xs: number[]) => {
    const m = Math.max(...xs);
    return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
  };
  let rows = 0;
  let cols = 0;
  for (let i = 0; i < B; i++) {
    rows += lse(logits[i]) - logits[i][i];
    cols += lse(logits.map((r) => r[i])) - logits[i][i];
  }
  return (rows / B + cols / B) / 2;
}

describe('clip loss', () => {
  it('contrastiveLoss matches a hand-computed symmetric cross-entropy', async () => {
    const rng = new Rng(3);
    const B = 5;
    const D = 4;
    const norm = (v: number[]) => v.map((x) => x / Math.hypot(...v));
    const img = Array.from({ length: B }, () => norm(Array.from({ length: D }, () => rng.normal())));
    const txt = Array.from({ length: B }, () => norm(Array.from({ length: D }, () => rng.normal())));
    const scale = 7.5;
    const expected = referenceLoss(img.map((a) => txt.map((b) => scale * a.reduce((s, x, k) => s + x * b[k], 0))));
    const [ti, tt] = [tf.tensor2d(img), tf.tensor2d(txt)];
    const got = await expectNoLeak(() => tf.tidy(() => contrastiveLoss(similarityLogits(ti, tt, scale)).dataSync()[0]));
    tf.dispose([ti, tt]);
    assert.ok(Math.abs(got - expected) < 1e-5, `loss ${got} vs reference ${expected}`);
  });

  it('in-batch accuracy counts diagonal maxima in both directions', async () => {
    const logits = tf.tensor2d([
      [5, 1, 0],
      [0, 1, 4], // row 1 picks column 2: wrong
      [0, 2, 3],
    ]);
    // rows: 0 ok, 1 wrong, 2 ok; columns: 0 ok, 1 (max at row 2) wrong, 2 (max at row 1) wrong
    assert.equal(await inBatchAccuracy(logits), 3 / 6);
    logits.dispose();
  });

  it('perfectly separated pairs give a loss near zero', () => {
    const e = tf.eye(4) as tf.Tensor2D;
    const loss = tf.tidy(() => contrastiveLoss(similarityLogits(e, e, 100)).dataSync()[0]);
    e.dispose();
    assert.ok(loss < 1e-6, `loss ${loss}`);
  });
});
