import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { MASKED_LOGIT, imageTokenOffset, logitRange, logitsMask, makeLayout, modelBatch, splitStream, startTokenId, streamVocabSize, textStreamVocabSize, toStreamIds } from '@dalle/transformer';

const layout = makeLayout({ textSeqLen: 4, textVocabSize: 10, imageSeqLen: 3, imageVocabSize: 5, textPadId: 0 });

describe('token layout', () => {
  it('has one pad token per text position, as its own field', () => {
    assert.equal(layout.numTextPadTokens, 4);
    assert.equal(layout.textVocabSize, 10);
    assert.equal(textStreamVocabSize(layout), 14);
    assert.equal(imageTokenOffset(layout), 14);
    assert.equal(streamVocabSize(layout), 19);
    assert.equal(startTokenId(layout), 19);
  });

  it('maps pads to pad_i and codes past the text part, and back', () => {
    const text = [3, 7, 0, 0, 0, 0, 0, 0];
    const codes = [0, 4, 2, 1, 1, 1];
    const stream = toStreamIds(layout, text, codes, 2);
    assert.deepEqual([...stream.subarray(0, 7)], [3, 7, 12, 13, 14, 18, 16]);
    assert.deepEqual([...stream.subarray(7, 11)], [10, 11, 12, 13]);
    const back = splitStream(layout, stream, 2);
    assert.deepEqual([...back.textIds], text);
    assert.deepEqual([...back.imageIds], codes);
  });

  it('rejects ids out of range, naming them', () => {
    assert.throws(() => toStreamIds(layout, [1, 2, 3, 10], [0, 0, 0]), /id 10 at index 3 is outside \[0, 10\)/);
    assert.throws(() => toStreamIds(layout, [1, 2, 3, 4], [0, 5, 0]), /id 5 at index 1 is outside \[0, 5\)/);
    assert.throws(() => toStreamIds(layout, [1, 2, 3], [0, 0, 0]), /expected 4 ids per item, got 3/);
  });

  it('model batch: start token, stream shifted right, targets per head', () => {
    const b = modelBatch(layout, [3, 7, 0, 0], [4, 2, 1], 1);
    assert.deepEqual([...b.inputIds], [19, 3, 7, 12, 13, 18, 16]);
    assert.deepEqual([...b.textTargets], [3, 7, 12, 13]);
    assert.deepEqual([...b.imageTargets], [4, 2, 1]);
  });

  it('logits mask allows exactly text ids at text positions and image ids at image positions', () => {
    const mask = logitsMask(layout).arraySync();
    assert.equal(mask.length, 7);
    for (let p = 0; p < 7; p++) {
      const [lo, hi] = logitRange(layout, p);
      assert.deepEqual([lo, hi], p < 4 ? [0, 14] : [14, 19]);
      mask[p].forEach((v, id) => assert.equal(v, id >= lo && id < hi ? 0 : MASKED_LOGIT));
    }
    assert.equal(logitsMask(layout), logitsMask({ ...layout }), 'built once per layout');
    assert.ok(tf.memory().numTensors > 0);
  });
});
