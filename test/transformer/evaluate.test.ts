import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { conditionalGain, createTransformer, disposeTransformer, evaluateLoss, modelBatch, transformerLayout, transformerLoss, transformerPreset } from '@dalle/transformer';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';
import { memoryDataset } from './fixtures.ts';

const tiny = transformerPreset('tiny');

describe('evaluation', function () {
  this.timeout(FAST);
  it('evaluateLoss is the item-weighted mean of the batch losses', async () => {
    const model = createTransformer(tiny, 2);
    const data = memoryDataset(tiny, 5, 1);
    evaluateLoss(model, data, { batchSize: 2 }); // first use builds the per-pattern attention masks (kept, by design)
    const res = await expectNoLeak(() => evaluateLoss(model, data, { batchSize: 2 }));
    const all = data.batch([0, 1, 2, 3, 4]);
    const whole = tf.tidy(() => {
      const l = transformerLoss(model.params, tiny, modelBatch(transformerLayout(tiny), all.text, all.codes, 5));
      return [l.text, l.image].map((t) => t.dataSync()[0]);
    });
    assert.equal(res.items, 5);
    assert.ok(Math.abs(res.text - whole[0]) < 1e-5);
    assert.ok(Math.abs(res.image - whole[1]) < 1e-5);
    disposeTransformer(model);
  });

  it('conditionalGain: no gain when every caption is the same; deterministic per seed', async () => {
    const model = createTransformer(tiny, 2);
    const base = memoryDataset(tiny, 4, 1);
    const sameCaption = { ...base, batch: (idx: number[]) => ({ ...base.batch(idx), text: base.batch(idx.map(() => 0)).text }) };
    conditionalGain(model, sameCaption, { batchSize: 4 }); // builds the cached masks
    const flat = await expectNoLeak(() => conditionalGain(model, sameCaption, { batchSize: 4 }));
    assert.ok(Math.abs(flat.gain) < 1e-6, `gain ${flat.gain}`);
    const a = conditionalGain(model, base, { seed: 3 });
    const b = conditionalGain(model, base, { seed: 3 });
    assert.deepEqual(a, b);
    assert.notEqual(a.trueCaptions, a.shuffledCaptions);
    assert.throws(() => conditionalGain(model, base, { maxItems: 1 }), /at least 2 items, got 1/);
    disposeTransformer(model);
  });
});
