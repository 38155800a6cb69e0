// generate() over fake parts: reproducible PNG bytes, best-first reranking, priming, phase
// timings, bad input and tensor hygiene across repeated calls.
import { UsageError } from '@dalle/core';
import { generate, pipelineFromParts, type Pipeline, type PromptEncoder } from '@dalle/sampler';
import { strict as assert } from 'node:assert';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';
import { bigramPrior, brightnessReranker, greyTokenizer, type FakePrior } from './fakes.ts';

const T = 4;
const G = 3;
const K = 8;

/** Words -> ids 1..7 by length; pads with 0; flags captions longer than T words. */
const words: PromptEncoder = {
  textSeqLen: T,
  padId: 0,
  encode(prompt) {
    const w = prompt.trim().split(/\s+/);
    const ids = new Int32Array(T);
    w.slice(0, T).forEach((s, i) => (ids[i] = 1 + (s.length % 7)));
    return { ids, truncated: w.length > T };
  },
};

describe('sampler/generate', function () {
  this.timeout(FAST);
  let prior: FakePrior;
  let pipeline: Pipeline;
  beforeEach(() => {
    prior = bigramPrior({ textSeqLen: T, textVocab: 8, gridSize: G, codebookSize: K, seed: 9 });
    pipeline = pipelineFromParts({ prior, imageTokenizer: greyTokenizer(G, K), promptEncoder: words, reranker: brightnessReranker(), rerankerName: 'brightness' });
  });
  afterEach(() => prior.dispose());

  it('a fixed seed gives identical PNG bytes twice; another seed differs', async () => {
    const a = await generate('a red heart', { pipeline, n: 3, numCandidates: 6, batchSize: 4, seed: 5 });
    const b = await generate('a red heart', { pipeline, n: 3, numCandidates: 6, batchSize: 4, seed: 5 });
    assert.equal(a.images.length, 3);
    a.images.forEach((img, i) => assert.ok(img.png.equals(b.images[i].png), `image ${i} differs`));
    const c = await generate('a red heart', { pipeline, n: 3, numCandidates: 6, batchSize: 4, seed: 6 });
    assert.ok(c.images.some((img, i) => !img.png.equals(a.images[i].png)));
  });

  it('the batch size does not change the candidates; images come best first by reranker score', async () => {
    const a = await generate('a blue star', { pipeline, n: 4, numCandidates: 7, batchSize: 7, seed: 1 });
    const b = await generate('a blue star', { pipeline, n: 4, numCandidates: 7, batchSize: 2, seed: 1 });
    assert.deepEqual(a.candidates, b.candidates);
    const all = a.candidates.map((c) => c.clipScore!);
    const best = [...all].sort((x, y) => y - x).slice(0, 4);
    assert.deepEqual(a.images.map((i) => i.clipScore), best);
    assert.deepEqual(a.images.map((i) => i.rank), [1, 2, 3, 4]);
    a.images.forEach((img) => assert.equal(img.seed, a.candidates[img.candidate].seed));
    for (const img of a.images) assert.ok(Math.abs(img.clipScore! - img.pixels.reduce((s, v) => s + v, 0) / img.pixels.length) < 1e-5);
  });

  it('without a reranker ranks by self-score and reports null CLIP scores', async () => {
    const p = pipelineFromParts({ prior, imageTokenizer: greyTokenizer(G, K), promptEncoder: words });
    const r = await generate('a cat', { pipeline: p, n: 3, numCandidates: 5, seed: 2 });
    assert.equal(r.reranker, 'none');
    assert.ok(r.images.every((i) => i.clipScore === null));
    for (let i = 1; i < r.images.length; i++) assert.ok(r.images[i - 1].selfScore >= r.images[i].selfScore);
  });

  it('priming keeps the primed rows exactly', async () => {
    const size = G * 2;
    const image = new Float32Array(size * size * 3);
    for (let y = 0; y < size; y++) for (let x = 0; x < size * 3; x++) image[y * size * 3 + x] = ((Math.floor(y / 2) * G + Math.floor(x / 6)) % K) / (K - 1);
    const expected = Array.from({ length: G * G }, (_, i) => i % K);
    const r = await generate('a dog', { pipeline, n: 4, numCandidates: 4, seed: 3, temperature: 3, prime: { image, rows: 2 } });
    assert.equal(r.primeRows, 2);
    for (const img of r.images) assert.deepEqual(Array.from(img.codes.subarray(0, 2 * G)), expected.slice(0, 2 * G));
    assert.ok(r.images.some((img) => Array.from(img.codes.subarray(2 * G)).join() !== expected.slice(2 * G).join()), 'the last row is sampled, not copied');
    await assert.rejects(generate('a dog', { pipeline, n: 1, numCandidates: 1, prime: { image, rows: G + 1 } }), /primeRows must be an integer in \[1, 3\]/);
  });

  it('reports phase timings, warns about truncation and rejects bad input', async () => {
    const warnings: string[] = [];
    const r = await generate('one two three four five', { pipeline, n: 1, numCandidates: 2, onWarning: (w) => warnings.push(w) });
    assert.ok(r.truncated);
    assert.match(warnings[0], /truncated/);
    for (const k of ['loadMs', 'sampleMs', 'decodeMs', 'rerankMs', 'pngMs'] as const) assert.ok(r.timings[k] >= 0);
    await assert.rejects(generate('  ', { pipeline }), (e: Error) => e instanceof UsageError && /prompt is empty/.test(e.message));
    await assert.rejects(generate('x', { pipeline, topK: K + 1 }), /topK must be an integer in \[1, 8/);
  });

  it("the pipeline's recommended sampling applies unless an option overrides it", async () => {
    const parts = { prior, imageTokenizer: greyTokenizer(G, K), promptEncoder: words, reranker: brightnessReranker() };
    const tuned = pipelineFromParts({ ...parts, sampling: { condScale: 2.5, topK: 3 } });
    const opts = { n: 2, numCandidates: 4, seed: 8 };
    const r = await generate('a red heart', { pipeline: tuned, ...opts });
    assert.equal(r.config.condScale, 2.5);
    assert.equal(r.config.topK, 3);
    const explicit = await generate('a red heart', { pipeline, ...opts, condScale: 2.5, topK: 3 });
    assert.deepEqual(r.candidates, explicit.candidates, 'same candidates as passing the settings by hand');
    const plain = await generate('a red heart', { pipeline, ...opts });
    assert.notDeepEqual(r.candidates, plain.candidates, 'and not those of the plain defaults');
    const over = await generate('a red heart', { pipeline: tuned, ...opts, condScale: 1 });
    assert.deepEqual([over.config.condScale, over.config.topK], [1, 3]);
  });

  it('progress counts every image token', async () => {
    let last = [0, 0];
    await generate('a tree', { pipeline, n: 2, numCandidates: 5, batchSize: 2, onProgress: (d, t) => (last = [d, t]) });
    assert.deepEqual(last, [5 * G * G, 5 * G * G]);
  });

  it('numTensors stays flat across repeated generate calls', async () => {
    await generate('warm up', { pipeline, n: 2, numCandidates: 3 });
    for (let i = 0; i < 2; i++) await expectNoLeak(() => generate('a sun', { pipeline, n: 2, numCandidates: 3, seed: i, condScale: 2 }));
  });
});
