import { strict as assert } from 'node:assert';
import { UsageError } from '@dalle/core';
import { DVAE_DEFAULTS, DVAE_PRESETS, Dvae, countParams, dvaeParamShapes, gridSize, imageSeqLen, resolveDvaeConfig, sameEncoder } from '@dalle/dvae';

describe('dvae config', () => {
  it('fills defaults and derives grid and sequence length', () => {
    const cfg = resolveDvaeConfig();
    assert.deepEqual(cfg, DVAE_DEFAULTS);
    assert.equal(gridSize(cfg), cfg.imageSize / cfg.downsampleFactor);
    assert.equal(imageSeqLen(cfg), gridSize(cfg) ** 2);
  });

  it('emoji-64 is 64x64, 8x8 grid, K=512', () => {
    const cfg = resolveDvaeConfig(DVAE_PRESETS['emoji-64']);
    assert.equal(cfg.imageSize, 64);
    assert.equal(gridSize(cfg), 8);
    assert.equal(cfg.codebookSize, 512);
  });

  it('rejects bad values with messages naming the field and the value', () => {
    const cases: [object, RegExp][] = [
      [{ imageSize: 200 }, /imageSize must be a power of 2, got 200/],
      [{ downsampleFactor: 2 }, /downsampleFactor must be one of 4, 8, 16, got 2/],
      [{ imageSize: 16, downsampleFactor: 16 }, /grid of at least 2x2/],
      [{ codebookSize: 1 }, /codebookSize must be an integer in \[2, 65536\], got 1/],
      [{ hiddenChannels: 1.5 }, /hiddenChannels must be an integer/],
      [{ reconLoss: 'l2' }, /reconLoss must be one of logit-laplace, l1, mse, got l2/],
      [{ codebookSzie: 3 }, /unknown dVAE config field "codebookSzie"/],
      [{ decoderHiddenChannels: 0 }, /decoderHiddenChannels must be an integer in \[1, 1024\], got 0/],
      [{ decoderResBlocks: 9 }, /decoderResBlocks must be an integer in \[0, 8\], got 9/],
    ];
    for (const [partial, re] of cases) {
      assert.throws(() => resolveDvaeConfig(partial as never), (err: Error) => err instanceof UsageError && re.test(err.message));
    }
  });

  it('a decoder of its own width and depth: absent unless it differs, and only dec.* shapes change', () => {
    // Absent fields stay absent (older configs, and so identities, are unchanged); equal ones are dropped.
    assert.deepEqual(Object.keys(resolveDvaeConfig(DVAE_PRESETS.tiny)).sort(), Object.keys(DVAE_DEFAULTS).sort());
    assert.deepEqual(resolveDvaeConfig({ ...DVAE_PRESETS.tiny, decoderHiddenChannels: 8, decoderResBlocks: 1 }), resolveDvaeConfig(DVAE_PRESETS.tiny));
    const base = dvaeParamShapes(resolveDvaeConfig(DVAE_PRESETS.tiny));
    const wide = dvaeParamShapes(resolveDvaeConfig({ ...DVAE_PRESETS.tiny, decoderHiddenChannels: 16, decoderResBlocks: 2 }));
    for (const [k, shape] of Object.entries(base)) {
      if (k.startsWith('enc.') || k === 'codebook') assert.deepEqual(wide[k], shape, k);
    }
    assert.deepEqual(wide['dec.out.kernel'], [1, 1, 16, 3]); // full resolution: 16 wide instead of 8
    assert.deepEqual(wide['dec.groups.0.blocks.1.conv2.kernel'], [3, 3, 16, 16]); // a second block per group
    assert.equal(base['dec.groups.0.blocks.1.conv2.kernel'], undefined);
    assert.ok(sameEncoder(resolveDvaeConfig(DVAE_PRESETS.tiny), resolveDvaeConfig({ ...DVAE_PRESETS.tiny, decoderHiddenChannels: 16 })));
    assert.ok(!sameEncoder(resolveDvaeConfig(DVAE_PRESETS.tiny), resolveDvaeConfig({ ...DVAE_PRESETS.tiny, hiddenChannels: 16 })));
  });

  it('param shapes match initialised params, and presets state their parameter counts', () => {
    for (const preset of Object.values(DVAE_PRESETS)) {
      const dvae = Dvae.create(preset, 0);
      try {
        const shapes = dvaeParamShapes(dvae.config);
        assert.deepEqual(Object.keys(shapes).sort(), Object.keys(dvae.params).sort());
        for (const [k, v] of Object.entries(dvae.params)) assert.deepEqual(v.shape, shapes[k], k);
        assert.ok(countParams(dvae.params) > 0);
      } finally {
        dvae.dispose();
      }
    }
  });
});
