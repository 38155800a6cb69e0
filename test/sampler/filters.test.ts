// Logit filters and seeded categorical sampling: each filter checked against its definition.
import { Rng } from '@dalle/core';
import { applyTemperature, argsortDescending, entropy, guideLogits, logProbOf, sampleCategorical, samplingDistribution, softmax, topKFilter, topPFilter } from '@dalle/sampler';
import { strict as assert } from 'node:assert';

function randomLogits(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => 3 * rng.normal());
}

describe('sampler/filters', () => {
  it('guideLogits is uncond + scale * (cond - uncond), and scale 1 gives cond', () => {
    const c = randomLogits(16, 1);
    const u = randomLogits(16, 2);
    const g = guideLogits(c, u, 3);
    for (let i = 0; i < 16; i++) assert.ok(Math.abs(g[i] - (u[i] + 3 * (c[i] - u[i]))) < 1e-9);
    const same = guideLogits(c, u, 1);
    for (let i = 0; i < 16; i++) assert.ok(Math.abs(same[i] - c[i]) < 1e-6);
  });

  it('entropy of the distribution drops as temperature drops', () => {
    const logits = randomLogits(64, 3);
    const hs = [2, 1, 0.5, 0.1].map((t) => entropy(softmax(applyTemperature(logits, t))));
    for (let i = 1; i < hs.length; i++) assert.ok(hs[i] < hs[i - 1], `entropy ${hs[i]} at step ${i} not below ${hs[i - 1]}`);
    assert.throws(() => applyTemperature(logits, 0), /temperature/);
  });

  it('topKFilter keeps exactly the k largest logits', () => {
    const logits = randomLogits(50, 4);
    const order = argsortDescending(logits);
    for (const k of [1, 5, 49, 50, 80]) {
      const f = topKFilter(logits, k);
      const kept = new Set(order.slice(0, k));
      for (let i = 0; i < 50; i++) assert.equal(Number.isFinite(f[i]), kept.has(i), `k=${k} id ${i}`);
    }
  });

  it('topPFilter keeps the smallest most-likely set whose mass reaches p', () => {
    const logits = randomLogits(40, 5);
    const probs = softmax(logits);
    const order = argsortDescending(logits);
    for (const p of [0.05, 0.3, 0.5, 0.9, 0.999]) {
      const keptIds = [...topPFilter(logits, p)].flatMap((v, i) => (Number.isFinite(v) ? [i] : []));
      const n = keptIds.length;
      assert.deepEqual(new Set(keptIds), new Set(order.slice(0, n)), 'kept set is a prefix of the sorted ids');
      const mass = keptIds.reduce((s, i) => s + probs[i], 0);
      assert.ok(mass >= p - 1e-12, `mass ${mass} < p ${p}`);
      if (n > 1) assert.ok(mass - probs[order[n - 1]] < p, 'dropping the least likely kept id would fall below p');
    }
    assert.equal([...topPFilter(logits, 1)].filter(Number.isFinite).length, 40);
    assert.throws(() => topPFilter(logits, 0), /topP/);
  });

  it('logProbOf matches log(softmax)', () => {
    const logits = randomLogits(30, 6);
    const p = softmax(logits);
    for (const id of [0, 7, 29]) assert.ok(Math.abs(logProbOf(logits, id) - Math.log(p[id])) < 1e-9);
  });

  it('sampleCategorical is seeded and follows the probabilities', () => {
    const probs = softmax(randomLogits(8, 7));
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 20000 }, () => sampleCategorical(probs, rng));
    };
    const a = draw(11);
    assert.deepEqual(a, draw(11));
    assert.notDeepEqual(a, draw(12));
    const counts = new Array(8).fill(0);
    for (const id of a) counts[id]++;
    for (let i = 0; i < 8; i++) {
      const sd = Math.sqrt(probs[i] * (1 - probs[i]) / a.length);
      assert.ok(Math.abs(counts[i] / a.length - probs[i]) < 5 * sd + 1e-3, `id ${i}: ${counts[i] / a.length} vs ${probs[i]}`);
    }
  });

  it('samplingDistribution never puts mass outside the top k; top-k 1 is one-hot on the argmax', () => {
    const logits = randomLogits(32, 8);
    const order = argsortDescending(logits);
    const d = samplingDistribution(logits, { temperature: 0.7, topK: 4, topP: 1 });
    for (let i = 0; i < 32; i++) if (!order.slice(0, 4).includes(i)) assert.equal(d[i], 0);
    const g = samplingDistribution(logits, { temperature: 1.5, topK: 1, topP: 1 });
    assert.equal(g[order[0]], 1);
  });
});

describe('sampler/filters ties', () => {
  it('topKFilter keeps exactly k ids when values tie, preferring lower ids', () => {
    const f = topKFilter([1, 3, 3, 3, 0], 2);
    assert.deepEqual(Array.from(f, Number.isFinite), [false, true, true, false, false]);
    assert.deepEqual(Array.from(topPFilter([2, 2, 2, 2], 0.5), Number.isFinite), [true, true, false, false]);
  });
});
