// EpochSampler: each epoch is a permutation, epochs differ, the same seed repeats the stream,
// and a sampler rebuilt from state() continues exactly where the first one was.
import { strict as assert } from 'node:assert';
import { EpochSampler } from '@dalle/data';
import { FAST } from '../helpers/timeouts.ts';

describe('data/epoch-sampler', function () {
  this.timeout(FAST);

  it('visits every index exactly once per epoch, in a new order each epoch', () => {
    const size = 37;
    const s = new EpochSampler(size, { seed: 3 });
    const e0 = s.next(size);
    const e1 = s.next(size);
    const range = Array.from({ length: size }, (_, i) => i);
    assert.deepEqual([...e0].sort((a, b) => a - b), range);
    assert.deepEqual([...e1].sort((a, b) => a - b), range);
    assert.notDeepEqual(e0, e1);
    assert.notDeepEqual(e0, range);
    assert.deepEqual(s.state(), { seed: 3, epoch: 1, index: size });
  });

  it('batches crossing an epoch end continue into the next epoch', () => {
    const s = new EpochSampler(10, { seed: 1 });
    const seen = [...s.next(4), ...s.next(4), ...s.next(4)];
    const ref = new EpochSampler(10, { seed: 1 });
    assert.deepEqual(seen, [...ref.permutation(0), ...ref.permutation(1).slice(0, 2)]);
    assert.deepEqual(s.state(), { seed: 1, epoch: 1, index: 2 });
  });

  it('is deterministic per seed and resumes exactly from state()', () => {
    const a = new EpochSampler(23, { seed: 42 });
    const b = new EpochSampler(23, { seed: 42 });
    assert.deepEqual(a.next(50), b.next(50));
    const saved = JSON.parse(JSON.stringify(a.state()));
    const resumed = new EpochSampler(23, saved);
    for (let i = 0; i < 10; i++) assert.deepEqual(resumed.next(7), a.next(7));
    assert.notDeepEqual(new EpochSampler(23, { seed: 43 }).next(23), new EpochSampler(23, { seed: 42 }).next(23));
  });

  it('refuses bad sizes, seeds, batch sizes and states from another dataset size', () => {
    assert.throws(() => new EpochSampler(0, { seed: 1 }), { name: 'UsageError' });
    assert.throws(() => new EpochSampler(5, { seed: 1.5 }), { name: 'UsageError' });
    assert.throws(() => new EpochSampler(5, { seed: 1, epoch: 0, index: 9 }), { name: 'UsageError', message: /index/ });
    assert.throws(() => new EpochSampler(5, { seed: 1 }).next(0), { name: 'UsageError' });
  });
});
