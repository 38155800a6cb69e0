import { strict as assert } from 'node:assert';
import { UsageError } from '@dalle/core';
import { TRANSFORMER_DEFAULTS, TRANSFORMER_PRESETS, countParams, defaultAttentionPatterns, headDim, imageSeqLen, resolveTransformerConfig, transformerPreset } from '@dalle/transformer';

describe('transformer config', () => {
  it('defaults are the emoji-64 model', () => {
    const cfg = resolveTransformerConfig();
    assert.deepEqual(cfg, transformerPreset('emoji-64'));
    assert.equal(cfg.textSeqLen, 32);
    assert.equal(cfg.textVocabSize, 4096);
    assert.equal(imageSeqLen(cfg), 64);
    assert.equal(cfg.imageVocabSize, 512);
    assert.equal(headDim(cfg), 64);
    assert.equal(cfg.attentionPatterns.at(-1), 'full');
    assert.equal(cfg.attentionPatterns.length, cfg.numLayers);
  });

  it('every preset resolves; parameter counts match the comments roughly', () => {
    for (const name of Object.keys(TRANSFORMER_PRESETS)) assert.ok(countParams(transformerPreset(name)) > 0);
    assert.ok(Math.abs(countParams(transformerPreset('emoji-64')) / 7.1e6 - 1) < 0.05);
  });

  it('derives attention patterns for a new depth, ending with full', () => {
    const cfg = resolveTransformerConfig({ numLayers: 4 });
    assert.deepEqual(cfg.attentionPatterns, defaultAttentionPatterns(4));
    assert.equal(cfg.attentionPatterns[3], 'full');
  });

  it('does not share arrays with the defaults', () => {
    const cfg = resolveTransformerConfig();
    cfg.attentionPatterns[0] = 'full';
    assert.equal(TRANSFORMER_DEFAULTS.attentionPatterns[0], 'row');
  });

  const bad: [string, object, RegExp][] = [
    ['heads', { dModel: 30, numHeads: 4 }, /dModel must be a multiple of numHeads, got dModel 30 and numHeads 4/],
    ['patterns length', { numLayers: 2, attentionPatterns: ['row'] }, /one pattern per layer \(2\), got 1/],
    ['pattern name', { attentionPatterns: ['row', 'column', 'conv', 'row', 'column', 'diagonal'] }, /attentionPatterns\[5\] must be one of full, row, column, conv, got "diagonal"/],
    ['conv even', { convKernelSize: 4 }, /convKernelSize must be odd, got 4/],
    ['dropout', { captionDropout: 1.5 }, /captionDropout must be a number in \[0, 1\], got 1.5/],
    ['loss weight', { textLossWeight: -0.1 }, /textLossWeight must be a number in \[0, 1\]/],
    ['pad id', { textPadId: 4096 }, /textPadId must be an integer in \[0, 4095\], got 4096/],
    ['unknown', { layers: 3 }, /unknown transformer config field "layers"/],
  ];
  for (const [name, partial, message] of bad) {
    it(`rejects bad ${name}`, () => {
      assert.throws(() => resolveTransformerConfig(partial as never), (err: Error) => err instanceof UsageError && message.test(err.message));
    });
  }

  it('names valid presets on a typo', () => {
    assert.throws(() => transformerPreset('emoji64'), /choose one of tiny, emoji-64, large/);
  });
});
