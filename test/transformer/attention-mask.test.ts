import { strict as assert } from 'node:assert';
import { ATTENTION_PATTERNS, MASKED_LOGIT, attentionMask, isVisible, resolveTransformerConfig, sequenceLength, TRANSFORMER_PRESETS } from '@dalle/transformer';

// T = 4 text tokens, 3x3 grid: positions 0..4 are start + text, position 4 + i predicts image token i.
const cfg = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny });
const T = cfg.textSeqLen;
const L = sequenceLength(cfg);
/** Input position that holds image token j. */
const holds = (j: number) => T + 1 + j;
/** Input position that predicts image token i. */
const predicts = (i: number) => T + i;

describe('attention masks', () => {
  for (const pattern of ATTENTION_PATTERNS) {
    it(`${pattern}: causal, and the caption is visible to every later position`, () => {
      for (let q = 0; q < L; q++) {
        for (let k = 0; k < L; k++) {
          if (k > q) assert.equal(isVisible(cfg, pattern, q, k), false, `${q} sees future ${k}`);
          else if (k <= T) assert.equal(isVisible(cfg, pattern, q, k), true, `${q} misses text ${k}`);
        }
      }
      const mask = attentionMask(cfg, pattern).arraySync();
      for (let q = 0; q < L; q++) for (let k = 0; k < L; k++) assert.equal(mask[q][k], isVisible(cfg, pattern, q, k) ? 0 : MASKED_LOGIT);
    });
  }

  it('row / column / conv keep the expected image tokens around the predicted one', () => {
    // Predicting image token 4 (row 1, col 1) sees tokens 0..3 under full attention.
    const seen = (pattern: (typeof ATTENTION_PATTERNS)[number]) => [0, 1, 2, 3].filter((j) => isVisible(cfg, pattern, predicts(4), holds(j)));
    assert.deepEqual(seen('full'), [0, 1, 2, 3]);
    assert.deepEqual(seen('row'), [3]);
    assert.deepEqual(seen('column'), [1]);
    assert.deepEqual(seen('conv'), [0, 1, 2, 3]); // 3x3 kernel around (1, 1)
    // Predicting token 8 (2, 2) with a 3x3 kernel: (1,1), (1,2), (2,1) = tokens 4, 5, 7.
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].filter((j) => isVisible(cfg, 'conv', predicts(8), holds(j))), [4, 5, 7]);
  });

  it('is built once per pattern', () => {
    assert.equal(attentionMask(cfg, 'row'), attentionMask({ ...cfg }, 'row'));
  });
});
