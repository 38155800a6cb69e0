import { strict as assert } from 'node:assert';
import { UsageError } from '@dalle/core';
import { concatSources, tokensPerSequence, transformerPreset } from '@dalle/transformer';
import { memoryDataset } from './fixtures.ts';

const tiny = transformerPreset('tiny');

describe('training datasets', () => {
  it('concatSources: one index space over several datasets, in order', () => {
    const a = memoryDataset(tiny, 3, 1);
    const b = memoryDataset(tiny, 4, 2);
    const both = concatSources([a, b]);
    assert.equal(both.size, 7);
    const got = both.batch([0, 3, 6, 2]);
    const want = [a.batch([0]), b.batch([0]), b.batch([3]), a.batch([2])];
    assert.deepEqual([...got.text], want.flatMap((w) => [...w.text]));
    assert.deepEqual([...got.codes], want.flatMap((w) => [...w.codes]));
  });

  it('concatSources refuses datasets that disagree, naming both', () => {
    const a = memoryDataset(tiny, 2, 1);
    const b = memoryDataset(tiny, 2, 1, { tokenizerId: 'other' });
    assert.throws(() => concatSources([a, b], ['A', 'B']), (e: Error) => e instanceof UsageError && /B: tokenizerId is "other" but A has "tok-test"/.test(e.message));
    assert.throws(() => concatSources([]), /no training dataset given/);
  });

  it('tokensPerSequence counts text and image tokens', () => {
    assert.equal(tokensPerSequence(tiny), 4 + 9);
  });
});
