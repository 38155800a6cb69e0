// Focused group sampling (dalle-train --focus): per-group losses and the weights made from them.
import { strict as assert } from 'node:assert';
import { createTransformer, disposeTransformer, evaluateLoss, focusWeights, groupLosses, parseGroupFocus, transformerPreset, type TokenBatchSource } from '@dalle/transformer';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';
import { memoryDataset } from './fixtures.ts';

const tiny = transformerPreset('tiny');

/** The records `indices` of `source`, as a source of their own. */
function subset(source: TokenBatchSource, indices: number[]): TokenBatchSource {
  return { ...source, size: indices.length, batch: (idx) => source.batch(idx.map((i) => indices[i])) };
}

describe('transformer/focus', function () {
  this.timeout(FAST);

  it('groupLosses: with every record measured, each group\'s loss is evaluateLoss over its records', async () => {
    const model = createTransformer(tiny, 4);
    const data = memoryDataset(tiny, 7, 2);
    const ids = [0, 1, 0, 2, 1, 0, 2];
    groupLosses(model, data, ids, { perGroup: 8, batchSize: 3 }); // builds the cached attention masks
    const losses = await expectNoLeak(() => groupLosses(model, data, ids, { perGroup: 8, batchSize: 3 }));
    assert.equal(losses.length, 3);
    for (let g = 0; g < 3; g++) {
      const own = ids.flatMap((id, r) => (id === g ? [r] : []));
      const expected = evaluateLoss(model, subset(data, own), { batchSize: 2 }).image;
      assert.ok(Math.abs(losses[g] - expected) < 1e-5, `group ${g}: ${losses[g]} vs ${expected}`);
    }
    disposeTransformer(model);
  });

  it('groupLosses: up to perGroup records per group, a seeded choice; bad input is refused', () => {
    const model = createTransformer(tiny, 4);
    const data = memoryDataset(tiny, 9, 3);
    const ids = [0, 0, 0, 0, 0, 0, 1, 1, 1];
    let seen = 0;
    const a = groupLosses(model, data, ids, { perGroup: 2, seed: 1, batchSize: 3, onBatch: (done, total) => ((seen = done), assert.equal(total, 4)) });
    assert.equal(seen, 4, 'two records of each group');
    assert.deepEqual(a, groupLosses(model, data, ids, { perGroup: 2, seed: 1, batchSize: 2 }), 'the same records whatever the batch size');
    const singles = ids.map((_, r) => evaluateLoss(model, subset(data, [r])).image);
    // group 0's loss is the mean of two of its records' losses
    const pairs = [];
    for (let i = 0; i < 6; i++) for (let j = i + 1; j < 6; j++) pairs.push((singles[i] + singles[j]) / 2);
    assert.ok(pairs.some((p) => Math.abs(p - a[0]) < 1e-5), `group 0 loss ${a[0]} is no pair's mean`);
    assert.throws(() => groupLosses(model, data, [0, 1], {}), { name: 'UsageError', message: 'groupLosses: 2 group ids for 9 records' });
    assert.throws(() => groupLosses(model, data, ids, { perGroup: 0 }), { name: 'UsageError', message: 'groupLosses: perGroup must be a positive integer, got 0' });
    assert.throws(() => groupLosses(model, data, [0, 0, 0, 0, 0, 0, 2, 2, 2], {}), { name: 'UsageError', message: 'groupLosses: group 1 has no records' });
    disposeTransformer(model);
  });

  it('focusWeights: loss^alpha with a floor at a fraction of the mean, scaled to mean 1', () => {
    const near = (a: ArrayLike<number>, b: number[]) => Array.from(a).every((x, i) => Math.abs(x - b[i]) < 1e-9) || assert.fail(`${Array.from(a)} vs ${b}`);
    near(focusWeights([0.5, 1, 3], 0), [1, 1, 1]);
    near(focusWeights([1, 2, 3], 1, 0), [0.5, 1, 1.5]);
    // alpha 2: 1, 4, 16 (mean 7); the floor 0.25 * 7 = 1.75 lifts the first; then scaled to mean 1
    near(focusWeights([1, 2, 4], 2), [1.75 / 7.25, 4 / 7.25, 16 / 7.25]);
    near(focusWeights([0, 0], 2), [1, 1]);
    assert.throws(() => focusWeights([1, 2], -1), { name: 'UsageError', message: 'focus must be a number >= 0, got -1' });
    assert.throws(() => focusWeights([1, NaN], 1), { name: 'UsageError', message: 'focusWeights: loss of group 1 must be a finite number >= 0, got NaN' });
    assert.throws(() => focusWeights([], 1), { name: 'UsageError', message: 'focusWeights: no groups' });
  });

  it('parseGroupFocus checks a saved focus.json against the data\'s groups', () => {
    const saved = { alpha: 2, floor: 0.25, recordsPerGroup: 4, model: 'm', names: ['a', 'b'], losses: [1, 2], weights: [0.5, 1.5] };
    assert.deepEqual(parseGroupFocus(JSON.stringify(saved), 'f.json', ['a', 'b']), saved);
    assert.throws(() => parseGroupFocus(JSON.stringify(saved), 'f.json', ['a', 'c']), { name: 'UsageError', message: "f.json weighs 2 record groups that are not the data's 2 (other --data?); resume with the run's own data" });
    assert.throws(() => parseGroupFocus('{', 'f.json', ['a']), { name: 'UsageError', message: /^f\.json is not valid JSON/ });
    assert.throws(() => parseGroupFocus(JSON.stringify({ ...saved, weights: [1] }), 'f.json', ['a', 'b']), { name: 'UsageError', message: 'f.json: expected names, losses and weights of equal length' });
  });
});
