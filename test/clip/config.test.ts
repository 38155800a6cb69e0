import { strict as assert } from 'node:assert';
import { CLIP_DEFAULTS, CLIP_PRESET_NAMES, clipPreset, numPatches, patchDim, resolveClipConfig } from '@dalle/clip';
import { UsageError } from '@dalle/core';

describe('clip config', () => {
  it('fills defaults and resolves every preset', () => {
    assert.deepEqual(resolveClipConfig(), CLIP_DEFAULTS);
    for (const name of CLIP_PRESET_NAMES) {
      const c = resolveClipConfig(clipPreset(name));
      assert.equal(c.imageSize % c.patchSize, 0);
    }
    const emoji = resolveClipConfig(clipPreset('emoji-64'));
    assert.equal(emoji.imageSize, 64);
    assert.equal(emoji.patchSize, 8);
    assert.equal(emoji.textSeqLen, 32);
    assert.equal(numPatches(emoji), 64);
    assert.equal(patchDim(emoji), 8 * 8 * 3);
  });

  it('does not share the defaults arrays with the caller', () => {
    const c = resolveClipConfig();
    c.imageMean[0] = 9;
    assert.equal(CLIP_DEFAULTS.imageMean[0], 0.5);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['patch size not dividing the image', { imageSize: 64, patchSize: 6 }, /patchSize must divide imageSize, got patchSize 6 for imageSize 64/],
    ['width not a multiple of heads', { textWidth: 30, textHeads: 4 }, /textWidth must be a multiple of textHeads/],
    ['vision heads above width', { visionWidth: 8, visionHeads: 16 }, /visionHeads must be an integer in \[1, 8\]/],
    ['pad id outside the vocabulary', { textVocabSize: 10, padId: 10 }, /padId must be an integer in \[0, 9\], got 10/],
    ['fractional text length', { textSeqLen: 3.5 }, /textSeqLen must be an integer/],
    ['max logit scale below the initial one', { initLogitScale: 20, maxLogitScale: 10 }, /maxLogitScale must be a number >= initLogitScale/],
    ['zero std', { imageStd: [0.5, 0, 0.5] }, /imageStd must be 3 positive numbers/],
    ['unknown field', { width: 128 }, /unknown CLIP config field "width"/],
  ];
  for (const [what, partial, message] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => resolveClipConfig(partial as never), (err: unknown) => err instanceof UsageError && message.test(err.message));
    });
  }

  it('names the valid presets when one is unknown', () => {
    assert.throws(() => clipPreset('huge'), /unknown CLIP preset "huge": choose one of tiny, emoji-64/);
  });
});
