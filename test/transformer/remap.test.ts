import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import { codeCooccurrence, createTransformer, disposeTransformer, imageLogLikelihood, imageTokenOffset, paramSpecs, remapImageParams, transformerLayout, transformerPreset, type CodeCooccurrence, type TokenBatchSource } from '@dalle/transformer';
import { memoryDataset } from './fixtures.ts';

const cfg = transformerPreset('tiny');
const K = cfg.imageVocabSize;
const C = cfg.dModel;

/** `src` with every image code passed through `map`, as another dVAE's encoding of the same images. */
function relabelled(src: TokenBatchSource, map: (code: number) => number, dvaeId = 'dvae-new'): TokenBatchSource {
  return {
    size: src.size,
    manifest: { ...src.manifest, dvaeId },
    batch(indices) {
      const { text, codes } = src.batch(indices);
      return { text, codes: codes.map(map) };
    },
  };
}

const isUsage = (re: RegExp) => (err: unknown) => err instanceof UsageError && re.test(err.message);

describe('codeCooccurrence', () => {
  it('counts (new, old) code pairs position by position', () => {
    const old = memoryDataset(cfg, 5, 1);
    const co = codeCooccurrence(old, relabelled(old, (c) => (c + 3) % K));
    assert.equal(co.records, 5);
    assert.equal(co.kFrom, K);
    assert.equal(co.kTo, K);
    const all = old.batch([0, 1, 2, 3, 4]).codes;
    for (let i = 0; i < K; i++) {
      const n = all.filter((c) => c === i).length;
      for (let j = 0; j < K; j++) assert.equal(co.counts[j * K + i], j === (i + 3) % K ? n : 0, `new ${j} old ${i}`);
    }
    assert.equal(co.counts.reduce((a, b) => a + b, 0), 5 * cfg.gridSize ** 2);
  });

  it('refuses encodings of different images, naming the difference', () => {
    const old = memoryDataset(cfg, 5, 1);
    assert.throws(() => codeCooccurrence(old, memoryDataset(cfg, 4, 1), ['a', 'b']), isUsage(/^a and b must hold the same images in the same order, encoded by two dVAEs: 5 records against 4$/));
    assert.throws(() => codeCooccurrence(old, memoryDataset(cfg, 5, 2), ['a', 'b']), isUsage(/: record 0 has another caption$/));
    assert.throws(() => codeCooccurrence(old, memoryDataset({ ...cfg, gridSize: 2 }, 5, 1), ['a', 'b']), isUsage(/: gridSize 3 against 2$/));
    assert.throws(() => codeCooccurrence(old, memoryDataset(cfg, 5, 1, { tokenizerId: 'other' }), ['a', 'b']), isUsage(/: tokenizerId "tok-test" against "other"$/));
  });
});

describe('remapImageParams', () => {
  /** A model whose image biases are not all equal, so that moving them is visible. */
  function trainedLooking(seed: number) {
    const m = createTransformer(cfg, seed);
    tf.tidy(() => m.params['head.image.bias'].assign(tf.randomNormal([K], 0, 1, 'float32', seed)));
    return m;
  }

  it('a relabelling of the codes keeps every image likelihood, and nothing outside the image part moves', () => {
    const perm = [5, 2, 7, 0, 3, 6, 1, 4];
    const old = memoryDataset(cfg, 12, 3);
    const fresh = relabelled(old, (c) => perm[c]);
    const a = trainedLooking(1);
    const b = trainedLooking(1);
    try {
      const before = Object.fromEntries(paramSpecs(cfg).map(({ key }) => [key, b.params[key].arraySync()]));
      const { used, agreement } = remapImageParams(b.params, cfg, codeCooccurrence(old, fresh), 9);
      assert.equal(used, K);
      assert.equal(agreement, 1);
      const x = old.batch([...Array(12).keys()]);
      const y = fresh.batch([...Array(12).keys()]);
      const ll = (m: typeof a, codes: Int32Array) => tf.tidy(() => Array.from(imageLogLikelihood(m, tf.tensor2d(x.text, [12, cfg.textSeqLen], 'int32'), tf.tensor2d(codes, [12, cfg.gridSize ** 2], 'int32')).dataSync()));
      const want = ll(a, x.codes);
      const got = ll(b, y.codes);
      got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `item ${i}: ${v} vs ${want[i]}`));
      // a model that was not carried over scores the relabelled codes differently
      assert.ok(ll(a, y.codes).some((v, i) => Math.abs(v - want[i]) > 1e-3));
      const offset = imageTokenOffset(transformerLayout(cfg));
      const embed = b.params['embed.tokens'].arraySync() as number[][];
      const embedBefore = before['embed.tokens'] as number[][];
      for (let r = 0; r < offset; r++) assert.deepEqual(embed[r], embedBefore[r], `row ${r}`);
      for (let i = 0; i < K; i++) assert.deepEqual(embed[offset + perm[i]], embedBefore[offset + i], `code ${i}`);
      for (const { key } of paramSpecs(cfg)) {
        if (key === 'embed.tokens' || key.startsWith('head.image')) continue;
        assert.deepEqual(b.params[key].arraySync(), before[key], key);
      }
    } finally {
      disposeTransformer(a);
      disposeTransformer(b);
    }
  });

  it('a code made of several old ones takes their P(old | new)-weighted means, plus log P(new | old) in the bias', () => {
    // new 0 <- old 0 (3 times) and old 1 (once); new 1 <- old 1 (once) and old 2 (twice); new 2.. unused
    const counts = new Float64Array(K * K);
    counts[0 * K + 0] = 3;
    counts[0 * K + 1] = 1;
    counts[1 * K + 1] = 1;
    counts[1 * K + 2] = 2;
    const co: CodeCooccurrence = { kFrom: K, kTo: K, counts, records: 1 };
    const m = trainedLooking(4);
    try {
      const offset = imageTokenOffset(transformerLayout(cfg));
      const e = (m.params['embed.tokens'].arraySync() as number[][]).slice(offset, offset + K);
      const w = m.params['head.image.kernel'].arraySync() as number[][]; // [C, K]
      const b = m.params['head.image.bias'].arraySync() as number[];
      const { used, agreement } = remapImageParams(m.params, cfg, co, 2);
      assert.equal(used, 2);
      assert.equal(agreement, (3 + 2) / 7);
      const e2 = (m.params['embed.tokens'].arraySync() as number[][]).slice(offset, offset + K);
      const w2 = m.params['head.image.kernel'].arraySync() as number[][];
      const b2 = m.params['head.image.bias'].arraySync() as number[];
      const near = (x: number, y: number, what: string) => assert.ok(Math.abs(x - y) < 1e-5, `${what}: ${x} vs ${y}`);
      for (let c = 0; c < C; c++) {
        near(e2[0][c], 0.75 * e[0][c] + 0.25 * e[1][c], `embed 0[${c}]`);
        near(e2[1][c], (e[1][c] + 2 * e[2][c]) / 3, `embed 1[${c}]`);
        near(w2[c][0], 0.75 * w[c][0] + 0.25 * w[c][1], `head 0[${c}]`);
      }
      // P(new 0 | old 0) = 1, P(new 0 | old 1) = 1/2, P(new 1 | old 1) = 1/2, P(new 1 | old 2) = 1
      const bias0 = 0.75 * b[0] + 0.25 * (b[1] + Math.log(0.5));
      const bias1 = (b[1] + Math.log(0.5)) / 3 + (2 / 3) * b[2];
      near(b2[0], bias0, 'bias 0');
      near(b2[1], bias1, 'bias 1');
      // unused codes: fresh small weights and the lowest carried bias, so they start unlikely
      for (let j = 2; j < K; j++) {
        near(b2[j], Math.min(bias0, bias1), `bias ${j}`);
        assert.ok(e2[j].every((x) => Math.abs(x) < 0.2) && e2[j].some((x) => x !== 0), `embed ${j}`);
      }
    } finally {
      disposeTransformer(m);
    }
  });

  it('refuses a codebook size the model does not have; leaves no tensors behind', () => {
    const m = createTransformer(cfg, 1);
    try {
      const n = tf.memory().numTensors;
      const co = codeCooccurrence(memoryDataset(cfg, 2, 1), memoryDataset(cfg, 2, 1));
      remapImageParams(m.params, cfg, co, 1);
      assert.equal(tf.memory().numTensors, n);
      assert.throws(() => remapImageParams(m.params, cfg, { ...co, kTo: 16, counts: new Float64Array(16 * K) }, 1), isUsage(/^the model has 8 image codes; carrying it over needs 8 codes in both encodings, not 8 and 16$/));
    } finally {
      disposeTransformer(m);
    }
  });
});
