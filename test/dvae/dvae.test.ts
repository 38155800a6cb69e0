import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { DVAE_PRESETS, Dvae, gridSize, type ImageTokenizer } from '@dalle/dvae';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';
import { syntheticImages } from './fixtures.ts';

describe('Dvae (ImageTokenizer)', function () {
  this.timeout(FAST * 3);
  let dvae: Dvae;
  let images: tf.Tensor4D;
  before(() => {
    dvae = Dvae.create(DVAE_PRESETS.tiny, 3);
    const S = dvae.imageSize;
    images = tf.tensor4d(Float32Array.from(syntheticImages(3, S).flatMap((a) => Array.from(a))), [3, S, S, 3]);
  });
  after(() => {
    dvae.dispose();
    images.dispose();
  });

  it('exposes the contract sizes', () => {
    const tok: ImageTokenizer = dvae;
    assert.equal(tok.imageSize, 16);
    assert.equal(tok.gridSize, gridSize(dvae.config));
    assert.equal(tok.codebookSize, 32);
  });

  it('encode gives int32 [B, G*G] codes in range; decode gives [B, H, W, 3] in [0, 1]', () => {
    const codes = dvae.encode(images);
    const out = dvae.decode(codes);
    try {
      assert.deepEqual(codes.shape, [3, dvae.gridSize ** 2]);
      assert.equal(codes.dtype, 'int32');
      for (const c of codes.dataSync()) assert.ok(c >= 0 && c < dvae.codebookSize);
      assert.deepEqual(out.shape, [3, 16, 16, 3]);
      for (const v of out.dataSync()) assert.ok(v >= 0 && v <= 1);
    } finally {
      tf.dispose([codes, out]);
    }
  });

  it('encode -> decode is deterministic', () => {
    const a = dvae.encode(images);
    const b = dvae.encode(images);
    const da = dvae.decode(a);
    const db = dvae.decode(b);
    try {
      assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
      assert.deepEqual(Array.from(da.dataSync()), Array.from(db.dataSync()));
    } finally {
      tf.dispose([a, b, da, db]);
    }
  });

  it('decodeSoft of one-hot probabilities equals decode, and logits input is softmaxed', () => {
    const codes = dvae.encode(images);
    const oneHot = tf.tidy(() => tf.cast(tf.oneHot(codes, dvae.codebookSize), 'float32') as tf.Tensor3D);
    const hard = dvae.decode(codes);
    const soft = dvae.decodeSoft(oneHot);
    const logits = tf.tidy(() => tf.mul(oneHot, 50) as tf.Tensor3D);
    const fromLogits = dvae.decodeSoft(logits, { input: 'logits' });
    try {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(hard, soft))).dataSync()[0]);
      assert.ok(diff < 1e-5, `decodeSoft(one-hot) differs from decode by ${diff}`);
      const diff2 = tf.tidy(() => tf.max(tf.abs(tf.sub(hard, fromLogits))).dataSync()[0]);
      assert.ok(diff2 < 1e-3, `decodeSoft(sharp logits) differs from decode by ${diff2}`);
    } finally {
      tf.dispose([codes, oneHot, hard, soft, logits, fromLogits]);
    }
  });

  it('decodeSoft is differentiable with respect to its input', () => {
    const probs = tf.tidy(() => tf.softmax(tf.randomNormal([1, dvae.gridSize ** 2, dvae.codebookSize], 0, 1, 'float32', 5)) as tf.Tensor3D);
    const g = tf.grad((p: tf.Tensor) => tf.mean(dvae.decodeSoft(p as tf.Tensor3D)))(probs);
    try {
      const norm = tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]);
      assert.ok(Number.isFinite(norm) && norm > 0);
    } finally {
      tf.dispose([probs, g]);
    }
  });

  it('rejects wrong shapes and out-of-range codes', () => {
    const bad = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    const badCodes = tf.fill([1, dvae.gridSize ** 2], dvae.codebookSize, 'int32') as tf.Tensor2D;
    try {
      assert.throws(() => dvae.encode(bad), /expects images of shape \[B, 16, 16, 3\], got \[1,8,8,3\]/);
      assert.throws(() => dvae.decode(badCodes), /outside \[0, 32\)/);
    } finally {
      tf.dispose([bad, badCodes]);
    }
  });

  it('encode, decode, decodeSoft and logits leak nothing', async () => {
    const codes = await expectNoLeak(() => dvae.encode(images), 1);
    const out = await expectNoLeak(() => dvae.decode(codes), 1);
    const probs = tf.tidy(() => tf.cast(tf.oneHot(codes, dvae.codebookSize), 'float32') as tf.Tensor3D);
    const soft = await expectNoLeak(() => dvae.decodeSoft(probs), 1);
    const logits = await expectNoLeak(() => dvae.logits(images), 1);
    tf.dispose([codes, out, probs, soft, logits]);
  });
});
