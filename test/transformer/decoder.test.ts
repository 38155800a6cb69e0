import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import {
  ATTENTION_PATTERNS,
  createDecoder,
  createTransformer,
  disposeTransformer,
  forward,
  imageSeqLen,
  imageTokenOffset,
  resolveTransformerConfig,
  transformerLayout,
  TRANSFORMER_PRESETS,
  type TransformerConfig,
} from '@dalle/transformer';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';

/** Max |a - b| over the image-code logits of forward() and the decoder, for every image position. */
async function cacheParity(cfg: TransformerConfig, seed: number, sharedCaptions = false): Promise<number> {
  const model = createTransformer(cfg, seed);
  const B = sharedCaptions ? 5 : 3;
  const T = cfg.textSeqLen;
  const N = imageSeqLen(cfg);
  const K = cfg.imageVocabSize;
  // With shared captions, rows 0, 2, 4 and rows 1, 3 hold the same caption (as candidates and
  // guidance rows do), which the decoder's prefill runs once per distinct caption.
  const captionOf = (i: number) => (sharedCaptions ? (Math.floor(i / T) % 2) * T + (i % T) : i);
  const text = tf.tensor2d(Int32Array.from({ length: B * T }, (_, i) => (i % T === T - 1 ? cfg.textPadId : 1 + ((captionOf(i) * 3) % (cfg.textVocabSize - 1)))), [B, T], 'int32');
  const codes = Int32Array.from({ length: B * N }, (_, i) => (i * 7 + 1) % K);
  const image = tf.tensor2d(codes, [B, N], 'int32');
  const full = forward(model.params, cfg, text, image);
  const off = imageTokenOffset(transformerLayout(cfg));
  const expected = tf.tidy(() => tf.slice(full, [0, T, off], [B, N, K]).arraySync()); // [B, N, K]
  const decoder = createDecoder(model, B);
  let worst = 0;
  const compare = (logits: tf.Tensor2D, i: number) => {
    const got = logits.arraySync();
    for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) worst = Math.max(worst, Math.abs(got[b][k] - expected[b][i][k]));
    logits.dispose();
  };
  compare(decoder.prefill(text), 0);
  for (let i = 1; i < N; i++) {
    const step = tf.tensor1d(Array.from({ length: B }, (_, b) => codes[b * N + i - 1]), 'int32');
    compare(decoder.step(step), i);
    step.dispose();
  }
  assert.equal(decoder.imageTokensFed, N - 1);
  const extra = tf.zeros([B], 'int32') as tf.Tensor1D;
  assert.throws(() => decoder.step(extra), new RegExp(`all ${N} image tokens have been predicted`));
  decoder.dispose();
  tf.dispose([text, image, full, extra]);
  disposeTransformer(model);
  return worst;
}

describe('decoder (key/value cache)', function () {
  this.timeout(FAST * 3);
  for (const pattern of ATTENTION_PATTERNS) {
    it(`cached logits equal full-forward logits within 1e-4 at every image position (${pattern})`, async () => {
      const cfg = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny, numLayers: 2, attentionPatterns: [pattern, pattern] });
      const worst = await cacheParity(cfg, 7);
      assert.ok(worst < 1e-4, `max difference ${worst}`);
    });
  }

  it('cache parity when rows share captions (prefill runs each distinct caption once)', async () => {
    const worst = await cacheParity(resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny }), 9, true);
    assert.ok(worst < 1e-4, `max difference ${worst}`);
  });

  it('cache parity over more steps than the recent part of the cache holds (merges included)', async () => {
    const cfg = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny, gridSize: 6 }); // 35 steps: the recent part merges twice
    const worst = await cacheParity(cfg, 10, true);
    assert.ok(worst < 1e-4, `max difference ${worst}`);
  });

  it('cache parity with the mixed tiny preset', async () => {
    const worst = await cacheParity(resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny }), 8);
    assert.ok(worst < 1e-4, `max difference ${worst}`);
  });

  it('checks call order and inputs', () => {
    const cfg = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny });
    const model = createTransformer(cfg, 1);
    const decoder = createDecoder(model, 2);
    const codes = tf.tensor1d([0, 1], 'int32');
    assert.throws(() => decoder.step(codes), /call prefill\(\) before step\(\)/);
    const badText = tf.zeros([2, cfg.textSeqLen + 1], 'int32') as tf.Tensor2D;
    assert.throws(() => decoder.prefill(badText), /expected int32 \[2,4\], got int32 \[2,5\]/);
    const text = tf.zeros([2, cfg.textSeqLen], 'int32') as tf.Tensor2D;
    decoder.prefill(text).dispose();
    assert.throws(() => decoder.prefill(text), /already called/);
    const badCodes = tf.tensor1d([0, cfg.imageVocabSize], 'int32');
    assert.throws(() => decoder.step(badCodes), /image code 8 \(row 1\) is outside \[0, 8\)/);
    decoder.dispose();
    tf.dispose([codes, badText, text, badCodes]);
    disposeTransformer(model);
  });

  it('does not leak: each call returns one tensor, dispose frees the cache', async () => {
    const cfg = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny });
    const model = createTransformer(cfg, 1);
    const text = tf.zeros([2, cfg.textSeqLen], 'int32') as tf.Tensor2D;
    const codes = tf.tensor1d([1, 2], 'int32');
    await expectNoLeak(() => {
      const decoder = createDecoder(model, 2);
      decoder.prefill(text).dispose();
      const counts: number[] = [];
      for (let i = 0; i < imageSeqLen(cfg) - 1; i++) {
        decoder.step(codes).dispose();
        counts.push(tf.memory().numTensors);
      }
      assert.ok(counts.every((c) => c === counts[0]), `tensor count grows over steps: ${counts}`);
      decoder.dispose();
    });
    tf.dispose([text, codes]);
    disposeTransformer(model);
  });
});
