// SamplerConfig: defaults, derived defaults and every validation message.
import { parseModelSampling, resolveSamplerConfig, SAMPLER_DEFAULTS } from '@dalle/sampler';
import { UsageError } from '@dalle/core';
import { strict as assert } from 'node:assert';

describe('sampler/config', () => {
  it('fills defaults and caps the default topK at the codebook size', () => {
    assert.deepEqual(resolveSamplerConfig(), { ...SAMPLER_DEFAULTS });
    assert.equal(resolveSamplerConfig({}, { codebookSize: 16 }).topK, 16);
    assert.equal(resolveSamplerConfig({ topK: 3 }, { codebookSize: 16 }).topK, 3);
    assert.equal(resolveSamplerConfig({ n: undefined }).n, SAMPLER_DEFAULTS.n);
  });

  it('keeps only its own fields from a larger options object', () => {
    assert.deepEqual(Object.keys(resolveSamplerConfig({ pipeline: 1 } as never)).sort(), Object.keys(SAMPLER_DEFAULTS).sort());
  });

  it('a lone --candidates or -n adjusts the other default instead of failing', () => {
    assert.deepEqual([resolveSamplerConfig({ numCandidates: 2 }).n, resolveSamplerConfig({ numCandidates: 2 }).numCandidates], [2, 2]);
    assert.equal(resolveSamplerConfig({ n: 100 }).numCandidates, 100);
  });

  it("a weights folder's recommendation fills what the caller left out, under the caller's own values", () => {
    const model = { condScale: 2, topK: 20 };
    const cfg = resolveSamplerConfig({}, { codebookSize: 32 }, model);
    assert.deepEqual(cfg, { ...SAMPLER_DEFAULTS, condScale: 2, topK: 20 });
    assert.equal(resolveSamplerConfig({ condScale: 1 }, undefined, model).condScale, 1, 'the caller wins');
    assert.equal(resolveSamplerConfig({ condScale: undefined }, undefined, model).condScale, 2, 'undefined is "not given"');
    assert.equal(resolveSamplerConfig({}, { codebookSize: 16 }, { condScale: 2 }).topK, 16, 'the default topK is still capped at K');
    assert.throws(() => resolveSamplerConfig({}, { codebookSize: 16 }, model), /topK must be an integer in \[1, 16 \(the codebook size\)\], got 20/);
    assert.equal(resolveSamplerConfig({}, undefined, { seed: 5 } as never).seed, SAMPLER_DEFAULTS.seed, 'only the model knobs are taken from weights');
  });

  it('parseModelSampling keeps a good "sampling" object and names the problem in a bad one', () => {
    assert.deepEqual(parseModelSampling({ condScale: 2.5, topK: 32, topP: 0.9, temperature: 0.8 }, 'm'), { condScale: 2.5, topK: 32, topP: 0.9, temperature: 0.8 });
    assert.deepEqual(parseModelSampling({}, 'm'), {});
    const cases: [unknown, RegExp][] = [
      [[2], /^w\/manifest.json "sampling": expected an object such as \{"condScale": 2\}$/],
      [null, /expected an object/],
      [{ seed: 1 }, /^w\/manifest.json "sampling": unknown setting "seed" \(a weights folder may set topK, topP, temperature, condScale\)$/],
      [{ condScale: '2' }, /^w\/manifest.json "sampling": condScale must be a number, got "2"$/],
      [{ topP: 0 }, /^w\/manifest.json "sampling": topP must be in \(0, 1\], got 0$/],
      [{ topK: 0 }, /topK must be an integer/],
    ];
    for (const [value, re] of cases) {
      assert.throws(() => parseModelSampling(value, 'w/manifest.json "sampling"'), (e: Error) => e instanceof UsageError && re.test(e.message), re.source);
    }
  });

  const bad: [string, Parameters<typeof resolveSamplerConfig>[0], RegExp][] = [
    ['n < 1', { n: 0 }, /n must be an integer in \[1, 1024\], got 0/],
    ['n too large', { n: 5000, numCandidates: 5000 }, /n must be/],
    ['candidates < 1', { n: 1, numCandidates: 0 }, /numCandidates must be .* got 0/],
    ['n > candidates', { n: 9, numCandidates: 4 }, /n \(9\) cannot exceed numCandidates \(4\)/],
    ['batch size', { batchSize: 0 }, /batchSize/],
    ['topK 0', { topK: 0 }, /topK must be an integer in \[1, 16 \(the codebook size\)\], got 0/],
    ['topK > K', { topK: 17 }, /got 17/],
    ['topK fraction', { topK: 0.5 }, /topK/],
    ['topP 0', { topP: 0 }, /topP must be in \(0, 1\], got 0/],
    ['topP > 1', { topP: 1.5 }, /topP/],
    ['temperature 0', { temperature: 0 }, /temperature must be a finite number > 0, got 0/],
    ['temperature < 0', { temperature: -1 }, /temperature/],
    ['condScale NaN', { condScale: NaN }, /condScale/],
    ['seed', { seed: -1 }, /seed/],
  ];
  for (const [name, partial, re] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(() => resolveSamplerConfig(partial, { codebookSize: 16 }), (e: Error) => e instanceof UsageError && re.test(e.message));
    });
  }
});
