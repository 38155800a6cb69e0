// Reranking: a permutation sorted by score, best first; batched scoring without leaks.
import { Rng } from '@dalle/core';
import { rankCandidates, scoreImages } from '@dalle/sampler';
import { strict as assert } from 'node:assert';
import { expectNoLeak } from '../helpers/memory.ts';
import { brightnessReranker } from './fakes.ts';

describe('sampler/rerank', () => {
  it('rankCandidates is a permutation sorted by score, ties broken by self-score', () => {
    const rng = new Rng(3);
    const scores = Array.from({ length: 20 }, () => Math.round(rng.next() * 5));
    const self = Array.from({ length: 20 }, () => rng.normal());
    const order = rankCandidates(scores, self);
    assert.deepEqual([...order].sort((a, b) => a - b), [...Array(20).keys()]);
    for (let i = 1; i < order.length; i++) {
      const [p, q] = [order[i - 1], order[i]];
      assert.ok(scores[p] > scores[q] || (scores[p] === scores[q] && self[p] >= self[q]), `rank ${i} out of order`);
    }
    const bySelf = rankCandidates(null, self);
    for (let i = 1; i < bySelf.length; i++) assert.ok(self[bySelf[i - 1]] >= self[bySelf[i]]);
    assert.equal(rankCandidates([NaN, 0.1], [0, 0])[0], 1, 'NaN ranks last');
  });

  it('scoreImages scores in batches and frees its tensors', async () => {
    const size = 4;
    const images = [0.2, 0.9, 0.5, 0.1, 0.7].map((v) => new Float32Array(size * size * 3).fill(v));
    const reranker = brightnessReranker();
    const scores = await expectNoLeak(() => scoreImages(reranker, 'a prompt', images, size, 2));
    assert.equal(reranker.calls, 3);
    scores.forEach((s, i) => assert.ok(Math.abs(s - images[i][0]) < 1e-6));
    assert.equal(rankCandidates(scores, scores.map(() => 0))[0], 1);
  });
});
