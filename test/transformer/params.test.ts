import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { createTransformer, disposeTransformer, imageTokenOffset, INIT_STD, paramSpecs, reinitImageParams, transformerLayout, transformerPreset } from '@dalle/transformer';

describe('reinitImageParams', () => {
  const cfg = transformerPreset('tiny');
  const K = cfg.imageVocabSize;
  const C = cfg.dModel;

  it('redraws only the image-code embedding rows and the image head, seeded', () => {
    const a = createTransformer(cfg, 1);
    const b = createTransformer(cfg, 1);
    const c = createTransformer(cfg, 1);
    try {
      const before = Object.fromEntries(Object.entries(a.params).map(([k, v]) => [k, v.arraySync()]));
      tf.tidy(() => a.params['head.image.bias'].assign(tf.fill([K], 3))); // a trained-looking bias must go back to 0
      reinitImageParams(a.params, cfg, 7);
      reinitImageParams(b.params, cfg, 7);
      reinitImageParams(c.params, cfg, 8);
      const offset = imageTokenOffset(transformerLayout(cfg));
      const embed = a.params['embed.tokens'].arraySync() as number[][];
      const embedBefore = before['embed.tokens'] as number[][];
      assert.equal(embed.length, embedBefore.length);
      for (let r = 0; r < embed.length; r++) {
        const isImage = r >= offset && r < offset + K;
        const same = embed[r].every((x, j) => x === embedBefore[r][j]);
        assert.equal(same, !isImage, `embed row ${r} (${isImage ? 'image code' : 'text, pad or start'})`);
      }
      const fresh = embed.slice(offset, offset + K).flat().concat((a.params['head.image.kernel'].arraySync() as number[][]).flat());
      const mean = fresh.reduce((s, x) => s + x, 0) / fresh.length;
      const std = Math.sqrt(fresh.reduce((s, x) => s + (x - mean) ** 2, 0) / fresh.length);
      assert.ok(Math.abs(std - INIT_STD) < 0.2 * INIT_STD, `std ${std}`);
      assert.deepEqual(a.params['head.image.bias'].arraySync(), new Array(K).fill(0));
      for (const { key } of paramSpecs(cfg)) {
        if (key === 'embed.tokens' || key.startsWith('head.image')) continue;
        assert.deepEqual(a.params[key].arraySync(), before[key], key);
      }
      assert.deepEqual(a.params['head.image.kernel'].arraySync(), b.params['head.image.kernel'].arraySync());
      assert.notDeepEqual(a.params['head.image.kernel'].arraySync(), c.params['head.image.kernel'].arraySync());
      assert.equal(a.params['head.image.kernel'].shape.join(), [C, K].join());
    } finally {
      for (const m of [a, b, c]) disposeTransformer(m);
    }
  });

  it('leaves no tensors behind', () => {
    const m = createTransformer(cfg, 1);
    const n = tf.memory().numTensors;
    reinitImageParams(m.params, cfg, 3);
    assert.equal(tf.memory().numTensors, n);
    disposeTransformer(m);
  });
});
