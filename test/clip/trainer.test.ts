import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { ADAMW_DEFAULTS, AdamW, ClipModel, clipLogits, clipTrainStep, learningRateAt } from '@dalle/clip';
import { imagesToTensor } from '@dalle/core';
import { TRAINING } from '../helpers/timeouts.ts';
import { syntheticPairs, tinyConfig, wordIds } from './helpers.ts';

describe('clip trainer', function () {
  this.timeout(TRAINING);

  it('a tiny CLIP learns to match 8 synthetic image/caption pairs (retrieval 8/8 both ways)', async () => {
    const cfg = tinyConfig();
    const model = new ClipModel(cfg, 7);
    const opt = new AdamW(model.variables(), { ...ADAMW_DEFAULTS, weightDecay: 0 });
    const pairs = syntheticPairs(cfg.imageSize!);
    const images = imagesToTensor(pairs.map((p) => p.image), cfg.imageSize!);
    const ids = tf.tensor2d(pairs.map((p) => wordIds(p.caption, cfg.textSeqLen!)), [8, cfg.textSeqLen!], 'int32');
    const before = tf.memory().numTensors;
    const steps = 120;
    let first = NaN;
    let last = NaN;
    for (let s = 0; s < steps; s++) {
      const r = await clipTrainStep(model, opt, images, ids, learningRateAt(s, 3e-3, 10, steps));
      if (s === 0) first = r.loss;
      last = r.loss;
      if (r.accuracy === 1 && r.loss < 0.05) break;
    }
    assert.equal(tf.memory().numTensors, before, 'training steps leaked tensors');
    assert.ok(last < first / 4, `loss went from ${first} to ${last}`);
    const logits = clipLogits(model, images, ids);
    const rows = logits.arraySync();
    logits.dispose();
    for (let i = 0; i < 8; i++) {
      const bestText = rows[i].indexOf(Math.max(...rows[i]));
      const column = rows.map((r) => r[i]);
      const bestImage = column.indexOf(Math.max(...column));
      assert.equal(bestText, i, `image ${i} (${pairs[i].caption}) retrieved text ${bestText} (${pairs[bestText].caption})`);
      assert.equal(bestImage, i, `text ${i} retrieved image ${bestImage}`);
    }
    tf.dispose([images, ids]);
    opt.dispose();
    model.dispose();
  });

  it('learning rate warms up linearly, then decays to 10% of the peak', () => {
    assert.equal(learningRateAt(0, 1, 10, 100), 0.1);
    assert.equal(learningRateAt(9, 1, 10, 100), 1);
    assert.ok(Math.abs(learningRateAt(10, 1, 10, 100) - 1) < 1e-12);
    assert.ok(Math.abs(learningRateAt(100, 1, 10, 100) - 0.1) < 1e-12);
  });
});
